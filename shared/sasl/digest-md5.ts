/**
 * DIGEST-MD5 (RFC 2831), authentication only (qop=auth; no integrity or privacy layer).
 *
 * The realm is the user's domain. Since the server cannot know the user before the client answers,
 * the challenge offers the configured realms (none by default) and accepts the realm the client
 * chooses. Clients configured with `user@domain` send either `username="user@domain"` with the realm
 * `domain` or none, or `username="user"` with `realm="domain"`; the stored verifiers cover all three
 * forms (credentials.ts), and the name looked up is always `local@domain`.
 *
 * Checks: our nonce, nc=00000001 (no reauthentication), qop=auth, a digest-uri naming this service
 * and this server (RFC 2831 §2.1.2: stops a response made for another service or server being relayed
 * here), then the response value; on success `rspauth` goes back as data with success.
 *
 * Cyrus SASL clients use the one offered realm, ask the user to pick among several, and use the
 * server's host name when none is offered; so a listener whose users authenticate as local@domain in
 * realm `domain` offers its domains (`digestRealms`).
 *
 * SECURITY: the whole response is client input; it is parsed with bounded sizes, no recursion.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { beginAuthentication, domainOf } from './authenticate.ts';
import { decodeUtf8Strict } from './client-response.ts';
import type { DigestMd5Verifier } from './credentials.ts';
import { MAX_DIGEST_CNONCE_CHARS, MAX_DIGEST_DIRECTIVES, MAX_IDENTITY_BYTES } from './limits.ts';
import { failure, type SaslContext, type SaslMechanism, type SaslStepResult } from './mechanism.ts';

const NONCE_BYTES = 24;
const REQUIRED = ['username', 'nonce', 'cnonce', 'nc', 'digest-uri', 'response'] as const;
const RESPONSE_HEX = /^[0-9a-f]{32}$/;

export class DigestMd5Mechanism implements SaslMechanism {
  readonly name = 'DIGEST-MD5';
  private nonce: string | undefined;

  constructor(private readonly ctx: SaslContext) {}

  async step(response: Buffer | undefined): Promise<SaslStepResult> {
    if (this.nonce === undefined) {
      // Server-first: RFC 2831 §2.1 has no initial response (§2.2's subsequent authentication is not offered).
      if (response !== undefined && response.length > 0)
        return failure('malformed', 'DIGEST-MD5 has no initial response');
      this.nonce = this.ctx.fixedNonce?.('DIGEST-MD5') ?? randomBytes(NONCE_BYTES).toString('base64');
      const realms = (this.ctx.digestRealms ?? []).map((realm) => `realm=${quote(realm)},`).join('');
      return {
        challenge: Buffer.from(`${realms}nonce="${this.nonce}",qop="auth",charset=utf-8,algorithm=md5-sess`, 'utf8'),
      };
    }
    if (response === undefined) return failure('malformed', 'DIGEST-MD5 needs a response');
    return this.verify(response, this.nonce);
  }

  private async verify(response: Buffer, nonce: string): Promise<SaslStepResult> {
    const parsed = parseDigestDirectives(response);
    if ('error' in parsed) return failure('malformed', parsed.error);
    const fields = parsed.directives;
    for (const name of REQUIRED) if (!fields.has(name)) return failure('malformed', `missing ${name}`);
    const charset = fields.get('charset');
    if (charset !== undefined && charset.toLowerCase() !== 'utf-8')
      return failure('malformed', 'charset must be utf-8');
    const qop = fields.get('qop') ?? 'auth';
    if (qop !== 'auth') return failure('malformed', 'only qop=auth is offered');
    if (fields.get('nonce') !== nonce) return failure('malformed', 'nonce is not ours');
    if (fields.get('nc') !== '00000001') return failure('malformed', 'nc must be 00000001');
    const cnonce = fields.get('cnonce')!;
    if (cnonce.length === 0 || cnonce.length > MAX_DIGEST_CNONCE_CHARS) return failure('malformed', 'bad cnonce');
    const clientResponse = fields.get('response')!;
    if (!RESPONSE_HEX.test(clientResponse)) return failure('malformed', 'response is not 32 lowercase hex digits');

    // Values were parsed as ISO 8859-1 (one char per byte); with charset=utf-8 names are UTF-8 (§2.1.2).
    const asText = (value: string): string | undefined =>
      charset === undefined ? value : decodeUtf8Strict(Buffer.from(value, 'latin1'));
    const username = asText(fields.get('username')!);
    const realm = asText(fields.get('realm') ?? '');
    const authzid = asText(fields.get('authzid') ?? '');
    if (username === undefined || realm === undefined || authzid === undefined)
      return failure('malformed', 'not UTF-8');
    if (username.length === 0 || Buffer.byteLength(username) > MAX_IDENTITY_BYTES) {
      return failure('malformed', 'bad user name');
    }
    const digestUri = fields.get('digest-uri')!;
    const login = username.includes('@') || realm === '' ? username : `${username}@${realm}`;
    const uriAccepted = this.acceptsDigestUri(digestUri, [realm, domainOf(login) ?? '']);

    const begun = await beginAuthentication(this.ctx, { authcid: login, legacy: true });
    if ('failure' in begun) return begun;
    let verifiers: DigestMd5Verifier[];
    try {
      verifiers = (await begun.attempt.legacyVerifiers()).digestMd5;
    } catch (cause) {
      return failure('unavailable', 'key vault failed', { authcid: login, cause });
    }
    const matching = verifiers.find((form) => form.username === username && form.realm === realm);
    // No stored form for this username/realm pair: do the same work with another form, then fail.
    const secret = (matching ?? verifiers[0])?.secret ?? Buffer.alloc(16);
    const raw = (name: string) => Buffer.from(fields.get(name) ?? '', 'latin1');
    const values = {
      secret,
      nonce: raw('nonce'),
      cnonce: raw('cnonce'),
      nc: raw('nc'),
      digestUri: raw('digest-uri'),
      authzid: fields.has('authzid') ? raw('authzid') : undefined,
    };
    const expected = digestMd5Response(values, 'AUTHENTICATE');
    const verified = timingSafeEqual(Buffer.from(expected), Buffer.from(clientResponse)) && matching !== undefined;
    const detail = !uriAccepted ? `digest-uri ${digestUri} is not this service` : 'wrong password or realm';
    const result = await begun.attempt.finish(verified && uriAccepted, authzid, detail);
    if ('failure' in result) return result;
    return { success: result.success, serverFinal: Buffer.from(`rspauth=${digestMd5Response(values, '')}`, 'utf8') };
  }

  /**
   * `serv-type "/" host [ "/" serv-name ]` (RFC 2831 §2.1.2): our service, and as host one of our names
   * or the user's realm/domain, which is what curl puts there (it builds digest-uri from the realm).
   */
  private acceptsDigestUri(uri: string, userRealms: string[]): boolean {
    const [service, host, ...rest] = uri.split('/');
    if (service !== this.ctx.service || host === undefined || host === '' || rest.length > 1) return false;
    const names = [this.ctx.hostname, ...(this.ctx.alternateHostnames ?? []), ...userRealms];
    return names.some((name) => name.toLowerCase() === host.toLowerCase());
  }
}

