/**
 * NTLM (MS-NLMP) as SMTP and IMAP clients use it for `AUTH NTLM` / `AUTHENTICATE NTLM`: the client sends
 * NEGOTIATE, we answer CHALLENGE (a random server challenge and our target info), the client sends
 * AUTHENTICATE with an NTLMv2 response, which we verify from the stored NT hash (MS-NLMP §3.3.2).
 *
 * NTLMv1 and LM responses are refused: they are crackable from a captured exchange. Without
 * MsvAvTimestamp in our target info, clients need not send a MIC (MS-NLMP §3.1.5.1.2); one that comes
 * anyway is not checked, since no session key is used (we grant no signing or sealing).
 *
 * Names: `UserName` may be `local@domain` (what our users configure), `DOMAIN\local`, or `local` with
 * `DomainName` = the mail domain; all map to the login `local@domain`. The NTLMv2 hash itself is computed
 * over UserName and DomainName exactly as the client sent them, as the client did.
 *
 * SECURITY: the messages are client input; every security buffer is bounds-checked against the
 * message and the field limits before it is read.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { beginAuthentication } from './authenticate.ts';
import { MAX_IDENTITY_BYTES, MAX_NTLM_STRING_BYTES } from './limits.ts';
import { failure, type SaslContext, type SaslMechanism, type SaslStepResult } from './mechanism.ts';

const SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1');
const NEGOTIATE = 1;
const CHALLENGE = 2;
const AUTHENTICATE = 3;

/** MS-NLMP §2.2.2.5 NEGOTIATE flags this server looks at or sets. */
export const NtlmFlag = {
  UNICODE: 0x00000001,
  OEM: 0x00000002,
  REQUEST_TARGET: 0x00000004,
  NTLM: 0x00000200,
  ALWAYS_SIGN: 0x00008000,
  TARGET_TYPE_SERVER: 0x00020000,
  EXTENDED_SESSIONSECURITY: 0x00080000,
  TARGET_INFO: 0x00800000,
} as const;

/** MS-NLMP §2.2.2.1 AV_PAIR ids. */
const AvId = { EOL: 0, NB_COMPUTER_NAME: 1, NB_DOMAIN_NAME: 2, DNS_COMPUTER_NAME: 3, DNS_DOMAIN_NAME: 4 } as const;

const SERVER_CHALLENGE_BYTES = 8;
const NTLMV1_RESPONSE_BYTES = 24;
const NT_PROOF_BYTES = 16;
/** NTLMv2_CLIENT_CHALLENGE up to its AvPairs (MS-NLMP §2.2.2.7). */
const CLIENT_CHALLENGE_HEADER_BYTES = 28;
const NETBIOS_NAME_CHARS = 15;

export class NtlmMechanism implements SaslMechanism {
  readonly name = 'NTLM';
  private state: 'start' | 'negotiate' | 'authenticate' = 'start';
  private flags = 0;
  private serverChallenge = Buffer.alloc(0);

  constructor(private readonly ctx: SaslContext) {}

  async step(response: Buffer | undefined): Promise<SaslStepResult> {
    if (this.state === 'start' && (response === undefined || response.length === 0)) {
      this.state = 'negotiate';
      return { challenge: Buffer.alloc(0) };
    }
    if (response === undefined) return failure('malformed', 'NTLM needs a message');
    if (this.state !== 'authenticate') {
      const negotiate = parseNegotiate(response);
      if ('error' in negotiate) return failure('malformed', negotiate.error);
      this.flags = challengeFlags(negotiate.flags);
      const fixed = this.ctx.fixedNonce?.('NTLM');
      this.serverChallenge = fixed === undefined ? randomBytes(SERVER_CHALLENGE_BYTES) : Buffer.from(fixed, 'hex');
      this.state = 'authenticate';
      return { challenge: buildChallenge(this.flags, this.serverChallenge, this.ctx.hostname) };
    }
    return this.authenticate(response);
  }

