/**
 * The local blob store: one file per blob under a root directory. A put writes a temporary file,
 * fsyncs it, renames it into place and fsyncs the directory, so a reader (or a restart after a crash)
 * sees the whole blob or none of it. Leftover temporary files from a crash are removed at open.
 *
 * Under load the directory fsyncs are shared: puts into one directory (a day's messages share one) that
 * renamed before a directory fsync started are all made durable by it, so concurrent puts wait for one
 * fsync instead of queueing one each. Directories known to exist are not made again.
 *
 * Layout: key `msg/ab/abcdef` is the file `msg/ab/abcdef@`. The suffix is outside the key alphabet, so
 * a blob's file never collides with another key's directory (`a` and `a/b` can both exist, as in S3),
 * and the temporary directory `@tmp` can be neither a key's file nor its directory.
 */

import { randomUUID } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import {
  assertBlobKey,
  assertBlobPrefix,
  assertByteRange,
  type BlobInfo,
  type BlobListPage,
  type BlobStore,
  type ByteRange,
  blobListLimit,
  chunkBytes,
} from '../blob.ts';
import { BlobNotFoundError } from '../errors.ts';

const TEMP_DIR = '@tmp';
const BLOB_FILE_SUFFIX = '@';
/** Ranged reads up to this length allocate the range at once instead of asking the file's size. */
const SMALL_READ_BYTES = 256 * 1024;

export class FileBlobStore implements BlobStore {
  private readonly directorySyncs = new SharedDirectorySyncs();
  /** Directories this store made or found (delete removes files only, so they stay). */
  private readonly knownDirectories = new Set<string>();

  private constructor(private readonly root: string) {}

  static async open(root: string): Promise<FileBlobStore> {
    await rm(join(root, TEMP_DIR), { recursive: true, force: true });
    await mkdir(join(root, TEMP_DIR), { recursive: true });
    return new FileBlobStore(root);
  }

  async put(key: string, body: Buffer | Readable): Promise<{ size: number }> {
    const path = this.pathOf(key);
    const temp = join(this.root, TEMP_DIR, randomUUID());
    try {
      const handle = await open(temp, 'wx', 0o600);
      let size = 0;
      try {
        if (Buffer.isBuffer(body)) size = await writeAll(handle, body);
        else for await (const chunk of body) size += await writeAll(handle, chunkBytes(chunk));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.moveIntoPlace(temp, path);
      await this.directorySyncs.sync(dirname(path));
      return { size };
    } catch (error) {
      if (!Buffer.isBuffer(body)) body.destroy();
      await unlink(temp).catch(() => {});
      throw error;
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const path = this.pathOf(key);
    assertByteRange(range);
    const handle = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ENOENT' ? new BlobNotFoundError(key) : error;
    });
    if (range?.length === 0) {
      await handle.close();
      return Readable.from([]);
    }
    const start = range?.offset ?? 0;
    const end = range?.length === undefined ? undefined : start + range.length - 1;
    // The stream owns the handle and closes it when it ends or is destroyed.
    return handle.createReadStream({ start, end });
  }

  /** Read straight into one buffer of the size it will have (no stream: most reads are small). */
  async read(key: string, range?: ByteRange): Promise<Buffer> {
    const path = this.pathOf(key);
    assertByteRange(range);
    const handle = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ENOENT' ? new BlobNotFoundError(key) : error;
    });
    try {
      const start = range?.offset ?? 0;
      // A small range needs no size first: reading past the end just returns less.
      const length =
        range?.length !== undefined && range.length <= SMALL_READ_BYTES
          ? range.length
          : Math.min(Math.max(0, (await handle.stat()).size - start), range?.length ?? Number.POSITIVE_INFINITY);
      const buffer = Buffer.allocUnsafe(length);
      let filled = 0;
      while (filled < length) {
        const { bytesRead } = await handle.read(buffer, filled, length - filled, start + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return buffer.subarray(0, filled);
    } finally {
      await handle.close();
    }
  }

  async head(key: string): Promise<BlobInfo | undefined> {
    try {
      const info = await stat(this.pathOf(key));
      return { key, size: info.size, modified: info.mtime };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async list(prefix: string, options: { cursor?: string; limit?: number } = {}): Promise<BlobListPage> {
    assertBlobPrefix(prefix);
    const limit = blobListLimit(options.limit);
    // Walk only the directory the prefix reaches into, then filter by the full prefix.
    const base = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const keys = (await this.walk(join(this.root, ...base.split('/'))))
      .map((path) => relative(this.root, path).split(sep).join('/').slice(0, -BLOB_FILE_SUFFIX.length))
      .filter((key) => key.startsWith(prefix) && (options.cursor === undefined || key > options.cursor))
      .sort();
    const blobs: BlobInfo[] = [];
    let more = false;
    for (const key of keys) {
      if (blobs.length === limit) {
        more = true;
        break;
      }
      // A blob deleted since the walk is simply not listed.
      const info = await this.head(key);
      if (info) blobs.push(info);
    }
    return more ? { blobs, cursor: blobs.at(-1)?.key } : { blobs };
  }

  async close(): Promise<void> {}

  /** Renames the temporary file to its path, making the directories first where they are not known. */
  private async moveIntoPlace(temp: string, path: string): Promise<void> {
    const directory = dirname(path);
    if (this.knownDirectories.has(directory)) {
      try {
        return await rename(temp, path);
      } catch (error) {
        // Removed behind our back (an operator tidying up): make it again.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        this.knownDirectories.delete(directory);
      }
    }
    const created = await mkdir(directory, { recursive: true });
    if (created !== undefined) await syncDirectory(dirname(created));
    this.knownDirectories.add(directory);
    await rename(temp, path);
  }

  private pathOf(key: string): string {
    assertBlobKey(key);
    return `${join(this.root, ...key.split('/'))}${BLOB_FILE_SUFFIX}`;
  }

  /** The blob files under a directory (only names ending in the suffix; the temporary directory never). */
  private async walk(directory: string): Promise<string[]> {
    let entries: Dirent[];
    try {
      entries = await readdir(directory, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const files: string[] = [];
    for (const entry of entries) {
      if (entry.name === TEMP_DIR && directory === this.root) continue;
      const path = join(directory, entry.name);
      if (entry.isDirectory()) files.push(...(await this.walk(path)));
      else if (entry.isFile() && entry.name.endsWith(BLOB_FILE_SUFFIX)) files.push(path);
    }
    return files;
  }
}

/** Writes the whole buffer (a single write may be short) and returns its length. */
async function writeAll(handle: FileHandle, bytes: Buffer): Promise<number> {
  let written = 0;
  while (written < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, written, bytes.length - written);
    written += bytesWritten;
  }
  return bytes.length;
}

/**
 * Directory fsyncs shared between callers: `sync(path)` resolves after an fsync of `path` that started
 * after the call. While one runs, every caller that arrives waits for the single next one.
 */
class SharedDirectorySyncs {
  private readonly running = new Map<string, Promise<void>>();
  private readonly next = new Map<string, Promise<void>>();

  sync(path: string): Promise<void> {
    const queued = this.next.get(path);
    if (queued) return queued;
    const running = this.running.get(path);
    if (!running) return this.start(path);
    const following = running
      .catch(() => {})
      .then(() => {
        this.next.delete(path);
        return this.start(path);
      });
    this.next.set(path, following);
    return following;
  }

  private start(path: string): Promise<void> {
    const sync = syncDirectory(path).finally(() => {
      if (this.running.get(path) === sync) this.running.delete(path);
    });
    this.running.set(path, sync);
    return sync;
  }
}

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
