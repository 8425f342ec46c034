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
  if (config.kind !== 'local') throw new Error('the AWS store adapters are not available yet');
  const metadata = new SqliteMetadataStore(join(config.dataDir, 'metadata.sqlite'));
  const blobs = await FileBlobStore.open(join(config.dataDir, 'blobs'));
  return {
    metadata,
    blobs,
    async close() {
      await Promise.all([metadata.close(), blobs.close()]);
    },
  };
}
