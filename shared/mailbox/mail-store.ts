/**
 * The mailbox and message index model, built only on the metadata store port, so one code path runs on
 * SQLite and on DynamoDB. IMAP and SMTP delivery call it; the expire job reconciles and purges through it.
 * Item layout: schema.ts. No transactions: every write is atomic on one item, and every multi-item
 * operation is ordered so that a crash at any point leaves a state that is valid or repaired later.
 *
 * Allocation. A mailbox item holds `uidvalidity`, `uidnext`, `highestmodseq` and the counters (messages,
 * unseen, size). A new message takes its UID and MODSEQ (and bumps the counters) with ONE atomic add on
 * that item, then writes its index entry under (mailbox id, uid). Every flag change and expunge takes a
 * new MODSEQ the same way. A crash in between leaves a UID/MODSEQ gap (RFC 9051 §2.3.1.1 allows gaps) and
 * counters off by the lost write; `reconcileMailboxCounters` (reconcile.ts) recomputes them.
 *
 * Change log and settling. CONDSTORE/QRESYNC (RFC 7162) and IDLE need "what changed since MODSEQ m"
 * without reading every entry, so each MODSEQ also writes a change-log item `chg#<modseq>` naming the UIDs
 * it touched, before the entries themselves. Because allocation and entry write are separate items, a
 * reader can see HIGHESTMODSEQ h while the write of some m ≤ h is still in flight; reporting h to a client
 * would make it miss m forever, and announcing UID u+1 while u is still landing would break the
 * strictly-ascending UID rule. So readers only report a *settled* point: the highest MODSEQ w such that
 * every MODSEQ ≤ w has landed (its entries carry it, or its writer marked the log item `done`) or is
 * dead (its log item, or for a gap the next log item or the mailbox's `changedAt`, is older than
 * `settleMs`, so its writer crashed). The settled MODSEQ and UIDNEXT are cached on the mailbox item.
 * Writers check a deadline (`writeDeadlineMs`, half of `settleMs`) before their visible write and give up
 * (WriteDeadlineExceededError, nothing visible written) rather than land after readers declared them dead.
 * Normally everything settles within milliseconds; a crash delays that mailbox's updates by `settleMs`.
 *
 * Expunge marks the entry (`expunged`, its MODSEQ, `expungedAt`); entries stay for the retention period
 * and serve QRESYNC VANISHED and unexpunge. Quota usage drops when an entry is marked, rises on unexpunge.
 *
 * Blob references. One blob can back several entries (all recipients of a message, copies). The count
 * in `blob#<key>` is raised BEFORE an entry that references the blob is written and lowered only AFTER
 * an entry is purged, so a crash can only over-count (a blob kept too long), never under-count (a blob
 * deleted while referenced). The expire job reconciles over-counts by scanning entries, and deletes a
 * blob only after deleting its `refs` item under the condition `refs <= 0`; copies and restores raise the
 * count under the condition `refs > 0`, so one of those two always loses cleanly (blob-references.ts).
 *
 * Quota. Usage is an atomic add on `acct#<account>/quota` with a condition that it stays within the
 * caller's limit (OverQuotaError otherwise), charged before the UID is taken and compensated when the
 * append fails; a crash can over-count, `reconcileQuota` (reconcile.ts) recomputes from the entries.
 *
 * Idempotent delivery (append with a delivery key: SMTP transaction id + recipient). After taking the UID
 * the writer records it in a marker `dlv#<key>` with a conditional put (only if absent), then writes the
 * entry. A retry first reads the marker:
 *   - no marker: the first attempt died before recording a UID; its UID is a gap; deliver normally.
 *   - marker and its entry exists: the first attempt completed (only the 250 was lost): return its UID.
 *   - marker without entry, younger than the write deadline: the first attempt may still be running:
 *     DeliveryInProgressError (SMTP answers 451, the sender retries later).
 *   - marker without entry, older: the first attempt died (or gave up at its deadline) between marker and
 *     entry; take the marker over with a conditional update (only if it still names the dead UID).
 * Two concurrent attempts: only one marker put succeeds; the loser voids its MODSEQ, gives back its
 * counters, quota and blob reference, and re-reads the marker as a retry would.
 */
import type { MetadataStore } from '../store/metadata.ts';

export const DEFAULT_SETTLE_MS = 30_000;
/** Parallel store round trips per operation (entry reads and writes of a batch). */
export const STORE_CONCURRENCY = 16;

export interface MailStoreOptions {
  /** How long a write may stay in flight before readers treat it as crashed (default 30 s). */
  settleMs?: number;
}

export interface MailStore {
  readonly metadata: MetadataStore;
  readonly settleMs: number;
  readonly writeDeadlineMs: number;
}

export function openMailStore(metadata: MetadataStore, options: MailStoreOptions = {}): MailStore {
  const settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  if (!Number.isFinite(settleMs) || settleMs <= 0) throw new RangeError('settleMs must be positive');
  return { metadata, settleMs, writeDeadlineMs: settleMs / 2 };
}

/** Runs `work` over `inputs` with at most STORE_CONCURRENCY in flight; results keep the input order. */
export async function mapBounded<T, R>(inputs: readonly T[], work: (input: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(inputs.length);
  let nextIndex = 0;
  const worker = async () => {
    while (nextIndex < inputs.length) {
      const index = nextIndex++;
      results[index] = await work(inputs[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(STORE_CONCURRENCY, inputs.length) }, worker));
  return results;
}