  private async authenticate(response: Buffer): Promise<SaslStepResult> {
    const message = parseAuthenticate(response, this.flags);
    if ('error' in message) return failure('malformed', message.error);
    const { ntResponse, user, domain } = message;
    if (user === '') return failure('malformed', 'anonymous NTLM is not offered');
    const login = ntlmLogin(user, domain);
    if (Buffer.byteLength(login) > MAX_IDENTITY_BYTES) return failure('malformed', 'user name too long');
    const isV2 =
      ntResponse.length >= NT_PROOF_BYTES + CLIENT_CHALLENGE_HEADER_BYTES &&
      ntResponse[NT_PROOF_BYTES] === 1 &&
      ntResponse[NT_PROOF_BYTES + 1] === 1;
    if (!isV2) {
      const kind =
        ntResponse.length === NTLMV1_RESPONSE_BYTES ? 'NTLMv1' : ntResponse.length === 0 ? 'LM-only' : 'unknown';
      return failure('mechanism-not-allowed', `${kind} response refused: only NTLMv2 is accepted`, {
        authcid: login,
        requirement: 'ntlmv2',
      });
    }
    const begun = await beginAuthentication(this.ctx, { authcid: login, legacy: true });
    if ('failure' in begun) return begun;
    try {
      const { ntHash } = await begun.attempt.legacyVerifiers();
      const proof = ntProofStr(
        ntowfv2(ntHash, user, domain),
        this.serverChallenge,
        ntResponse.subarray(NT_PROOF_BYTES),
      );
      const verified = timingSafeEqual(proof, ntResponse.subarray(0, NT_PROOF_BYTES));
      return begun.attempt.finish(verified, '', 'wrong password');
    } catch (cause) {
      return failure('unavailable', 'key vault failed', { authcid: login, cause });
    }
  }
}

/** MS-NLMP §3.3.2: NTOWFv2 = HMAC-MD5(NT hash, UNICODE(Uppercase(User) + UserDom)). */
export function ntowfv2(ntHash: Buffer, user: string, domain: string): Buffer {
  return createHmac('md5', ntHash)
    .update(Buffer.from(upperCasePerCharacter(user) + domain, 'utf16le'))
    .digest();
}

/** MS-NLMP §3.3.2: NTProofStr = HMAC-MD5(ResponseKeyNT, ServerChallenge + temp). */
export function ntProofStr(responseKeyNt: Buffer, serverChallenge: Buffer, temp: Buffer): Buffer {
  return createHmac('md5', responseKeyNt).update(serverChallenge).update(temp).digest();
}

/** Windows upper-cases character by character; JavaScript's "ß" → "SS" would change the length. */
function upperCasePerCharacter(text: string): string {
  return [...text]
    .map((char) => {
      const upper = char.toUpperCase();
      return upper.length === char.length ? upper : char;
    })
    .join('');
}

/** The login an NTLM user/domain pair designates. */
export function ntlmLogin(user: string, domain: string): string {
  if (user.includes('@')) return user;
  const backslash = user.indexOf('\\');
  if (backslash > 0) return `${user.slice(backslash + 1)}@${user.slice(0, backslash).toLowerCase()}`;
  return domain === '' ? user : `${user}@${domain.toLowerCase()}`;
}

function challengeFlags(clientFlags: number): number {
  const charset = clientFlags & NtlmFlag.UNICODE ? NtlmFlag.UNICODE : NtlmFlag.OEM;
  const echoed = clientFlags & (NtlmFlag.EXTENDED_SESSIONSECURITY | NtlmFlag.ALWAYS_SIGN);
  return (
    (charset |
      echoed |
      NtlmFlag.REQUEST_TARGET |
      NtlmFlag.NTLM |
      NtlmFlag.TARGET_TYPE_SERVER |
      NtlmFlag.TARGET_INFO) >>>
    0
  );
}

export function parseNegotiate(message: Buffer): { flags: number } | { error: string } {
  if (message.length < 16 || !message.subarray(0, 8).equals(SIGNATURE)) return { error: 'not an NTLMSSP message' };
  if (message.readUInt32LE(8) !== NEGOTIATE) return { error: 'expected NEGOTIATE' };
  return { flags: message.readUInt32LE(12) };
}

