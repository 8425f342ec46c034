/**
 * Mailbox operations by name: create (with RFC 6154 special use), the default set for new accounts,
 * lookup, LIST, RENAME (with inferiors; INBOX moves its messages), DELETE into the hidden DELETED/
 * namespace, undelete, subscriptions.
 *
 * Names map to stable ids through `name#<name>` items. A mapping is valid only while the mailbox item it
 * points to exists, is not deleted and carries the same `name`; that rule is what makes renames and
 * deletes crash-safe without transactions:
 *   - create: mailbox item, then mapping (put if absent). A crash leaves an unreachable empty item.
 *   - rename: new mapping, then the item's `name`, then drop the old mapping. Before the second step only
 *     the old name is valid, after it only the new one; a crashed rename leaves one stale mapping.
 *   - delete: DELETED/ record, quota release, mark the item `deletedAt`, drop the mapping. The mark is
 *     the moment of deletion; a record whose item is not marked with its time is ignored.
 * A stale mapping is overwritten by the next create of that name, but only once it is older than the
 * write deadline, so a rename still in flight is never overtaken.
 *
 * DELETE follows RFC 9051 §6.3.9 (and RFC 3501 §6.3.4): INBOX cannot be deleted; inferior names are
 * not removed, so deleting a parent with children deletes the parent only and the children stay (LIST
 * then shows the parent as \NonExistent, the successor of 3501's \Noselect). The deleted mailbox keeps
 * its id, messages and UIDs in DELETED/ until the expire job purges it, and subscriptions stay (RFC 9051
 * §6.3.10: a server must not remove subscriptions on its own). RENAME moves subscriptions along with
 * the names, as Dovecot does, since a client cannot tell its renamed folder from a new one otherwise.
 */
import { randomUUID } from 'node:crypto';
import { ConditionFailedError } from '../store/errors.ts';
import type { Item } from '../store/metadata.ts';
import {
  ConcurrentModificationError,
  MailboxExistsError,
  MailboxNotFoundError,
  MailboxOperationNotAllowedError,
  TooManyMailboxesError,
} from './errors.ts';
import { type MailStore, mapBounded } from './mail-store.ts';
import { getMailbox, type Mailbox, readMailboxItem, toMailbox } from './mailbox-record.ts';
import { listMessages, moveMessages } from './messages.ts';
import {
  assertAccountId,
  assertSpecialUse,
  HIERARCHY_SEPARATOR,
  INBOX,
  isSameOrInferior,
  normalizeMailboxName,
  type SpecialUse,
  superiorNames,
} from './names.ts';
import { chargeQuota, releaseQuota } from './quota.ts';
import {
  accountPk,
  checkVersion,
  DELETED_PREFIX,
  deletedSk,
  MAILBOX_SK,
  MAX_UID,
  mailboxPk,
  NAME_PREFIX,
  nameSk,
  numberOf,
  optionalStringOf,
  SCHEMA_VERSION,
  SUBSCRIPTION_PREFIX,
  stringOf,
  subscriptionSk,
  UIDVALIDITY_SK,
} from './schema.ts';

/** Mailboxes (and, separately, subscriptions) one account may have; also bounds every listing. */
export const MAX_MAILBOXES_PER_ACCOUNT = 10_000;
/** Messages RENAME INBOX moves per step. */
const INBOX_MOVE_BATCH = 500;

/** Created for every new account (RFC 6154 special uses), besides INBOX. */
export const DEFAULT_MAILBOXES: readonly { name: string; specialUse: SpecialUse }[] = [
  { name: 'Sent', specialUse: '\\Sent' },
  { name: 'Drafts', specialUse: '\\Drafts' },
  { name: 'Trash', specialUse: '\\Trash' },
  { name: 'Junk', specialUse: '\\Junk' },
  { name: 'Archive', specialUse: '\\Archive' },
];

export interface CreateOptions {
  specialUse?: SpecialUse;
}

