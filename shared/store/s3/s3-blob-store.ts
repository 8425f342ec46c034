/**
 * The AWS blob store: one S3 object per blob, keyed by the blob key, in one bucket.
 *
 * A Buffer goes up in one PutObject. A stream is cut into parts of PART_BYTES: if it ends within the
 * first part (nearly every mail message) that part goes up in one PutObject, otherwise as a multipart
 * upload, one part at a time. Memory stays bounded by about one part per put whatever the stream's
 * length, no local disk is needed (Lambda and Fargate have little), and both paths work on s3rver,
 * which has no AbortMultipartUpload: an upload that fails midway is aborted when S3 supports it, and
 * is never visible to readers either way (the bucket's lifecycle rule reclaims leftover parts).
 * PutObject and CompleteMultipartUpload are atomic, so a reader never sees part of a blob.
 */
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
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

/** Parts of a multipart upload; S3 wants at least 5 MiB for all but the last. */
const PART_BYTES = 8 * 1024 * 1024;
/** S3 allows at most 10,000 parts, so a streamed blob can reach about 78 GiB. */
const MAX_PARTS = 10_000;
/**
 * Connecting must not hang a mail session. No idle timeout on the socket: a blob streamed to a slow IMAP
 * client may rightly pause for long.
 */
const CONNECT_TIMEOUT_MS = 3_000;
/** The part checksum the SDK computes when checksums are on (its default algorithm). */
const PART_CHECKSUM = 'CRC32';

export type S3BlobStoreOptions =
  | { client: S3Client; bucket: string }
  | { region: string; bucket: string; endpoint?: string; forcePathStyle?: boolean };

interface MultipartUpload {
  id: string;
  parts: CompletedPart[];
}

export class S3BlobStore implements BlobStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  /** Only a client this store created is destroyed by close(). */
  private readonly ownsClient: boolean;

  constructor(options: S3BlobStoreOptions) {
    this.bucket = options.bucket;
    if ('client' in options) {
      this.client = options.client;
      this.ownsClient = false;
    } else {
      this.client = createS3Client(options);
      this.ownsClient = true;
    }
  }

  async put(key: string, body: Buffer | Readable): Promise<{ size: number }> {
    assertBlobKey(key);
    if (Buffer.isBuffer(body)) {
      await this.putObject(key, body);
      return { size: body.length };
    }
    let upload: MultipartUpload | undefined;
    let size = 0;
    try {
      for await (const { bytes, last } of partsOf(body, PART_BYTES)) {
        size += bytes.length;
        if (last && upload === undefined) {
          await this.putObject(key, bytes);
          break;
        }
        upload ??= await this.createUpload(key);
        await this.uploadPart(key, upload, bytes);
        if (last) await this.completeUpload(key, upload);
      }
      return { size };
    } catch (error) {
      body.destroy();
      if (upload) await this.abortUpload(key, upload);
      throw error;
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    assertBlobKey(key);
    assertByteRange(range);
    if (range?.length === 0) {
      if (!(await this.head(key))) throw new BlobNotFoundError(key);
      return Readable.from([]);
    }
    const offset = range?.offset ?? 0;
    const end = range?.length === undefined ? '' : String(offset + range.length - 1);
    try {
      const result = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          ...((offset > 0 || end !== '') && { Range: `bytes=${offset}-${end}` }),
        }),
      );
      return result.Body as Readable;
    } catch (error) {
      if (isNotFound(error)) throw new BlobNotFoundError(key);
      // 416: the range starts at or past the end of an existing blob, which reads as nothing.
      if (statusOf(error) === 416) return Readable.from([]);
      throw error;
    }
  }

  async read(key: string, range?: ByteRange): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.get(key, range)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async head(key: string): Promise<BlobInfo | undefined> {
    assertBlobKey(key);
    try {
      const result = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { key, size: result.ContentLength ?? 0, modified: result.LastModified ?? new Date(0) };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    assertBlobKey(key);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  /** The cursor is the last key of the page (S3's StartAfter), as in the file adapter. */
  async list(prefix: string, options: { cursor?: string; limit?: number } = {}): Promise<BlobListPage> {
    assertBlobPrefix(prefix);
    const limit = blobListLimit(options.limit);
    const result = await this.client.send(
      new ListObjectsV2Command({
        Bucket: this.bucket,
        ...(prefix !== '' && { Prefix: prefix }),
        MaxKeys: limit,
        ...(options.cursor !== undefined && { StartAfter: options.cursor }),
      }),
    );
    const blobs = (result.Contents ?? []).map((object) => ({
      key: object.Key ?? '',
      size: object.Size ?? 0,
      modified: object.LastModified ?? new Date(0),
    }));
    const last = blobs.at(-1);
    return result.IsTruncated && last ? { blobs, cursor: last.key } : { blobs };
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.client.destroy();
  }

  private async putObject(key: string, body: Buffer): Promise<void> {
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentLength: body.length }),
    );
  }

  /**
   * With the SDK's default checksums, S3 wants the multipart upload to name the algorithm its parts
   * carry, and the completion to repeat each part's checksum (as lib-storage does).
   */
  private async checksumsOn(): Promise<boolean> {
    const setting = this.client.config.requestChecksumCalculation;
    return (typeof setting === 'function' ? await setting() : setting) === 'WHEN_SUPPORTED';
  }

  private async createUpload(key: string): Promise<MultipartUpload> {
    const checksums = await this.checksumsOn();
    const result = await this.client.send(
      new CreateMultipartUploadCommand({
        Bucket: this.bucket,
        Key: key,
        ...(checksums && { ChecksumAlgorithm: PART_CHECKSUM }),
      }),
    );
    if (!result.UploadId) throw new Error(`S3 gave no upload id for ${key}`);
    return { id: result.UploadId, parts: [] };
  }

  private async uploadPart(key: string, upload: MultipartUpload, bytes: Buffer): Promise<void> {
    if (upload.parts.length >= MAX_PARTS) throw new Error(`blob ${key} needs more than ${MAX_PARTS} parts`);
    const partNumber = upload.parts.length + 1;
    const checksums = await this.checksumsOn();
    const result = await this.client.send(
      new UploadPartCommand({
        Bucket: this.bucket,
        Key: key,
        UploadId: upload.id,
        PartNumber: partNumber,
        Body: bytes,
        ContentLength: bytes.length,
        ...(checksums && { ChecksumAlgorithm: PART_CHECKSUM }),
      }),
    );
    if (!result.ETag) throw new Error(`S3 gave no ETag for part ${partNumber} of ${key}`);
    upload.parts.push({
      PartNumber: partNumber,
      ETag: result.ETag,
      ...(result.ChecksumCRC32 && { ChecksumCRC32: result.ChecksumCRC32 }),
    });
  }

  private async completeUpload(key: string, upload: MultipartUpload): Promise<void> {
    await this.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.bucket,
        Key: key,
        UploadId: upload.id,
        MultipartUpload: { Parts: upload.parts },
      }),
    );
  }

  /** Best effort: the put has already failed, and S3 never shows an uncompleted upload to readers. */
  private async abortUpload(key: string, upload: MultipartUpload): Promise<void> {
    await this.client
      .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: upload.id }))
      .catch(() => {});
  }
}

