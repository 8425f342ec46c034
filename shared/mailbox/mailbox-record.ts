/**
 * The mailbox item (`mbox#<id>` / `mailbox`) as the rest of the module sees it. The raw `uidNext` and
 * `highestModseq` are allocation counters: comparing them with a previous read is the cheap way for an
 * IMAP session (IDLE, NOOP) in any process to learn that something happened. What a session reports to
 * its client comes from the settled values (changes.ts).
 */
import type { Item } from '../store/metadata.ts';
import { MailboxNotFoundError } from './errors.ts';
import type { MailStore } from './mail-store.ts';
import type { SpecialUse } from './names.ts';
import {
  checkVersion,
  MAILBOX_SK,
  mailboxPk,
  numberOf,
  optionalNumberOf,
  optionalStringOf,
  RECENT_UID,
  StoreItemError,
  stringOf,
} from './schema.ts';

export interface Mailbox {
  /** Stable id: survives renames; the name → id mapping is what RENAME changes. */
  id: string;
  account: string;
  name: string;
  specialUse?: SpecialUse;
  uidValidity: number;
  /** Next UID to allocate (some below it may still be landing; see changes.ts for the settled value). */
  uidNext: number;
  /** Highest MODSEQ allocated (same caveat). */
  highestModseq: number;
  /** The \Recent watermark: the highest UID some IMAP session already holds as recent (recent.ts). */
  recentUid: number;
  /** Counters of non-expunged messages; kept by atomic adds, repaired by reconcileMailboxCounters. */
  messages: number;
  unseen: number;
  size: number;
  createdAt: Date;
  /** Set while the mailbox is in the hidden DELETED/ namespace. */
  deletedAt?: Date;
  /** RFC 4314 rights by identifier (`anyone`, `local@domain`, `-local@domain`, ...); shared/acl owns it. */
  acl: Record<string, string>;
  /** For account identifiers in `acl`: the account id they were granted to (shared/acl). */
  aclAccountIds: Record<string, string>;
}

/** What message operations need to name a mailbox: its id, and its account for quota. */
export type MailboxRef = Pick<Mailbox, 'id' | 'account'>;

export function toMailbox(item: Item): Mailbox {
  checkVersion(item);
  const specialUse = optionalStringOf(item, 'specialUse') as SpecialUse | undefined;
  const deletedAt = optionalNumberOf(item, 'deletedAt');
  return {
    id: stringOf(item, 'id'),
    account: stringOf(item, 'account'),
    name: stringOf(item, 'name'),
    ...(specialUse ? { specialUse } : {}),
    uidValidity: numberOf(item, 'uidvalidity'),
    uidNext: numberOf(item, 'uidnext'),
    highestModseq: numberOf(item, 'highestmodseq'),
    // Absent until a session first claims recent messages.
    recentUid: optionalNumberOf(item, RECENT_UID) ?? 0,
    messages: numberOf(item, 'messages'),
    unseen: numberOf(item, 'unseen'),
    size: numberOf(item, 'size'),
    createdAt: new Date(numberOf(item, 'createdAt')),
    ...(deletedAt !== undefined ? { deletedAt: new Date(deletedAt) } : {}),
    acl: stringMapOf(item, 'acl'),
    aclAccountIds: stringMapOf(item, 'aclAccountIds'),
  };
}

function stringMapOf(item: Item, attribute: string): Record<string, string> {
  const value = item[attribute];
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new StoreItemError(item, `${attribute} is not a map`);
  }
  if (Object.values(value).some((entry) => typeof entry !== 'string')) {
    throw new StoreItemError(item, `${attribute} is not a map of strings`);
  }
  return value as Record<string, string>;
}

/** The mailbox item; MailboxNotFoundError when absent or (unless asked) deleted. */
export async function readMailboxItem(store: MailStore, mailboxId: string, includeDeleted = false): Promise<Item> {
  const item = await store.metadata.get(mailboxPk(mailboxId), MAILBOX_SK);
  if (!item || (!includeDeleted && item.deletedAt !== undefined)) throw new MailboxNotFoundError(mailboxId);
  return checkVersion(item);
}

/** The mailbox by id, with its raw counters: the cheap poll for "did anything change?". */
export async function getMailbox(store: MailStore, mailboxId: string): Promise<Mailbox> {
  return toMailbox(await readMailboxItem(store, mailboxId));
}
