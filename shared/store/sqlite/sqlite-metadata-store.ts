/**
 * The local metadata store: one SQLite database through node:sqlite, WAL mode with synchronous=FULL, so a
 * resolved write survives a crash or power loss. Items are rows (pk, sk, JSON attributes).
 *
 * node:sqlite is synchronous, so within one process no two operations interleave; `BEGIN IMMEDIATE`
 * makes each read-modify-write atomic against other processes on the same file (the `marmot` CLI
 * while the server runs), with a busy timeout instead of an error when they collide.
 *
 * Group commit: writes issued in the same turn of the event loop share one transaction, and so one
 * fsync. One failing write (a condition that does not hold) leaves the others standing: a write checks
 * everything first and then runs one statement, which SQLite applies whole or not at all. Every promise
 * resolves only after the COMMIT that made its write durable. Under load (many SMTP deliveries, many
 * IMAP sessions) this turns N fsyncs into one; alone, a write costs the same as before.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { applyUpdate, assertConditions, assertUpdatable, conditionsHold } from '../conditions.ts';
import { ConditionFailedError } from '../errors.ts';
import { assertItemKey, assertPartitionKey, assertStorableItem, pageLimit } from '../item-limits.ts';
import { prefixSuccessor } from '../key-order.ts';
import type {
  Condition,
  Item,
  MetadataStore,
  QueryOptions,
  QueryPage,
  ScanOptions,
  ScanPage,
  Update,
} from '../metadata.ts';

const BUSY_TIMEOUT_MS = 10_000;
/** Writes in one group commit at the most; more wait for the next. */
const MAX_WRITES_PER_COMMIT = 512;
const SCHEMA_VERSION = 1;
/** SQLite's page cache (its default is 2 MiB): the index pages every delivery and session touch stay in it. */
const PAGE_CACHE_KIB = 64 * 1024;

interface PendingWrite {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface Row {
  pk: string;
  sk: string;
  data: string;
}

export class SqliteMetadataStore implements MetadataStore {
  private readonly db: DatabaseSync;
  private readonly getRow: StatementSync;
  private readonly upsertRow: StatementSync;
  private readonly deleteRow: StatementSync;
  private readonly beginTransaction: StatementSync;
  private readonly commitTransaction: StatementSync;
  private pending: PendingWrite[] = [];
  private flushScheduled = false;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new DatabaseSync(path, { timeout: BUSY_TIMEOUT_MS });
    this.db.exec('PRAGMA journal_mode = WAL');
    this.db.exec('PRAGMA synchronous = FULL');
    this.db.exec(`PRAGMA cache_size = -${PAGE_CACHE_KIB}`);
    this.db.exec(`CREATE TABLE IF NOT EXISTS items (
      pk TEXT NOT NULL, sk TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (pk, sk)
    ) WITHOUT ROWID`);
    this.db.exec('CREATE TABLE IF NOT EXISTS schema (version INTEGER NOT NULL)');
    const version = this.db.prepare('SELECT max(version) AS v FROM schema').get() as { v: number | null };
    if (version.v === null) this.db.prepare('INSERT INTO schema (version) VALUES (?)').run(SCHEMA_VERSION);
    else if (version.v > SCHEMA_VERSION) {
      throw new Error(`store schema version ${version.v} is newer than this program (${SCHEMA_VERSION})`);
    }
    this.getRow = this.db.prepare('SELECT pk, sk, data FROM items WHERE pk = ? AND sk = ?');
    this.upsertRow = this.db.prepare(
      'INSERT INTO items (pk, sk, data) VALUES (?, ?, ?) ON CONFLICT (pk, sk) DO UPDATE SET data = excluded.data',
    );
    this.deleteRow = this.db.prepare('DELETE FROM items WHERE pk = ? AND sk = ?');
    this.beginTransaction = this.db.prepare('BEGIN IMMEDIATE');
    this.commitTransaction = this.db.prepare('COMMIT');
  }

  async get(pk: string, sk: string): Promise<Item | undefined> {
    assertItemKey(pk, sk);
    return this.read(pk, sk);
  }

  async put(item: Item, conditions?: Condition[]): Promise<void> {
    assertStorableItem(item);
    assertConditions(conditions);
    await this.atomically(() => {
      if (conditions?.length && !conditionsHold(this.read(item.pk, item.sk), conditions)) {
        throw new ConditionFailedError(item.pk, item.sk);
      }
      this.upsertRow.run(item.pk, item.sk, encode(item));
    });
  }

  async update(pk: string, sk: string, update: Update): Promise<Item> {
    assertItemKey(pk, sk);
    assertUpdatable(update);
    return this.atomically(() => {
      const current = this.read(pk, sk);
      if (!conditionsHold(current, update.conditions)) throw new ConditionFailedError(pk, sk);
      const next = applyUpdate(pk, sk, current, update);
      assertStorableItem(next);
      this.upsertRow.run(pk, sk, encode(next));
      return next;
    });
  }