/** MS-NLMP §2.2.1.2 CHALLENGE_MESSAGE, without the optional Version field. */
export function buildChallenge(flags: number, serverChallenge: Buffer, hostname: string): Buffer {
  const fqdn = hostname.toLowerCase();
  const netbios = (fqdn.split('.')[0] ?? fqdn).toUpperCase().slice(0, NETBIOS_NAME_CHARS);
  const dnsDomain = fqdn.includes('.') ? fqdn.slice(fqdn.indexOf('.') + 1) : fqdn;
  const unicode = (flags & NtlmFlag.UNICODE) !== 0;
  const targetName = Buffer.from(netbios, unicode ? 'utf16le' : 'latin1');
  const targetInfo = Buffer.concat([
    avPair(AvId.NB_DOMAIN_NAME, netbios),
    avPair(AvId.NB_COMPUTER_NAME, netbios),
    avPair(AvId.DNS_DOMAIN_NAME, dnsDomain),
    avPair(AvId.DNS_COMPUTER_NAME, fqdn),
    avPair(AvId.EOL, ''),
  ]);
  const header = Buffer.alloc(48);
  SIGNATURE.copy(header, 0);
  header.writeUInt32LE(CHALLENGE, 8);
  writeSecurityBuffer(header, 12, targetName.length, 48);
  header.writeUInt32LE(flags, 20);
  serverChallenge.copy(header, 24);
  writeSecurityBuffer(header, 40, targetInfo.length, 48 + targetName.length);
  return Buffer.concat([header, targetName, targetInfo]);
}

function avPair(id: number, value: string): Buffer {
  const data = Buffer.from(value, 'utf16le');
  const pair = Buffer.alloc(4 + data.length);
  pair.writeUInt16LE(id, 0);
  pair.writeUInt16LE(data.length, 2);
  data.copy(pair, 4);
  return pair;
}

function writeSecurityBuffer(target: Buffer, at: number, length: number, offset: number): void {
  target.writeUInt16LE(length, at);
  target.writeUInt16LE(length, at + 2);
  target.writeUInt32LE(offset, at + 4);
}

export interface AuthenticateMessage {
  lmResponse: Buffer;
  ntResponse: Buffer;
  domain: string;
  user: string;
  workstation: string;
}

/** MS-NLMP §2.2.1.3 AUTHENTICATE_MESSAGE. Old clients end it before NegotiateFlags (52 bytes). */
export function parseAuthenticate(message: Buffer, negotiatedFlags: number): AuthenticateMessage | { error: string } {
  if (message.length < 52 || !message.subarray(0, 8).equals(SIGNATURE)) return { error: 'not an NTLMSSP message' };
  if (message.readUInt32LE(8) !== AUTHENTICATE) return { error: 'expected AUTHENTICATE' };
  const flags = message.length >= 64 ? message.readUInt32LE(60) : negotiatedFlags;
  const unicode = (flags & NtlmFlag.UNICODE) !== 0;
  const read = (at: number, limit: number) => readSecurityBuffer(message, at, limit);
  const lmResponse = read(12, message.length);
  const ntResponse = read(20, message.length);
  const domainBytes = read(28, MAX_NTLM_STRING_BYTES);
  const userBytes = read(36, MAX_NTLM_STRING_BYTES);
  const workstationBytes = read(44, MAX_NTLM_STRING_BYTES);
  if (!lmResponse || !ntResponse || !domainBytes || !userBytes || !workstationBytes) {
    return { error: 'security buffer out of bounds' };
  }
  const text = (bytes: Buffer) => (unicode ? decodeUtf16le(bytes) : bytes.toString('latin1'));
  const [domain, user, workstation] = [text(domainBytes), text(userBytes), text(workstationBytes)];
  if (domain === undefined || user === undefined || workstation === undefined) return { error: 'bad UTF-16 string' };
  return { lmResponse, ntResponse, domain, user, workstation };
}

function readSecurityBuffer(message: Buffer, at: number, limit: number): Buffer | undefined {
  const length = message.readUInt16LE(at);
  const offset = message.readUInt32LE(at + 4);
  if (length > limit || offset > message.length || length > message.length - offset) return undefined;
  return message.subarray(offset, offset + length);
}

function decodeUtf16le(bytes: Buffer): string | undefined {
  if (bytes.length % 2 !== 0) return undefined;
  const text = bytes.toString('utf16le');
  // A lone surrogate cannot be part of a real name.
  return /\p{Cs}/u.test(text) ? undefined : text;
}
