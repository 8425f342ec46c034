/**
 * The expire job: the only code that deletes mail. One invocation does a bounded amount of a run and
 * saves where it got to (run-state.ts); the next invocation continues. A run has these phases:
 *
 *   directory           every active domain's shared-mailbox owner and accounts: purge expunged messages
 *                       and DELETED/ folders older than the domain's retention, trim change logs and
 *                       delivery markers, reconcile counters and quota, delete blobs left unreferenced
 *   orphans             owners with mail that the directory no longer has (removed accounts and domains):
 *                       noted on first sight, purged a retention period (the default one) later
 *   blob-refs           blobs whose reference count is ≤ 0 but still exist (a purge died before deleting)
 *   greylist            greylist entries past their expiry (transient-records.ts)
 *   unreferenced-blobs  message blobs (`msg/<day>/…`) that never got a reference (a delivery died between
 *                       storing the blob and indexing it), a day at a time once the day is old enough
 *   quarantine          quarantine copies and their index older than the quarantine retention
 *
 * Deletion order everywhere: index entries first, reference counts after, blobs last, so a crash leaves
 * a blob too many (found by a later phase), never an entry without its blob.
 *
 * Runners: the Lambda (functions/expire), the local process's nightly timer (expire-timer.ts) and `marmot
 * expire` share this code; a lease keeps them from working at once. A dry run (`--dry-run`) reads only,
 * and reports what a run would purge now.
 */
import { randomUUID } from 'node:crypto';
import { sharedMailboxOwner } from '../acl/mailbox-paths.ts';
import { Directory } from '../directory/directory.ts';
import { blobReferenceCount, type MailStore, openMailStore } from '../mailbox/index.ts';
import { accountPk, BLOB_REFS_SK, blobPk, UIDVALIDITY_SK } from '../mailbox/schema.ts';
import type { BlobStore } from '../store/blob.ts';
import { ConditionFailedError } from '../store/errors.ts';
import type { Condition, Item, MetadataStore } from '../store/metadata.ts';
import { deleteUnreferencedBlobs, finishInterruptedBlobDeletions } from './blob-deletion.ts';
import { addDays, dayOf } from './days.ts';
import { handleOrphan, maintainOwner, type OwnerMaintenance } from './owner-maintenance.ts';
import {
  type ExpireTotals,
  emptyTotals,
  PHASES,
  type Phase,
  type RunCursor,
  RunLease,
  type RunState,
  readRunState,
} from './run-state.ts';
import {
  EXPIRES_AT,
  GREYLIST_SHARDS,
  greylistEntryExpired,
  greylistPk,
  quarantineBlobPrefix,
  quarantinePk,
} from './transient-records.ts';

/** A scheduled run starts only if the last one completed at least this long ago (about once a day). */
export const MIN_RUN_INTERVAL_MS = 20 * 3_600_000;
/** Items per scan page in the orphans and blob-refs phases, and per query or list page elsewhere. */
export const SCAN_PAGE = 200;
/** A day of message blobs is swept for never-referenced ones once it is this many days old. */
export const UNREFERENCED_GRACE_DAYS = 2;
/** The first sweeps (no earlier sweep recorded) look back this many days before their first due day. */
export const FIRST_SWEEP_LOOKBACK_DAYS = 60;
export const MESSAGE_BLOB_PREFIX = 'msg/';
/** How long one invocation of `marmot expire` or the local timer works before saving and going again. */
export const LOCAL_INVOCATION_BUDGET_MS = 5 * 60_000;

export interface ExpireStores {
  metadata: MetadataStore;
  blobs: BlobStore;
}

