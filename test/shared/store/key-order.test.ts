/** Key order and prefix bounds: UTF-8 byte order, as DynamoDB and SQLite compare, not UTF-16. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { conditionsHold } from '../../../shared/store/conditions.ts';
import { compareCodePoints, prefixSuccessor } from '../../../shared/store/key-order.ts';

test('code point order puts U+10000 after U+FFFF, where UTF-16 order does not', () => {
  assert.ok(compareCodePoints('\u{10000}', '\uffff') > 0);
  assert.ok('\u{10000}' < '\uffff', 'JavaScript compares UTF-16 code units');
  assert.equal(compareCodePoints('abc', 'abc'), 0);
  assert.ok(compareCodePoints('ab', 'abc') < 0);
});

test('conditions compare strings in code point order', () => {
  const item = { pk: 'p', sk: 's', name: '\u{1f600}' };
  assert.equal(conditionsHold(item, [{ attribute: 'name', op: '>', value: '\uffef' }]), true);
  assert.equal(conditionsHold(item, [{ attribute: 'name', op: '<', value: '\uffef' }]), false);
});

test('prefixSuccessor bounds exactly the strings that start with the prefix', () => {
  assert.equal(prefixSuccessor('a'), 'b');
  assert.equal(prefixSuccessor('a\u{10ffff}'), 'b');
  assert.equal(prefixSuccessor('\ud7ff'), '\ue000');
  assert.equal(prefixSuccessor(''), undefined);
  assert.equal(prefixSuccessor('\u{10ffff}\u{10ffff}'), undefined);
  const text = fc.string({ unit: 'grapheme-ascii', maxLength: 4 });
  const mixed = fc.string({ unit: 'binary', maxLength: 4 });
  fc.assert(
    fc.property(fc.oneof(text, mixed), fc.oneof(text, mixed), (prefix, candidate) => {
      const successor = prefixSuccessor(prefix);
      const inRange =
        compareCodePoints(candidate, prefix) >= 0 &&
        (successor === undefined || compareCodePoints(candidate, successor) < 0);
      assert.equal(inRange, candidate.startsWith(prefix));
    }),
    { numRuns: 2000 },
  );
});
