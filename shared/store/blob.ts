/**
 * The blob store port: raw messages, the SMTP spool, quarantine copies.
 *
 * Adapters: files under the data directory (local, `shared/store/files/`) and S3 (AWS, `shared/store/s3/`).
 * Keys are `/`-separated paths of [A-Za-z0-9._=-] segments, such as `msg/ab/abcdef...` or `spool/<id>`.
 * A put that resolves is durable (files: temp name, fsync, rename, directory fsync; S3: acknowledged),
 * and a reader never sees a partly written blob. Blobs are immutable: put on an existing key replaces it
 * whole. Only the expire job deletes message blobs.
 */
import type { Readable } from 'node:stream';

export interface ByteRange {
  offset: number;
  /** Bytes from offset; to the end when absent. */
  length?: number;
}

export interface BlobInfo {
  key: string;
  size: number;
  modified: Date;
}

export interface BlobListPage {
  blobs: BlobInfo[];
  /** Present when more may follow. */
  cursor?: string;
}

export interface BlobStore {
  /** Stores the body under key; resolves with its size once durable. */
  put(key: string, body: Buffer | Readable): Promise<{ size: number }>;
  /** Streams the blob (or a byte range of it). Throws BlobNotFoundError. */
  get(key: string, range?: ByteRange): Promise<Readable>;
  /** Reads the blob (or a byte range of it) into memory. Throws BlobNotFoundError. */
  read(key: string, range?: ByteRange): Promise<Buffer>;
  head(key: string): Promise<BlobInfo | undefined>;
  /** Deleting an absent blob is not an error. */
  delete(key: string): Promise<void>;
  /** Blobs under a key prefix, in key order. */
  list(prefix: string, options?: { cursor?: string; limit?: number }): Promise<BlobListPage>;
  close(): Promise<void>;
}

const BLOB_KEY = /^[A-Za-z0-9._=-]+(\/[A-Za-z0-9._=-]+)*$/;

/** Rejects keys that could escape the store's root or mean different things to different adapters. */
export function assertBlobKey(key: string): void {
  if (!BLOB_KEY.test(key) || key.split('/').some((segment) => segment === '.' || segment === '..')) {
    throw new Error(`invalid blob key: ${JSON.stringify(key)}`);
  }
}
