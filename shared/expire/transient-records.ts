/**
 * Short-lived records other parts of the system write and only the expire job deletes: greylist entries
 * and quarantine copies of rejected messages. Neither writer exists yet; these are the keys they are to
 * use, defined here so the job can already drop them and the writers have one place to import from.
 *
 *   Greylist entry (metadata store): pk `greylist#<shard>`, sk `<entry key>`, attribute `expiresAt` in
 *     seconds since the epoch (the DynamoDB TTL attribute; the infra stack sets TTL on it). `shard` is
 *     the first hex digit of the SHA-256 of the entry key, so the job reads 16 partitions instead of
 *     scanning the table, and writes spread over 16 partitions. Readers must ignore entries whose
 *     `expiresAt` has passed (TTL deletion lags), the job deletes them.
 *   Quarantine copy (blob store): `quarantine/<YYYY-MM-DD>/<id>`, the day it was quarantined (UTC), and
 *     optionally index items in the metadata partition `quarantine#<YYYY-MM-DD>`. The job deletes whole
 *     days older than the quarantine retention. On AWS an S3 lifecycle rule expires `quarantine/` blobs,
 *     so the job there drops only the index partitions.
 */
import { createHash } from 'node:crypto';

export const GREYLIST_PK_PREFIX = 'greylist#';
export const GREYLIST_SHARDS = 16;
/** The expiry attribute of greylist entries (and the table's TTL attribute): seconds since the epoch. */
export const EXPIRES_AT = 'expiresAt';

export const QUARANTINE_BLOB_PREFIX = 'quarantine/';
export const QUARANTINE_PK_PREFIX = 'quarantine#';

export function greylistShardOf(entryKey: string): number {
  return Number.parseInt(createHash('sha256').update(entryKey).digest('hex').slice(0, 1), 16);
}

export function greylistPk(shard: number): string {
  return GREYLIST_PK_PREFIX + shard.toString(16);
}

/** Whether a greylist item has expired at `nowMs`; an item without a valid expiry counts as expired. */
export function greylistEntryExpired(expiresAt: unknown, nowMs: number): boolean {
  return typeof expiresAt !== 'number' || expiresAt * 1000 <= nowMs;
}

export function quarantineBlobPrefix(day: string): string {
  return `${QUARANTINE_BLOB_PREFIX}${day}/`;
}

export function quarantinePk(day: string): string {
  return QUARANTINE_PK_PREFIX + day;
}
