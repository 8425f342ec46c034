/**
 * The SASL module every listener uses: which mechanisms to advertise, and one `createMechanism` for
 * all of them. The wrapper here enforces what is common to every mechanism, so no mechanism can forget
 * it: PLAIN and LOGIN only over TLS, -PLUS only with channel-binding data, the client address's
 * throttle, the response size limit, nothing after the outcome, and no exception escaping
 * to the listener (it becomes `unavailable`).
 */
import { hasChannelBinding } from './channel-binding.ts';
import { CramMd5Mechanism } from './cram-md5.ts';
import { DigestMd5Mechanism } from './digest-md5.ts';
import { MAX_SASL_RESPONSE_BYTES } from './limits.ts';
import { LoginMechanism } from './login.ts';
import {
  failure,
  SASL_MECHANISM_NAMES,
  type SaslContext,
  type SaslMechanism,
  type SaslMechanismName,
  type SaslStepResult,
} from './mechanism.ts';
import { NtlmMechanism } from './ntlm.ts';
import { PlainMechanism } from './plain.ts';
import { ScramMechanism } from './scram.ts';

const TLS_ONLY: ReadonlySet<SaslMechanismName> = new Set(['PLAIN', 'LOGIN']);
export const LEGACY_MECHANISMS: ReadonlySet<SaslMechanismName> = new Set(['DIGEST-MD5', 'CRAM-MD5', 'NTLM']);
const CHANNEL_BOUND: ReadonlySet<SaslMechanismName> = new Set(['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS']);

/**
 * The mechanisms a listener advertises, strongest first. `legacyEnabled`: whether any domain served
 * here allows the legacy mechanisms (the per-domain check happens again once the user is known).
 */
export function advertisedMechanisms(options: {
  tls: boolean;
  legacyEnabled: boolean;
  channelBinding: boolean;
}): SaslMechanismName[] {
  return SASL_MECHANISM_NAMES.filter(
    (name) =>
      (options.tls || !TLS_ONLY.has(name)) &&
      (options.legacyEnabled || !LEGACY_MECHANISMS.has(name)) &&
      (options.channelBinding || !CHANNEL_BOUND.has(name)),
  );
}

/** A mechanism for one exchange, or undefined when the name is not one we implement (case-insensitive). */
export function createMechanism(name: string, ctx: SaslContext): SaslMechanism | undefined {
  const upper = name.toUpperCase();
  const known = SASL_MECHANISM_NAMES.find((candidate) => candidate === upper);
  if (known === undefined) return undefined;
  return new GuardedMechanism(known, ctx, implementation(known, ctx));
}

function implementation(name: SaslMechanismName, ctx: SaslContext): SaslMechanism {
  switch (name) {
    case 'PLAIN':
      return new PlainMechanism(ctx);
    case 'LOGIN':
      return new LoginMechanism(ctx);
    case 'CRAM-MD5':
      return new CramMd5Mechanism(ctx);
    case 'DIGEST-MD5':
      return new DigestMd5Mechanism(ctx);
    case 'NTLM':
      return new NtlmMechanism(ctx);
    case 'SCRAM-SHA-1':
      return new ScramMechanism(name, 'SHA-1', false, ctx);
    case 'SCRAM-SHA-256':
      return new ScramMechanism(name, 'SHA-256', false, ctx);
    case 'SCRAM-SHA-1-PLUS':
      return new ScramMechanism(name, 'SHA-1', true, ctx);
    case 'SCRAM-SHA-256-PLUS':
      return new ScramMechanism(name, 'SHA-256', true, ctx);
  }
}

class GuardedMechanism implements SaslMechanism {
  private started = false;
  private finished = false;

  constructor(
    readonly name: SaslMechanismName,
    private readonly ctx: SaslContext,
    private readonly inner: SaslMechanism,
  ) {}

  async step(response: Buffer | undefined): Promise<SaslStepResult> {
    const result = await this.guardedStep(response);
    if (!('challenge' in result)) this.finished = true;
    return result;
  }

  private async guardedStep(response: Buffer | undefined): Promise<SaslStepResult> {
    if (this.finished) return failure('malformed', 'the exchange is over');
    if (response !== undefined && response.length > MAX_SASL_RESPONSE_BYTES) {
      return failure('malformed', 'response too large');
    }
    if (!this.started) {
      this.started = true;
      const refusal = this.refusal();
      if (refusal) return refusal;
    }
    try {
      return await this.inner.step(response);
    } catch (cause) {
      return failure('unavailable', `${this.name} failed unexpectedly`, { cause });
    }
  }

  private refusal(): SaslStepResult | undefined {
    if (TLS_ONLY.has(this.name) && !this.ctx.tls) {
      return failure('mechanism-not-allowed', `${this.name} needs TLS`, { requirement: 'tls' });
    }
    if (CHANNEL_BOUND.has(this.name) && !hasChannelBinding(this.ctx.channelBindings)) {
      return failure('mechanism-not-allowed', `${this.name} needs TLS channel-binding data`, {
        requirement: 'channel-binding',
      });
    }
    const throttle = this.ctx.throttle;
    if (throttle) {
      const verdict = throttle.limiter.check(throttle.clientAddress);
      if (!verdict.allowed) {
        return failure('throttled', 'too many failed attempts from this address', {
          retryAfterMs: verdict.retryAfterMs,
        });
      }
    }
    return undefined;
  }
}
