/**
 * Deleting message blobs no index entry references, without ever losing one that is referenced and
 * without leaking one when the job dies half-way.
 *
 * A purge lowers a blob's reference count (shared/mailbox/blob-references.ts); at zero the blob may go.
 * Dropping the count item (conditioned on `refs <= 0`, which makes any later copy or restore of an entry
 * with that blob fail cleanly) and deleting the blob are two steps, so the job first records its intent
 * in a mark (`expire` / `blob#<key>`). A runner that dies between the steps leaves the mark, and the next
 * invocation finishes it: count item gone → delete the blob; count ≤ 0 → release, then delete; count > 0
 * (a restore got in first) → keep the blob. Blob keys are unique per stored message, so a count item that
 * is gone never comes back for the same key.
 */
import { blobReferenceCount, type MailStore, releaseUnreferencedBlob } from '../mailbox/index.ts';
import type { BlobStore } from '../store/blob.ts';
import { STATE_PK } from './run-state.ts';

const MARK_PREFIX = 'blob#';
/** Marks finished per query when cleaning up after an interrupted runner. */
const MARK_PAGE = 100;

export interface BlobDeletionContext {
  store: MailStore;
  blobs: BlobStore;
}

/** Deletes each blob if nothing references it; returns how many were deleted. */
export async function deleteUnreferencedBlobs(
  context: BlobDeletionContext,
  blobKeys: Iterable<string>,
): Promise<number> {
  let deleted = 0;
  for (const blobKey of new Set(blobKeys)) {
    await context.store.metadata.put({ pk: STATE_PK, sk: MARK_PREFIX + blobKey, blobKey });
    if (await finishMark(context, blobKey)) deleted++;
  }
  return deleted;
}

/** Finishes the marks an interrupted runner left; returns how many blobs that deleted. */
export async function finishInterruptedBlobDeletions(context: BlobDeletionContext): Promise<number> {
  let deleted = 0;
  for (;;) {
    const page = await context.store.metadata.query(STATE_PK, { beginsWith: MARK_PREFIX, limit: MARK_PAGE });
    for (const mark of page.items) {
      if (await finishMark(context, mark.sk.slice(MARK_PREFIX.length))) deleted++;
    }
    if (!page.next) return deleted;
  }
}

async function finishMark(context: BlobDeletionContext, blobKey: string): Promise<boolean> {
  const count = await blobReferenceCount(context.store, blobKey);
  const unreferenced = count === undefined || (count <= 0 && (await releaseUnreferencedBlob(context.store, blobKey)));
  if (unreferenced) await context.blobs.delete(blobKey);
  await context.store.metadata.delete(STATE_PK, MARK_PREFIX + blobKey);
  return unreferenced;
}
