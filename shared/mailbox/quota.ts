/**
 * Per-account quota usage (RFC 9208 STORAGE in bytes and MESSAGE), kept with atomic adds on one item.
 * The limit is the caller's (the directory knows it); a charge that would pass it fails with
 * OverQuotaError and changes nothing. Messages that are expunged-but-retained or in deleted mailboxes
 * do not count.
 *
 * Ordering rule that makes reconciliation safe without transactions: every operation touches the quota
 * item (which stamps `changedAt`) BEFORE the entries it accounts for, and lands those within the write
 * deadline. So a quota item unchanged for `settleMs` has no operation in flight, and `reconcileQuota`
 * (reconcile.ts) may overwrite it with a recount, conditioned on `changedAt` still being the same.
 */
import { ConditionFailedError } from '../store/errors.ts';
import type { Condition } from '../store/metadata.ts';
import { OverQuotaError } from './errors.ts';
import type { MailStore } from './mail-store.ts';
import { accountPk, checkVersion, numberOf, QUOTA_SK, SCHEMA_VERSION } from './schema.ts';

export interface QuotaUsage {
  /** RFC 822 sizes of the counted messages. */
  bytes: number;
  messages: number;
}

/** Limits the caller enforces; an absent field is unlimited. */
export interface QuotaLimit {
  storage?: number;
  messages?: number;
}

export async function getQuotaUsage(store: MailStore, account: string): Promise<QuotaUsage> {
  const item = await store.metadata.get(accountPk(account), QUOTA_SK);
  if (!item) return { bytes: 0, messages: 0 };
  checkVersion(item);
  return { bytes: numberOf(item, 'bytes'), messages: numberOf(item, 'messages') };
}

/** Adds usage, failing with OverQuotaError (and changing nothing) if a limit would be passed. */
export async function chargeQuota(
  store: MailStore,
  account: string,
  usage: QuotaUsage,
  limit: QuotaLimit = {},
): Promise<void> {
  const conditions: Condition[] = [];
  if (limit.storage !== undefined) {
    conditions.push({ attribute: 'bytes', op: '<=', value: limit.storage - usage.bytes });
  }
  if (limit.messages !== undefined) {
    conditions.push({ attribute: 'messages', op: '<=', value: limit.messages - usage.messages });
  }
  const update = {
    add: { bytes: usage.bytes, messages: usage.messages },
    set: { v: SCHEMA_VERSION, changedAt: Date.now() },
    conditions,
  };
  try {
    await store.metadata.update(accountPk(account), QUOTA_SK, update);
    return;
  } catch (error) {
    if (!(error instanceof ConditionFailedError)) throw error;
  }
  // A comparison against a missing attribute is false, so a first charge with a limit creates the item.
  const current = await store.metadata.get(accountPk(account), QUOTA_SK);
  if (current) throw overQuota(account, numberOf(current, 'bytes'), usage, limit);
  try {
    await store.metadata.put(
      { pk: accountPk(account), sk: QUOTA_SK, v: SCHEMA_VERSION, bytes: 0, messages: 0, changedAt: Date.now() },
      [{ attribute: 'pk', op: 'notExists' }],
    );
  } catch (error) {
    if (!(error instanceof ConditionFailedError)) throw error;
  }
  try {
    await store.metadata.update(accountPk(account), QUOTA_SK, { ...update, set: { changedAt: Date.now() } });
  } catch (error) {
    if (!(error instanceof ConditionFailedError)) throw error;
    const after = await store.metadata.get(accountPk(account), QUOTA_SK);
    throw overQuota(account, after ? numberOf(after, 'bytes') : 0, usage, limit);
  }
}

/** Gives usage back (expunge, mailbox deletion, a failed append's compensation). */
export async function releaseQuota(store: MailStore, account: string, usage: QuotaUsage): Promise<void> {
  if (usage.bytes === 0 && usage.messages === 0) return;
  await store.metadata.update(accountPk(account), QUOTA_SK, {
    add: { bytes: -usage.bytes, messages: -usage.messages },
    set: { v: SCHEMA_VERSION, changedAt: Date.now() },
  });
}

function overQuota(account: string, bytesUsed: number, usage: QuotaUsage, limit: QuotaLimit): OverQuotaError {
  if (limit.storage !== undefined && bytesUsed + usage.bytes > limit.storage) {
    return new OverQuotaError(account, 'storage', limit.storage);
  }
  return new OverQuotaError(account, 'messages', limit.messages ?? 0);
}
