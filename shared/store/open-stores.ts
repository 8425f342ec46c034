/** Opens the metadata and blob stores the configuration names: the local adapters or the AWS ones. */
import { join } from 'node:path';
import type { StoreConfig } from '../config/config.ts';
import type { BlobStore } from './blob.ts';
import { FileBlobStore } from './files/file-blob-store.ts';
import type { MetadataStore } from './metadata.ts';
import { SqliteMetadataStore } from './sqlite/sqlite-metadata-store.ts';

export interface Stores {
  metadata: MetadataStore;
  blobs: BlobStore;
  close(): Promise<void>;
}

export async function openStores(config: StoreConfig): Promise<Stores> {
  const { metadata, blobs } = config.kind === 'local' ? await openLocal(config.dataDir) : await openAws(config);
  return {
    metadata,
    blobs,
    async close() {
      await Promise.all([metadata.close(), blobs.close()]);
    },
  };
}

async function openLocal(dataDir: string): Promise<{ metadata: MetadataStore; blobs: BlobStore }> {
  const metadata = new SqliteMetadataStore(join(dataDir, 'metadata.sqlite'));
  const blobs = await FileBlobStore.open(join(dataDir, 'blobs'));
  return { metadata, blobs };
}

/**
 * Credentials come from the SDK's default chain (the task or function role in AWS). Imported on demand
 * so the local system never loads the AWS SDK.
 */
async function openAws(
  config: Extract<StoreConfig, { kind: 'aws' }>,
): Promise<{ metadata: MetadataStore; blobs: BlobStore }> {
  const [{ DynamoDbMetadataStore }, { S3BlobStore }] = await Promise.all([
    import('./dynamodb/dynamodb-metadata-store.ts'),
    import('./s3/s3-blob-store.ts'),
  ]);
  const metadata = new DynamoDbMetadataStore({
    region: config.region,
    table: config.table,
    endpoint: config.dynamodbEndpoint,
  });
  const blobs = new S3BlobStore({
    region: config.region,
    bucket: config.bucket,
    endpoint: config.s3Endpoint,
    forcePathStyle: config.s3ForcePathStyle,
  });
  return { metadata, blobs };
}