/**
 * CREATE (RFC 9051 §6.3.4): creates the mailbox and, as the RFC recommends, any missing superior names.
 * MailboxExistsError when the name is taken.
 */
export async function createMailbox(
  store: MailStore,
  account: string,
  name: string,
  options: CreateOptions = {},
): Promise<Mailbox> {
  assertAccountId(account);
  const normalized = normalizeMailboxName(name);
  if (options.specialUse !== undefined) assertSpecialUse(options.specialUse);
  await assertRoom(store, account, NAME_PREFIX);
  await createSuperiors(store, account, normalized);
  return createOne(store, account, normalized, options.specialUse);
}

/** INBOX plus Sent, Drafts, Trash, Junk and Archive with their special uses, all subscribed; idempotent. */
export async function createDefaultMailboxes(store: MailStore, account: string): Promise<Mailbox[]> {
  const created = [await getMailboxByName(store, account, INBOX)];
  for (const { name, specialUse } of DEFAULT_MAILBOXES) {
    try {
      created.push(await createMailbox(store, account, name, { specialUse }));
    } catch (error) {
      if (!(error instanceof MailboxExistsError)) throw error;
      created.push(await getMailboxByName(store, account, name));
    }
  }
  for (const mailbox of created) await subscribe(store, account, mailbox.name);
  return created;
}

/** The visible mailbox with this name. INBOX always exists (RFC 9051 §5.1): it is made on first use. */
export async function getMailboxByName(store: MailStore, account: string, name: string): Promise<Mailbox> {
  assertAccountId(account);
  const normalized = normalizeMailboxName(name);
  const found = await findMailbox(store, account, normalized);
  if (found) return found;
  if (normalized !== INBOX) throw new MailboxNotFoundError(normalized);
  try {
    return await createOne(store, account, INBOX, undefined);
  } catch (error) {
    if (!(error instanceof MailboxExistsError)) throw error;
    const raced = await findMailbox(store, account, INBOX);
    if (!raced) throw new ConcurrentModificationError('INBOX is being created elsewhere');
    return raced;
  }
}

/** Every visible mailbox of the account (INBOX included), in name order, with their counters. */
export async function listMailboxes(store: MailStore, account: string): Promise<Mailbox[]> {
  const mailboxes = await listExistingMailboxes(store, account);
  if (!mailboxes.some((mailbox) => mailbox.name === INBOX)) {
    mailboxes.unshift(await getMailboxByName(store, account, INBOX));
  }
  return mailboxes;
}

/**
 * The visible mailboxes that exist, in name order, without making INBOX: for maintenance (the expire job,
 * quota reconciliation) and for owners that have no INBOX (a domain's shared mailboxes).
 */
export async function listExistingMailboxes(store: MailStore, account: string): Promise<Mailbox[]> {
  assertAccountId(account);
  return validMailboxes(store, account, NAME_PREFIX);
}

/**
 * RENAME (RFC 9051 §6.3.6): renames the mailbox and its inferiors (ids, UIDs and UIDVALIDITY stay),
 * creating missing superiors of the new name. Renaming INBOX moves its messages into a new mailbox of
 * the new name and leaves INBOX empty; INBOX's inferiors are not renamed. Returns the renamed mailbox.
 * A crash part-way leaves some inferiors under the old name; running the rename of those again finishes it.
 */
export async function renameMailbox(store: MailStore, account: string, from: string, to: string): Promise<Mailbox> {
  assertAccountId(account);
  const source = normalizeMailboxName(from);
  const target = normalizeMailboxName(to);
  if (source === INBOX) return renameInbox(store, account, target);
  if (isSameOrInferior(target, source)) {
    throw new MailboxOperationNotAllowedError(`cannot rename ${source} to itself or one of its inferiors`);
  }
  const mailbox = await getMailboxByName(store, account, source);
  const inferiors = await validMailboxes(store, account, nameSk(source + HIERARCHY_SEPARATOR));
  const moves = [mailbox, ...inferiors].map((each) => ({ mailbox: each, to: target + each.name.slice(source.length) }));
  // RFC 9051 §6.3.6: renaming to an existing name is an error; check every target before changing anything.
  for (const move of moves) {
    if (await findMailbox(store, account, move.to)) throw new MailboxExistsError(move.to);
  }
  await createSuperiors(store, account, target);
  for (const move of moves) await renameOne(store, account, move.mailbox, move.to);
  await moveSubscriptions(store, account, source, target);
  return getMailbox(store, mailbox.id);
}

