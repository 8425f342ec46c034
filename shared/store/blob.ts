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

/** Whole bytes; a range past the end stops there, one starting at or past the end is empty. */
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

const BLOB_PREFIX = /^([A-Za-z0-9._=-]+\/)*[A-Za-z0-9._=-]*$/;

/**
 * Rejects list prefixes that are not the start of some valid key: whole segments follow the key rules
 * (so `../` cannot reach outside the store); the last, partial segment may be empty or a segment's start.
 */
export function assertBlobPrefix(prefix: string): void {
  const wholeSegments = prefix.split('/').slice(0, -1);
  if (!BLOB_PREFIX.test(prefix) || wholeSegments.some((segment) => segment === '.' || segment === '..')) {
    throw new Error(`invalid blob prefix: ${JSON.stringify(prefix)}`);
  }
}

/**
 * Ranges are whole numbers of bytes. A range reaching past the end stops at the end; one starting at or
 * past the end is empty (as reading a file there is), never an error.
 */
export function assertByteRange(range: ByteRange | undefined): void {
  if (range === undefined) return;
  if (!Number.isSafeInteger(range.offset) || range.offset < 0) {
    throw new Error(`invalid byte range offset ${range.offset}`);
  }
  if (range.length !== undefined && (!Number.isSafeInteger(range.length) || range.length < 0)) {
    throw new Error(`invalid byte range length ${range.length}`);
  }
}

/** A list page holds at most this many blobs (S3's own ceiling), whatever the caller asks for. */
export const MAX_BLOB_LIST_PAGE = 1000;

export function blobListLimit(limit: number | undefined): number {
  if (limit === undefined) return MAX_BLOB_LIST_PAGE;
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`list limit must be a positive integer, not ${limit}`);
  return Math.min(limit, MAX_BLOB_LIST_PAGE);
}

/** The bytes of one chunk of a body stream: Buffers, other Uint8Arrays, or strings (as UTF-8). */
export function chunkBytes(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new TypeError('blob streams must carry bytes');
}
