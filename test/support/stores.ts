/**
 * The adapter sets every contract suite runs against. Each set opens fresh, empty stores and returns
 * a cleanup that closes them and removes what they wrote.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BlobStore } from '../../shared/store/blob.ts';
import { FileBlobStore } from '../../shared/store/files/file-blob-store.ts';
import type { MetadataStore } from '../../shared/store/metadata.ts';
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

export const adapterSets: AdapterSet[] = [localAdapters];
