/**
 * SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677), with the -PLUS variants binding the exchange to
 * the TLS channel (`tls-exporter`, RFC 9266; `tls-server-end-point`, RFC 5929).
 *
 * client-first:  gs2-header client-first-bare          gs2-header = cbind-flag "," [a=authzid] ","
 * server-first:  r=<client nonce + server nonce>,s=<salt>,i=<iterations>
 * client-final:  c=<base64(gs2-header + cbind-data)>,r=<nonce>,p=<proof>
 * server-final:  v=<server signature>   (data with success)
 *
 * The server holds only StoredKey and ServerKey. An unknown user gets a stable per-name decoy salt and
 * the same exchange, and fails where a wrong password fails. When this connection offers -PLUS, a
 * client saying `y` ("I could bind but the server cannot") was downgraded by someone: refused
 * (RFC 5802 §6).
 *
 * SECURITY: every message is client input, parsed with bounded sizes; the nonce is checked before use.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { type AuthenticationAttempt, beginAuthentication } from './authenticate.ts';
import { type ChannelBindingType, hasChannelBinding } from './channel-binding.ts';
import { decodeBase64Strict, decodeUtf8Strict } from './client-response.ts';
import { SCRAM_HASH_BYTES, type ScramHash, type ScramVerifier } from './credentials.ts';
import { MAX_IDENTITY_BYTES, MAX_SCRAM_NONCE_CHARS } from './limits.ts';
import {
  failure,
  type SaslContext,
  type SaslMechanism,
  type SaslMechanismName,
  type SaslStepResult,
} from './mechanism.ts';
import { saslprep } from './saslprep.ts';

const SERVER_NONCE_BYTES = 18;
const NODE_HASH: Record<ScramHash, string> = { 'SHA-1': 'sha1', 'SHA-256': 'sha256' };
/** RFC 5802 §7: printable ASCII except ",". */
const NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;
const CB_NAME = /^[A-Za-z0-9.-]+$/;
/** RFC 5802 §7 `attr-val`. */
const ATTRIBUTE = /^[A-Za-z]=/;

interface ClientFirst {
  gs2Header: string;
  bare: string;
  cbindFlag: 'n' | 'y' | 'p';
  cbName?: string;
  authzid: string;
  username: string;
  nonce: string;
}

interface Exchange {
  first: ClientFirst;
  serverFirst: string;
  nonce: string;
  attempt: AuthenticationAttempt;
  verifier: ScramVerifier;
  cbindData: Buffer;
  /** False when the account (or the decoy) is checked against the decoy's verifier. */
  hasVerifier: boolean;
}

export class ScramMechanism implements SaslMechanism {
  private challenged = false;
  private exchange: Exchange | undefined;

  constructor(
    readonly name: SaslMechanismName,
    private readonly hash: ScramHash,
    private readonly plus: boolean,
    private readonly ctx: SaslContext,
  ) {}

  async step(response: Buffer | undefined): Promise<SaslStepResult> {
    if (this.exchange === undefined) {
      if (response === undefined) {
        if (this.challenged) return failure('malformed', 'SCRAM needs a client-first message');
        this.challenged = true;
        return { challenge: Buffer.alloc(0) };
      }
      return this.clientFirst(response);
    }
    if (response === undefined) return failure('malformed', 'SCRAM needs a client-final message');
    return this.clientFinal(response, this.exchange);
  }

  private async clientFirst(response: Buffer): Promise<SaslStepResult> {
    const parsed = parseClientFirst(response);
    if ('error' in parsed) return failure('malformed', parsed.error);
    const bindings = this.ctx.channelBindings ?? {};
    let cbindData: Buffer = Buffer.alloc(0);
    if (parsed.cbindFlag === 'p') {
      if (!this.plus) return failure('malformed', 'channel binding requested with a non-PLUS mechanism');
      const data = bindings[parsed.cbName as ChannelBindingType];
      if (data === undefined) return failure('malformed', `channel binding type ${parsed.cbName} not available`);
      cbindData = data;
    } else if (this.plus) {
      return failure('malformed', 'a -PLUS mechanism needs channel binding (p=)');
    } else if (parsed.cbindFlag === 'y' && hasChannelBinding(bindings)) {
      return failure('bad-credentials', 'channel-binding downgrade: client says y but we offer -PLUS', {
        authcid: parsed.username,
      });
    }
    const begun = await beginAuthentication(this.ctx, { authcid: parsed.username, legacy: false });
    if ('failure' in begun) return begun;
    const { attempt } = begun;
    // An account whose record predates SCRAM looks exactly like an unknown user, and fails the same way.
    const own = attempt.isDecoy ? undefined : attempt.credentials.scram?.[this.hash];
    const verifier = own ?? this.ctx.decoy.credentials.scram[this.hash];
    const salt = own ? own.salt : this.ctx.decoy.scramSalt(parsed.username, this.hash);
    const serverNonce = this.ctx.fixedNonce?.(this.name) ?? randomBytes(SERVER_NONCE_BYTES).toString('base64');
    const nonce = parsed.nonce + serverNonce;
    const serverFirst = `r=${nonce},s=${salt.toString('base64')},i=${verifier.iterations}`;
    this.exchange = { first: parsed, serverFirst, nonce, attempt, verifier, cbindData, hasVerifier: own !== undefined };
    return { challenge: Buffer.from(serverFirst, 'utf8') };
  }

