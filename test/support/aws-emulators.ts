/**
 * Runs the AWS emulators for the tests: dynalite (DynamoDB, in memory), s3rver (S3, in a temporary
 * directory) and the KMS stand-in (kms-stand-in.ts), all on 127.0.0.1 port 0. Started by test/support/stores.ts as a child process because
 * s3rver signs ListObjectsV2 continuation tokens with DES, which OpenSSL 3 offers only under
 * `--openssl-legacy-provider`; the test processes themselves should not need that flag.
 *
 * Two s3rver deviations from S3 that the contract tests would otherwise trip on are corrected here,
 * before s3rver loads its store: it lists keys in directory order instead of S3's UTF-8 key order (which
 * also makes StartAfter pagination skip keys), and it answers a ranged GET of an empty object with
 * `Content-Length: 1` and no body instead of 416 (RFC 9110 §14.1.1: no range of an empty
 * representation is satisfiable), which hangs the client.
 *
 * Prints one JSON line `{"dynamodbPort":…,"s3Port":…,"kmsPort":…}` once all listen, and exits (removing its
 * directory) when its stdin closes, which happens when the test process that started it ends.
 * Plain JavaScript apart from type annotations, so Node runs it without tsx.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { startKmsStandIn } from './kms-stand-in.ts';

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}

interface S3rverObject {
  content: { destroy(): void } | null;
  range?: { start: number; end: number };
  size: number;
}

interface S3rverStore {
  getObject(bucket: string, key: string, options?: { start?: number; end?: number }): Promise<S3rverObject | null>;
}

const require = createRequire(import.meta.url);
const dynalite = require('dynalite') as (options: Record<string, unknown>) => Server;

/** s3rver stores key `a/b` as the file `a/b._S3rver_object` (plus metadata files beside it). */
const S3RVER_FILE_SUFFIX = /\._S3rver_.*$/;

/**
 * s3rver's directory walk, yielding files in the order of the keys they hold: a directory stands for
 * `name/` and a file for its key's last segment, compared as UTF-8 bytes, as S3 orders keys.
 */
function* walkInKeyOrder(directory: string, recurseFilter?: (path: string) => boolean): Generator<string> {
  const entries = readdirSync(directory).map((name) => {
    const path = posix.join(directory, name);
    const isDirectory = statSync(path).isDirectory();
    const order = Buffer.from(isDirectory ? `${name}/` : name.replace(S3RVER_FILE_SUFFIX, ''));
    return { path, isDirectory, order };
  });
  entries.sort((a, b) => Buffer.compare(a.order, b.order));
  for (const entry of entries) {
    if (!entry.isDirectory) yield entry.path;
    else if (!recurseFilter || recurseFilter(entry.path)) yield* walkInKeyOrder(entry.path, recurseFilter);
  }
}

const s3rverUtils = require('s3rver/lib/utils') as { walk: typeof walkInKeyOrder };
s3rverUtils.walk = walkInKeyOrder;
const FilesystemStore = require('s3rver/lib/stores/filesystem') as { prototype: S3rverStore };
const getObject = FilesystemStore.prototype.getObject;
FilesystemStore.prototype.getObject = async function getObjectWithEmptyRanges(bucket, key, options) {
  const object = await getObject.call(this, bucket, key, options);
  if (object?.range && object.size === 0) {
    // No content with a range is how s3rver signals an unsatisfiable range (it answers 416).
    object.content?.destroy();
    object.content = null;
  }
  return object;
};
const S3rver = require('s3rver') as new (options: Record<string, unknown>) => S3rverInstance;

const HOST = '127.0.0.1';
/** Tables are usable at once (dynalite's default keeps them CREATING for half a second). */
const TABLE_STATE_CHANGE_MS = 0;

const directory = mkdtempSync(join(tmpdir(), 'marmot-s3rver-'));
const dynamodb = dynalite({
  createTableMs: TABLE_STATE_CHANGE_MS,
  deleteTableMs: TABLE_STATE_CHANGE_MS,
  updateTableMs: TABLE_STATE_CHANGE_MS,
});
const s3 = new S3rver({ address: HOST, port: 0, silent: true, directory, vhostBuckets: false });

function stop(): void {
  rmSync(directory, { recursive: true, force: true });
  process.exit(0);
}

process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.resume();

await new Promise<void>((resolve, reject) => {
  dynamodb.once('error', reject);
  dynamodb.listen(0, HOST, resolve);
});
const s3Address = await s3.run();
const kms = await startKmsStandIn(HOST);
const dynamodbPort = (dynamodb.address() as AddressInfo).port;
const kmsPort = (kms.server.address() as AddressInfo).port;
process.stdout.write(`${JSON.stringify({ dynamodbPort, s3Port: s3Address.port, kmsPort })}\n`);
