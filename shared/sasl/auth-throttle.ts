/**
 * Failed-login throttling, per client address and per account name.
 *
 * Each key carries a failure score that halves every `halfLifeMs`, so it recovers by itself. A failure
 * beyond the free ones earns a delay before its reply (doubling per failure, capped); a score reaching
 * `refuseAt` refuses every attempt on that key for `refusalMs`, without checking the password, so that
 * guessing cannot go on behind the refusal. Successes are never delayed: the delay is applied to
 * failure replies only, and a success clears its account's score (not its address's, or one valid
 * account would launder a botnet host's failures).
 *
 * Trade-off: refusing an account (rather than only addresses) lets an attacker lock its owner out for
 * `refusalMs` from many addresses; that is the price of stopping distributed guessing, so the account
 * threshold is higher than the address one and the refusal shorter.
 *
 * IPv6 addresses are keyed by their /64: one host commonly owns a whole /64. Memory is bounded: at most
 * `maxEntries` keys per kind, the least recently touched evicted first. Pure logic; the clock is injected.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface ThrottlePolicy {
  /** Failures that cost nothing (typos). */
  freeFailures: number;
  /** Delay after the first failure beyond the free ones; doubles with each further failure. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A score at or above this refuses attempts for `refusalMs`. */
  refuseAt: number;
  refusalMs: number;
  /** The failure score halves over this time. */
  halfLifeMs: number;
}

export const DEFAULT_ADDRESS_POLICY: ThrottlePolicy = {
  freeFailures: 3,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  refuseAt: 20,
  refusalMs: 15 * 60_000,
  halfLifeMs: 10 * 60_000,
};

export const DEFAULT_ACCOUNT_POLICY: ThrottlePolicy = {
  freeFailures: 5,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  refuseAt: 30,
  refusalMs: 5 * 60_000,
  halfLifeMs: 10 * 60_000,
};

/** Keys kept per kind (addresses, accounts): about 100 bytes each, so ~10 MB each at most. */
export const MAX_THROTTLE_ENTRIES = 100_000;
/** A score decayed below this is forgotten. */
const FORGET_BELOW = 0.05;
/**
 * Slack for the decay between failures, so that `refuseAt` failures in quick succession do reach
 * `refuseAt` (three failures a second apart score a hair under three).
 */
const DECAY_SLACK = 0.05;

export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterMs: number };

interface Entry {
  score: number;
  updatedAt: number;
  refusedUntil: number;
}

class ThrottleTable {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly policy: ThrottlePolicy,
    private readonly maxEntries: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  verdict(key: string, now: number): ThrottleVerdict {
    const entry = this.current(key, now);
    if (entry && entry.refusedUntil > now) return { allowed: false, retryAfterMs: entry.refusedUntil - now };
    return { allowed: true };
  }

  /** Adds one failure and returns the delay it earns. */
  fail(key: string, now: number): number {
    const entry = this.current(key, now) ?? { score: 0, updatedAt: now, refusedUntil: 0 };
    entry.score += 1;
    if (entry.score + DECAY_SLACK >= this.policy.refuseAt && entry.refusedUntil <= now)
      entry.refusedUntil = now + this.policy.refusalMs;
    this.touch(key, entry);
    // The same slack as for refusal: a failure a moment after another still counts whole.
    const excess = Math.floor(entry.score + DECAY_SLACK - this.policy.freeFailures);
    if (excess <= 0) return 0;
    return Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** (excess - 1));
  }

  clear(key: string): void {
    this.entries.delete(key);
  }

  /** The entry with its score decayed to `now`, or undefined (and forgotten) once nothing is left of it. */
  private current(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    const elapsed = Math.max(0, now - entry.updatedAt);
    entry.score *= 2 ** (-elapsed / this.policy.halfLifeMs);
    entry.updatedAt = now;
    if (entry.score < FORGET_BELOW && entry.refusedUntil <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private touch(key: string, entry: Entry): void {
    // Re-inserting moves the key to the end of the Map's order, so the first key is the least recent.
    this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    this.entries.set(key, entry);
  }
}

export interface AuthThrottleOptions {
  address?: ThrottlePolicy;
  account?: ThrottlePolicy;
  maxEntries?: number;
  now?: () => number;
}

export class AuthThrottle {
  private readonly addresses: ThrottleTable;
  private readonly accounts: ThrottleTable;
  private readonly now: () => number;

  constructor(options: AuthThrottleOptions = {}) {
    const maxEntries = options.maxEntries ?? MAX_THROTTLE_ENTRIES;
    this.addresses = new ThrottleTable(options.address ?? DEFAULT_ADDRESS_POLICY, maxEntries);
    this.accounts = new ThrottleTable(options.account ?? DEFAULT_ACCOUNT_POLICY, maxEntries);
    this.now = options.now ?? Date.now;
  }

  /** Whether an attempt from this address (and, once known, for this account) may proceed. */
  check(address: string, account?: string): ThrottleVerdict {
    const now = this.now();
    const byAddress = this.addresses.verdict(addressKey(address), now);
    const byAccount =
      account === undefined ? { allowed: true as const } : this.accounts.verdict(accountKey(account), now);
    if (byAddress.allowed && byAccount.allowed) return { allowed: true };
    return {
      allowed: false,
      retryAfterMs: Math.max(
        byAddress.allowed ? 0 : byAddress.retryAfterMs,
        byAccount.allowed ? 0 : byAccount.retryAfterMs,
      ),
    };
  }

  /** Records a failed attempt; returns how long to wait before sending the failure reply. */
  recordFailure(address: string, account: string): number {
    const now = this.now();
    return Math.max(this.addresses.fail(addressKey(address), now), this.accounts.fail(accountKey(account), now));
  }

  recordSuccess(_address: string, account: string): void {
    this.accounts.clear(accountKey(account));
  }

  /** Keys held, for metrics and for the memory-bound test. */
  get entryCounts(): { addresses: number; accounts: number } {
    return { addresses: this.addresses.size, accounts: this.accounts.size };
  }
}

function accountKey(account: string): string {
  return account.toLowerCase();
}

/** IPv4 as is; IPv4-mapped IPv6 as IPv4; other IPv6 by its /64 prefix. */
export function addressKey(address: string): string {
  const withoutZone = address.split('%')[0]!;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(withoutZone);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  if (isIPv4(withoutZone) || !isIPv6(withoutZone)) return withoutZone.toLowerCase();
  const groups = expandIPv6(withoutZone);
  return `${groups.slice(0, 4).join(':')}::/64`;
}

function expandIPv6(address: string): string[] {
  const [head = '', tail] = address.toLowerCase().split('::') as [string, string | undefined];
  const toGroups = (part: string): string[] =>
    part === '' ? [] : part.split(':').flatMap((group) => (group.includes('.') ? ipv4Groups(group) : [group]));
  const left = toGroups(head);
  const right = tail === undefined ? [] : toGroups(tail);
  const missing = 8 - left.length - right.length;
  return [...left, ...Array<string>(Math.max(0, missing)).fill('0'), ...right].map((group) =>
    Number.parseInt(group, 16).toString(16),
  );
}

function ipv4Groups(dotted: string): string[] {
  const [a = 0, b = 0, c = 0, d = 0] = dotted.split('.').map(Number);
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
}