async function renameInbox(store: MailStore, account: string, target: string): Promise<Mailbox> {
  const inbox = await getMailboxByName(store, account, INBOX);
  const created = await createMailbox(store, account, target);
  // Messages arriving meanwhile have UIDs at or above this and stay in the (new, empty) INBOX.
  const toUid = inbox.uidNext - 1;
  let after = 0;
  for (;;) {
    const page = await listMessages(store, inbox.id, { after, toUid, limit: INBOX_MOVE_BATCH });
    if (page.messages.length > 0) {
      await moveMessages(
        store,
        inbox,
        page.messages.map((message) => message.uid),
        created,
      );
    }
    if (page.next === undefined) break;
    after = page.next;
  }
  return getMailbox(store, created.id);
}

async function renameOne(store: MailStore, account: string, mailbox: Mailbox, to: string): Promise<void> {
  await putMapping(store, account, to, mailbox.id, mailbox.specialUse);
  try {
    await store.metadata.update(mailboxPk(mailbox.id), MAILBOX_SK, {
      set: { name: to },
      conditions: [
        { attribute: 'name', op: '=', value: mailbox.name },
        { attribute: 'deletedAt', op: 'notExists' },
      ],
    });
  } catch (error) {
    if (!(error instanceof ConditionFailedError)) throw error;
    // Renamed or deleted by someone else meanwhile: take our mapping back.
    await dropMapping(store, account, to, mailbox.id);
    throw new MailboxNotFoundError(mailbox.name);
  }
  await dropMapping(store, account, mailbox.name, mailbox.id);
}

/**
 * DELETE (RFC 9051 §6.3.9): moves the mailbox into the hidden DELETED/ namespace with its deletion time.
 * Its inferiors stay. The messages no longer count against the quota.
 */
export async function deleteMailbox(store: MailStore, account: string, name: string): Promise<void> {
  assertAccountId(account);
  const normalized = normalizeMailboxName(name);
  if (normalized === INBOX) throw new MailboxOperationNotAllowedError('INBOX cannot be deleted');
  const mailbox = await getMailboxByName(store, account, normalized);
  const deletedAt = Date.now();
  const record: Item = {
    pk: accountPk(account),
    sk: deletedSk(deletedAt, mailbox.id),
    v: SCHEMA_VERSION,
    mailboxId: mailbox.id,
    name: normalized,
    deletedAt,
  };
  await store.metadata.put(record);
  const usage = { bytes: mailbox.size, messages: mailbox.messages };
  await releaseQuota(store, account, usage);
  try {
    await store.metadata.update(mailboxPk(mailbox.id), MAILBOX_SK, {
      set: { deletedAt },
      conditions: [
        { attribute: 'name', op: '=', value: normalized },
        { attribute: 'deletedAt', op: 'notExists' },
      ],
    });
  } catch (error) {
    if (!(error instanceof ConditionFailedError)) throw error;
    await Promise.allSettled([chargeQuota(store, account, usage), store.metadata.delete(record.pk, record.sk)]);
    throw new MailboxNotFoundError(normalized);
  }
  await dropMapping(store, account, normalized, mailbox.id);
}

export interface DeletedMailbox {
  mailboxId: string;
  /** The name it had when deleted. */
  name: string;
  deletedAt: Date;
  messages: number;
  size: number;
}

