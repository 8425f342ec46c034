/**
 * PLAIN (RFC 4616): one message `[authzid] NUL authcid NUL passwd`, UTF-8, checked against the scrypt
 * verifier. Offered only over TLS (sasl.ts enforces it).
 */
import { beginAuthentication } from './authenticate.ts';
import { decodeUtf8Strict } from './client-response.ts';
import { MAX_IDENTITY_BYTES, MAX_PASSWORD_BYTES } from './limits.ts';
import { failure, type SaslContext, type SaslMechanism, type SaslStepResult } from './mechanism.ts';

export class PlainMechanism implements SaslMechanism {
  readonly name = 'PLAIN';
  private challenged = false;

  constructor(private readonly ctx: SaslContext) {}

  async step(response: Buffer | undefined): Promise<SaslStepResult> {
    if (response === undefined) {
      if (this.challenged) return failure('malformed', 'PLAIN needs a response');
      // RFC 4616 §2: without an initial response the server sends an empty challenge.
      this.challenged = true;
      return { challenge: Buffer.alloc(0) };
    }
    const message = parsePlainMessage(response);
    if ('error' in message) return failure('malformed', message.error);
    const begun = await beginAuthentication(this.ctx, { authcid: message.authcid, legacy: false });
    if ('failure' in begun) return begun;
    const verified = await begun.attempt.credentials.verifyPassword(message.password);
    return begun.attempt.finish(verified, message.authzid, 'wrong password');
  }
}

export function parsePlainMessage(
  message: Buffer,
): { authzid: string; authcid: string; password: string } | { error: string } {
  const first = message.indexOf(0);
  const second = first < 0 ? -1 : message.indexOf(0, first + 1);
  if (first < 0 || second < 0 || message.indexOf(0, second + 1) >= 0) {
    return { error: 'PLAIN message needs exactly two NUL separators' };
  }
  const fields = [message.subarray(0, first), message.subarray(first + 1, second), message.subarray(second + 1)];
  const [authzidBytes, authcidBytes, passwordBytes] = fields as [Buffer, Buffer, Buffer];
  if (authcidBytes.length === 0 || passwordBytes.length === 0) return { error: 'empty authcid or password' };
  if (authzidBytes.length > MAX_IDENTITY_BYTES || authcidBytes.length > MAX_IDENTITY_BYTES) {
    return { error: 'identity too long' };
  }
  if (passwordBytes.length > MAX_PASSWORD_BYTES) return { error: 'password too long' };
  const [authzid, authcid, password] = fields.map(decodeUtf8Strict);
  if (authzid === undefined || authcid === undefined || password === undefined) return { error: 'not UTF-8' };
  return { authzid, authcid, password };
}