/**
 * RFC 2831 §2.1.2.1: HEX(KD(HEX(H(A1)), nonce:nc:cnonce:qop:HEX(H(A2)))), where
 * A1 = H(user:realm:password):nonce:cnonce[:authzid] and A2 = method:digest-uri (method empty for rspauth).
 */
export function digestMd5Response(
  values: {
    secret: Buffer;
    nonce: Buffer;
    cnonce: Buffer;
    nc: Buffer;
    digestUri: Buffer;
    authzid?: Buffer | undefined;
  },
  method: 'AUTHENTICATE' | '',
): string {
  const colon = Buffer.from(':');
  const a1 = [values.secret, colon, values.nonce, colon, values.cnonce];
  if (values.authzid !== undefined) a1.push(colon, values.authzid);
  const ha1 = md5Hex(Buffer.concat(a1));
  const ha2 = md5Hex(Buffer.concat([Buffer.from(`${method}:`), values.digestUri]));
  return md5Hex(
    Buffer.concat([
      Buffer.from(`${ha1}:`),
      values.nonce,
      colon,
      values.nc,
      colon,
      values.cnonce,
      Buffer.from(`:auth:${ha2}`),
    ]),
  );
}

function md5Hex(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, (char) => `\\${char}`)}"`;
}

// RFC 2616 §2.2 token characters (RFC 2831 §7.1 uses its grammar).
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const SPACE = /[ \t\r\n]/;

/**
 * Parses `1#( token "=" ( token | quoted-string ) )` with optional whitespace and empty elements
 * (RFC 2831 §7.1). The bytes are read as ISO 8859-1 so each character is one byte. Names are case-
 * insensitive; a repeated directive is an error (§2.1.2: each "MUST" appear at most once).
 */
export function parseDigestDirectives(bytes: Buffer): { directives: Map<string, string> } | { error: string } {
  const text = bytes.toString('latin1');
  const directives = new Map<string, string>();
  let at = 0;
  const skipSpace = () => {
    while (at < text.length && SPACE.test(text[at]!)) at++;
  };
  while (at < text.length) {
    skipSpace();
    if (text[at] === ',') {
      at++;
      continue;
    }
    if (at >= text.length) break;
    const equals = text.indexOf('=', at);
    if (equals < 0) return { error: 'directive without "="' };
    const name = text.slice(at, equals).trim().toLowerCase();
    if (!TOKEN.test(name)) return { error: 'bad directive name' };
    at = equals + 1;
    skipSpace();
    let value = '';
    if (text[at] === '"') {
      at++;
      let closed = false;
      while (at < text.length) {
        const char = text[at]!;
        if (char === '\\' && at + 1 < text.length) {
          value += text[at + 1];
          at += 2;
        } else if (char === '"') {
          at++;
          closed = true;
          break;
        } else {
          value += char;
          at++;
        }
      }
      if (!closed) return { error: 'unterminated quoted string' };
    } else {
      const start = at;
      while (at < text.length && text[at] !== ',' && !SPACE.test(text[at]!)) at++;
      value = text.slice(start, at);
      if (!TOKEN.test(value)) return { error: `bad value for ${name}` };
    }
    if (directives.has(name)) return { error: `${name} given twice` };
    if (directives.size >= MAX_DIGEST_DIRECTIVES) return { error: 'too many directives' };
    directives.set(name, value);
    skipSpace();
    if (at < text.length && text[at] !== ',') return { error: 'expected ","' };
  }
  return { directives };
}
