/**
 * SASL PLAIN (RFC 4616) against the directory, shaped like the SASL module's mechanism seam
 * (`step(response)` → challenge, success or failure), so AUTHENTICATE and LOGIN run one loop that the
 * shared SASL mechanisms plug into unchanged.
 *
 * SECURITY: the message is untrusted: exactly two NULs, bounded fields, strict UTF-8. Only an admin may
 * act as another user (RFC 4422 §2). Unknown users and wrong passwords fail the same way and cost the
 * same (the directory verifies against a dummy when the account is unknown). Failures are throttled per
 * client address and per account name with the SASL module's throttle.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Account, Directory } from '../../shared/directory/directory.ts';
import type { AuthThrottle } from '../../shared/sasl/auth-throttle.ts';

/** RFC 4616 §2 bounds each identity at 255 octets; passwords get more room. */
const MAX_IDENTITY_BYTES = 255;
const MAX_PASSWORD_BYTES = 1024;

export type SaslFailureKind = 'bad-credentials' | 'authorization-denied' | 'malformed' | 'throttled';

export type SaslStepResult =
  | { challenge: Buffer }
  | { success: { account: Account } }
  | { failure: { kind: SaslFailureKind; detail: string } };

export interface SaslExchange {
  readonly name: string;
  /** The next client response: undefined when the client sent no initial response. */
  step(response: Buffer | undefined): Promise<SaslStepResult>;
}

const fail = (kind: SaslFailureKind, detail: string): SaslStepResult => ({ failure: { kind, detail } });

export class PlainExchange implements SaslExchange {
  readonly name = 'PLAIN';
  private challenged = false;

  constructor(
    private readonly directory: Directory,
    /** Failed-login throttling shared by the listener process (shared/sasl), and who is asking. */
    private readonly throttle: { limiter: AuthThrottle; clientAddress: string },
  ) {}

  async step(response: Buffer | undefined): Promise<SaslStepResult> {
    if (response === undefined) {
      if (this.challenged) return fail('malformed', 'PLAIN needs a response');
      // RFC 4616 §2: without an initial response the server sends an empty challenge.
      this.challenged = true;
      return { challenge: Buffer.alloc(0) };
    }
    const fields = splitPlain(response);
    if (!fields) return fail('malformed', 'not a PLAIN message');
    const [authzid, authcid, password] = fields;
    const { limiter, clientAddress } = this.throttle;
    if (!limiter.check(clientAddress, authcid).allowed) return fail('throttled', 'too many failed attempts');
    const account = await this.directory.verifyPassword(authcid, password);
    if (!account) {
      // The failure reply waits, longer with each failure (shared/sasl/auth-throttle.ts).
      await sleep(limiter.recordFailure(clientAddress, authcid));
      return fail('bad-credentials', 'wrong user name or password');
    }
    limiter.recordSuccess(clientAddress, authcid);
    if (authzid === '' || authzid.toLowerCase() === account.address) return { success: { account } };
    if (!account.admin) return fail('authorization-denied', 'only an admin may act as another user');
    const target = await this.directory.getAccount(authzid);
    return target ? { success: { account: target } } : fail('authorization-denied', 'no such account to act as');
  }
}

/** `[authzid] NUL authcid NUL passwd`, each field strict UTF-8 within its bound; undefined otherwise. */
export function splitPlain(message: Buffer): [string, string, string] | undefined {
  const first = message.indexOf(0);
  const second = first < 0 ? -1 : message.indexOf(0, first + 1);
  if (first < 0 || second < 0 || message.indexOf(0, second + 1) >= 0) return undefined;
  const parts = [message.subarray(0, first), message.subarray(first + 1, second), message.subarray(second + 1)];
  const [authzid, authcid, password] = parts as [Buffer, Buffer, Buffer];
  if (authcid.length === 0 || password.length === 0) return undefined;
  if (authzid.length > MAX_IDENTITY_BYTES || authcid.length > MAX_IDENTITY_BYTES) return undefined;
  if (password.length > MAX_PASSWORD_BYTES) return undefined;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    return [decoder.decode(authzid), decoder.decode(authcid), decoder.decode(password)];
  } catch {
    return undefined;
  }
}
