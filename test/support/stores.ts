/**
 * The adapter sets every contract suite runs against. Each set opens fresh, empty stores and returns
 * a cleanup that closes them and removes what they wrote.
 *
 * The AWS set runs against dynalite and s3rver, started once per test process in a child process
 * (test/support/aws-emulators.ts, with a KMS stand-in) that ends with the test process; each open() gets
 * its own table and bucket. awsStoreEnvironment() gives the same to tests that start a process of their own (the CLI).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3';
import type { BlobStore } from '../../shared/store/blob.ts';
import {
  createDynamoDbClient,
  createMetadataTable,
  DynamoDbMetadataStore,
} from '../../shared/store/dynamodb/dynamodb-metadata-store.ts';
import { FileBlobStore } from '../../shared/store/files/file-blob-store.ts';
import type { MetadataStore } from '../../shared/store/metadata.ts';
import { createS3Client, S3BlobStore } from '../../shared/store/s3/s3-blob-store.ts';
import { SqliteMetadataStore } from '../../shared/store/sqlite/sqlite-metadata-store.ts';

export interface StoreSet {
  metadata: MetadataStore;
  blobs: BlobStore;
  cleanup(): Promise<void>;
}

export interface AdapterSet {
  name: string;
  open(): Promise<StoreSet>;
}

export const localAdapters: AdapterSet = {
  name: 'local (SQLite + files)',
  async open() {
    const dir = await mkdtemp(join(tmpdir(), 'marmot-store-'));
    const metadata = new SqliteMetadataStore(join(dir, 'metadata.sqlite'));
    const blobs = await FileBlobStore.open(join(dir, 'blobs'));
    return {
      metadata,
      blobs,
      async cleanup() {
        await metadata.close();
        await blobs.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
};

/** s3rver's continuation tokens only decode for this region. */
const EMULATOR_REGION = 'us-east-1';
/** s3rver's built-in account; dynalite accepts any credentials. */
const EMULATOR_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const EMULATOR_START_TIMEOUT_MS = 20_000;

export interface AwsEmulators {
  dynamodbEndpoint: string;
  s3Endpoint: string;
  /** The KMS stand-in: any KeyId works; this is the one processes are given. */
  kmsEndpoint: string;
}

/** The key-vault key processes started by tests are configured with (MARMOT_KEY_ID). */
const EMULATOR_KMS_KEY_ID = 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000';

let emulators: Promise<AwsEmulators> | undefined;

/** Starts dynalite and s3rver on first use; later calls share them. */
export function startAwsEmulators(): Promise<AwsEmulators> {
  emulators ??= spawnEmulators();
  return emulators;
}

async function spawnEmulators(): Promise<AwsEmulators> {
  const script = fileURLToPath(new URL('./aws-emulators.ts', import.meta.url));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', script], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const ports = await firstLine(child);
  // The child must not keep the test process alive; it exits itself when its stdin closes with us.
  child.unref();
  (child.stdin as Socket).unref();
  (child.stdout as Socket).unref();
  const { dynamodbPort, s3Port, kmsPort } = JSON.parse(ports) as {
    dynamodbPort: number;
    s3Port: number;
    kmsPort: number;
  };
  return {
    dynamodbEndpoint: `http://127.0.0.1:${dynamodbPort}`,
    s3Endpoint: `http://127.0.0.1:${s3Port}`,
    kmsEndpoint: `http://127.0.0.1:${kmsPort}`,
  };
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error('the AWS emulators did not start in time'));
    }, EMULATOR_START_TIMEOUT_MS);
    const fail = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`the AWS emulators exited with code ${code}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.removeAllListeners('error');
      resolve(line);
    });
  });
}

interface AwsResources {
  emulators: AwsEmulators;
  table: string;
  bucket: string;
  dynamodb: DynamoDBClient;
  s3: ReturnType<typeof createS3Client>;
  /** Deletes the table and the bucket with everything in it. */
  remove(): Promise<void>;
}

/** A fresh table and bucket on the emulators. */
async function provisionAws(): Promise<AwsResources> {
  const started = await startAwsEmulators();
  const name = `marmot-test-${randomBytes(8).toString('hex')}`;
  const dynamodb = createDynamoDbClient({
    region: EMULATOR_REGION,
    endpoint: started.dynamodbEndpoint,
    credentials: EMULATOR_CREDENTIALS,
  });
  const s3 = createS3Client({
    region: EMULATOR_REGION,
    endpoint: started.s3Endpoint,
    credentials: EMULATOR_CREDENTIALS,
  });
  await Promise.all([createMetadataTable(dynamodb, name), s3.send(new CreateBucketCommand({ Bucket: name }))]);
  return {
    emulators: started,
    table: name,
    bucket: name,
    dynamodb,
    s3,
    async remove() {
      await dynamodb.send(new DeleteTableCommand({ TableName: name }));
      let token: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: name, ContinuationToken: token }));
        await Promise.all(
          (page.Contents ?? []).map((object) => s3.send(new DeleteObjectCommand({ Bucket: name, Key: object.Key }))),
        );
        token = page.NextContinuationToken;
      } while (token);
      await s3.send(new DeleteBucketCommand({ Bucket: name }));
      dynamodb.destroy();
      s3.destroy();
    },
  };
}

export const awsAdapters: AdapterSet = {
  name: 'AWS (DynamoDB + S3 on dynalite + s3rver)',
  async open() {
    const resources = await provisionAws();
    const metadata = new DynamoDbMetadataStore({ client: resources.dynamodb, table: resources.table });
    const blobs = new S3BlobStore({ client: resources.s3, bucket: resources.bucket });
    return {
      metadata,
      blobs,
      async cleanup() {
        await metadata.close();
        await blobs.close();
        await resources.remove();
      },
    };
  },
};

/**
 * Environment variables that make a process (the CLI, the server) use a fresh table and bucket on the
 * emulators through loadConfig(); cleanup removes them.
 */
export async function awsStoreEnvironment(): Promise<{ env: Record<string, string>; cleanup(): Promise<void> }> {
  const resources = await provisionAws();
  return {
    env: {
      MARMOT_STORE: 'aws',
      MARMOT_TABLE: resources.table,
      MARMOT_BUCKET: resources.bucket,
      AWS_REGION: EMULATOR_REGION,
      MARMOT_DYNAMODB_ENDPOINT: resources.emulators.dynamodbEndpoint,
      MARMOT_S3_ENDPOINT: resources.emulators.s3Endpoint,
      MARMOT_KEY_ID: EMULATOR_KMS_KEY_ID,
      MARMOT_KMS_ENDPOINT: resources.emulators.kmsEndpoint,
      AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
      // Nothing on the test machine should ask the EC2 metadata service for credentials or a region.
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    cleanup: () => resources.remove(),
  };
}

export const adapterSets: AdapterSet[] = [localAdapters, awsAdapters];
