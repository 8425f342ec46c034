/**
 * Reference counts of message blobs. One blob backs every index entry made from it (all local recipients
 * of a message, copies, restores); the expire job is the only deleter and uses the count to know when a
 * blob is unreferenced.
 *
 * Crash safety: the count is raised before an entry referencing the blob is written and lowered only
 * after an entry is purged, so crashes leave over-counts (a blob kept), never under-counts (a blob lost).
 * The expire job repairs over-counts by recounting entries. A blob that was stored but never referenced
 * (the SMTP process died before delivery) has no `refs` item at all; the expire job may delete such blobs
 * once they are older than any delivery could take.
 */
import { ConditionFailedError } from '../store/errors.ts';
import type { Condition } from '../store/metadata.ts';
import { BlobGoneError } from './errors.ts';
import type { MailStore } from './mail-store.ts';
import { BLOB_REFS_SK, blobPk, checkVersion, numberOf, SCHEMA_VERSION } from './schema.ts';

/**
 * Raises the count by `count`. `existing` means the blob is already referenced (copy, restore of an
 * expunged entry) and must still be: it fails with BlobGoneError if the expire job has released it,
 * which it can only do under the condition `refs <= 0` (see releaseUnreferencedBlob).
 */
export async function addBlobReferences(
  store: MailStore,
  blobKey: string,
  count: number,
  mode: 'new' | 'existing',
): Promise<void> {
  const conditions: Condition[] = mode === 'existing' ? [{ attribute: 'refs', op: '>', value: 0 }] : [];
  try {
    await store.metadata.update(blobPk(blobKey), BLOB_REFS_SK, {
      add: { refs: count },
      set: { v: SCHEMA_VERSION },
      conditions,
    });
  } catch (error) {
    if (error instanceof ConditionFailedError) throw new BlobGoneError(blobKey);
    throw error;
  }
}

/** Lowers the count after entries were purged (or an append that raised it failed); returns what is left. */
export async function releaseBlobReferences(store: MailStore, blobKey: string, count: number): Promise<number> {
  const item = await store.metadata.update(blobPk(blobKey), BLOB_REFS_SK, {
    add: { refs: -count },
    set: { v: SCHEMA_VERSION },
  });
  return numberOf(item, 'refs');
}

/** The current count; undefined when the blob was never referenced (or its count was already dropped). */
export async function blobReferenceCount(store: MailStore, blobKey: string): Promise<number | undefined> {
  const item = await store.metadata.get(blobPk(blobKey), BLOB_REFS_SK);
  return item ? numberOf(checkVersion(item), 'refs') : undefined;
}

/**
 * The expire job's step before deleting a blob: drops the count item only if nothing references the blob.
 * Returns false when a reference was added meanwhile (then the blob must stay). After true, the caller
 * deletes the blob; a copy racing with it fails its `existing` add with BlobGoneError.
 */
export async function releaseUnreferencedBlob(store: MailStore, blobKey: string): Promise<boolean> {
  try {
    await store.metadata.delete(blobPk(blobKey), BLOB_REFS_SK, [{ attribute: 'refs', op: '<=', value: 0 }]);
    return true;
  } catch (error) {
    if (error instanceof ConditionFailedError) return false;
    throw error;
  }
}
