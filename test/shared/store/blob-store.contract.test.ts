/**
 * The blob store contract, run against every adapter set: the same bytes back whatever way they went in
 * (Buffer, small stream, multi-part stream), the same range semantics, listing, errors and key rules,
 * and a put whose stream fails leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import type { BlobStore } from '../../../shared/store/blob.ts';
import { BlobNotFoundError } from '../../../shared/store/errors.ts';
import { adapterSets } from '../../support/stores.ts';

const MiB = 1024 * 1024;

/** A stream of `size` pseudo-random bytes in chunks of `chunk`, and the SHA-256 of what it sends. */
function randomStream(size: number, chunk = 64 * 1024): { stream: Readable; sha256: string } {
  const data = randomBytes(size);
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < size; offset += chunk) chunks.push(data.subarray(offset, offset + chunk));
  return { stream: Readable.from(chunks), sha256: sha256(data) };
}

/** A stream that sends `before` bytes and then fails. */
function failingStream(before: number): Readable {
  const data = randomBytes(before);
  return Readable.from(
    (async function* () {
      for (let offset = 0; offset < before; offset += 256 * 1024) yield data.subarray(offset, offset + 256 * 1024);
      throw new Error('the sender went away');
    })(),
  );
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function listAll(blobs: BlobStore, prefix: string, limit?: number): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const page = await blobs.list(prefix, { cursor, limit });
    if (limit !== undefined) assert.ok(page.blobs.length <= limit);
    keys.push(...page.blobs.map((blob) => blob.key));
    if (page.cursor === undefined) return keys;
    cursor = page.cursor;
  }
  throw new Error('list did not end');
}

