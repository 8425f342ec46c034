/**
 * The metadata store contract, run against every adapter set: both adapters must give the same answers,
 * including for conditions on missing attributes and mismatched types, pages that DynamoDB cuts short,
 * and keys full of characters that mean something elsewhere (%, _, #, /).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConditionFailedError } from '../../../shared/store/errors.ts';
import { compareCodePoints } from '../../../shared/store/key-order.ts';
import type { Condition, Item, MetadataStore, QueryOptions, Update } from '../../../shared/store/metadata.ts';
import { adapterSets, type StoreSet } from '../../support/stores.ts';

/** Sort keys chosen to trip up LIKE patterns, UTF-16 ordering and naive prefix bounds. */
const SORT_KEYS = [
  'a',
  'a#1',
  'a#2',
  'a%',
  'a%b',
  'a/b',
  'a_',
  'a_b',
  'ab',
  'b',
  'b#1',
  'c',
  'é',
  '\uffef',
  '日本/語',
  '😀',
  'x\u{10ffff}',
  'x\u{10ffff}y',
  'x\u{10ffff}\u{10ffff}',
  'y',
];

/** What a query must return, computed from the sort keys directly (the model the adapters must match). */
function expectedKeys(options: QueryOptions): string[] {
  const keys = [...SORT_KEYS]
    .filter((sk) => options.beginsWith === undefined || sk.startsWith(options.beginsWith))
    .filter((sk) => options.from === undefined || compareCodePoints(sk, options.from) >= 0)
    .filter((sk) => options.to === undefined || compareCodePoints(sk, options.to) <= 0)
    .sort(compareCodePoints);
  if (options.reverse) keys.reverse();
  const after = options.startAfter;
  if (after === undefined) return keys;
  return keys.filter((sk) => (options.reverse ? compareCodePoints(sk, after) < 0 : compareCodePoints(sk, after) > 0));
}

/** Follows `next` to the end, checking that every page but the last is full and the last has no `next`. */
async function queryAll(store: MetadataStore, pk: string, options: QueryOptions, limit: number): Promise<string[]> {
  const keys: string[] = [];
  let startAfter = options.startAfter;
  for (let pages = 0; pages < 100; pages++) {
    const page = await store.query(pk, { ...options, startAfter, limit });
    keys.push(...page.items.map((item) => item.sk));
    for (const item of page.items) assert.equal(item.pk, pk);
    if (page.next === undefined) return keys;
    assert.equal(page.items.length, limit, 'a page with a next is full');
    assert.equal(page.next, page.items.at(-1)?.sk);
    startAfter = page.next;
  }
  throw new Error('query did not end');
}

