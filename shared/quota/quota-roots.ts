/**
 * Quota roots and resources (RFC 9208) over the directory's limits and the mailbox store's usage.
 *
 * Every account is one quota root, named as Cyrus names it: `user/<local@domain>`, covering all of its
 * mailboxes. Resources: STORAGE (the sum of RFC822.SIZE, in units of 1024 octets, RFC 9208 §5.1) and
 * MESSAGE (the number of messages, §5.2). The limits are the account's (`account.quota` in the directory,
 * in bytes and messages); usage is the mailbox module's counter, which leaves out expunged-but-retained
 * messages and deleted folders. Shared mailboxes have no quota root.
 *
 * Trusts nothing: root names and limits come from IMAP clients (SETQUOTA) and operators.
 */

import { formatMailboxPath, type MailboxPath, parseMailboxPath } from '../acl/mailbox-paths.ts';
import type { Account, AccountChanges } from '../directory/directory.ts';
import { AccountNotFoundError } from '../directory/errors.ts';
import type { MailStore } from '../mailbox/mail-store.ts';
import { INBOX } from '../mailbox/names.ts';
import type { QuotaLimit } from '../mailbox/quota.ts';
import { getQuotaUsage } from '../mailbox/quota.ts';

export const STORAGE = 'STORAGE';
export const MESSAGE = 'MESSAGE';
export const QUOTA_RESOURCES = [STORAGE, MESSAGE] as const;
export type QuotaResourceName = (typeof QUOTA_RESOURCES)[number];
/** STORAGE is counted in units of this many octets (RFC 9208 §5.1). */
export const STORAGE_UNIT = 1024;
/** Largest limit accepted for either resource (RFC 9208 number64 allows more; bytes must stay safe). */
export const MAX_QUOTA_LIMIT = Math.floor(Number.MAX_SAFE_INTEGER / STORAGE_UNIT);

export class QuotaRootNotFoundError extends Error {
  override name = 'QuotaRootNotFoundError';
  constructor(readonly root: string) {
    super(`no quota root ${JSON.stringify(root)}`);
  }
}

/** SETQUOTA with a resource we do not have or a limit out of range. */
export class InvalidQuotaError extends Error {
  override name = 'InvalidQuotaError';
}

export interface QuotaResource {
  name: QuotaResourceName;
  /** In the resource's unit: kilobytes (rounded up) for STORAGE, messages for MESSAGE. */
  usage: number;
  limit: number;
}

export interface QuotaRoot {
  /** `user/<local@domain>`. */
  name: string;
  /** Only the resources that have a limit (an unlimited resource is not part of the quota). */
  resources: QuotaResource[];
}

/** What the quota functions need of the directory (shared/directory's Directory fits). */
export interface QuotaDirectory {
  getAccount(address: string): Promise<Account | undefined>;
  setAccountSettings(address: string, changes: AccountChanges): Promise<Account>;
}

/** The quota root of a mailbox path, or undefined for shared mailboxes (RFC 9208 GETQUOTAROOT). */
export function quotaRootOf(path: MailboxPath): string | undefined {
  return path.kind === 'personal' ? quotaRootName(path.address) : undefined;
}

export function quotaRootName(address: string): string {
  return formatMailboxPath({ kind: 'personal', address, name: INBOX });
}

/** The account a quota root names; QuotaRootNotFoundError when it names none. */
export async function quotaRootAccount(directory: QuotaDirectory, root: string): Promise<Account> {
  let path: MailboxPath;
  try {
    path = parseMailboxPath(root);
  } catch {
    throw new QuotaRootNotFoundError(root);
  }
  if (path.kind !== 'personal' || path.name !== INBOX) throw new QuotaRootNotFoundError(root);
  const account = await directory.getAccount(path.address);
  if (!account) throw new QuotaRootNotFoundError(root);
  return account;
}

/** GETQUOTA (RFC 9208 §4.1.1): the root's limited resources with their usage. */
export async function getQuotaRoot(directory: QuotaDirectory, store: MailStore, root: string): Promise<QuotaRoot> {
  return quotaRootOfAccount(store, await quotaRootAccount(directory, root));
}

export async function quotaRootOfAccount(store: MailStore, account: Account): Promise<QuotaRoot> {
  const usage = await getQuotaUsage(store, account.id);
  const resources: QuotaResource[] = [];
  if (account.quota.storageBytes !== undefined) {
    resources.push({
      name: STORAGE,
      usage: Math.ceil(usage.bytes / STORAGE_UNIT),
      limit: Math.floor(account.quota.storageBytes / STORAGE_UNIT),
    });
  }
  if (account.quota.messages !== undefined) {
    resources.push({ name: MESSAGE, usage: usage.messages, limit: account.quota.messages });
  }
  return { name: quotaRootName(account.address), resources };
}

/** New limits by resource: a number sets it (STORAGE in kilobytes), null removes it, absent keeps it. */
export type QuotaLimitChanges = Partial<Record<QuotaResourceName, number | null>>;

/**
 * Changes the root's limits. SETQUOTA (RFC 9208 §4.1.3) replaces them all: the IMAP layer passes null
 * for every resource the client left out; `marmot quota set` changes only the ones given.
 */
export async function setQuotaLimits(
  directory: QuotaDirectory,
  store: MailStore,
  root: string,
  changes: QuotaLimitChanges,
): Promise<QuotaRoot> {
  for (const [name, limit] of Object.entries(changes)) {
    if (!(QUOTA_RESOURCES as readonly string[]).includes(name)) {
      throw new InvalidQuotaError(`unknown quota resource ${JSON.stringify(name)} (${QUOTA_RESOURCES.join(', ')})`);
    }
    if (
      limit !== null &&
      limit !== undefined &&
      (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_QUOTA_LIMIT)
    ) {
      throw new InvalidQuotaError(`${name} limit must be a whole number from 1 to ${MAX_QUOTA_LIMIT}`);
    }
  }
  const account = await quotaRootAccount(directory, root);
  const storage = changes.STORAGE;
  const messages = changes.MESSAGE;
  try {
    const changed = await directory.setAccountSettings(account.address, {
      quota: {
        ...(storage !== undefined ? { storageBytes: storage === null ? null : storage * STORAGE_UNIT } : {}),
        ...(messages !== undefined ? { messages } : {}),
      },
    });
    return quotaRootOfAccount(store, changed);
  } catch (error) {
    if (error instanceof AccountNotFoundError) throw new QuotaRootNotFoundError(root);
    throw error;
  }
}

/** The limits as the mailbox module enforces them (appendMessage, copyMessages, unexpunge). */
export function quotaLimitOf(account: Pick<Account, 'quota'>): QuotaLimit {
  return {
    ...(account.quota.storageBytes !== undefined ? { storage: account.quota.storageBytes } : {}),
    ...(account.quota.messages !== undefined ? { messages: account.quota.messages } : {}),
  };
}