for (const adapters of adapterSets) {
  describe(`blob store contract: ${adapters.name}`, () => {
    /** Runs one test on fresh, empty stores. */
    async function withBlobs(run: (blobs: BlobStore) => Promise<void>): Promise<void> {
      const stores = await adapters.open();
      try {
        await run(stores.blobs);
      } finally {
        await stores.cleanup();
      }
    }

    test('put a Buffer, read it back, head it', () =>
      withBlobs(async (blobs) => {
        const body = Buffer.from('Subject: hi\r\n\r\nhello\r\n');
        const before = Date.now();
        assert.deepEqual(await blobs.put('msg/ab/abcdef', body), { size: body.length });
        assert.deepEqual(await blobs.read('msg/ab/abcdef'), body);
        const info = await blobs.head('msg/ab/abcdef');
        assert.equal(info?.key, 'msg/ab/abcdef');
        assert.equal(info?.size, body.length);
        assert.ok(info && Math.abs(info.modified.getTime() - before) < 60_000, 'modified is about now');
        const chunks: Buffer[] = [];
        for await (const chunk of await blobs.get('msg/ab/abcdef')) chunks.push(chunk as Buffer);
        assert.deepEqual(Buffer.concat(chunks), body);
      }));

    test('empty blobs, from a Buffer and from a stream', () =>
      withBlobs(async (blobs) => {
        assert.deepEqual(await blobs.put('empty/buffer', Buffer.alloc(0)), { size: 0 });
        assert.deepEqual(await blobs.put('empty/stream', Readable.from([])), { size: 0 });
        for (const key of ['empty/buffer', 'empty/stream']) {
          assert.deepEqual(await blobs.read(key), Buffer.alloc(0));
          assert.equal((await blobs.head(key))?.size, 0);
          assert.deepEqual(await blobs.read(key, { offset: 0, length: 10 }), Buffer.alloc(0));
        }
      }));

    test('a small stream of many chunks', () =>
      withBlobs(async (blobs) => {
        const { stream, sha256: expected } = randomStream(100_003, 1000);
        assert.deepEqual(await blobs.put('spool/small', stream), { size: 100_003 });
        assert.equal(sha256(await blobs.read('spool/small')), expected);
      }));

    test('a multi-megabyte stream arrives byte for byte, and ranges across its parts read right', () =>
      withBlobs(async (blobs) => {
        const size = 17 * MiB + 3;
        const data = randomBytes(size);
        const stream = Readable.from(
          (function* () {
            for (let offset = 0; offset < size; offset += 100_000) yield data.subarray(offset, offset + 100_000);
          })(),
        );
        assert.deepEqual(await blobs.put('msg/large', stream), { size });
        assert.equal((await blobs.head('msg/large'))?.size, size);
        assert.equal(sha256(await blobs.read('msg/large')), sha256(data));
        for (const range of [
          { offset: 8 * MiB - 10, length: 20 },
          { offset: 16 * MiB - 1, length: MiB + 2 },
          { offset: size - 5 },
        ]) {
          const end = range.length === undefined ? size : range.offset + range.length;
          assert.deepEqual(
            await blobs.read('msg/large', range),
            data.subarray(range.offset, end),
            JSON.stringify(range),
          );
        }
      }));

    test('ranged reads, including empty and past-the-end ranges', () =>
      withBlobs(async (blobs) => {
        const body = Buffer.from('0123456789');
        await blobs.put('r', body);
        const cases: [{ offset: number; length?: number }, string][] = [
          [{ offset: 0 }, '0123456789'],
          [{ offset: 3 }, '3456789'],
          [{ offset: 2, length: 3 }, '234'],
          [{ offset: 0, length: 10 }, '0123456789'],
          [{ offset: 9, length: 1 }, '9'],
          [{ offset: 7, length: 100 }, '789'],
          [{ offset: 2, length: 1_000_000 }, '23456789'],
          [{ offset: 4, length: 0 }, ''],
          [{ offset: 10 }, ''],
          [{ offset: 10, length: 5 }, ''],
          [{ offset: 25, length: 5 }, ''],
          [{ offset: 25 }, ''],
        ];
        for (const [range, expected] of cases) {
          assert.equal((await blobs.read('r', range)).toString(), expected, JSON.stringify(range));
          const chunks: Buffer[] = [];
          for await (const chunk of await blobs.get('r', range)) chunks.push(chunk as Buffer);
          assert.equal(Buffer.concat(chunks).toString(), expected, `get ${JSON.stringify(range)}`);
        }
        for (const range of [{ offset: -1 }, { offset: 0, length: -1 }, { offset: 1.5 }, { offset: Number.NaN }]) {
          await assert.rejects(blobs.read('r', range), /invalid byte range/, JSON.stringify(range));
        }
        await assert.rejects(blobs.read('absent', { offset: 0, length: 0 }), BlobNotFoundError);
        await assert.rejects(blobs.read('absent', { offset: 5 }), BlobNotFoundError);
      }));

    test('blobs that are not there', () =>
      withBlobs(async (blobs) => {
        assert.equal(await blobs.head('nothing/here'), undefined);
        await assert.rejects(blobs.get('nothing/here'), BlobNotFoundError);
        const failure = await blobs.read('nothing/here').catch((error: unknown) => error);
        assert.ok(failure instanceof BlobNotFoundError);
        assert.equal(failure.key, 'nothing/here');
      }));

    test('delete removes the blob and is idempotent', () =>
      withBlobs(async (blobs) => {
        await blobs.put('d/x', Buffer.from('x'));
        await blobs.delete('d/x');
        assert.equal(await blobs.head('d/x'), undefined);
        await assert.rejects(blobs.read('d/x'), BlobNotFoundError);
        await blobs.delete('d/x');
        await blobs.delete('never/was');
        assert.deepEqual(await listAll(blobs, ''), []);
      }));

    test('overwriting replaces the whole blob', () =>
      withBlobs(async (blobs) => {
        await blobs.put('o', Buffer.from('a much longer first version'));
        await blobs.put('o', Buffer.from('short'));
        assert.equal((await blobs.read('o')).toString(), 'short');
        assert.equal((await blobs.head('o'))?.size, 5);
        await blobs.put('o', Readable.from([Buffer.from('from '), Buffer.from('a stream')]));
        assert.equal((await blobs.read('o')).toString(), 'from a stream');
      }));

    test('list by prefix, in key order, across pages', () =>
      withBlobs(async (blobs) => {
        const keys = [
          'a',
          'a/b',
          'a/b/c',
          'msg/aa/1',
          'msg/aa/2',
          'msg/ab/1',
          'msg/ab/2',
          'msg/ab/3',
          'msgx',
          'msg-other/1',
          '.tmp/x',
          'spool/1',
          'spool/2',
        ];
        for (const key of keys) await blobs.put(key, Buffer.from(key));
        const sorted = [...keys].sort();
        assert.deepEqual(await listAll(blobs, ''), sorted);
        assert.deepEqual(await listAll(blobs, 'msg/'), ['msg/aa/1', 'msg/aa/2', 'msg/ab/1', 'msg/ab/2', 'msg/ab/3']);
        assert.deepEqual(
          await listAll(blobs, 'msg'),
          sorted.filter((key) => key.startsWith('msg')),
        );
        assert.deepEqual(await listAll(blobs, 'msg/ab/'), ['msg/ab/1', 'msg/ab/2', 'msg/ab/3']);
        assert.deepEqual(await listAll(blobs, 'msg/a'), ['msg/aa/1', 'msg/aa/2', 'msg/ab/1', 'msg/ab/2', 'msg/ab/3']);
        assert.deepEqual(await listAll(blobs, 'a'), ['a', 'a/b', 'a/b/c']);
        assert.deepEqual(await listAll(blobs, 'nothing/'), []);
        for (const limit of [1, 2, 3, 5]) {
          assert.deepEqual(await listAll(blobs, '', limit), sorted, `limit ${limit}`);
          assert.deepEqual(
            await listAll(blobs, 'msg/', limit),
            sorted.filter((key) => key.startsWith('msg/')),
          );
        }
        const page = await blobs.list('msg/ab/', { limit: 3 });
        assert.equal(page.cursor, undefined, 'a page holding the rest has no cursor');
        assert.deepEqual(
          page.blobs.map((blob) => [blob.key, blob.size]),
          [
            ['msg/ab/1', 8],
            ['msg/ab/2', 8],
            ['msg/ab/3', 8],
          ],
        );
        for (const key of keys) assert.equal((await blobs.read(key)).toString(), key);
      }));

    test('invalid keys and prefixes are refused', () =>
      withBlobs(async (blobs) => {
        for (const key of ['', '../x', 'a/../b', 'a//b', '/a', 'a/', '.', '..', 'a/./b', 'a b', 'ä', 'a\\b', 'a\0']) {
          await assert.rejects(blobs.put(key, Buffer.from('x')), /invalid blob key/, JSON.stringify(key));
          await assert.rejects(blobs.get(key), /invalid blob key/, JSON.stringify(key));
          await assert.rejects(blobs.head(key), /invalid blob key/, JSON.stringify(key));
          await assert.rejects(blobs.delete(key), /invalid blob key/, JSON.stringify(key));
        }
        for (const prefix of ['../', '../x', 'a/../', '/', '//', 'a//', 'ä']) {
          await assert.rejects(blobs.list(prefix), /invalid blob prefix/, JSON.stringify(prefix));
        }
        await assert.rejects(blobs.list('', { limit: 0 }));
        assert.deepEqual(await listAll(blobs, ''), []);
      }));

    test('a put whose stream fails leaves no blob, and keeps the one it would have replaced', () =>
      withBlobs(async (blobs) => {
        await assert.rejects(blobs.put('spool/broken', failingStream(100_000)), /the sender went away/);
        // Past the first part, so S3 has a multipart upload to abandon.
        await assert.rejects(blobs.put('spool/broken-large', failingStream(9 * MiB)), /the sender went away/);
        assert.equal(await blobs.head('spool/broken'), undefined);
        assert.equal(await blobs.head('spool/broken-large'), undefined);
        assert.deepEqual(await listAll(blobs, ''), []);

        await blobs.put('msg/kept', Buffer.from('the original'));
        await assert.rejects(blobs.put('msg/kept', failingStream(1000)), /the sender went away/);
        assert.equal((await blobs.read('msg/kept')).toString(), 'the original');
        assert.deepEqual(await listAll(blobs, ''), ['msg/kept']);
      }));
  });
}
