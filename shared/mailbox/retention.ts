/**
 * What the expire job (the only deleter) calls once retention has passed: purging expunged entries,
 * trimming the change log, purging mailboxes deleted into DELETED/, purging removed accounts. Each step is ordered so a crash
 * part-way is finished by the next run:
 *   - a purge first raises the mailbox's `purgedModseq` (so QRESYNC knows VANISHED may be incomplete),
 *     then deletes the entry's items, then lowers the blob's reference count (never before: a crash
 *     must over-count, not under-count). It returns the blobs that reached zero; the job then calls
 *     releaseUnreferencedBlob (blob-references.ts) and deletes those blobs.
 *   - a trim first raises `changeLogFloor` (changesSince then scans entries instead of the log for older
 *     MODSEQs), then deletes log items.
 */
import { ConditionFailedError } from '../store/errors.ts';
import type { Condition, Item } from '../store/metadata.ts';
import { releaseBlobReferences } from './blob-references.ts';
import { settle } from './changes.ts';
import { MailboxNotFoundError } from './errors.ts';
import { type MailStore, mapBounded } from './mail-store.ts';
import { readMailboxItem } from './mailbox-record.ts';
import { toMessageState } from './message-record.ts';
import {
  accountPk,
  CHANGE_PREFIX,
  DELETED_PREFIX,
  detailSk,
  MAILBOX_SK,
  mailboxPk,
  NAME_PREFIX,
  numberOf,
  STATE_PREFIX,
  stringOf,
} from './schema.ts';

/** Items examined per query. */
const PURGE_PAGE = 500;

export interface PurgeResult {
  purged: number;
  /** Blobs whose reference count reached zero: candidates for deletion by the expire job. */
  unreferencedBlobs: string[];
}

/** Deletes the entries of a mailbox that were expunged before `olderThan`. */
export async function purgeExpungedMessages(
  store: MailStore,
  mailboxId: string,
  olderThan: Date,
): Promise<PurgeResult> {
  const result: PurgeResult = { purged: 0, unreferencedBlobs: [] };
  const cutoff = olderThan.getTime();
  // An entry is the proof its last change landed (changes.ts); only purge entries below the settled point.
  const settled = (await settle(store, await readMailboxItem(store, mailboxId, true))).highestModseq;
  let startAfter: string | undefined;
  do {
    const page = await store.metadata.query(mailboxPk(mailboxId), {
      beginsWith: STATE_PREFIX,
      limit: PURGE_PAGE,
      ...(startAfter ? { startAfter } : {}),
    });
    const expired = page.items.filter((item) => {
      const state = toMessageState(item);
      return (
        state.expunged &&
        state.expungedAt !== undefined &&
        state.expungedAt.getTime() < cutoff &&
        state.modseq <= settled
      );
    });
    if (expired.length > 0) {
      await raiseMark(store, mailboxId, 'purgedModseq', Math.max(...expired.map((item) => numberOf(item, 'modseq'))));
      await purgeEntries(store, expired, result, [{ attribute: 'expunged', op: '=', value: true }]);
    }
    startAfter = page.next;
  } while (startAfter);
  return result;
}

/** Deletes change-log items older than `olderThan` that are below the settled point. */
export async function trimChangeLog(store: MailStore, mailboxId: string, olderThan: Date): Promise<number> {
  const mailbox = await readMailboxItem(store, mailboxId, true);
  const settled = numberOf(mailbox, 'settledModseq');
  let trimmed = 0;
  for (;;) {
    const page = await store.metadata.query(mailboxPk(mailboxId), { beginsWith: CHANGE_PREFIX, limit: PURGE_PAGE });
    // The log is trimmed from its start only, so everything below the floor is gone and nothing above it.
    const keep = page.items.findIndex(
      (item) => numberOf(item, 'at') >= olderThan.getTime() || numberOf(item, 'modseq') > settled,
    );
    const prefix = keep === -1 ? page.items : page.items.slice(0, keep);
    if (prefix.length === 0) return trimmed;
    await raiseMark(store, mailboxId, 'changeLogFloor', numberOf(prefix.at(-1)!, 'modseq'));
    await mapBounded(prefix, (item) => store.metadata.delete(item.pk, item.sk));
    trimmed += prefix.length;
    if (prefix.length < page.items.length) return trimmed;
  }
}