export interface ExpireOptions {
  /**
   * `scheduled`: continue the current run, or start one if the last completed MIN_RUN_INTERVAL_MS ago.
   * `now`: continue the current run or start one.
   */
  mode: 'scheduled' | 'now';
  /** Read only, and report what a run would purge now. */
  dryRun?: boolean;
  /** Milliseconds since the epoch; tests pass a clock they control. */
  clock?: () => number;
  /** Start no new unit of work after this time (by `clock`); the next invocation continues. */
  deadline?: number;
  /** Stops at the next unit of work, like a passed deadline. */
  signal?: AbortSignal;
  /** Retention for owners no domain claims any more (removed accounts and domains): the configured one. */
  defaultRetentionDays: number;
  quarantineRetentionDays: number;
  /** False where a blob-store lifecycle rule expires `quarantine/` (the S3 bucket on AWS). */
  deleteQuarantineBlobs: boolean;
  onProgress?: (progress: ExpireProgress) => void;
  /** For the mailbox store's settling (tests shorten it). */
  settleMs?: number;
}

export interface ExpireProgress {
  runId: string;
  phase: Phase;
  totals: ExpireTotals;
}

export interface ExpireOutcome {
  /** `busy`: another runner holds the lease; `not-due`: a scheduled call too soon after the last run. */
  status: 'complete' | 'incomplete' | 'busy' | 'not-due';
  runId?: string;
  /** What the run has done so far (all of it when complete); for a dry run, what a run would do. */
  totals: ExpireTotals;
}

/** One bounded invocation of the job. */
export async function runExpire(stores: ExpireStores, options: ExpireOptions): Promise<ExpireOutcome> {
  const clock = options.clock ?? Date.now;
  const store = openMailStore(stores.metadata, options.settleMs === undefined ? {} : { settleMs: options.settleMs });
  if (options.dryRun) return previewRun(stores, store, options, clock);
  const lease = await RunLease.acquire(stores.metadata, clock);
  if (!lease) return { status: 'busy', totals: emptyTotals() };
  try {
    let state = lease.state;
    if (!state.cursor) {
      const last = state.lastCompletedAt;
      if (options.mode === 'scheduled' && last !== undefined && clock() - last < MIN_RUN_INTERVAL_MS) {
        return { status: 'not-due', totals: emptyTotals() };
      }
      state = {
        ...state,
        cursor: { runId: randomUUID(), startedAt: clock(), phase: PHASES[0]!, totals: emptyTotals() },
      };
      await lease.save(state);
    }
    const run = new Run(stores, store, options, clock, lease, state);
    const complete = await run.work();
    const cursor = run.cursor;
    if (!complete) return { status: 'incomplete', runId: cursor.runId, totals: cursor.totals };
    const { cursor: _finished, ...rest } = run.state;
    await lease.save({ ...rest, lastCompletedAt: clock(), lastRunId: cursor.runId, lastTotals: cursor.totals });
    return { status: 'complete', runId: cursor.runId, totals: cursor.totals };
  } finally {
    await lease.release();
  }
}

/**
 * Invokes the job again and again, each time for at most `budgetMs`, until the run completes or cannot
 * go on (busy, not due, aborted): how the local timer and `marmot expire` run it.
 */
export async function runExpireToEnd(
  stores: ExpireStores,
  options: Omit<ExpireOptions, 'deadline'>,
  budgetMs = LOCAL_INVOCATION_BUDGET_MS,
): Promise<ExpireOutcome> {
  const clock = options.clock ?? Date.now;
  for (;;) {
    const outcome = await runExpire(stores, { ...options, deadline: clock() + budgetMs });
    if (outcome.status !== 'incomplete' || options.signal?.aborted) return outcome;
  }
}

class Run {
  private readonly maintenance: OwnerMaintenance;

  constructor(
    private readonly stores: ExpireStores,
    private readonly store: MailStore,
    private readonly options: ExpireOptions,
    private readonly clock: () => number,
    private readonly lease: RunLease,
    public state: RunState,
  ) {
    this.maintenance = {
      store,
      blobs: stores.blobs,
      now: clock(),
      dryRun: false,
      totals: this.cursor.totals,
    };
  }

