/**
 * The items the mailbox module keeps in the metadata store: their keys, attributes and schema version.
 * Every item carries `v` (SCHEMA_VERSION); a reader refuses items from a newer schema rather than
 * misreading them, and migrations rewrite items in place, idempotently.
 *
 *   pk `acct#<account>`
 *     sk `name#<mailbox name>`          name → mailbox id mapping { mailboxId, at, specialUse? }
 *     sk `sub#<mailbox name>`           subscription { at }
 *     sk `deleted#<ISO time>#<id>`      a mailbox in the hidden DELETED/ namespace { mailboxId, name, deletedAt }
 *     sk `uidvalidity`                  the account's UIDVALIDITY counter { last }
 *     sk `quota`                        usage { bytes, messages, seq, changedAt }
 *   pk `mbox#<mailbox id>`
 *     sk `mailbox`                      the mailbox: uidvalidity, uidnext, highestmodseq, counters,
 *                                       recentuid (the \Recent watermark, recent.ts), ...
 *     sk `uid#<uid, 10 digits>`         message state (small, rewritten on flag changes): uid, modseq, flags, ...
 *     sk `msg#<uid, 10 digits>`         message details (written once): envelope, body structure, search fields
 *     sk `chg#<modseq, 16 digits>`      change log: which uids a MODSEQ touched { uids, uidnext, at, done? }
 *     sk `dlv#<delivery key>`           idempotent-delivery marker { uid, modseq, at }
 *   pk `blob#<blob key>`
 *     sk `refs`                         how many index entries reference the blob { refs }
 *
 * Zero-padded numbers make sort-key order equal numeric order, so UID and MODSEQ ranges are key ranges.
 */
import type { AttributeValue, Item } from '../store/metadata.ts';

export const SCHEMA_VERSION = 1;
/** UIDs are non-zero 32-bit numbers (RFC 9051 §2.3.1.1). */
export const MAX_UID = 0xffff_ffff;
const UID_DIGITS = 10;
const MODSEQ_DIGITS = 16;

export const MAILBOX_SK = 'mailbox';
/** Mailbox item attribute: the \Recent watermark (recent.ts); absent means 0. */
export const RECENT_UID = 'recentuid';
export const UIDVALIDITY_SK = 'uidvalidity';
export const QUOTA_SK = 'quota';
export const BLOB_REFS_SK = 'refs';
export const NAME_PREFIX = 'name#';
export const SUBSCRIPTION_PREFIX = 'sub#';
export const DELETED_PREFIX = 'deleted#';
export const STATE_PREFIX = 'uid#';
export const DETAIL_PREFIX = 'msg#';
export const CHANGE_PREFIX = 'chg#';
export const DELIVERY_PREFIX = 'dlv#';

export const accountPk = (account: string) => `acct#${account}`;
export const mailboxPk = (mailboxId: string) => `mbox#${mailboxId}`;
export const blobPk = (blobKey: string) => `blob#${blobKey}`;
export const MAILBOX_PK_PREFIX = 'mbox#';

export const nameSk = (name: string) => NAME_PREFIX + name;
export const subscriptionSk = (name: string) => SUBSCRIPTION_PREFIX + name;
export const deletedSk = (deletedAt: number, mailboxId: string) =>
  `${DELETED_PREFIX}${new Date(deletedAt).toISOString()}#${mailboxId}`;
export const stateSk = (uid: number) => STATE_PREFIX + pad(uid, UID_DIGITS);
export const detailSk = (uid: number) => DETAIL_PREFIX + pad(uid, UID_DIGITS);
export const changeSk = (modseq: number) => CHANGE_PREFIX + pad(modseq, MODSEQ_DIGITS);
export const deliverySk = (deliveryKey: string) => DELIVERY_PREFIX + deliveryKey;

function pad(value: number, digits: number): string {
  return String(value).padStart(digits, '0');
}

/** Thrown when an item is not what this schema wrote: a bug or a newer program's data, never user input. */
export class StoreItemError extends Error {
  override name = 'StoreItemError';
  constructor(item: Item, reason: string) {
    super(`item ${item.pk} / ${item.sk}: ${reason}`);
  }
}

export function checkVersion(item: Item): Item {
  const version = item.v;
  if (typeof version !== 'number') throw new StoreItemError(item, 'no schema version');
  if (version > SCHEMA_VERSION) {
    throw new StoreItemError(item, `schema version ${version} is newer than this program (${SCHEMA_VERSION})`);
  }
  return item;
}

export function numberOf(item: Item, attribute: string): number {
  const value = item[attribute];
  if (typeof value !== 'number') throw new StoreItemError(item, `${attribute} is not a number`);
  return value;
}

export function optionalNumberOf(item: Item, attribute: string): number | undefined {
  return item[attribute] === undefined ? undefined : numberOf(item, attribute);
}

export function stringOf(item: Item, attribute: string): string {
  const value = item[attribute];
  if (typeof value !== 'string') throw new StoreItemError(item, `${attribute} is not a string`);
  return value;
}

export function optionalStringOf(item: Item, attribute: string): string | undefined {
  return item[attribute] === undefined ? undefined : stringOf(item, attribute);
}

export function numbersOf(item: Item, attribute: string): number[] {
  const value = item[attribute];
  if (!Array.isArray(value) || !value.every((entry) => typeof entry === 'number')) {
    throw new StoreItemError(item, `${attribute} is not a list of numbers`);
  }
  return value as number[];
}

export function stringsOf(item: Item, attribute: string): string[] {
  const value = item[attribute];
  if (!Array.isArray(value) || !value.every((entry) => typeof entry === 'string')) {
    throw new StoreItemError(item, `${attribute} is not a list of strings`);
  }
  return value as string[];
}

export function jsonOf(item: Item, attribute: string): AttributeValue {
  return item[attribute] ?? null;
}
