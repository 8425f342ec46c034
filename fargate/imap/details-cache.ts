/**
 * A process-wide cache of message details (envelope, body structure, search fields) by mailbox and UID,
 * shared by all sessions. Details are written once at delivery and never change, and a UID is never
 * reused within a mailbox id, so entries never go stale: the cache only bounds how many it keeps (least
 * recently used go first). FETCH ENVELOPE/BODYSTRUCTURE and SEARCH, SORT and THREAD over a mailbox
 * then read the index once, not once per command.
 */
import type { MessageDetails } from '../../shared/mailbox/message-record.ts';
import type { SearchFieldsOfMessage } from './search/search-evaluator.ts';

/** Entries kept; a few KB each, so a few tens of MB at most. */
export const MAX_CACHED_MESSAGE_DETAILS = 20_000;

export interface CachedDetails {
  details: MessageDetails;
  /** Decoded header fields for SEARCH, computed on first use. */
  searchFields?: SearchFieldsOfMessage;
}

export class MessageDetailsCache {
  private readonly entries = new Map<string, CachedDetails>();

  constructor(private readonly maxEntries = MAX_CACHED_MESSAGE_DETAILS) {}

  get(mailboxId: string, uid: number): CachedDetails | undefined {
    const key = `${mailboxId}:${uid}`;
    const entry = this.entries.get(key);
    if (entry) {
      // Map order is insertion order: re-inserting marks the entry most recently used.
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return entry;
  }

  set(mailboxId: string, details: MessageDetails): CachedDetails {
    const key = `${mailboxId}:${details.uid}`;
    const entry: CachedDetails = { details };
    this.entries.delete(key);
    this.entries.set(key, entry);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return entry;
  }

  get size(): number {
    return this.entries.size;
  }
}
