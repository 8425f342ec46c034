/**
 * Resolves a parsed sequence set (`2:4,7,9:*`) against a mailbox: `*` becomes the largest number in use
 * and reversed ranges are turned around (RFC 9051 §9 seq-range: `4:2` is `2:4`), giving sorted, merged,
 * inclusive ranges. `$` (RFC 5182) is the session's saved result and cannot be resolved here.
 *
 * Note the RFC 9051 §6.4.9 consequence for UIDs: with the largest UID 10, `UID FETCH 15:*` is `10:15` and
 * so names UID 10, which clients rely on to learn the last UID.
 */
import type { SequenceSet } from './command-types.ts';

/** Inclusive [first, last] pairs, sorted, not overlapping or touching. */
export type NumberRanges = Array<[first: number, last: number]>;

/**
 * `largest` is the largest number in use (the message count for sequence numbers, the highest UID for
 * UIDs). With an empty mailbox (0), a lone `*` resolves to nothing.
 */
export function resolveSequenceSet(set: Extract<SequenceSet, { kind: 'ranges' }>, largest: number): NumberRanges {
  const ranges: NumberRanges = [];
  for (const { start, end } of set.ranges) {
    const a = start === '*' ? largest : start;
    const b = end === '*' ? largest : end;
    const first = Math.max(Math.min(a, b), 1);
    const last = Math.max(a, b);
    if (last >= first) ranges.push([first, last]);
  }
  ranges.sort((x, y) => x[0] - y[0]);
  const merged: NumberRanges = [];
  for (const range of ranges) {
    const previous = merged.at(-1);
    if (previous && range[0] <= previous[1] + 1) previous[1] = Math.max(previous[1], range[1]);
    else merged.push([range[0], range[1]]);
  }
  return merged;
}

/** Whether `n` is in resolved ranges (binary search). */
export function rangesContain(ranges: NumberRanges, n: number): boolean {
  let low = 0;
  let high = ranges.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const [first, last] = ranges[middle]!;
    if (n < first) high = middle - 1;
    else if (n > last) low = middle + 1;
    else return true;
  }
  return false;
}
