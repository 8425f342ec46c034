/**
 * Tells idling IMAP sessions that their mailbox changed, across sessions and across processes, at a cost
 * that does not grow with the number of idle connections.
 *
 * One watch per mailbox per process, however many sessions idle on it:
 *   - same-process writes (APPEND, STORE, EXPUNGE, COPY/MOVE of our sessions) call `changed(mailboxId)`,
 *     which wakes the watchers at once;
 *   - writes by other processes (another Fargate task, the SMTP delivery of another process) are found by
 *     one shared poller that reads each watched mailbox's item (its settled HIGHESTMODSEQ and UIDNEXT)
 *     every POLL_INTERVAL_MS, and wakes the watchers when either moved.
 * The poller spends at most MAX_POLL_READS_PER_SECOND store reads per process: with more watched mailboxes
 * than that allows, each is polled less often (latency degrades, the store bill does not).
 *
 * A watcher is only woken; it reads what changed itself (from its own last MODSEQ), so a missed or
 * coalesced wake-up loses nothing.
 */

export interface MailboxVersion {
  highestModseq: number;
  uidNext: number;
}

/** Reads a mailbox's current version; undefined when the mailbox is gone. */
export type ReadMailboxVersion = (mailboxId: string) => Promise<MailboxVersion | undefined>;

export type ChangeListener = () => void;

/** How often a watched mailbox is read for changes made by other processes. */
export const POLL_INTERVAL_MS = 1_500;
/** The poller's tick: it reads, each tick, the mailboxes whose turn has come. */
export const POLL_TICK_MS = 250;
/** Store reads the poller may spend per second, whatever the number of watched mailboxes. */
export const MAX_POLL_READS_PER_SECOND = 400;
/** Reads in flight at once. */
const MAX_CONCURRENT_POLL_READS = 16;

interface Watch {
  mailboxId: string;
  listeners: Set<ChangeListener>;
  version: MailboxVersion | undefined;
  nextPollAt: number;
  polling: boolean;
}

export interface ChangeNotifierOptions {
  pollIntervalMs?: number;
  maxReadsPerSecond?: number;
  onError?: (error: unknown, mailboxId: string) => void;
}

export class MailboxChangeNotifier {
  private readonly watches = new Map<string, Watch>();
  private timer: NodeJS.Timeout | undefined;
  private readonly pollIntervalMs: number;
  private readonly readsPerTick: number;
  private inFlight = 0;

  constructor(
    private readonly readVersion: ReadMailboxVersion,
    private readonly options: ChangeNotifierOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? POLL_INTERVAL_MS;
    this.readsPerTick = Math.max(
      1,
      Math.floor(((options.maxReadsPerSecond ?? MAX_POLL_READS_PER_SECOND) * POLL_TICK_MS) / 1000),
    );
  }

  /**
   * Starts watching a mailbox for this listener, which knows the mailbox as of `known`; returns the
   * function that stops it. A listener that joins knowing less than the watch has seen is woken at once.
   */
  watch(mailboxId: string, known: MailboxVersion, listener: ChangeListener): () => void {
    let watch = this.watches.get(mailboxId);
    if (!watch) {
      watch = { mailboxId, listeners: new Set(), version: { ...known }, nextPollAt: 0, polling: false };
      this.watches.set(mailboxId, watch);
      this.ensureTimer();
    } else if (!sameVersion(watch.version, known)) {
      queueMicrotask(listener);
    }
    watch.listeners.add(listener);
    const current = watch;
    return () => {
      current.listeners.delete(listener);
      if (current.listeners.size === 0 && this.watches.get(mailboxId) === current) {
        this.watches.delete(mailboxId);
        if (this.watches.size === 0) this.stopTimer();
      }
    };
  }

  /** A write in this process changed the mailbox: wake its watchers now. */
  changed(mailboxId: string): void {
    const watch = this.watches.get(mailboxId);
    if (!watch) return;
    wake(watch);
  }

  /** Number of mailboxes watched (for metrics and tests). */
  get watchedMailboxes(): number {
    return this.watches.size;
  }

  close(): void {
    this.stopTimer();
    this.watches.clear();
  }

  private ensureTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), POLL_TICK_MS);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const now = Date.now();
    let budget = this.readsPerTick;
    for (const watch of this.watches.values()) {
      if (budget <= 0 || this.inFlight >= MAX_CONCURRENT_POLL_READS) break;
      if (watch.polling || watch.nextPollAt > now) continue;
      budget--;
      void this.poll(watch);
    }
  }

  private async poll(watch: Watch): Promise<void> {
    watch.polling = true;
    this.inFlight++;
    try {
      const version = await this.readVersion(watch.mailboxId);
      const previous = watch.version;
      watch.version = version;
      if (!sameVersion(previous, version)) wake(watch);
    } catch (error) {
      this.options.onError?.(error, watch.mailboxId);
    } finally {
      this.inFlight--;
      watch.polling = false;
      watch.nextPollAt = Date.now() + this.pollIntervalMs;
      // Map order is insertion order: move the polled watch to the end so every watch gets its turn.
      if (this.watches.get(watch.mailboxId) === watch) {
        this.watches.delete(watch.mailboxId);
        this.watches.set(watch.mailboxId, watch);
      }
    }
  }
}

function wake(watch: Watch): void {
  for (const listener of [...watch.listeners]) listener();
}

function sameVersion(a: MailboxVersion | undefined, b: MailboxVersion | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.highestModseq === b.highestModseq && a.uidNext === b.uidNext;
}