  async delete(pk: string, sk: string, conditions?: Condition[]): Promise<void> {
    assertItemKey(pk, sk);
    assertConditions(conditions);
    await this.atomically(() => {
      if (conditions?.length && !conditionsHold(this.read(pk, sk), conditions)) {
        throw new ConditionFailedError(pk, sk);
      }
      this.deleteRow.run(pk, sk);
    });
  }

  async query(pk: string, options: QueryOptions = {}): Promise<QueryPage> {
    assertPartitionKey(pk);
    const limit = pageLimit(options.limit);
    const where = ['pk = ?'];
    const params: string[] = [pk];
    if (options.beginsWith !== undefined) where.push(...prefixRange('sk', options.beginsWith, params));
    if (options.from !== undefined) {
      where.push('sk >= ?');
      params.push(options.from);
    }
    if (options.to !== undefined) {
      where.push('sk <= ?');
      params.push(options.to);
    }
    if (options.startAfter !== undefined) {
      where.push(options.reverse ? 'sk < ?' : 'sk > ?');
      params.push(options.startAfter);
    }
    const rows = this.db
      .prepare(
        `SELECT pk, sk, data FROM items WHERE ${where.join(' AND ')} ORDER BY sk ${options.reverse ? 'DESC' : 'ASC'} LIMIT ?`,
      )
      .all(...params, limit + 1) as unknown as Row[];
    const more = rows.length > limit;
    const items = rows.slice(0, limit).map(decode);
    return more ? { items, next: items.at(-1)?.sk } : { items };
  }

  async scan(options: ScanOptions = {}): Promise<ScanPage> {
    const limit = pageLimit(options.limit);
    const where: string[] = [];
    const params: string[] = [];
    if (options.pkPrefix !== undefined) where.push(...prefixRange('pk', options.pkPrefix, params));
    if (options.cursor !== undefined) {
      const [pk, sk] = decodeScanCursor(options.cursor);
      where.push('(pk > ? OR (pk = ? AND sk > ?))');
      params.push(pk, pk, sk);
    }
    const rows = this.db
      .prepare(
        `SELECT pk, sk, data FROM items ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY pk, sk LIMIT ?`,
      )
      .all(...params, limit + 1) as unknown as Row[];
    const items = rows.slice(0, limit).map(decode);
    const last = items.at(-1);
    return rows.length > limit && last ? { items, cursor: JSON.stringify([last.pk, last.sk]) } : { items };
  }

  async close(): Promise<void> {
    while (this.pending.length > 0) this.commitPending();
    if (this.db.isOpen) this.db.close();
  }

  private read(pk: string, sk: string): Item | undefined {
    const row = this.getRow.get(pk, sk) as Row | undefined;
    return row ? decode(row) : undefined;
  }

  /** Runs a read-modify-write in the next group commit; resolves once that commit is durable. */
  private atomically<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => {
          this.flushScheduled = false;
          while (this.pending.length > 0) this.commitPending();
        });
      }
    });
  }

  private commitPending(): void {
    const batch = this.pending.splice(0, MAX_WRITES_PER_COMMIT);
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      this.beginTransaction.run();
    } catch (error) {
      for (const write of batch) write.reject(error);
      return;
    }
    try {
      for (const write of batch) {
        try {
          outcomes.push({ ok: true, value: write.work() });
        } catch (error) {
          // Each write checks everything before its one modifying statement, and SQLite undoes a failed
          // statement whole, so a failed write changed nothing, unless SQLite gave up the transaction.
          if (!this.db.isTransaction) throw error;
          outcomes.push({ ok: false, value: error });
        }
      }
      this.commitTransaction.run();
    } catch (error) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      for (const write of batch) write.reject(error);
      return;
    }
    batch.forEach((write, index) => {
      const outcome = outcomes[index]!;
      if (outcome.ok) write.resolve(outcome.value);
      else write.reject(outcome.value);
    });
  }
}

/**
 * `column starts with prefix` as a range the primary key index serves. Not LIKE: it would treat % and _
 * in the prefix as wildcards. SQLite compares TEXT by UTF-8 bytes, the order prefixSuccessor uses.
 */
function prefixRange(column: 'pk' | 'sk', prefix: string, params: string[]): string[] {
  const successor = prefixSuccessor(prefix);
  params.push(prefix);
  if (successor === undefined) return [`${column} >= ?`];
  params.push(successor);
  return [`${column} >= ? AND ${column} < ?`];
}

function decodeScanCursor(cursor: string): [string, string] {
  let key: unknown;
  try {
    key = JSON.parse(cursor);
  } catch {
    key = undefined;
  }
  if (!Array.isArray(key) || key.length !== 2 || typeof key[0] !== 'string' || typeof key[1] !== 'string') {
    throw new Error('invalid scan cursor');
  }
  return [key[0], key[1]];
}

function encode(item: Item): string {
  const { pk: _pk, sk: _sk, ...attributes } = item;
  return JSON.stringify(attributes);
}

function decode(row: Row): Item {
  return { ...(JSON.parse(row.data) as Record<string, Item[string]>), pk: row.pk, sk: row.sk };
}