  get cursor(): RunCursor {
    return this.state.cursor!;
  }

  private outOfTime(): boolean {
    const { deadline, signal } = this.options;
    return signal?.aborted === true || (deadline !== undefined && this.clock() >= deadline);
  }

  private async checkpoint(): Promise<void> {
    await this.lease.save(this.state);
    this.options.onProgress?.({ runId: this.cursor.runId, phase: this.cursor.phase, totals: this.cursor.totals });
  }

  /** Works until the run is complete (true) or the time is up (false). */
  async work(): Promise<boolean> {
    this.cursor.totals.blobsDeleted += await finishInterruptedBlobDeletions(this.maintenance);
    for (;;) {
      const phase = this.cursor.phase;
      const done = await this.runPhase(phase);
      if (!done) return false;
      const next = PHASES[PHASES.indexOf(phase) + 1];
      if (next === undefined) return true;
      this.state.cursor = {
        runId: this.cursor.runId,
        startedAt: this.cursor.startedAt,
        phase: next,
        totals: this.cursor.totals,
      };
      await this.checkpoint();
    }
  }

  private runPhase(phase: Phase): Promise<boolean> {
    switch (phase) {
      case 'directory':
        return this.directoryPhase();
      case 'orphans':
        return this.scanPhase(
          accountPk(''),
          (item) => item.sk === UIDVALIDITY_SK,
          async (item) => {
            const owner = item.pk.slice(accountPk('').length);
            await handleOrphan(this.maintenance, owner, this.options.defaultRetentionDays, this.cursor.runId);
          },
        );
      case 'blob-refs':
        return this.scanPhase(
          blobPk(''),
          (item) => item.sk === BLOB_REFS_SK && typeof item.refs === 'number' && item.refs <= 0,
          async (item) => {
            const blobKey = item.pk.slice(blobPk('').length);
            this.cursor.totals.blobsDeleted += await deleteUnreferencedBlobs(this.maintenance, [blobKey]);
          },
        );
      case 'greylist':
        return this.greylistPhase();
      case 'unreferenced-blobs':
        return this.unreferencedBlobsPhase();
      case 'quarantine':
        return this.quarantinePhase();
    }
  }

  /** Every active domain in name order: its shared-mailbox owner, then its accounts in address order. */
  private async directoryPhase(): Promise<boolean> {
    const directory = new Directory(this.stores.metadata);
    const cursor = this.cursor;
    for (const domain of await directory.listDomains()) {
      if (domain.state !== 'active' || (cursor.domain !== undefined && domain.name < cursor.domain)) continue;
      if (cursor.domain !== domain.name) {
        cursor.domain = domain.name;
        delete cursor.afterOwner;
      }
      if (cursor.afterOwner === undefined) {
        if (this.outOfTime()) return false;
        await maintainOwner(this.maintenance, sharedMailboxOwner(domain.name), domain.retentionDays, cursor.runId);
        cursor.afterOwner = '';
        await this.checkpoint();
      }
      for (const account of await directory.listAccounts(domain.name)) {
        // Local parts in store order (the directory lists them so); '' sorts before every one.
        if (account.localPart <= cursor.afterOwner!) continue;
        if (this.outOfTime()) return false;
        await maintainOwner(this.maintenance, account.id, domain.retentionDays, cursor.runId);
        cursor.afterOwner = account.localPart;
        await this.checkpoint();
      }
    }
    return true;
  }

