/**
 * What one session knows of its selected mailbox: the UIDs it has announced, in order, so that message
 * sequence number n is the n-th of them (RFC 9051 §2.3.1.2). Sequence numbers only change when the
 * session tells its client (EXISTS for new messages, EXPUNGE/VANISHED for removed ones), so this view
 * moves only when the session sends those responses.
 *
 * Kept as runs of consecutive UIDs: UIDs are given out in ascending order and only expunges cut them,
 * so a mailbox of thousands of messages is a handful of runs, and an idle session on it stays small.
 * One Uint32Array holds a pair per run, [first UID, messages in the runs before it]; the second is a
 * prefix count, so both directions are a binary search over runs: UID → sequence number by first UID,
 * sequence number → UID by prefix count (the run found last is tried first: commands walk in order).
 * 8 bytes per run; at worst (every other UID expunged) 8 bytes per message, twice a plain array.
 */
import type { SequenceSet } from './protocol/command-types.ts';
import { resolveSequenceSet } from './protocol/sequence-set.ts';

export class SavedSearchMissingError extends Error {
  override name = 'SavedSearchMissingError';
}

/** Where a run's two numbers sit in its pair. */
const FIRST = 0;
const BEFORE = 1;

export class MessageView {
  /** runs[2r + FIRST]: the first UID of run r; runs[2r + BEFORE]: messages in runs 0 to r-1. */
  private runs: Uint32Array;
  private runCount = 0;
  private total = 0;
  /** The run the last lookup found. */
  private hint = 0;

  /** `uids` ascending and distinct, as SELECT reads them. */
  constructor(uids: readonly number[] = []) {
    const starts: number[] = [];
    for (let start = 0; start < uids.length; start = runEnd(uids, start)) starts.push(start);
    this.runs = new Uint32Array(2 * starts.length);
    for (const start of starts) {
      this.runs[2 * this.runCount + FIRST] = uids[start]!;
      this.runs[2 * this.runCount + BEFORE] = start;
      this.runCount++;
    }
    this.total = uids.length;
  }

  get count(): number {
    return this.total;
  }

  /** UIDs in sequence order (a copy). */
  get allUids(): number[] {
    const uids = new Array<number>(this.total);
    let index = 0;
    for (let run = 0; run < this.runCount; run++) {
      const first = this.first(run);
      const end = first + this.length(run);
      for (let uid = first; uid < end; uid++) uids[index++] = uid;
    }
    return uids;
  }

  get highestUid(): number {
    if (this.runCount === 0) return 0;
    const last = this.runCount - 1;
    return this.first(last) + this.length(last) - 1;
  }

  uidAt(sequence: number): number | undefined {
    if (!(sequence >= 1 && sequence <= this.total)) return undefined;
    const run = this.runHoldingIndex(sequence - 1);
    return this.first(run) + (sequence - 1 - this.before(run));
  }

  /** The sequence number of a UID, or undefined if the session does not know it. */
  sequenceOf(uid: number): number | undefined {
    const run = this.runHoldingUid(uid);
    return run === undefined ? undefined : this.before(run) + (uid - this.first(run)) + 1;
  }

  has(uid: number): boolean {
    return this.runHoldingUid(uid) !== undefined;
  }

  /** Appends UIDs announced by a new EXISTS; ones not above every known UID are ignored. */
  append(uids: readonly number[]): void {
    let highest = this.highestUid;
    for (const uid of uids) {
      if (uid <= highest) continue;
      // Continuing the last run needs nothing: its length is what follows its prefix count.
      if (this.runCount === 0 || uid !== highest + 1) this.insertRun(this.runCount, uid, this.total);
      this.total++;
      highest = uid;
    }
  }