/** The account's mailboxes in the DELETED/ namespace, oldest deletion first. */
export async function listDeletedMailboxes(store: MailStore, account: string): Promise<DeletedMailbox[]> {
  assertAccountId(account);
  const records = await queryAll(store, accountPk(account), DELETED_PREFIX);
  const items = await mapBounded(records, (record) =>
    store.metadata.get(mailboxPk(stringOf(record, 'mailboxId')), MAILBOX_SK),
  );
  const deleted: DeletedMailbox[] = [];
  records.forEach((record, index) => {
    const item = items[index];
    if (!item || item.deletedAt !== numberOf(record, 'deletedAt')) return;
    deleted.push({
      mailboxId: stringOf(record, 'mailboxId'),
      name: stringOf(record, 'name'),
      deletedAt: new Date(numberOf(record, 'deletedAt')),
      messages: numberOf(item, 'messages'),
      size: numberOf(item, 'size'),
    });
  });
  return deleted;
}

/**
 * Brings a deleted mailbox back (`marmot undelete`) under its old name or `name`, with its id, UIDs and
 * UIDVALIDITY, so clients that knew it resynchronize cheaply. Charges its messages to the quota again.
 */
export async function undeleteMailbox(
  store: MailStore,
  account: string,
  mailboxId: string,
  name?: string,
): Promise<Mailbox> {
  assertAccountId(account);
  const record = (await queryAll(store, accountPk(account), DELETED_PREFIX)).find(
    (candidate) => candidate.mailboxId === mailboxId,
  );
  const item = await readMailboxItem(store, mailboxId, true);
  if (!record || item.account !== account || item.deletedAt !== numberOf(record, 'deletedAt')) {
    throw new MailboxNotFoundError(mailboxId);
  }
  const target = normalizeMailboxName(name ?? stringOf(record, 'name'));
  if (await findMailbox(store, account, target)) throw new MailboxExistsError(target);
  await createSuperiors(store, account, target);
  const usage = { bytes: numberOf(item, 'size'), messages: numberOf(item, 'messages') };
  await chargeQuota(store, account, usage);
  try {
    await putMapping(store, account, target, mailboxId, optionalStringOf(item, 'specialUse') as SpecialUse | undefined);
    await store.metadata.update(mailboxPk(mailboxId), MAILBOX_SK, {
      set: { name: target },
      remove: ['deletedAt'],
      conditions: [{ attribute: 'deletedAt', op: '=', value: numberOf(record, 'deletedAt') }],
    });
  } catch (error) {
    await Promise.allSettled([releaseQuota(store, account, usage), dropMapping(store, account, target, mailboxId)]);
    throw error instanceof ConditionFailedError ? new MailboxNotFoundError(mailboxId) : error;
  }
  await store.metadata.delete(record.pk, record.sk);
  return getMailbox(store, mailboxId);
}

/** SUBSCRIBE (RFC 9051 §6.3.7): any valid name, existing or not. */
export async function subscribe(store: MailStore, account: string, name: string): Promise<void> {
  assertAccountId(account);
  const normalized = normalizeMailboxName(name);
  if (await store.metadata.get(accountPk(account), subscriptionSk(normalized))) return;
  await assertRoom(store, account, SUBSCRIPTION_PREFIX);
  await store.metadata.put({
    pk: accountPk(account),
    sk: subscriptionSk(normalized),
    v: SCHEMA_VERSION,
    at: Date.now(),
  });
}

/** UNSUBSCRIBE; false when the name was not subscribed. */
export async function unsubscribe(store: MailStore, account: string, name: string): Promise<boolean> {
  assertAccountId(account);
  const sk = subscriptionSk(normalizeMailboxName(name));
  if (!(await store.metadata.get(accountPk(account), sk))) return false;
  await store.metadata.delete(accountPk(account), sk);
  return true;
}

/** Subscribed names (LSUB, LIST (SUBSCRIBED)), in name order. */
export async function listSubscriptions(store: MailStore, account: string): Promise<string[]> {
  assertAccountId(account);
  const items = await queryAll(store, accountPk(account), SUBSCRIPTION_PREFIX);
  return items.map((item) => item.sk.slice(SUBSCRIPTION_PREFIX.length));
}

