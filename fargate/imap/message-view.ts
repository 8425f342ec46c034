/**
 * What one session knows of its selected mailbox: the UIDs it has announced, in order, so that message
 * sequence number n is the n-th of them (RFC 9051 §2.3.1.2). Sequence numbers only change when the
 * session tells its client (EXISTS for new messages, EXPUNGE/VANISHED for removed ones), so this view
 * moves only when the session sends those responses.
 *
 * Kept as a growable Uint32Array (4 bytes per message: idle sessions on big mailboxes stay small),
 * searched by binary search.
 */
import type { SequenceSet } from './protocol/command-types.ts';
import { resolveSequenceSet } from './protocol/sequence-set.ts';

export class SavedSearchMissingError extends Error {
  override name = 'SavedSearchMissingError';
}

export class MessageView {
  private uids: Uint32Array;
  private length: number;

  constructor(uids: readonly number[] = []) {
    this.uids = Uint32Array.from(uids);
    this.length = uids.length;
  }

  get count(): number {
    return this.length;
  }

  /** UIDs in sequence order (a copy). */
  get allUids(): number[] {
    return Array.from(this.uids.subarray(0, this.length));
  }

  get highestUid(): number {
    return this.length === 0 ? 0 : this.uids[this.length - 1]!;
  }

  uidAt(sequence: number): number | undefined {
    return sequence >= 1 && sequence <= this.length ? this.uids[sequence - 1] : undefined;
  }

  /** The sequence number of a UID, or undefined if the session does not know it. */
  sequenceOf(uid: number): number | undefined {
    const index = this.indexOf(uid);
    return index === undefined ? undefined : index + 1;
  }

  has(uid: number): boolean {
    return this.indexOf(uid) !== undefined;
  }

  /** Appends UIDs announced by a new EXISTS; ones not above every known UID are ignored. */
  append(uids: readonly number[]): void {
    for (const uid of uids) {
      if (uid <= this.highestUid) continue;
      if (this.length === this.uids.length) {
        const grown = new Uint32Array(Math.max(16, this.uids.length * 2));
        grown.set(this.uids);
        this.uids = grown;
      }
      this.uids[this.length++] = uid;
    }
  }

  /** Removes one UID (announced by EXPUNGE); returns the sequence number it had. */
  remove(uid: number): number | undefined {
    const index = this.indexOf(uid);
    if (index === undefined) return undefined;
    this.uids.copyWithin(index, index + 1, this.length);
    this.length--;
    return index + 1;
  }

  /** Removes several UIDs at once (VANISHED), keeping the order. */
  removeAll(uids: ReadonlySet<number>): void {
    if (uids.size === 0) return;
    let kept = 0;
    for (let index = 0; index < this.length; index++) {
      const uid = this.uids[index]!;
      if (!uids.has(uid)) this.uids[kept++] = uid;
    }
    this.length = kept;
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
      for (const [first, last] of resolveSequenceSet(set, this.highestUid)) {
        for (let index = this.lowerBound(first); index < this.length && this.uids[index]! <= last; index++) {
          picked.push(this.uids[index]!);
        }
      }
    } else {
      for (const [first, last] of resolveSequenceSet(set, this.length)) {
        for (let sequence = first; sequence <= Math.min(last, this.length); sequence++) {
          picked.push(this.uids[sequence - 1]!);
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
    const inRange = (value: number | '*') => value === '*' || (value >= 1 && value <= this.length);
    return set.ranges.every((range) => inRange(range.start) && inRange(range.end));
  }

  private indexOf(uid: number): number | undefined {
    const index = this.lowerBound(uid);
    return index < this.length && this.uids[index] === uid ? index : undefined;
  }

  /** The first index whose UID is >= uid. */
  private lowerBound(uid: number): number {
    let low = 0;
    let high = this.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.uids[middle]! < uid) low = middle + 1;
      else high = middle;
    }
    return low;
  }
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