  /** Removes one UID (announced by EXPUNGE); returns the sequence number it had. */
  remove(uid: number): number | undefined {
    const run = this.runHoldingUid(uid);
    if (run === undefined) return undefined;
    const first = this.first(run);
    const length = this.length(run);
    const offset = uid - first;
    const sequence = this.before(run) + offset + 1;
    let later = run + 1;
    if (length === 1) {
      this.deleteRun(run);
      later = run;
    } else if (offset === 0) {
      this.runs[2 * run + FIRST] = uid + 1;
    } else if (offset < length - 1) {
      // Split: the UIDs above the removed one become a run of their own, after the `offset` kept below.
      this.insertRun(run + 1, uid + 1, sequence - 1);
      later = run + 2;
    }
    for (let next = later; next < this.runCount; next++) this.runs[2 * next + BEFORE]!--;
    this.total--;
    return sequence;
  }

  /** Removes several UIDs at once (VANISHED), keeping the order. */
  removeAll(uids: ReadonlySet<number>): void {
    const removed = [...uids].filter((uid) => this.has(uid)).sort((a, b) => a - b);
    if (removed.length === 0) return;
    const old = this.runs;
    const oldCount = this.runCount;
    const oldTotal = this.total;
    // At most one more run per removed UID; trimmed below.
    this.runs = new Uint32Array(2 * (oldCount + removed.length));
    this.runCount = 0;
    this.total = 0;
    let next = 0;
    for (let run = 0; run < oldCount; run++) {
      const first = old[2 * run + FIRST]!;
      const end = first + ((run + 1 < oldCount ? old[2 * (run + 1) + BEFORE]! : oldTotal) - old[2 * run + BEFORE]!);
      let start = first;
      for (; next < removed.length && removed[next]! < end; next++) {
        this.pushSpan(start, removed[next]! - start);
        start = removed[next]! + 1;
      }
      this.pushSpan(start, end - start);
    }
    this.runs = this.runs.slice(0, 2 * this.runCount);
  }

  /**
   * The UIDs a sequence set names, in ascending order, without duplicates. `uid` says whether the set is
   * of UIDs (UID commands) or sequence numbers; `saved` is the SEARCHRES result for `$` (RFC 5182).
   * Numbers that name no message are left out (RFC 9051 §6.4.8: UID ranges need not exist).
   */
  resolve(set: SequenceSet, uid: boolean, saved?: readonly number[]): number[] {
    if (set.kind === 'saved') {
      if (!saved) throw new SavedSearchMissingError('no saved search result');
      return saved.filter((candidate) => this.has(candidate));
    }
    const picked: number[] = [];
    if (uid) {
      for (const [low, high] of resolveSequenceSet(set, this.highestUid)) {
        for (let run = Math.max(0, this.lastRunStartingAtOrBelow(low)); run < this.runCount; run++) {
          const first = this.first(run);
          if (first > high) break;
          const last = Math.min(high, first + this.length(run) - 1);
          for (let each = Math.max(low, first); each <= last; each++) picked.push(each);
        }
      }
    } else {
      for (const [low, high] of resolveSequenceSet(set, this.total)) {
        const last = Math.min(high, this.total);
        for (let run = low > last ? this.runCount : this.runHoldingIndex(low - 1); run < this.runCount; run++) {
          const before = this.before(run);
          if (before >= last) break;
          // The sequence numbers low..last that fall in this run, as UIDs.
          const offset = this.first(run) - before - 1;
          const end = Math.min(last, before + this.length(run));
          for (let sequence = Math.max(low, before + 1); sequence <= end; sequence++) picked.push(sequence + offset);
        }
      }
    }
    return picked;
  }

  /**
   * True when every number of a sequence-number set names a message: RFC 9051 §6.4.5 asks for BAD
   * when a client names a sequence number the mailbox does not have.
   */
  sequenceSetInRange(set: SequenceSet): boolean {
    if (set.kind === 'saved') return true;
    const inRange = (value: number | '*') => value === '*' || (value >= 1 && value <= this.total);
    return set.ranges.every((range) => inRange(range.start) && inRange(range.end));
  }

  private first(run: number): number {
    return this.runs[2 * run + FIRST]!;
  }

  private before(run: number): number {
    return this.runs[2 * run + BEFORE]!;
  }

  private length(run: number): number {
    return (run + 1 < this.runCount ? this.before(run + 1) : this.total) - this.before(run);
  }

