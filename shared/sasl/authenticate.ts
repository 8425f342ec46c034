/**
 * The one path every mechanism takes from "the client says it is X" to success or failure: throttling,
 * the per-domain legacy switch, the account lookup (a decoy when there is none, so unknown users cost
 * the same and fail the same way), the failure delay, and the authorization-identity rule (only an
 * admin may act as another user, RFC 4422 §2).
 *
 * A mechanism calls `beginAuthentication` once it knows the name, verifies the client's proof against
 * `attempt.credentials` (doing the full work even for the decoy), then calls `attempt.finish`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { LegacyVerifiers, StoredCredentials } from './credentials.ts';
import type { SaslContext, SaslFailure, SaslIdentity } from './mechanism.ts';

export interface AuthenticationAttempt {
  credentials: StoredCredentials;
  /**
   * True when no account has this name and `credentials` are the decoy's. Mechanisms may only use it
   * where the decoy must differ per name (SCRAM's salt); the outcome is decided in `finish`.
   */
  isDecoy: boolean;
  /** The legacy verifiers to check against: the account's, or the decoy's when it has none. */
  legacyVerifiers(): Promise<LegacyVerifiers>;
  /** Ends the attempt; `verified` is whether the client's proof matched `credentials`. */
  finish(
    verified: boolean,
    authzid: string,
    detail?: string,
  ): Promise<{ success: SaslIdentity } | { failure: SaslFailure }>;
}

export async function beginAuthentication(
  ctx: SaslContext,
  request: { authcid: string; legacy: boolean },
): Promise<{ attempt: AuthenticationAttempt } | { failure: SaslFailure }> {
  const { authcid } = request;
  const throttle = ctx.throttle;
  if (throttle) {
    const verdict = throttle.limiter.check(throttle.clientAddress, authcid);
    if (!verdict.allowed) {
      return {
        failure: { kind: 'throttled', detail: 'too many failed attempts', authcid, retryAfterMs: verdict.retryAfterMs },
      };
    }
  }
  try {
    if (request.legacy && !(await ctx.directory.legacyMechanismsEnabled(domainOf(authcid)))) {
      return {
        failure: {
          kind: 'mechanism-not-allowed',
          detail: 'legacy mechanisms are off for this domain',
          authcid,
          requirement: 'domain-policy',
        },
      };
    }
    const account = await ctx.directory.lookupCredentials(authcid);
    const credentials = account?.credentials ?? ctx.decoy.credentials;
    let missingLegacy = false;
    const attempt: AuthenticationAttempt = {
      credentials,
      isDecoy: account === undefined,
      async legacyVerifiers() {
        const verifiers = await credentials.legacyVerifiers();
        if (verifiers) return verifiers;
        missingLegacy = true;
        return (await ctx.decoy.credentials.legacyVerifiers())!;
      },
      async finish(verified, authzid, detail) {
        if (!account || !verified || missingLegacy) {
          const delay = throttle ? throttle.limiter.recordFailure(throttle.clientAddress, authcid) : 0;
          if (delay > 0) await sleep(delay);
          const why = !account ? 'no such account' : missingLegacy ? 'account has no legacy verifiers' : detail;
          return { failure: { kind: 'bad-credentials', detail: why ?? 'wrong credentials', authcid } };
        }
        throttle?.limiter.recordSuccess(throttle.clientAddress, authcid);
        return authorize(ctx, account.login, authzid);
      },
    };
    return { attempt };
  } catch (cause) {
    return { failure: { kind: 'unavailable', detail: 'directory or key vault failed', authcid, cause } };
  }
}

async function authorize(
  ctx: SaslContext,
  login: string,
  authzid: string,
): Promise<{ success: SaslIdentity } | { failure: SaslFailure }> {
  if (authzid === '' || authzid.toLowerCase() === login.toLowerCase()) {
    return { success: { authcid: login, authzid: login } };
  }
  try {
    if (!(await ctx.directory.isAdmin(login))) {
      return {
        failure: { kind: 'authorization-denied', detail: `${login} may not act as ${authzid}`, authcid: login },
      };
    }
    const target = await ctx.directory.lookupCredentials(authzid);
    if (!target) {
      return { failure: { kind: 'authorization-denied', detail: `no account ${authzid} to act as`, authcid: login } };
    }
    return { success: { authcid: login, authzid: target.login } };
  } catch (cause) {
    return { failure: { kind: 'unavailable', detail: 'directory failed', authcid: login, cause } };
  }
}

/** The domain of `local@domain` (after the last @), lower-cased; undefined without one. */
export function domainOf(name: string): string | undefined {
  const at = name.lastIndexOf('@');
  return at >= 0 && at < name.length - 1 ? name.slice(at + 1).toLowerCase() : undefined;
}
