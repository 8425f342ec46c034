/**
 * LOGIN (draft-murchison-sasl-login): the server asks `Username:` then `Password:`, each answered
 * with the bare UTF-8 value; an initial response, when given, is the user name. No authzid. Checked
 * against the scrypt verifier; offered only over TLS (sasl.ts enforces it).
 */
import { beginAuthentication } from './authenticate.ts';
import { decodeUtf8Strict } from './client-response.ts';
import { MAX_IDENTITY_BYTES, MAX_PASSWORD_BYTES } from './limits.ts';
import { failure, type SaslContext, type SaslMechanism, type SaslStepResult } from './mechanism.ts';

const USERNAME_CHALLENGE = Buffer.from('Username:');
const PASSWORD_CHALLENGE = Buffer.from('Password:');

export class LoginMechanism implements SaslMechanism {
  readonly name = 'LOGIN';
  private state: 'start' | 'username' | 'password' = 'start';
  private username = '';

  constructor(private readonly ctx: SaslContext) {}

  async step(response: Buffer | undefined): Promise<SaslStepResult> {
    if (this.state === 'start' && (response === undefined || response.length === 0)) {
      this.state = 'username';
      return { challenge: USERNAME_CHALLENGE };
    }
    if (response === undefined) return failure('malformed', 'LOGIN needs a response');
    if (this.state !== 'password') {
      const username = decodeUtf8Strict(response);
      if (username === undefined || username.length === 0 || response.length > MAX_IDENTITY_BYTES) {
        return failure('malformed', 'bad user name');
      }
      this.username = username;
      this.state = 'password';
      return { challenge: PASSWORD_CHALLENGE };
    }
    const password = decodeUtf8Strict(response);
    if (password === undefined || password.length === 0 || response.length > MAX_PASSWORD_BYTES) {
      return failure('malformed', 'bad password');
    }
    const begun = await beginAuthentication(this.ctx, { authcid: this.username, legacy: false });
    if ('failure' in begun) return begun;
    const verified = await begun.attempt.credentials.verifyPassword(password);
    return begun.attempt.finish(verified, '', 'wrong password');
  }
}
