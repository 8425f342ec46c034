/**
 * openStores from configuration, as a process sees it: the local branch on a data directory, and the AWS
 * branch in a child process given the environment awsStoreEnvironment() returns (dynalite and s3rver).
 * The child streams a blob through the S3 client built from that configuration.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { loadConfig } from '../../../shared/config/config.ts';
import { createDynamoDbClient, DynamoDbMetadataStore } from '../../../shared/store/dynamodb/dynamodb-metadata-store.ts';
import { openStores } from '../../../shared/store/open-stores.ts';
import { createS3Client, S3BlobStore } from '../../../shared/store/s3/s3-blob-store.ts';
import { awsStoreEnvironment } from '../../support/stores.ts';

const BLOB_BYTES = 300_000;

/** Run in the child: open the stores the environment names, write an item and a streamed blob. */
const WRITER = `
import { Readable } from 'node:stream';
import { loadConfig } from './shared/config/config.ts';
import { openStores } from './shared/store/open-stores.ts';
const stores = await openStores(loadConfig().store);
await stores.metadata.put({ pk: 'domain#example.org', sk: 'config', retention: 30 });
const body = Buffer.alloc(${BLOB_BYTES}, 'x');
await stores.blobs.put('spool/1', Readable.from([body.subarray(0, 70000), body.subarray(70000)]));
await stores.close();
`;

test('the local stores open on the data directory', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'marmot-data-'));
  try {
    const stores = await openStores(loadConfig({ MARMOT_DATA_DIR: dataDir }).store);
    try {
      await stores.metadata.put({ pk: 'p', sk: 's' });
      await stores.blobs.put('spool/1', Readable.from([Buffer.from('a'), Buffer.from('b')]));
      assert.deepEqual(await stores.metadata.get('p', 's'), { pk: 'p', sk: 's' });
      assert.equal((await stores.blobs.read('spool/1')).toString(), 'ab');
    } finally {
      await stores.close();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('a process given the AWS environment writes to the emulators', async () => {
  const aws = await awsStoreEnvironment();
  try {
    await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', WRITER], {
      cwd: join(import.meta.dirname, '../../..'),
      env: { PATH: process.env.PATH, ...aws.env },
    });
    const { env } = aws;
    const credentials = { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! };
    const region = env.AWS_REGION!;
    const dynamodb = createDynamoDbClient({ region, endpoint: env.MARMOT_DYNAMODB_ENDPOINT, credentials });
    const s3 = createS3Client({ region, endpoint: env.MARMOT_S3_ENDPOINT, credentials });
    try {
      const metadata = new DynamoDbMetadataStore({ client: dynamodb, table: env.MARMOT_TABLE! });
      const blobs = new S3BlobStore({ client: s3, bucket: env.MARMOT_BUCKET! });
      assert.deepEqual(await metadata.get('domain#example.org', 'config'), {
        pk: 'domain#example.org',
        sk: 'config',
        retention: 30,
      });
      assert.deepEqual(await blobs.read('spool/1'), Buffer.alloc(BLOB_BYTES, 'x'));
    } finally {
      dynamodb.destroy();
      s3.destroy();
    }
  } finally {
    await aws.cleanup();
  }
});