  private async clientFinal(response: Buffer, exchange: Exchange): Promise<SaslStepResult> {
    const text = decodeUtf8Strict(response);
    if (text === undefined) return failure('malformed', 'client-final is not UTF-8');
    const attributes = text.split(',');
    const channel = attributes[0];
    const nonce = attributes[1];
    const proofAttribute = attributes[attributes.length - 1];
    if (
      attributes.length < 3 ||
      !channel?.startsWith('c=') ||
      !nonce?.startsWith('r=') ||
      !proofAttribute?.startsWith('p=')
    ) {
      return failure('malformed', 'client-final must be c=...,r=...,[extensions,]p=...');
    }
    if (nonce.slice(2) !== exchange.nonce) return failure('malformed', 'nonce does not match');
    const channelBytes = decodeBase64Strict(channel.slice(2));
    const proof = decodeBase64Strict(proofAttribute.slice(2));
    if (channelBytes === undefined || proof?.length !== SCRAM_HASH_BYTES[this.hash]) {
      return failure('malformed', 'bad c= or p=');
    }
    const expectedChannel = Buffer.concat([Buffer.from(exchange.first.gs2Header, 'utf8'), exchange.cbindData]);
    const channelMatches =
      channelBytes.length === expectedChannel.length && timingSafeEqual(channelBytes, expectedChannel);

    const withoutProof = text.slice(0, text.length - proofAttribute.length - 1);
    const authMessage = `${exchange.first.bare},${exchange.serverFirst},${withoutProof}`;
    const algorithm = NODE_HASH[this.hash];
    const clientSignature = createHmac(algorithm, exchange.verifier.storedKey).update(authMessage).digest();
    const clientKey = Buffer.from(proof.map((byte, i) => byte ^ clientSignature[i]!));
    const proofMatches = timingSafeEqual(createHash(algorithm).update(clientKey).digest(), exchange.verifier.storedKey);

    const detail = !exchange.hasVerifier
      ? 'no SCRAM verifier (the record predates them)'
      : channelMatches
        ? 'wrong password'
        : 'channel bindings do not match';
    const verified = proofMatches && channelMatches && exchange.hasVerifier;
    const result = await exchange.attempt.finish(verified, exchange.first.authzid, detail);
    if ('failure' in result) return result;
    const serverSignature = createHmac(algorithm, exchange.verifier.serverKey).update(authMessage).digest();
    return { success: result.success, serverFinal: Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8') };
  }
}

/** RFC 5802 §7 `client-first-message`. */
export function parseClientFirst(response: Buffer): ClientFirst | { error: string } {
  const text = decodeUtf8Strict(response);
  if (text === undefined) return { error: 'client-first is not UTF-8' };
  const firstComma = text.indexOf(',');
  const secondComma = firstComma < 0 ? -1 : text.indexOf(',', firstComma + 1);
  if (secondComma < 0) return { error: 'no gs2 header' };
  const flag = text.slice(0, firstComma);
  const authzidPart = text.slice(firstComma + 1, secondComma);
  let cbindFlag: ClientFirst['cbindFlag'];
  let cbName: string | undefined;
  if (flag === 'n' || flag === 'y') cbindFlag = flag;
  else if (flag.startsWith('p=') && CB_NAME.test(flag.slice(2))) {
    cbindFlag = 'p';
    cbName = flag.slice(2);
  } else return { error: 'bad gs2-cbind-flag' };
  let authzid = '';
  if (authzidPart !== '') {
    const decoded = authzidPart.startsWith('a=') ? decodeSaslname(authzidPart.slice(2)) : undefined;
    if (decoded === undefined) return { error: 'bad authzid' };
    authzid = decoded;
  }
  const bare = text.slice(secondComma + 1);
  const attributes = bare.split(',');
  if (attributes[0]?.startsWith('m=')) return { error: 'mandatory extension not supported' };
  const [user, nonce, ...extensions] = attributes;
  if (!user?.startsWith('n=') || !nonce?.startsWith('r=')) return { error: 'client-first-bare must start n=...,r=...' };
  if (!extensions.every((extension) => ATTRIBUTE.test(extension))) return { error: 'bad extension' };
  const rawName = decodeSaslname(user.slice(2));
  const clientNonce = nonce.slice(2);
  if (rawName === undefined) return { error: 'bad username' };
  if (!NONCE.test(clientNonce) || clientNonce.length > MAX_SCRAM_NONCE_CHARS) return { error: 'bad client nonce' };
  let username: string;
  try {
    // RFC 5802 §5.1: the server prepares the name the client may not have prepared.
    username = saslprep(rawName, { allowUnassigned: true });
  } catch {
    return { error: 'username fails SASLprep' };
  }
  if (username.length === 0 || Buffer.byteLength(username) > MAX_IDENTITY_BYTES) return { error: 'bad username' };
  return {
    gs2Header: text.slice(0, secondComma + 1),
    bare,
    cbindFlag,
    ...(cbName === undefined ? {} : { cbName }),
    authzid,
    username,
    nonce: clientNonce,
  };
}

/** RFC 5802 §7 `saslname`: "," and "=" escaped as =2C and =3D; any other "=" is an error. */
function decodeSaslname(value: string): string | undefined {
  if (value.length === 0 || /=(?!2C|3D)/.test(value)) return undefined;
  return value.replace(/=2C/g, ',').replace(/=3D/g, '=');
}