/**
 * The S3 client for the configuration. An endpoint override means an emulator or an S3-compatible
 * store; those (s3rver among them) mishandle the SDK's default request checksums (aws-chunked bodies
 * with trailers), which corrupts streamed bodies, so checksums are then sent only where S3 requires them.
 */
export function createS3Client(options: {
  region: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  /** Tests against emulators pass fixed ones; otherwise the SDK's default chain (the task role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}): S3Client {
  const emulated = options.endpoint !== undefined;
  return new S3Client({
    region: options.region,
    ...(options.credentials && { credentials: options.credentials }),
    ...(emulated && {
      endpoint: options.endpoint,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    }),
    forcePathStyle: options.forcePathStyle ?? emulated,
    requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS },
  });
}

/**
 * Cuts a stream into parts of exactly partBytes and a final shorter (possibly empty) one. A part is
 * marked last only once the stream has ended, and a non-last part is yielded only when a byte beyond it
 * has arrived, so the caller knows at the first part whether one PutObject suffices.
 */
async function* partsOf(stream: Readable, partBytes: number): AsyncGenerator<{ bytes: Buffer; last: boolean }> {
  const pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const chunk of stream) {
    const bytes = chunkBytes(chunk);
    pending.push(bytes);
    pendingBytes += bytes.length;
    while (pendingBytes > partBytes) {
      yield { bytes: takeBytes(pending, partBytes), last: false };
      pendingBytes -= partBytes;
    }
  }
  yield { bytes: Buffer.concat(pending, pendingBytes), last: true };
}

/** Removes the first `count` bytes from the chunks and returns them as one Buffer. */
function takeBytes(chunks: Buffer[], count: number): Buffer {
  const taken: Buffer[] = [];
  let needed = count;
  while (needed > 0) {
    const head = chunks[0];
    if (head === undefined) throw new Error('takeBytes past the end of the chunks');
    if (head.length <= needed) {
      taken.push(head);
      chunks.shift();
      needed -= head.length;
    } else {
      taken.push(head.subarray(0, needed));
      chunks[0] = head.subarray(needed);
      needed = 0;
    }
  }
  return Buffer.concat(taken, count);
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

function isNotFound(error: unknown): boolean {
  const name = (error as { name?: string } | undefined)?.name;
  return name === 'NoSuchKey' || name === 'NotFound';
}
