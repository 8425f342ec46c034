/**
 * The local blob store: one file per blob under a root directory. A put writes a temporary file,
 * fsyncs it, renames it into place and fsyncs the directory, so a reader (or a restart after a crash)
 * sees the whole blob or none of it. Leftover temporary files from a crash are removed at open.
 */

import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertBlobKey, type BlobInfo, type BlobListPage, type BlobStore, type ByteRange } from '../blob.ts';
import { BlobNotFoundError } from '../errors.ts';

const TEMP_DIR = '.tmp';
const DEFAULT_PAGE = 1000;

export class FileBlobStore implements BlobStore {
  private constructor(private readonly root: string) {}

  static async open(root: string): Promise<FileBlobStore> {
    await rm(join(root, TEMP_DIR), { recursive: true, force: true });
    await mkdir(join(root, TEMP_DIR), { recursive: true });
    return new FileBlobStore(root);
  }

  async put(key: string, body: Buffer | Readable): Promise<{ size: number }> {
    const path = this.pathOf(key);
    const temp = join(this.root, TEMP_DIR, randomBytes(12).toString('hex'));
    try {
      const handle = await open(temp, 'wx', 0o600);
      let size = 0;
      try {
        const out = createWriteStream('', { fd: handle.fd, autoClose: false, flush: false });
        const source = Buffer.isBuffer(body) ? Readable.from([body]) : body;
        await pipeline(
          source,
          async function* (chunks: AsyncIterable<Buffer>) {
            for await (const chunk of chunks) {
              size += chunk.length;
              yield chunk;
            }
          },
          out,
        );
        await handle.sync();
      } finally {
        await handle.close();
      }
      const created = await mkdir(dirname(path), { recursive: true });
      if (created !== undefined) await syncDirectory(dirname(created));
      await rename(temp, path);
      await syncDirectory(dirname(path));
      return { size };
    } catch (error) {
      await unlink(temp).catch(() => {});
      throw error;
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const path = this.pathOf(key);
    const handle = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ENOENT' ? new BlobNotFoundError(key) : error;
    });
    const start = range?.offset ?? 0;
    if (range?.length === 0) {
      await handle.close();
      return Readable.from([]);
    }
    const end = range?.length === undefined ? undefined : start + range.length - 1;
    return createReadStream('', { fd: handle, start, end, autoClose: true });
  }

  async read(key: string, range?: ByteRange): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.get(key, range)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
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
    const limit = options.limit ?? DEFAULT_PAGE;
    // Walk only the directory the prefix reaches into, then filter by the full prefix.
    const base = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const keys = (await this.walk(join(this.root, base)))
      .map((path) => relative(this.root, path).split(sep).join('/'))
      .filter((key) => key.startsWith(prefix) && (options.cursor === undefined || key > options.cursor))
      .sort();
    const page = keys.slice(0, limit);
    const blobs = await Promise.all(
      page.map(async (key) => {
        const info = await stat(this.pathOf(key));
        return { key, size: info.size, modified: info.mtime };
      }),
    );
    return keys.length > limit ? { blobs, cursor: page.at(-1) } : { blobs };
  }

  async close(): Promise<void> {}

  private pathOf(key: string): string {
    assertBlobKey(key);
    return join(this.root, ...key.split('/'));
  }

  private async walk(directory: string): Promise<string[]> {
    let entries: import('node:fs').Dirent[];
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
      else if (entry.isFile()) files.push(path);
    }
    return files;
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
