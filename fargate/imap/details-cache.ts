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
  /** Per mailbox, least recently used mailbox first. */
  private readonly mailboxes = new Map<string, Map<number, CachedDetails>>();
  private held = 0;

  constructor(private readonly maxEntries = MAX_CACHED_MESSAGE_DETAILS) {}

  /** The cached details of one mailbox, marked most recently used; undefined when none are cached. */
  mailbox(mailboxId: string): ReadonlyMap<number, CachedDetails> | undefined {
    const entries = this.mailboxes.get(mailboxId);
    if (entries) {
      // Map order is insertion order: re-inserting marks the mailbox most recently used.
      this.mailboxes.delete(mailboxId);
      this.mailboxes.set(mailboxId, entries);
    }
    return entries;
  }

  set(mailboxId: string, details: MessageDetails): CachedDetails {
    let entries = this.mailboxes.get(mailboxId);
    if (!entries) {
      entries = new Map();
      this.mailboxes.set(mailboxId, entries);
    }
    const entry: CachedDetails = { details };
    if (!entries.has(details.uid)) this.held++;
    entries.set(details.uid, entry);
    for (const [id, oldest] of this.mailboxes) {
      if (this.held <= this.maxEntries || id === mailboxId) break;
      this.mailboxes.delete(id);
      this.held -= oldest.size;
    }
    return entry;
  }

  get size(): number {
    return this.held;
  }
}