async function moveSubscriptions(store: MailStore, account: string, from: string, to: string): Promise<void> {
  const pk = accountPk(account);
  const items = [
    ...((await store.metadata.get(pk, subscriptionSk(from))) ? [{ sk: subscriptionSk(from) }] : []),
    ...(await queryAll(store, pk, subscriptionSk(from + HIERARCHY_SEPARATOR))),
  ];
  for (const item of items) {
    const name = item.sk.slice(SUBSCRIPTION_PREFIX.length);
    const renamed = to + name.slice(from.length);
    await store.metadata.put({ pk, sk: subscriptionSk(renamed), v: SCHEMA_VERSION, at: Date.now() });
    await store.metadata.delete(pk, item.sk);
  }
}

async function createOne(
  store: MailStore,
  account: string,
  name: string,
  specialUse: SpecialUse | undefined,
): Promise<Mailbox> {
  const uidvalidity = await nextUidValidity(store, account);
  const id = randomUUID();
  const now = Date.now();
  const item: Item = {
    pk: mailboxPk(id),
    sk: MAILBOX_SK,
    v: SCHEMA_VERSION,
    id,
    account,
    name,
    ...(specialUse ? { specialUse } : {}),
    uidvalidity,
    uidnext: 1,
    // RFC 7162 §3.1.1: HIGHESTMODSEQ is at least 1, also for an empty mailbox.
    highestmodseq: 1,
    messages: 0,
    unseen: 0,
    size: 0,
    createdAt: now,
    changedAt: now,
    settledModseq: 1,
    settledUidnext: 1,
    // Expunged entries purged up to this MODSEQ, change log trimmed up to this MODSEQ (retention).
    purgedModseq: 0,
    changeLogFloor: 0,
  };
  await store.metadata.put(item, [{ attribute: 'pk', op: 'notExists' }]);
  try {
    await putMapping(store, account, name, id, specialUse);
  } catch (error) {
    // Never reachable by name: the empty item is ours to take back.
    await store.metadata.delete(item.pk, item.sk);
    throw error;
  }
  return toMailbox(item);
}

async function createSuperiors(store: MailStore, account: string, name: string): Promise<void> {
  for (const superior of superiorNames(name)) {
    if (await findMailbox(store, account, superior)) continue;
    try {
      await createOne(store, account, superior, undefined);
    } catch (error) {
      if (!(error instanceof MailboxExistsError)) throw error;
    }
  }
}

/**
 * UIDVALIDITY values are unique per account and increasing (a per-account counter seeded with the
 * time), so a name reused after DELETE or RENAME never shows a client an old value (RFC 9051 §2.3.1.1).
 */
async function nextUidValidity(store: MailStore, account: string): Promise<number> {
  const pk = accountPk(account);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const item = await store.metadata.update(pk, UIDVALIDITY_SK, {
        add: { last: 1 },
        conditions: [{ attribute: 'last', op: '<', value: MAX_UID }],
      });
      return numberOf(item, 'last');
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
    }
    if (await store.metadata.get(pk, UIDVALIDITY_SK))
      throw new RangeError(`account ${account} used all UIDVALIDITY values`);
    const first = Math.max(1, Math.floor(Date.now() / 1000));
    try {
      await store.metadata.put({ pk, sk: UIDVALIDITY_SK, v: SCHEMA_VERSION, last: first }, [
        { attribute: 'pk', op: 'notExists' },
      ]);
      return first;
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
    }
  }
  throw new ConcurrentModificationError('UIDVALIDITY counter kept changing');
}

