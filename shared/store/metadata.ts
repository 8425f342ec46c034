/**
 * The metadata store port: a DynamoDB-shaped item store (partition key + sort key, JSON attributes).
 *
 * Everything structured lives behind it: the directory, mailboxes and the message index, ACLs, quotas,
 * Sieve scripts, keys, greylist entries, Bayes tokens. Domain modules (shared/directory, shared/mailbox, ...)
 * build their records on these few primitives, so one code path runs on both adapters:
 * SQLite (local, `shared/store/sqlite/`) and DynamoDB (AWS, `shared/store/dynamodb/`).
 *
 * Deliberately no transactions (dynalite lacks them, and DynamoDB's cost and limits make them a poor
 * fit for the hot path): every primitive is atomic on one item, with optional conditions. Anything that
 * spans items is designed so a crash between two writes leaves a state that is valid or repairable.
 *
 * A promise that resolves means the write is durable (SQLite: WAL with synchronous=FULL; DynamoDB: acknowledged).
 *
 * Every adapter refuses what DynamoDB would (item-limits.ts, conditions.ts): empty keys, pk over 2048 and
 * sk over 1024 bytes, items over 400 KB, NaN/Infinity/unsafe integers, nesting deeper than 32. Strings
 * compare in UTF-8 byte order. Pages hold at most 1000 items.
 */

/** Attribute values are plain JSON. Binary data is stored base64-encoded by the module that owns it. */
export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [name: string]: AttributeValue };

export interface Item {
  pk: string;
  sk: string;
  [attribute: string]: AttributeValue;
}

/**
 * A condition on one top-level attribute of the item as it is before the write. A missing item has
 * every attribute missing, so `{ attribute: 'pk', op: 'notExists' }` means "only if the item is absent".
 * Comparisons against a missing attribute are false, and between different types false (but `<>` true).
 * Booleans compare only with = and <>. All conditions of a write must hold.
 */
export type Condition =
  | { attribute: string; op: 'exists' | 'notExists' }
  | { attribute: string; op: '=' | '<>' | '<' | '<=' | '>' | '>='; value: string | number | boolean };

export interface Update {
  /** Attributes to set (replacing the old value). */
  set?: Record<string, AttributeValue>;
  /**
   * Numeric attributes to add to atomically; a missing attribute counts as 0. Safe integers only:
   * DynamoDB adds in decimal, JavaScript in binary floating point.
   */
  add?: Record<string, number>;
  /** Attributes to remove. */
  remove?: string[];
  /** Conditions on the item before the update; the update creates the item if it is absent and they hold. */
  conditions?: Condition[];
}

export interface QueryOptions {
  /** Only sort keys starting with this prefix. */
  beginsWith?: string;
  /** Inclusive lower bound on the sort key. */
  from?: string;
  /** Inclusive upper bound on the sort key. */
  to?: string;
  /** Continue after this sort key (the `next` of a previous page). */
  startAfter?: string;
  /** Descending sort-key order. */
  reverse?: boolean;
  /** At most this many items in the page. */
  limit?: number;
}

export interface QueryPage {
  items: Item[];
  /** Present when more items may follow: pass as `startAfter`. */
  next?: string;
}

export interface ScanOptions {
  /** Only items whose partition key starts with this prefix. */
  pkPrefix?: string;
  /** Opaque cursor from a previous page. */
  cursor?: string;
  limit?: number;
}

export interface ScanPage {
  items: Item[];
  /** Present when more items may follow. */
  cursor?: string;
}

export interface MetadataStore {
  get(pk: string, sk: string): Promise<Item | undefined>;
  /** Writes the whole item. Throws ConditionFailedError when a condition does not hold. */
  put(item: Item, conditions?: Condition[]): Promise<void>;
  /** Updates (or creates) one item atomically and returns it as it is after the update. */
  update(pk: string, sk: string, update: Update): Promise<Item>;
  /** Deletes one item; deleting an absent item is not an error unless a condition says so. */
  delete(pk: string, sk: string, conditions?: Condition[]): Promise<void>;
  /** Items of one partition in sort-key order. */
  query(pk: string, options?: QueryOptions): Promise<QueryPage>;
  /** All items (or those under a partition-key prefix), in no promised order; for jobs and migrations. */
  scan(options?: ScanOptions): Promise<ScanPage>;
  close(): Promise<void>;
}
