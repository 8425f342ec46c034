import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { SequenceRange } from '../../../../fargate/imap/protocol/command-types.ts';
import { rangesContain, resolveSequenceSet } from '../../../../fargate/imap/protocol/sequence-set.ts';

const set = (...ranges: Array<[number | '*', number | '*']>) => ({
  kind: 'ranges' as const,
  ranges: ranges.map(([start, end]): SequenceRange => ({ start, end })),
});

describe('sequence set resolution', () => {
  test('* is the largest number; reversed ranges turn around; overlaps merge', () => {
    assert.deepEqual(resolveSequenceSet(set([2, 4], [7, 7], [9, '*']), 12), [
      [2, 4],
      [7, 7],
      [9, 12],
    ]);
    assert.deepEqual(resolveSequenceSet(set([4, 2], [3, 6], [7, 8], ['*', '*']), 20), [
      [2, 8],
      [20, 20],
    ]);
  });

  test('RFC 9051 §6.4.9: UID 15:* with largest UID 10 names UID 10', () => {
    const ranges = resolveSequenceSet(set([15, '*']), 10);
    assert.deepEqual(ranges, [[10, 15]]);
    assert.ok(rangesContain(ranges, 10));
  });

  test('an empty mailbox resolves * to nothing', () => {
    assert.deepEqual(resolveSequenceSet(set(['*', '*']), 0), []);
    assert.deepEqual(resolveSequenceSet(set([1, '*']), 0), [[1, 1]]);
  });

  test('membership agrees with the naive reading for random sets', () => {
    const end = fc.oneof(fc.integer({ min: 1, max: 60 }), fc.constant('*' as const));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(end, end), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 50 }),
        (pairs, largest) => {
          const ranges = resolveSequenceSet(set(...pairs), largest);
          for (let n = 1; n <= 70; n++) {
            const naive = pairs.some(([a, b]) => {
              const x = a === '*' ? largest : a;
              const y = b === '*' ? largest : b;
              return n >= Math.min(x, y) && n <= Math.max(x, y);
            });
            assert.equal(rangesContain(ranges, n), naive, `n=${n}`);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
