/**
 * The expire job's work on one mailbox owner (an account, or a domain's shared-mailbox owner): purge what
 * is past retention, trim the change log and the delivery markers, reconcile the counters and the quota,
 * and delete the blobs that no entry references any more. And for an owner the directory no longer has
 * (a removed account or domain): note when it was first seen so, and purge all of it once a retention
 * period has passed since then, the same grace deleted folders get.
 *
 * Live owners are marked each run (`acct#<owner>` / `expire` with the run id); the orphan phase treats an
 * owner with mailbox data and no mark of the current run as gone from the directory.
 */
import {
  listDeletedMailboxes,
  listExistingMailboxes,
  listMessages,
  type MailStore,
  type MessageState,
  purgeAccount,
  purgeDeletedMailbox,
  purgeExpungedMessages,
  reconcileMailboxCounters,
  reconcileQuota,
  trimChangeLog,
  trimDeliveryMarkers,
} from '../mailbox/index.ts';
import { accountPk, UIDVALIDITY_SK } from '../mailbox/schema.ts';
import type { BlobStore } from '../store/blob.ts';
import { deleteUnreferencedBlobs } from './blob-deletion.ts';
import { daysToMs } from './days.ts';
import { type ExpireTotals, STATE_SCHEMA_VERSION } from './run-state.ts';

/** Delivery markers must outlive every SMTP retry of the same message (RFC 5321 §4.5.4.1: 4–5 days). */
export const DELIVERY_MARKER_RETENTION_DAYS = 7;
export const OWNER_MARK_SK = 'expire';

export interface OwnerMaintenance {
  store: MailStore;
  blobs: BlobStore;
  now: number;
  dryRun: boolean;
  totals: ExpireTotals;
}

/** Whether the owner ever had a mailbox: every mailbox creation takes a UIDVALIDITY from this item. */
export async function hasMailboxData(store: MailStore, owner: string): Promise<boolean> {
  return (await store.metadata.get(accountPk(owner), UIDVALIDITY_SK)) !== undefined;
}

/** Maintains one live owner whose domain keeps mail for `retentionDays`. */
export async function maintainOwner(
  work: OwnerMaintenance,
  owner: string,
  retentionDays: number,
  runId: string,
): Promise<void> {
  const { store, totals } = work;
  if (!(await hasMailboxData(store, owner))) return;
  if (!work.dryRun) {
    await store.metadata.put({ pk: accountPk(owner), sk: OWNER_MARK_SK, v: STATE_SCHEMA_VERSION, runId, at: work.now });
  }
  const cutoff = new Date(work.now - daysToMs(retentionDays));
  const markerCutoff = new Date(work.now - daysToMs(DELIVERY_MARKER_RETENTION_DAYS));
  const unreferenced: string[] = [];
  for (const mailbox of await listExistingMailboxes(store, owner)) {
    totals.mailboxes++;
    if (work.dryRun) {
      totals.messagesPurged += await countEntries(
        store,
        mailbox.id,
        (message) => message.expunged && message.expungedAt !== undefined && message.expungedAt < cutoff,
      );
      continue;
    }
    const purged = await purgeExpungedMessages(store, mailbox.id, cutoff);
    totals.messagesPurged += purged.purged;
    unreferenced.push(...purged.unreferencedBlobs);
    totals.changeLogTrimmed += await trimChangeLog(store, mailbox.id, cutoff);
    totals.deliveryMarkersTrimmed += await trimDeliveryMarkers(store, mailbox.id, markerCutoff);
    if ((await reconcileMailboxCounters(store, mailbox.id)) === 'repaired') totals.countersRepaired++;
  }
  for (const deleted of await listDeletedMailboxes(store, owner)) {
    if (deleted.deletedAt.getTime() >= cutoff.getTime()) continue;
    totals.mailboxesPurged++;
    if (work.dryRun) {
      totals.messagesPurged += await countEntries(store, deleted.mailboxId, () => true);
      continue;
    }
    const purged = await purgeDeletedMailbox(store, owner, deleted.mailboxId, cutoff);
    totals.messagesPurged += purged.purged;
    unreferenced.push(...purged.unreferencedBlobs);
  }
  if (!work.dryRun) {
    if ((await reconcileQuota(store, owner)) === 'repaired') totals.countersRepaired++;
    totals.blobsDeleted += await deleteUnreferencedBlobs(work, unreferenced);
  }
  totals.accounts++;
}

/**
 * An owner with mailbox data that the directory phase of run `runId` did not mark. First sighting: note
 * it. A retention period after that (and still unmarked): purge everything it had.
 */
export async function handleOrphan(
  work: OwnerMaintenance,
  owner: string,
  retentionDays: number,
  runId: string,
): Promise<'live' | 'noted' | 'waiting' | 'purged'> {
  const { store, totals } = work;
  const mark = await store.metadata.get(accountPk(owner), OWNER_MARK_SK);
  if (mark?.runId === runId) return 'live';
  const orphanedAt = typeof mark?.orphanedAt === 'number' ? mark.orphanedAt : undefined;
  if (orphanedAt === undefined) {
    if (work.dryRun) return 'noted';
    await store.metadata.put({
      pk: accountPk(owner),
      sk: OWNER_MARK_SK,
      v: STATE_SCHEMA_VERSION,
      orphanedAt: work.now,
    });
    totals.accountsOrphaned++;
    return 'noted';
  }
  if (orphanedAt > work.now - daysToMs(retentionDays)) return 'waiting';
  totals.accountsPurged++;
  if (work.dryRun) return 'purged';
  const purged = await purgeAccount(store, owner);
  totals.messagesPurged += purged.purged;
  totals.blobsDeleted += await deleteUnreferencedBlobs(work, purged.unreferencedBlobs);
  return 'purged';
}

async function countEntries(
  store: MailStore,
  mailboxId: string,
  counted: (message: MessageState) => boolean,
): Promise<number> {
  let count = 0;
  let after: number | undefined;
  do {
    const page = await listMessages(store, mailboxId, { includeExpunged: true, ...(after ? { after } : {}) });
    count += page.messages.filter(counted).length;
    after = page.next;
  } while (after !== undefined);
  return count;
}
