/**
 * The session's UID map (fargate/imap/message-view.ts), kept as runs of consecutive UIDs, against the
 * plainest model there is: a sorted array of UIDs, sequence number n at index n-1.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MessageView } from '../../../fargate/imap/message-view.ts';
import type { SequenceRange, SequenceSet } from '../../../fargate/imap/protocol/command-types.ts';

/** UIDs as mailboxes have them: runs of consecutive UIDs with gaps between (expunges, crashed appends). */
const uidRuns = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 30 })), { maxLength: 12 })
  .map((runs) => {
    const uids: number[] = [];
    let next = 1;
    for (const [gap, length] of runs) {
      next += gap - 1;
      for (let index = 0; index < length; index++) uids.push(next++);
      next++;
    }
    return uids;
  });

type Operation =
  | { kind: 'append'; uids: number[] }
  | { kind: 'remove'; uid: number }
  | { kind: 'removeAll'; uids: number[] };

const uidNear = fc.integer({ min: 0, max: 700 });
const operation: fc.Arbitrary<Operation> = fc.oneof(
  fc
    .array(fc.integer({ min: 0, max: 40 }), { maxLength: 20 })
    .map((steps): Operation => ({ kind: 'append', uids: steps })),
  uidNear.map((uid): Operation => ({ kind: 'remove', uid })),
  fc.array(uidNear, { maxLength: 40 }).map((uids): Operation => ({ kind: 'removeAll', uids })),
);

const rangeValue = fc.oneof(fc.integer({ min: 1, max: 750 }), fc.constant('*' as const));
const sequenceSet = fc
  .array(fc.record({ start: rangeValue, end: rangeValue }), { minLength: 1, maxLength: 5 })
  .map((ranges): SequenceSet => ({ kind: 'ranges', ranges: ranges as SequenceRange[] }));

/** What a sequence set names in the model: RFC 9051 §6.4.8 / §9 seq-range, `*` the largest number. */
function modelResolve(model: readonly number[], set: SequenceSet, uid: boolean): number[] {
  if (set.kind === 'saved') return [];
  const largest = uid ? (model.at(-1) ?? 0) : model.length;
  const value = (bound: number | '*') => (bound === '*' ? largest : bound);
  const named = (number: number) =>
    set.ranges.some((range) => {
      const [low, high] = [value(range.start), value(range.end)].sort((a, b) => a - b) as [number, number];
      return number >= low && number <= high;
    });
  return uid ? model.filter(named) : model.filter((_, index) => named(index + 1));
}

function assertSame(view: MessageView, model: readonly number[], probes: readonly number[]): void {
  assert.deepEqual(view.allUids, model);
  assert.equal(view.count, model.length);
  assert.equal(view.highestUid, model.at(-1) ?? 0);
  for (let sequence = 0; sequence <= model.length + 1; sequence++) {
    assert.equal(view.uidAt(sequence), model[sequence - 1], `uidAt(${sequence})`);
  }
  for (const uid of [...model, ...probes]) {
    const index = model.indexOf(uid);
    assert.equal(view.sequenceOf(uid), index === -1 ? undefined : index + 1, `sequenceOf(${uid})`);
    assert.equal(view.has(uid), index !== -1);
  }
}

describe('message view against a plain array', () => {
  it('answers and changes like the array, whatever the UIDs and the operations', () => {
    fc.assert(
      fc.property(
        uidRuns,
        fc.array(operation, { maxLength: 25 }),
        fc.array(uidNear, { maxLength: 10 }),
        (initial, operations, probes) => {
          const view = new MessageView(initial);
          let model = [...initial];
          assertSame(view, model, probes);
          for (const step of operations) {
            if (step.kind === 'append') {
              // EXISTS brings UIDs above the highest, ascending; some continue the last run, some do not.
              let next = model.at(-1) ?? 0;
              const fresh = step.uids.map((gap) => (next += gap));
              view.append(fresh);
              for (const uid of fresh) if (uid > (model.at(-1) ?? 0)) model.push(uid);
            } else if (step.kind === 'remove') {
              const index = model.indexOf(step.uid);
              assert.equal(view.remove(step.uid), index === -1 ? undefined : index + 1);
              if (index !== -1) model.splice(index, 1);
            } else {
              view.removeAll(new Set(step.uids));
              model = model.filter((uid) => !step.uids.includes(uid));
            }
            assertSame(view, model, probes);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('resolves sequence and UID sets like the array', () => {
    fc.assert(
      fc.property(uidRuns, sequenceSet, fc.boolean(), (uids, set, uid) => {
        const view = new MessageView(uids);
        assert.deepEqual(view.resolve(set, uid), modelResolve(uids, set, uid));
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps a mailbox of consecutive UIDs in one run however large', () => {
    const view = new MessageView(Array.from({ length: 100_000 }, (_, index) => index + 1));
    view.append([100_001, 100_002]);
    assert.equal(view.count, 100_002);
    assert.equal(view.uidAt(100_002), 100_002);
    assert.equal(view.sequenceOf(50_000), 50_000);
    assert.equal(view.remove(50_000), 50_000);
    assert.equal(view.sequenceOf(50_001), 50_000);
    assert.equal(view.uidAt(50_000), 50_001);
  });
});