  /**
   * The run holding the message at 0-based `index` (< total): the last run with before <= index. The
   * run found last is tried first, and the one after it: commands walk sequence numbers in order.
   */
  private runHoldingIndex(index: number): number {
    const hint = this.hint < this.runCount ? this.hint : 0;
    if (this.before(hint) <= index) {
      if (hint + 1 === this.runCount || index < this.before(hint + 1)) return hint;
      if (hint + 2 === this.runCount || index < this.before(hint + 2)) {
        this.hint = hint + 1;
        return this.hint;
      }
    }
    let low = 0;
    let high = this.runCount - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (this.before(middle) <= index) low = middle;
      else high = middle - 1;
    }
    this.hint = low;
    return low;
  }

  /** The run holding `uid`, or undefined; tries the run found last first, like runHoldingIndex. */
  private runHoldingUid(uid: number): number | undefined {
    let run = this.hint < this.runCount ? this.hint : 0;
    if (!(this.first(run) <= uid && (run + 1 === this.runCount || uid < this.first(run + 1)))) {
      run = this.lastRunStartingAtOrBelow(uid);
      if (run < 0) return undefined;
      this.hint = run;
    }
    return uid - this.first(run) < this.length(run) ? run : undefined;
  }

  /** The last run whose first UID is <= uid; -1 when none. */
  private lastRunStartingAtOrBelow(uid: number): number {
    let low = 0;
    let high = this.runCount;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.first(middle) <= uid) low = middle + 1;
      else high = middle;
    }
    return low - 1;
  }

  /** Adds a run after the last one (removeAll's rebuild); empty spans add nothing. */
  private pushSpan(first: number, length: number): void {
    if (length <= 0) return;
    this.runs[2 * this.runCount + FIRST] = first;
    this.runs[2 * this.runCount + BEFORE] = this.total;
    this.runCount++;
    this.total += length;
  }

  private insertRun(at: number, first: number, before: number): void {
    if (2 * (this.runCount + 1) > this.runs.length) {
      const grown = new Uint32Array(Math.max(8, 2 * this.runs.length));
      grown.set(this.runs.subarray(0, 2 * this.runCount));
      this.runs = grown;
    }
    this.runs.copyWithin(2 * (at + 1), 2 * at, 2 * this.runCount);
    this.runs[2 * at + FIRST] = first;
    this.runs[2 * at + BEFORE] = before;
    this.runCount++;
  }

  private deleteRun(at: number): void {
    this.runs.copyWithin(2 * at, 2 * (at + 1), 2 * this.runCount);
    this.runCount--;
  }
}

/**
 * Where the run of consecutive UIDs starting at `start` ends (exclusive). For ascending distinct UIDs,
 * uids[start..end] is one run exactly when uids[end] - uids[start] === end - start, so the end is found
 * by galloping and bisecting: SELECT on a mailbox of a few runs costs a few dozen steps, not one per message.
 */
function runEnd(uids: readonly number[], start: number): number {
  const first = uids[start]!;
  let known = start;
  let step = 1;
  while (known + step < uids.length && uids[known + step]! - first === known + step - start) {
    known += step;
    step *= 2;
  }
  // `known` is in the run; `beyond` (or the end) is not.
  let beyond = Math.min(known + step, uids.length);
  while (beyond - known > 1) {
    const middle = (known + beyond) >>> 1;
    if (uids[middle]! - first === middle - start) known = middle;
    else beyond = middle;
  }
  return beyond;
}

/**
 * The numbers of a UID set up to `highest` (which `*` stands for), whether or not the mailbox has
 * them: QRESYNC's known-uids name UIDs that may be gone (RFC 7162 §3.2.5).
 */
export function* uidsInSet(set: SequenceSet, highest: number): Generator<number> {
  if (set.kind === 'saved') return;
  for (const [first, last] of resolveSequenceSet(set, highest)) {
    for (let uid = first; uid <= Math.min(last, highest); uid++) yield uid;
  }
}
