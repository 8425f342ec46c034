/**
 * What only the file adapter can show: a put whose stream fails leaves no file at all under the root
 * (no temporary file either), concurrent puts into one directory all land, keys that look like the adapter's own names survive a reopen, and a
 * directory removed behind the store's back is made again.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { FileBlobStore } from '../../../shared/store/files/file-blob-store.ts';

async function filesUnder(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => !entry.isDirectory()).map((entry) => join(entry.parentPath, entry.name));
}

async function withRoot(run: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'marmot-blobs-'));
  try {
    await run(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

test('a put whose stream fails midway leaves no file behind, temporary or not', () =>
  withRoot(async (root) => {
    const blobs = await FileBlobStore.open(root);
    const failing = Readable.from(
      (async function* () {
        yield Buffer.alloc(300_000, 1);
        await new Promise((resolve) => setTimeout(resolve, 5));
        yield Buffer.alloc(300_000, 2);
        throw new Error('connection lost');
      })(),
    );
    await assert.rejects(blobs.put('spool/incoming', failing), /connection lost/);
    assert.equal(await blobs.head('spool/incoming'), undefined);
    assert.deepEqual((await blobs.list('')).blobs, []);
    assert.deepEqual(await filesUnder(root), []);
  }));

test('keys named like the temporary directory survive reopening the store', () =>
  withRoot(async (root) => {
    const blobs = await FileBlobStore.open(root);
    for (const key of ['.tmp/x', 'tmp/x', 'tmp', 'a', 'a/b']) await blobs.put(key, Buffer.from(key));
    const reopened = await FileBlobStore.open(root);
    for (const key of ['.tmp/x', 'tmp/x', 'tmp', 'a', 'a/b']) {
      assert.equal((await reopened.read(key)).toString(), key);
    }
  }));

test('concurrent puts into one directory share its fsyncs and all land whole', () =>
  withRoot(async (root) => {
    const blobs = await FileBlobStore.open(root);
    const keys = Array.from({ length: 40 }, (_, index) => `msg/day/${index}`);
    await Promise.all(keys.map((key) => blobs.put(key, Buffer.from(key.repeat(100)))));
    for (const key of keys) assert.equal((await blobs.read(key)).toString(), key.repeat(100));
  }));

test('a put into a directory removed behind the store is made again', () =>
  withRoot(async (root) => {
    const blobs = await FileBlobStore.open(root);
    await blobs.put('msg/day/one', Buffer.from('one'));
    await rm(join(root, 'msg'), { recursive: true });
    await blobs.put('msg/day/two', Buffer.from('two'));
    assert.equal((await blobs.read('msg/day/two')).toString(), 'two');
    assert.equal(await blobs.head('msg/day/one'), undefined);
  }));