  /** A scan over a partition-key prefix, a page at a time; each relevant item handled once per run. */
  private async scanPhase(
    pkPrefix: string,
    relevant: (item: Item) => boolean,
    handle: (item: Item) => Promise<void>,
  ): Promise<boolean> {
    const cursor = this.cursor;
    for (;;) {
      if (this.outOfTime()) return false;
      const page = await this.stores.metadata.scan({
        pkPrefix,
        limit: SCAN_PAGE,
        ...(cursor.scanCursor !== undefined ? { cursor: cursor.scanCursor } : {}),
      });
      cursor.done ??= [];
      for (const item of page.items) {
        // Only one relevant item per partition in both scans, so the partition key names it.
        const key = item.pk;
        if (!relevant(item) || cursor.done.includes(key)) continue;
        if (this.outOfTime()) return false;
        await handle(item);
        cursor.done.push(key);
        await this.checkpoint();
      }
      if (page.cursor === undefined) return true;
      cursor.scanCursor = page.cursor;
      cursor.done = [];
      await this.checkpoint();
    }
  }

  private async greylistPhase(): Promise<boolean> {
    const cursor = this.cursor;
    const now = this.clock();
    for (let shard = cursor.shard ?? 0; shard < GREYLIST_SHARDS; shard++) {
      if (this.outOfTime()) return false;
      let startAfter: string | undefined;
      do {
        const page = await this.stores.metadata.query(greylistPk(shard), {
          limit: SCAN_PAGE,
          ...(startAfter ? { startAfter } : {}),
        });
        for (const item of page.items) {
          if (!greylistEntryExpired(item[EXPIRES_AT], now)) continue;
          // Only if not refreshed meanwhile: a sender retrying right now must not lose its entry.
          const unchanged: Condition =
            typeof item[EXPIRES_AT] === 'number'
              ? { attribute: EXPIRES_AT, op: '=', value: item[EXPIRES_AT] }
              : { attribute: EXPIRES_AT, op: 'notExists' };
          try {
            await this.stores.metadata.delete(item.pk, item.sk, [unchanged]);
            cursor.totals.greylistDropped++;
          } catch (error) {
            if (!(error instanceof ConditionFailedError)) throw error;
          }
        }
        startAfter = page.next;
      } while (startAfter);
      cursor.shard = shard + 1;
      await this.checkpoint();
    }
    return true;
  }

  /** `msg/<day>/` blobs without a reference count item: stored, never indexed. */
  private async unreferencedBlobsPhase(): Promise<boolean> {
    const lastDay = addDays(dayOf(this.clock()), -UNREFERENCED_GRACE_DAYS);
    return this.sweepDays('unreferencedSweptThrough', 'unreferencedListCursor', lastDay, {
      prefixOf: (day) => `${MESSAGE_BLOB_PREFIX}${day}/`,
      handle: async (blobKey) => {
        if ((await blobReferenceCount(this.store, blobKey)) !== undefined) return;
        await this.stores.blobs.delete(blobKey);
        this.cursor.totals.blobsDeleted++;
      },
    });
  }

  /**
   * Quarantine days older than the quarantine retention: the index partition, and the blobs where no
   * lifecycle rule of the blob store expires them.
   */
  private async quarantinePhase(): Promise<boolean> {
    const lastDay = addDays(dayOf(this.clock()), -this.options.quarantineRetentionDays - 1);
    const blobs = this.options.deleteQuarantineBlobs
      ? {
          prefixOf: (day: string) => quarantineBlobPrefix(day),
          handle: async (blobKey: string) => {
            await this.stores.blobs.delete(blobKey);
            this.cursor.totals.quarantineDropped++;
          },
        }
      : undefined;
    return this.sweepDays('quarantineSweptThrough', 'quarantineListCursor', lastDay, blobs, async (day) => {
      for (;;) {
        const page = await this.stores.metadata.query(quarantinePk(day), { limit: SCAN_PAGE });
        if (page.items.length === 0) return;
        for (const item of page.items) await this.stores.metadata.delete(item.pk, item.sk);
        this.cursor.totals.quarantineDropped += page.items.length;
      }
    });
  }