async function putMapping(
  store: MailStore,
  account: string,
  name: string,
  mailboxId: string,
  specialUse: SpecialUse | undefined,
): Promise<void> {
  const mapping: Item = {
    pk: accountPk(account),
    sk: nameSk(name),
    v: SCHEMA_VERSION,
    mailboxId,
    at: Date.now(),
    ...(specialUse ? { specialUse } : {}),
  };
  try {
    await store.metadata.put(mapping, [{ attribute: 'pk', op: 'notExists' }]);
    return;
  } catch (error) {
    if (!(error instanceof ConditionFailedError)) throw error;
  }
  const existing = await store.metadata.get(mapping.pk, mapping.sk);
  if (!existing) throw new MailboxExistsError(name);
  const target = await store.metadata.get(mailboxPk(stringOf(existing, 'mailboxId')), MAILBOX_SK);
  if (mappingValid(existing, target) || Date.now() - numberOf(existing, 'at') <= store.writeDeadlineMs) {
    throw new MailboxExistsError(name);
  }
  try {
    await store.metadata.put(mapping, [
      { attribute: 'mailboxId', op: '=', value: stringOf(existing, 'mailboxId') },
      { attribute: 'at', op: '=', value: numberOf(existing, 'at') },
    ]);
  } catch (error) {
    if (error instanceof ConditionFailedError) throw new MailboxExistsError(name);
    throw error;
  }
}

async function dropMapping(store: MailStore, account: string, name: string, mailboxId: string): Promise<void> {
  try {
    await store.metadata.delete(accountPk(account), nameSk(name), [
      { attribute: 'mailboxId', op: '=', value: mailboxId },
    ]);
  } catch (error) {
    // Already taken over by a newer mailbox of that name.
    if (!(error instanceof ConditionFailedError)) throw error;
  }
}

function mappingValid(mapping: Item, mailboxItem: Item | undefined): mailboxItem is Item {
  return (
    mailboxItem !== undefined &&
    mailboxItem.deletedAt === undefined &&
    mailboxItem.name === mapping.sk.slice(NAME_PREFIX.length)
  );
}

async function findMailbox(store: MailStore, account: string, name: string): Promise<Mailbox | undefined> {
  const mapping = await store.metadata.get(accountPk(account), nameSk(name));
  if (!mapping) return undefined;
  checkVersion(mapping);
  const item = await store.metadata.get(mailboxPk(stringOf(mapping, 'mailboxId')), MAILBOX_SK);
  return mappingValid(mapping, item) ? toMailbox(item) : undefined;
}

/** Visible mailboxes whose mapping sort key starts with `prefix`. */
async function validMailboxes(store: MailStore, account: string, prefix: string): Promise<Mailbox[]> {
  const mappings = await queryAll(store, accountPk(account), prefix);
  const items = await mapBounded(mappings, (mapping) =>
    store.metadata.get(mailboxPk(stringOf(mapping, 'mailboxId')), MAILBOX_SK),
  );
  const mailboxes: Mailbox[] = [];
  mappings.forEach((mapping, index) => {
    const item = items[index];
    if (mappingValid(mapping, item)) mailboxes.push(toMailbox(item));
  });
  return mailboxes;
}

/** Items of a partition under a prefix, at most MAX_MAILBOXES_PER_ACCOUNT of them. */
async function queryAll(store: MailStore, pk: string, prefix: string): Promise<Item[]> {
  const items: Item[] = [];
  let startAfter: string | undefined;
  do {
    const page = await store.metadata.query(pk, {
      beginsWith: prefix,
      limit: MAX_MAILBOXES_PER_ACCOUNT - items.length,
      ...(startAfter ? { startAfter } : {}),
    });
    items.push(...page.items.map(checkVersion));
    startAfter = page.next;
  } while (startAfter && items.length < MAX_MAILBOXES_PER_ACCOUNT);
  return items;
}

async function assertRoom(store: MailStore, account: string, prefix: string): Promise<void> {
  // A next page exists exactly when there are MAX_MAILBOXES_PER_ACCOUNT items or more.
  const page = await store.metadata.query(accountPk(account), {
    beginsWith: prefix,
    limit: MAX_MAILBOXES_PER_ACCOUNT - 1,
  });
  if (page.next !== undefined) throw new TooManyMailboxesError(account, MAX_MAILBOXES_PER_ACCOUNT);
}
