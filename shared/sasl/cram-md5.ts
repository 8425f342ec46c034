/**
 * CRAM-MD5 (RFC 2195): the server sends `<random.timestamp@hostname>`, the client answers
 * `username SP hex(HMAC-MD5(password, challenge))`. Verified from the stored inner/outer HMAC states,
 * so the server never needs the password. A legacy mechanism: subject to the per-domain switch.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { beginAuthentication } from './authenticate.ts';
import { decodeUtf8Strict } from './client-response.ts';
import { MAX_IDENTITY_BYTES } from './limits.ts';
import { hmacMd5FromStates } from './md5-state.ts';
import { failure, type SaslContext, type SaslMechanism, type SaslStepResult } from './mechanism.ts';

const DIGEST_HEX = /^[0-9a-fA-F]{32}$/;

export class CramMd5Mechanism implements SaslMechanism {
  readonly name = 'CRAM-MD5';
  private challenge: Buffer | undefined;

  constructor(private readonly ctx: SaslContext) {}

  async step(response: Buffer | undefined): Promise<SaslStepResult> {
    if (this.challenge === undefined) {
      // Server-first (RFC 4422 §5): an initial response is a protocol error; an empty one we let pass.
      if (response !== undefined && response.length > 0)
        return failure('malformed', 'CRAM-MD5 has no initial response');
      const nonce = this.ctx.fixedNonce?.('CRAM-MD5') ?? `${randomBytes(8).readBigUInt64BE()}.${Date.now()}`;
      this.challenge = Buffer.from(`<${nonce}@${this.ctx.hostname}>`, 'utf8');
      return { challenge: this.challenge };
    }
    if (response === undefined) return failure('malformed', 'CRAM-MD5 needs a response');
    const text = decodeUtf8Strict(response);
    const space = text?.lastIndexOf(' ') ?? -1;
    if (text === undefined || space <= 0) return failure('malformed', 'expected "username digest"');
    const username = text.slice(0, space);
    const digestHex = text.slice(space + 1);
    if (!DIGEST_HEX.test(digestHex) || Buffer.byteLength(username) > MAX_IDENTITY_BYTES) {
      return failure('malformed', 'bad user name or digest');
    }
    const begun = await beginAuthentication(this.ctx, { authcid: username, legacy: true });
    if ('failure' in begun) return begun;
    try {
      const verifiers = await begun.attempt.legacyVerifiers();
      const expected = hmacMd5FromStates(verifiers.cramMd5, this.challenge);
      const verified = timingSafeEqual(expected, Buffer.from(digestHex, 'hex'));
      return begun.attempt.finish(verified, '', 'wrong password');
    } catch (cause) {
      return failure('unavailable', 'key vault failed', { authcid: username, cause });
    }
  }
}