for (const adapters of adapterSets) {
  describe(`metadata store contract: ${adapters.name}`, () => {
    /** Runs one test on fresh, empty stores. */
    async function withStore(run: (store: MetadataStore) => Promise<void>): Promise<void> {
      const stores = await adapters.open();
      try {
        await run(stores.metadata);
      } finally {
        await stores.cleanup();
      }
    }

    test('get, put and whole-item replacement', () =>
      withStore(async (store) => {
        assert.equal(await store.get('p', 's'), undefined);
        await store.put({ pk: 'p', sk: 's', a: 1, b: 'two' });
        assert.deepEqual(await store.get('p', 's'), { pk: 'p', sk: 's', a: 1, b: 'two' });
        await store.put({ pk: 'p', sk: 's', c: true });
        assert.deepEqual(await store.get('p', 's'), { pk: 'p', sk: 's', c: true });
        assert.equal(await store.get('p', 'other'), undefined);
        assert.equal(await store.get('other', 's'), undefined);
      }));

    test('nested attribute values round-trip exactly', () =>
      withStore(async (store) => {
        const item: Item = {
          pk: 'p',
          sk: 's',
          text: 'line 1\nline 2 \u{1f600} \u0000',
          empty: '',
          zero: 0,
          negative: -1.5,
          largest: Number.MAX_SAFE_INTEGER,
          small: 1e-100,
          yes: true,
          no: false,
          nothing: null,
          list: [1, 'x', null, true, [], {}, [[['deep']]]],
          emptyList: [],
          map: { a: { b: { c: [1, 2, { d: 'e' }] } }, 'with space': 1, 'dot.ted': 2 },
          emptyMap: {},
        };
        await store.put(item);
        assert.deepEqual(await store.get('p', 's'), item);
      }));

    test('conditional put: each operator, missing attributes and mismatched types', () =>
      withStore(async (store) => {
        const item: Item = { pk: 'p', sk: 's', n: 5, s: 'm', b: true, z: null, list: [1] };
        await store.put(item);
        const cases: [Condition, boolean][] = [
          [{ attribute: 'pk', op: 'exists' }, true],
          [{ attribute: 'pk', op: 'notExists' }, false],
          [{ attribute: 'z', op: 'exists' }, true],
          [{ attribute: 'missing', op: 'exists' }, false],
          [{ attribute: 'missing', op: 'notExists' }, true],
          [{ attribute: 'n', op: '=', value: 5 }, true],
          [{ attribute: 'n', op: '=', value: 6 }, false],
          [{ attribute: 'n', op: '<>', value: 6 }, true],
          [{ attribute: 'n', op: '<>', value: 5 }, false],
          [{ attribute: 'n', op: '<', value: 6 }, true],
          [{ attribute: 'n', op: '<', value: 5 }, false],
          [{ attribute: 'n', op: '<=', value: 5 }, true],
          [{ attribute: 'n', op: '<=', value: 4.5 }, false],
          [{ attribute: 'n', op: '>', value: -5 }, true],
          [{ attribute: 'n', op: '>', value: 5 }, false],
          [{ attribute: 'n', op: '>=', value: 5 }, true],
          [{ attribute: 'n', op: '>=', value: 5.5 }, false],
          [{ attribute: 's', op: '=', value: 'm' }, true],
          [{ attribute: 's', op: '<', value: 'n' }, true],
          [{ attribute: 's', op: '<', value: 'M' }, false],
          [{ attribute: 's', op: '>=', value: 'l' }, true],
          [{ attribute: 'b', op: '=', value: true }, true],
          [{ attribute: 'b', op: '=', value: false }, false],
          [{ attribute: 'b', op: '<>', value: false }, true],
          // Mismatched types: never equal, never ordered, always <>.
          [{ attribute: 'n', op: '=', value: '5' }, false],
          [{ attribute: 'n', op: '<>', value: '5' }, true],
          [{ attribute: 'n', op: '<', value: '6' }, false],
          [{ attribute: 'n', op: '>=', value: '0' }, false],
          [{ attribute: 's', op: '>', value: 0 }, false],
          [{ attribute: 'b', op: '=', value: 1 }, false],
          [{ attribute: 'z', op: '=', value: 'null' }, false],
          [{ attribute: 'z', op: '<>', value: 'x' }, true],
          [{ attribute: 'list', op: '<>', value: 1 }, true],
          [{ attribute: 'list', op: '=', value: 1 }, false],
          // Missing attributes: every comparison is false, <> included.
          [{ attribute: 'missing', op: '=', value: 1 }, false],
          [{ attribute: 'missing', op: '<>', value: 1 }, false],
          [{ attribute: 'missing', op: '<', value: 1 }, false],
          [{ attribute: 'missing', op: '>=', value: '' }, false],
        ];
        for (const [condition, holds] of cases) {
          const attempt = store.put({ ...item, touched: JSON.stringify(condition) }, [condition]);
          if (holds) await attempt;
          else await assert.rejects(attempt, ConditionFailedError, JSON.stringify(condition));
          const stored = await store.get('p', 's');
          assert.equal(stored?.touched, holds ? JSON.stringify(condition) : stored?.touched, JSON.stringify(condition));
          await store.put(item);
        }
        // All conditions must hold.
        await assert.rejects(
          store.put(item, [
            { attribute: 'n', op: '=', value: 5 },
            { attribute: 's', op: '=', value: 'x' },
          ]),
          ConditionFailedError,
        );
      }));

    test('conditional put on an absent item: only "absent" conditions hold', () =>
      withStore(async (store) => {
        await assert.rejects(
          store.put({ pk: 'p', sk: 's' }, [{ attribute: 'pk', op: 'exists' }]),
          ConditionFailedError,
        );
        await assert.rejects(
          store.put({ pk: 'p', sk: 's' }, [{ attribute: 'n', op: '<>', value: 1 }]),
          ConditionFailedError,
        );
        assert.equal(await store.get('p', 's'), undefined);
        await store.put({ pk: 'p', sk: 's', v: 1 }, [{ attribute: 'pk', op: 'notExists' }]);
        const failure = await store
          .put({ pk: 'p', sk: 's', v: 2 }, [{ attribute: 'pk', op: 'notExists' }])
          .catch((error: unknown) => error);
        assert.ok(failure instanceof ConditionFailedError);
        assert.equal(failure.pk, 'p');
        assert.equal(failure.sk, 's');
        assert.deepEqual(await store.get('p', 's'), { pk: 'p', sk: 's', v: 1 });
      }));

    test('update sets, adds and removes, and returns the item as stored', () =>
      withStore(async (store) => {
        await store.put({ pk: 'p', sk: 's', keep: 'k', count: 10, gone: 'x', replaced: { a: 1 } });
        const updated = await store.update('p', 's', {
          set: { replaced: [1, 2], added: { nested: true } },
          add: { count: 5, fresh: -3 },
          remove: ['gone', 'neverThere'],
        });
        const expected = {
          pk: 'p',
          sk: 's',
          keep: 'k',
          count: 15,
          fresh: -3,
          replaced: [1, 2],
          added: { nested: true },
        };
        assert.deepEqual(updated, expected);
        assert.deepEqual(await store.get('p', 's'), expected);
      }));

    test('update creates absent items: add counts from zero, an empty update makes a key-only item', () =>
      withStore(async (store) => {
        assert.deepEqual(await store.update('p', 'counter', { add: { n: 1 } }), { pk: 'p', sk: 'counter', n: 1 });
        assert.deepEqual(await store.update('p', 'counter', { add: { n: 41 } }), { pk: 'p', sk: 'counter', n: 42 });
        assert.deepEqual(await store.update('p', 'set', { set: { a: 'b' } }), { pk: 'p', sk: 'set', a: 'b' });
        assert.deepEqual(await store.update('p', 'removed', { remove: ['a'] }), { pk: 'p', sk: 'removed' });
        assert.deepEqual(await store.update('p', 'empty', {}), { pk: 'p', sk: 'empty' });
        assert.deepEqual(await store.get('p', 'empty'), { pk: 'p', sk: 'empty' });
      }));

    test('a failed conditional update leaves the item untouched', () =>
      withStore(async (store) => {
        const item = { pk: 'p', sk: 's', uidnext: 7, state: 'open' };
        await store.put(item);
        await assert.rejects(
          store.update('p', 's', {
            add: { uidnext: 1 },
            set: { state: 'closed', extra: true },
            remove: ['pk2'],
            conditions: [{ attribute: 'state', op: '=', value: 'deleted' }],
          }),
          ConditionFailedError,
        );
        assert.deepEqual(await store.get('p', 's'), item);
        await assert.rejects(
          store.update('p', 'absent', { set: { a: 1 }, conditions: [{ attribute: 'pk', op: 'exists' }] }),
          ConditionFailedError,
        );
        assert.equal(await store.get('p', 'absent'), undefined);
        const updated = await store.update('p', 's', {
          add: { uidnext: 1 },
          conditions: [
            { attribute: 'state', op: '=', value: 'open' },
            { attribute: 'uidnext', op: '<', value: 100 },
          ],
        });
        assert.equal(updated.uidnext, 8);
      }));

    test('adding to a non-number fails and changes nothing', () =>
      withStore(async (store) => {
        await store.put({ pk: 'p', sk: 's', name: 'text', n: 1 });
        await assert.rejects(store.update('p', 's', { add: { name: 1, n: 1 } }), TypeError);
        assert.deepEqual(await store.get('p', 's'), { pk: 'p', sk: 's', name: 'text', n: 1 });
      }));

    test('updates DynamoDB would refuse are refused everywhere', () =>
      withStore(async (store) => {
        await store.put({ pk: 'p', sk: 's', a: 1 });
        const refused: Update[] = [
          { set: { a: 1 }, add: { a: 1 } },
          { set: { a: 1 }, remove: ['a'] },
          { set: { pk: 'x' } },
          { remove: ['sk'] },
          { set: { 'a.b': 1 } },
          { add: { a: 0.5 } },
          { add: { a: Number.NaN } },
          { set: { a: Number.POSITIVE_INFINITY } },
          { conditions: [{ attribute: 'a', op: '<', value: true }] },
        ];
        for (const update of refused) {
          await assert.rejects(store.update('p', 's', update), /./, JSON.stringify(update));
        }
        assert.deepEqual(await store.get('p', 's'), { pk: 'p', sk: 's', a: 1 });
      }));

    test('items DynamoDB would refuse are refused everywhere', () =>
      withStore(async (store) => {
        let deep: Item[string] = 'bottom';
        for (let level = 0; level < 40; level++) deep = [deep];
        const refused: Item[] = [
          { pk: '', sk: 's' },
          { pk: 'p', sk: '' },
          { pk: 'p'.repeat(2049), sk: 's' },
          { pk: 'p', sk: 's'.repeat(1025) },
          { pk: 'p', sk: 's', n: Number.NaN },
          { pk: 'p', sk: 's', n: 2 ** 60 },
          { pk: 'p', sk: 's', n: 1e-200 },
          { pk: 'p', sk: 's', text: '\ud800' },
          { pk: 'p', sk: 's', big: 'x'.repeat(500 * 1024) },
          { pk: 'p', sk: 's', deep },
          { pk: 'p', sk: 's', '': 1 },
        ];
        for (const item of refused) {
          await assert.rejects(store.put(item), /./, JSON.stringify(item).slice(0, 80));
        }
        assert.deepEqual((await store.scan()).items, []);
        await assert.rejects(store.get('', 's'));
        await assert.rejects(store.query(''));
        await assert.rejects(store.query('p', { limit: 0 }));
        // Just inside the limits.
        await store.put({ pk: 'p'.repeat(2048), sk: 's'.repeat(1024), big: 'x'.repeat(300 * 1024) });
        assert.equal((await store.get('p'.repeat(2048), 's'.repeat(1024)))?.big, 'x'.repeat(300 * 1024));
      }));

    test('delete with and without conditions', () =>
      withStore(async (store) => {
        await store.delete('p', 'absent');
        await assert.rejects(store.delete('p', 'absent', [{ attribute: 'pk', op: 'exists' }]), ConditionFailedError);
        await store.put({ pk: 'p', sk: 's', version: 3 });
        await assert.rejects(
          store.delete('p', 's', [{ attribute: 'version', op: '=', value: 2 }]),
          ConditionFailedError,
        );
        assert.deepEqual(await store.get('p', 's'), { pk: 'p', sk: 's', version: 3 });
        await store.delete('p', 's', [{ attribute: 'version', op: '=', value: 3 }]);
        assert.equal(await store.get('p', 's'), undefined);
        await store.put({ pk: 'p', sk: 't' });
        await store.delete('p', 't');
        assert.equal(await store.get('p', 't'), undefined);
      }));

    test('unicode and special characters in keys', () =>
      withStore(async (store) => {
        const keys = [
          ['dom%ain_#/x', 'mbox/INBOX#1'],
          ['user#ä@例え.jp', '日本/😀%_#'],
          ['a b', '\\\'"'],
          ['%', '_'],
        ];
        for (const [pk, sk] of keys) await store.put({ pk: pk!, sk: sk!, v: `${pk}|${sk}` });
        for (const [pk, sk] of keys) assert.equal((await store.get(pk!, sk!))?.v, `${pk}|${sk}`);
        assert.deepEqual(
          (await store.query('dom%ain_#/x', { beginsWith: 'mbox/' })).items.map((item) => item.sk),
          ['mbox/INBOX#1'],
        );
        assert.deepEqual((await store.query('%', { beginsWith: '%' })).items, []);
        assert.deepEqual(
          (await store.scan({ pkPrefix: 'user#ä' })).items.map((item) => item.pk),
          ['user#ä@例え.jp'],
        );
        assert.deepEqual((await store.scan({ pkPrefix: '_' })).items, []);
      }));

    describe('query', () => {
      let shared: StoreSet;
      let queried: MetadataStore;

      before(async () => {
        shared = await adapters.open();
        queried = shared.metadata;
        for (const sk of SORT_KEYS) await queried.put({ pk: 'q', sk, v: sk });
        // Neighbouring partitions must never leak in.
        await queried.put({ pk: 'q2', sk: 'a' });
        await queried.put({ pk: 'Q', sk: 'a' });
        await queried.put({ pk: 'p', sk: 'a' });
      });
      after(async () => {
        await shared.cleanup();
      });

      const cases: QueryOptions[] = [
        {},
        { reverse: true },
        { beginsWith: 'a' },
        { beginsWith: 'a%' },
        { beginsWith: 'a_' },
        { beginsWith: 'a#' },
        { beginsWith: 'a/' },
        { beginsWith: 'x\u{10ffff}' },
        { beginsWith: '日本/' },
        { beginsWith: 'nothing' },
        { beginsWith: 'a', reverse: true },
        { beginsWith: 'a', from: 'a%' },
        { beginsWith: 'a', to: 'a/b' },
        { beginsWith: 'a', from: 'a#2', to: 'a_' },
        { from: 'a_', to: 'c' },
        { from: 'b' },
        { to: 'b' },
        // Not a range across U+FFFF and U+10000: dynalite checks ExclusiveStartKey against the range in
        // UTF-16 order while it stores keys in UTF-8 order (DynamoDB uses UTF-8 throughout).
        { from: 'é', to: '日本/語' },
        { from: '日本' },
        { from: 'c', to: 'a' },
        { from: 'b', to: 'b' },
        { startAfter: 'b' },
        { startAfter: 'a', beginsWith: 'a' },
        { startAfter: 'zzz' },
        { startAfter: '0' },
        { startAfter: 'b', reverse: true },
        { startAfter: 'a%b', reverse: true, beginsWith: 'a' },
        { startAfter: 'b', from: 'a_', to: 'c' },
        { startAfter: 'b', from: 'a_', to: 'c', reverse: true },
        { startAfter: 'd', to: 'c' },
      ];
      for (const options of cases) {
        test(`query ${JSON.stringify(options)}`, async () => {
          const expected = expectedKeys(options);
          const whole = await queried.query('q', options);
          assert.deepEqual(
            whole.items.map((item) => item.sk),
            expected,
          );
          assert.equal(whole.next, undefined);
          for (const item of whole.items) assert.equal(item.v, item.sk);
          for (const limit of [1, 2, 5]) assert.deepEqual(await queryAll(queried, 'q', options, limit), expected);
        });
      }

      test('a page exactly as long as the range has no next', async () => {
        const page = await queried.query('q', { beginsWith: 'a#', limit: 2 });
        assert.deepEqual(
          page.items.map((item) => item.sk),
          ['a#1', 'a#2'],
        );
        assert.equal(page.next, undefined);
      });
    });

    test('query pages through many items and through DynamoDB 1 MB pages', () =>
      withStore(async (store) => {
        const filler = 'f'.repeat(100 * 1024);
        const large = Array.from({ length: 25 }, (_, index) => `large#${String(index).padStart(3, '0')}`);
        const small = Array.from({ length: 230 }, (_, index) => `small#${String(index).padStart(4, '0')}`);
        for (const sk of large) await store.put({ pk: 'big', sk, filler });
        for (let start = 0; start < small.length; start += 50) {
          await Promise.all(small.slice(start, start + 50).map((sk) => store.put({ pk: 'big', sk })));
        }
        // 2.5 MB of large items: DynamoDB returns them over three responses, the port in one page.
        const page = await store.query('big', { beginsWith: 'large#', limit: 20 });
        assert.deepEqual(
          page.items.map((item) => item.sk),
          large.slice(0, 20),
        );
        assert.equal(page.next, large[19]);
        assert.ok(page.items.every((item) => item.filler === filler));
        const rest = await store.query('big', { beginsWith: 'large#', startAfter: page.next });
        assert.deepEqual(
          rest.items.map((item) => item.sk),
          large.slice(20),
        );
        assert.equal(rest.next, undefined);
        assert.deepEqual(await queryAll(store, 'big', { beginsWith: 'small#' }, 100), small);
        assert.deepEqual(await queryAll(store, 'big', { reverse: true }, 64), [...large, ...small].reverse());
      }));

    test('scan with a partition-key prefix and a cursor over several pages', () =>
      withStore(async (store) => {
        const wanted: string[] = [];
        const writes: Promise<void>[] = [];
        for (let user = 0; user < 12; user++) {
          for (let entry = 0; entry < 3; entry++) {
            writes.push(store.put({ pk: `user#${user}`, sk: `e${entry}` }));
            wanted.push(`user#${user}|e${entry}`);
          }
        }
        // Many non-matching items between them, so filtered DynamoDB pages come back sparse or empty.
        for (let other = 0; other < 150; other++) writes.push(store.put({ pk: `other#${other}`, sk: 'x' }));
        writes.push(store.put({ pk: 'user', sk: 'not under the prefix user#' }));
        await Promise.all(writes);

        for (const limit of [1, 5, 36, 1000]) {
          const seen: string[] = [];
          let cursor: string | undefined;
          let pages = 0;
          do {
            const page = await store.scan({ pkPrefix: 'user#', cursor, limit });
            assert.ok(page.items.length <= limit);
            if (page.cursor !== undefined) assert.equal(page.items.length, limit, 'a page with a cursor is full');
            seen.push(...page.items.map((item) => `${item.pk}|${item.sk}`));
            cursor = page.cursor;
            pages++;
          } while (cursor !== undefined && pages < 100);
          assert.deepEqual(seen.sort(), [...wanted].sort(), `limit ${limit}`);
        }
        const everything = await store.scan();
        assert.equal(everything.items.length, 36 + 150 + 1);
        assert.equal(everything.cursor, undefined);
        await assert.rejects(store.scan({ cursor: 'not a cursor' }));
      }));

    test('200 concurrent adds each get a distinct result', () =>
      withStore(async (store) => {
        const results = await Promise.all(
          Array.from({ length: 200 }, () => store.update('mailbox', 'INBOX', { add: { uidnext: 1, messages: 1 } })),
        );
        const uids = results.map((item) => item.uidnext as number).sort((a, b) => a - b);
        assert.deepEqual(
          uids,
          Array.from({ length: 200 }, (_, index) => index + 1),
        );
        assert.deepEqual(await store.get('mailbox', 'INBOX'), {
          pk: 'mailbox',
          sk: 'INBOX',
          uidnext: 200,
          messages: 200,
        });
      }));

    test('concurrent conditional writes: exactly one claim wins, and failures do not undo the others', () =>
      withStore(async (store) => {
        const claims = await Promise.allSettled(
          Array.from({ length: 50 }, (_, worker) =>
            store.put({ pk: 'queue', sk: 'message-1', claimedBy: worker }, [{ attribute: 'pk', op: 'notExists' }]),
          ),
        );
        const others = await Promise.allSettled(
          Array.from({ length: 50 }, (_, index) => store.put({ pk: 'other', sk: `item-${index}`, index })),
        );
        const won = claims.filter((claim) => claim.status === 'fulfilled');
        assert.equal(won.length, 1);
        for (const claim of claims) {
          if (claim.status === 'rejected') assert.ok(claim.reason instanceof ConditionFailedError);
        }
        assert.ok(others.every((outcome) => outcome.status === 'fulfilled'));
        assert.equal((await store.query('other')).items.length, 50);
        const winner = claims.findIndex((claim) => claim.status === 'fulfilled');
        assert.equal((await store.get('queue', 'message-1'))?.claimedBy, winner);
      }));
  });
}