  /**
   * Days after the last one swept, up to `lastDay`: each day's blobs a list page at a time (when there
   * are blobs to handle), then `finishDay`. The swept-through day and the list cursor within the next
   * day persist across runs, so each day is listed once.
   */
  private async sweepDays(
    throughField: 'unreferencedSweptThrough' | 'quarantineSweptThrough',
    cursorField: 'unreferencedListCursor' | 'quarantineListCursor',
    lastDay: string,
    blobs: { prefixOf: (day: string) => string; handle: (blobKey: string) => Promise<void> } | undefined,
    finishDay?: (day: string) => Promise<void>,
  ): Promise<boolean> {
    const through = this.state[throughField];
    let day = through ? addDays(through, 1) : addDays(lastDay, -FIRST_SWEEP_LOOKBACK_DAYS);
    while (day <= lastDay) {
      if (this.outOfTime()) return false;
      const listCursor = this.state[cursorField];
      const page = blobs
        ? await this.stores.blobs.list(blobs.prefixOf(day), {
            limit: SCAN_PAGE,
            ...(listCursor !== undefined ? { cursor: listCursor } : {}),
          })
        : { blobs: [] };
      for (const blob of page.blobs) await blobs!.handle(blob.key);
      if (page.cursor !== undefined) {
        this.state[cursorField] = page.cursor;
      } else {
        await finishDay?.(day);
        this.state[throughField] = day;
        delete this.state[cursorField];
        day = addDays(day, 1);
      }
      await this.checkpoint();
    }
    return true;
  }
}

/** What a run would purge now: the same walk over domains and owners, reading only. */
async function previewRun(
  stores: ExpireStores,
  store: MailStore,
  options: ExpireOptions,
  clock: () => number,
): Promise<ExpireOutcome> {
  const totals = emptyTotals();
  const work: OwnerMaintenance = { store, blobs: stores.blobs, now: clock(), dryRun: true, totals };
  const report = (phase: Phase) => options.onProgress?.({ runId: 'dry-run', phase, totals });
  const state = await readRunState(stores.metadata);
  // Owners marked by the last completed run are live; the others are what the orphan phase would see.
  const lastRunId = state.cursor?.runId ?? state.lastRunId ?? '';
  const directory = new Directory(stores.metadata);
  for (const domain of await directory.listDomains()) {
    if (domain.state !== 'active') continue;
    await maintainOwner(work, sharedMailboxOwner(domain.name), domain.retentionDays, lastRunId);
    for (const account of await directory.listAccounts(domain.name)) {
      await maintainOwner(work, account.id, domain.retentionDays, lastRunId);
      report('directory');
    }
  }
  await forEachScanned(stores.metadata, accountPk(''), async (item) => {
    if (item.sk !== UIDVALIDITY_SK) return;
    await handleOrphan(work, item.pk.slice(accountPk('').length), options.defaultRetentionDays, lastRunId);
  });
  report('orphans');
  await forEachScanned(stores.metadata, blobPk(''), async (item) => {
    if (item.sk === BLOB_REFS_SK && typeof item.refs === 'number' && item.refs <= 0) totals.blobsDeleted++;
  });
  const now = clock();
  for (let shard = 0; shard < GREYLIST_SHARDS; shard++) {
    let startAfter: string | undefined;
    do {
      const page = await stores.metadata.query(greylistPk(shard), {
        limit: SCAN_PAGE,
        ...(startAfter ? { startAfter } : {}),
      });
      totals.greylistDropped += page.items.filter((item) => greylistEntryExpired(item[EXPIRES_AT], now)).length;
      startAfter = page.next;
    } while (startAfter);
  }
  report('greylist');
  return { status: 'complete', totals };
}

async function forEachScanned(
  metadata: MetadataStore,
  pkPrefix: string,
  handle: (item: Item) => Promise<void>,
): Promise<void> {
  let cursor: string | undefined;
  do {
    const page = await metadata.scan({ pkPrefix, limit: SCAN_PAGE, ...(cursor !== undefined ? { cursor } : {}) });
    for (const item of page.items) await handle(item);
    cursor = page.cursor;
  } while (cursor !== undefined);
}