/**
 * Purges a mailbox that was deleted into DELETED/ before `olderThan`: its entries (lowering blob
 * counts), every other item of its partition, and finally the mailbox item and the DELETED/ record.
 */
export async function purgeDeletedMailbox(
  store: MailStore,
  account: string,
  mailboxId: string,
  olderThan: Date,
): Promise<PurgeResult> {
  const mailbox = await readMailboxItem(store, mailboxId, true);
  const deletedAt = mailbox.deletedAt;
  if (mailbox.account !== account || typeof deletedAt !== 'number' || deletedAt >= olderThan.getTime()) {
    throw new MailboxNotFoundError(mailboxId);
  }
  const result: PurgeResult = { purged: 0, unreferencedBlobs: [] };
  await purgeMailboxContents(store, mailboxId, result);
  const records = await store.metadata.query(accountPk(account), { beginsWith: DELETED_PREFIX });
  for (const record of records.items) {
    if (stringOf(record, 'mailboxId') === mailboxId) await store.metadata.delete(record.pk, record.sk);
  }
  await store.metadata.delete(mailboxPk(mailboxId), MAILBOX_SK);
  return result;
}

/**
 * Purges everything of an account the directory no longer has (the expire job decides that, after the
 * retention period): every mailbox its names and DELETED/ records point to, then the account's own items
 * (names, subscriptions, records, counters). The names and records go last, so a crash part-way leaves
 * them for the next run to find the remaining mailboxes by.
 */
export async function purgeAccount(store: MailStore, account: string): Promise<PurgeResult> {
  const result: PurgeResult = { purged: 0, unreferencedBlobs: [] };
  const pk = accountPk(account);
  for (;;) {
    const page = await store.metadata.query(pk, { limit: PURGE_PAGE });
    if (page.items.length === 0) return result;
    for (const item of page.items) {
      if (item.sk.startsWith(NAME_PREFIX) || item.sk.startsWith(DELETED_PREFIX)) {
        const mailboxId = stringOf(item, 'mailboxId');
        const mailbox = await store.metadata.get(mailboxPk(mailboxId), MAILBOX_SK);
        if (mailbox?.account === account) {
          await purgeMailboxContents(store, mailboxId, result);
          await store.metadata.delete(mailboxPk(mailboxId), MAILBOX_SK);
        }
      }
      await store.metadata.delete(item.pk, item.sk);
    }
  }
}

/** Every item of a mailbox's partition but the mailbox item: entries (lowering blob counts) and the rest. */
async function purgeMailboxContents(store: MailStore, mailboxId: string, result: PurgeResult): Promise<void> {
  for (;;) {
    const page = await store.metadata.query(mailboxPk(mailboxId), { limit: PURGE_PAGE });
    const entries = page.items.filter((item) => item.sk.startsWith(STATE_PREFIX));
    const others = page.items.filter((item) => !item.sk.startsWith(STATE_PREFIX) && item.sk !== MAILBOX_SK);
    await purgeEntries(store, entries, result, []);
    await mapBounded(others, (item) => store.metadata.delete(item.pk, item.sk));
    if (entries.length + others.length === 0) return;
  }
}

/** Deletes entries (details first: a crash leaves a state item the next run finds), then their references. */
async function purgeEntries(store: MailStore, states: Item[], result: PurgeResult, conditions: Condition[]) {
  await mapBounded(states, async (item) => {
    const state = toMessageState(item);
    await store.metadata.delete(item.pk, detailSk(state.uid));
    try {
      await store.metadata.delete(item.pk, item.sk, conditions);
    } catch (error) {
      if (error instanceof ConditionFailedError) return;
      throw error;
    }
    result.purged++;
    if ((await releaseBlobReferences(store, state.blobKey, 1)) <= 0) result.unreferencedBlobs.push(state.blobKey);
  });
}

async function raiseMark(store: MailStore, mailboxId: string, attribute: string, value: number): Promise<void> {
  try {
    await store.metadata.update(mailboxPk(mailboxId), MAILBOX_SK, {
      set: { [attribute]: value },
      conditions: [{ attribute, op: '<', value }],
    });
  } catch (error) {
    if (!(error instanceof ConditionFailedError)) throw error;
  }
}
