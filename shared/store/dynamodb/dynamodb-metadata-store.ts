/**
 * The AWS metadata store: one DynamoDB table with string keys `pk` (HASH) and `sk` (RANGE); the other
 * attributes are the item's, stored as native DynamoDB types (maps, lists, numbers...). Conditions become
 * ConditionExpressions and updates UpdateExpressions, so every write stays one atomic request.
 *
 * Reads are strongly consistent (as SQLite's are): IMAP must see the UID it has just allocated.
 * Throttled requests are retried by the SDK's standard retry strategy. The CDK stack creates the table
 * in AWS (TTL on `expiresAt`, epoch seconds, is reserved for later); createMetadataTable is for emulators.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  type AttributeValue as DynamoAttributeValue,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { convertToAttr, marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { assertConditions, assertUpdatable } from '../conditions.ts';
import { ConditionFailedError } from '../errors.ts';
import { assertItemKey, assertPartitionKey, assertStorableItem, pageLimit } from '../item-limits.ts';
import { compareCodePoints, prefixSuccessor } from '../key-order.ts';
import type {
  AttributeValue,
  Condition,
  Item,
  MetadataStore,
  QueryOptions,
  QueryPage,
  ScanOptions,
  ScanPage,
  Update,
} from '../metadata.ts';

/**
 * A scan with a partition-key prefix filters after DynamoDB reads, so a page may hold few matches;
 * each request reads at least this many items so a sparse prefix does not cost one request per item.
 */
const FILTERED_SCAN_BATCH = 100;
/**
 * A request that cannot connect, or whose connection goes quiet, fails after these and is retried by the
 * SDK: DynamoDB answers in milliseconds, and a mail session must not hang on a dead connection.
 */
const CONNECT_TIMEOUT_MS = 3_000;
const SOCKET_IDLE_TIMEOUT_MS = 10_000;
/** How long createMetadataTable waits for a new table to become active, and how often it looks. */
const TABLE_ACTIVE_WAIT_MS = 60_000;
const TABLE_POLL_MS = 20;

export type DynamoDbMetadataStoreOptions =
  | { client: DynamoDBClient; table: string }
  | { region: string; table: string; endpoint?: string };

export class DynamoDbMetadataStore implements MetadataStore {
  private readonly client: DynamoDBClient;
  private readonly table: string;
  /** Only a client this store created is destroyed by close(). */
  private readonly ownsClient: boolean;

  constructor(options: DynamoDbMetadataStoreOptions) {
    this.table = options.table;
    if ('client' in options) {
      this.client = options.client;
      this.ownsClient = false;
    } else {
      this.client = createDynamoDbClient(options);
      this.ownsClient = true;
    }
  }

  async get(pk: string, sk: string): Promise<Item | undefined> {
    assertItemKey(pk, sk);
    const result = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: keyOf(pk, sk), ConsistentRead: true }),
    );
    return result.Item ? toItem(result.Item) : undefined;
  }

  async put(item: Item, conditions?: Condition[]): Promise<void> {
    assertStorableItem(item);
    assertConditions(conditions);
    const expression = new ExpressionBuilder();
    const condition = expression.conditions(conditions);
    await conditionally(item.pk, item.sk, () =>
      this.client.send(
        new PutItemCommand({ TableName: this.table, Item: marshall(item), ...expression.parameters(condition) }),
      ),
    );
  }

  async update(pk: string, sk: string, update: Update): Promise<Item> {
    assertItemKey(pk, sk);
    assertUpdatable(update);
    const expression = new ExpressionBuilder();
    const clauses: string[] = [];
    const set = Object.entries(update.set ?? {});
    if (set.length > 0) {
      clauses.push(
        `SET ${set.map(([name, value]) => `${expression.name(name)} = ${expression.value(value)}`).join(', ')}`,
      );
    }
    const add = Object.entries(update.add ?? {});
    if (add.length > 0) {
      // ADD treats a missing attribute as 0, as the port promises.
      clauses.push(
        `ADD ${add.map(([name, delta]) => `${expression.name(name)} ${expression.value(delta)}`).join(', ')}`,
      );
    }
    if (update.remove?.length) clauses.push(`REMOVE ${update.remove.map((name) => expression.name(name)).join(', ')}`);
    const condition = expression.conditions(update.conditions);
    try {
      const result = await conditionally(pk, sk, () =>
        this.client.send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: keyOf(pk, sk),
            ...(clauses.length > 0 && { UpdateExpression: clauses.join(' ') }),
            ...expression.parameters(condition),
            ReturnValues: 'ALL_NEW',
          }),
        ),
      );
      return result.Attributes ? toItem(result.Attributes) : { pk, sk };
    } catch (error) {
      // The SQLite adapter's error for the same mistake (conditions.ts applyUpdate).
      if (add.length > 0 && isValidationError(error) && error.message.includes('incorrect data type')) {
        throw new TypeError(`cannot add to non-numeric attribute among ${add.map(([name]) => name).join(', ')}`);
      }
      throw error;
    }
  }

  async delete(pk: string, sk: string, conditions?: Condition[]): Promise<void> {
    assertItemKey(pk, sk);
    assertConditions(conditions);
    const expression = new ExpressionBuilder();
    const condition = expression.conditions(conditions);
    await conditionally(pk, sk, () =>
      this.client.send(
        new DeleteItemCommand({ TableName: this.table, Key: keyOf(pk, sk), ...expression.parameters(condition) }),
      ),
    );
  }

  /**
   * DynamoDB stops a page at `Limit` items or 1 MB, whichever comes first, so this keeps reading until
   * it holds one item more than the page (then `next` is certain) or the range is exhausted.
   */
  async query(pk: string, options: QueryOptions = {}): Promise<QueryPage> {
    assertPartitionKey(pk);
    const limit = pageLimit(options.limit);
    const range = sortKeyRange(options);
    if (range === 'empty') return { items: [] };
    const expression = new ExpressionBuilder();
    const keyCondition = [`${expression.name('pk')} = ${expression.value(pk)}`];
    const { lower, upper } = range;
    if (lower && upper) {
      // BETWEEN is inclusive at both ends; exclusive ends are dropped below.
      const between = `${expression.value(lower.value)} AND ${expression.value(upper.value)}`;
      keyCondition.push(`${expression.name('sk')} BETWEEN ${between}`);
    } else if (lower) {
      keyCondition.push(`${expression.name('sk')} ${lower.inclusive ? '>=' : '>'} ${expression.value(lower.value)}`);
    } else if (upper) {
      keyCondition.push(`${expression.name('sk')} ${upper.inclusive ? '<=' : '<'} ${expression.value(upper.value)}`);
    }
    const items: Item[] = [];
    let startKey: Record<string, DynamoAttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: keyCondition.join(' AND '),
          ...expression.parameters(undefined),
          ScanIndexForward: !options.reverse,
          Limit: limit + 1 - items.length,
          ExclusiveStartKey: startKey,
          ConsistentRead: true,
        }),
      );
      for (const raw of page.Items ?? []) {
        const item = toItem(raw);
        if (inRange(item.sk, range)) items.push(item);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey && items.length <= limit);
    const pageItems = items.slice(0, limit);
    return items.length > limit ? { items: pageItems, next: pageItems.at(-1)?.sk } : { items: pageItems };
  }

  /** Like query, reads until one item beyond the page; the cursor is the last returned item's key. */
  async scan(options: ScanOptions = {}): Promise<ScanPage> {
    const limit = pageLimit(options.limit);
    let startKey = options.cursor === undefined ? undefined : decodeScanCursor(options.cursor);
    const expression = new ExpressionBuilder();
    const prefix = options.pkPrefix ? options.pkPrefix : undefined;
    const filter =
      prefix === undefined ? undefined : `begins_with(${expression.name('pk')}, ${expression.value(prefix)})`;
    const items: Item[] = [];
    do {
      const wanted = limit + 1 - items.length;
      const page = await this.client.send(
        new ScanCommand({
          TableName: this.table,
          FilterExpression: filter,
          ...expression.parameters(undefined),
          Limit: filter === undefined ? wanted : Math.max(wanted, FILTERED_SCAN_BATCH),
          ExclusiveStartKey: startKey,
          ConsistentRead: true,
        }),
      );
      for (const raw of page.Items ?? []) items.push(toItem(raw));
      startKey = page.LastEvaluatedKey;
    } while (startKey && items.length <= limit);
    const pageItems = items.slice(0, limit);
    const last = pageItems.at(-1);
    return items.length > limit && last ? { items: pageItems, cursor: encodeScanCursor(last) } : { items: pageItems };
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.client.destroy();
  }
}

/** Runs a conditional write, turning DynamoDB's refusal into the port's error. */
async function conditionally<T>(pk: string, sk: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) throw new ConditionFailedError(pk, sk);
    throw error;
  }
}

/** The DynamoDB client for the configuration; credentials from the SDK's chain unless given (tests). */
export function createDynamoDbClient(options: {
  region: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}): DynamoDBClient {
  return new DynamoDBClient({
    region: options.region,
    ...(options.endpoint !== undefined && { endpoint: options.endpoint }),
    ...(options.credentials && { credentials: options.credentials }),
    requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, socketTimeout: SOCKET_IDLE_TIMEOUT_MS },
  });
}

/**
 * Creates the table as the CDK stack does (on-demand, pk/sk strings), for emulators and tests, and
 * waits until it is active. Polls briefly itself: the SDK's waiter sleeps 20 s before looking again.
 */
export async function createMetadataTable(client: DynamoDBClient, table: string): Promise<void> {
  const created = await client.send(
    new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  let status = created.TableDescription?.TableStatus;
  const deadline = Date.now() + TABLE_ACTIVE_WAIT_MS;
  while (status !== 'ACTIVE') {
    if (Date.now() > deadline) throw new Error(`table ${table} is still ${status} after ${TABLE_ACTIVE_WAIT_MS} ms`);
    await sleep(TABLE_POLL_MS);
    status = (await client.send(new DescribeTableCommand({ TableName: table }))).Table?.TableStatus;
  }
}

/** Collects expression attribute names and values as placeholders (#n0, :v0), so any name is safe. */
class ExpressionBuilder {
  private readonly names = new Map<string, string>();
  private readonly values: Record<string, DynamoAttributeValue> = {};
  private valueCount = 0;

  name(attribute: string): string {
    let placeholder = this.names.get(attribute);
    if (placeholder === undefined) {
      placeholder = `#n${this.names.size}`;
      this.names.set(attribute, placeholder);
    }
    return placeholder;
  }

  value(value: AttributeValue): string {
    const placeholder = `:v${this.valueCount++}`;
    this.values[placeholder] = convertToAttr(value);
    return placeholder;
  }

  /** The port's conditions, all of which must hold, with conditions.ts's meaning. */
  conditions(conditions: Condition[] | undefined): string | undefined {
    if (!conditions?.length) return undefined;
    return conditions.map((condition) => this.condition(condition)).join(' AND ');
  }

  private condition(condition: Condition): string {
    const name = this.name(condition.attribute);
    if (!('value' in condition)) {
      return condition.op === 'exists' ? `attribute_exists(${name})` : `attribute_not_exists(${name})`;
    }
    const value = this.value(condition.value);
    // DynamoDB finds `missing <> x` true; the port says a comparison with a missing attribute is false.
    if (condition.op === '<>') return `(attribute_exists(${name}) AND ${name} <> ${value})`;
    return `${name} ${condition.op} ${value}`;
  }

  parameters(condition: string | undefined): {
    ConditionExpression?: string;
    ExpressionAttributeNames?: Record<string, string>;
    ExpressionAttributeValues?: Record<string, DynamoAttributeValue>;
  } {
    return {
      ...(condition !== undefined && { ConditionExpression: condition }),
      ...(this.names.size > 0 && {
        ExpressionAttributeNames: Object.fromEntries([...this.names].map(([name, placeholder]) => [placeholder, name])),
      }),
      ...(this.valueCount > 0 && { ExpressionAttributeValues: this.values }),
    };
  }
}

interface Bound {
  value: string;
  inclusive: boolean;
}

interface SortKeyRange {
  lower?: Bound;
  upper?: Bound;
}

/** The sort keys a query may return, with startAfter folded in; 'empty' when none can match. */
function sortKeyRange(options: QueryOptions): SortKeyRange | 'empty' {
  let lower: Bound | undefined;
  let upper: Bound | undefined;
  const raiseLower = (bound: Bound) => {
    if (!lower || isTighterLower(bound, lower)) lower = bound;
  };
  const lowerUpper = (bound: Bound) => {
    if (!upper || isTighterUpper(bound, upper)) upper = bound;
  };
  if (options.beginsWith !== undefined) {
    raiseLower({ value: options.beginsWith, inclusive: true });
    const successor = prefixSuccessor(options.beginsWith);
    if (successor !== undefined) lowerUpper({ value: successor, inclusive: false });
  }
  if (options.from !== undefined) raiseLower({ value: options.from, inclusive: true });
  if (options.to !== undefined) lowerUpper({ value: options.to, inclusive: true });
  if (options.startAfter !== undefined) {
    const after = { value: options.startAfter, inclusive: false };
    if (options.reverse) lowerUpper(after);
    else raiseLower(after);
  }
  // DynamoDB refuses an empty-string key value and a reversed BETWEEN, so neither is sent.
  if (lower?.value === '') lower = undefined;
  if (upper?.value === '') return 'empty';
  if (lower && upper) {
    const order = compareCodePoints(lower.value, upper.value);
    if (order > 0 || (order === 0 && !(lower.inclusive && upper.inclusive))) return 'empty';
  }
  return { lower, upper };
}

function isTighterLower(candidate: Bound, current: Bound): boolean {
  const order = compareCodePoints(candidate.value, current.value);
  return order > 0 || (order === 0 && !candidate.inclusive);
}

function isTighterUpper(candidate: Bound, current: Bound): boolean {
  const order = compareCodePoints(candidate.value, current.value);
  return order < 0 || (order === 0 && !candidate.inclusive);
}

function inRange(sk: string, { lower, upper }: SortKeyRange): boolean {
  if (lower && !(lower.inclusive ? compareCodePoints(sk, lower.value) >= 0 : compareCodePoints(sk, lower.value) > 0)) {
    return false;
  }
  if (upper && !(upper.inclusive ? compareCodePoints(sk, upper.value) <= 0 : compareCodePoints(sk, upper.value) < 0)) {
    return false;
  }
  return true;
}

function keyOf(pk: string, sk: string): Record<string, DynamoAttributeValue> {
  return { pk: { S: pk }, sk: { S: sk } };
}

function toItem(raw: Record<string, DynamoAttributeValue>): Item {
  return unmarshall(raw) as Item;
}

/** Opaque to callers: the base64url JSON of the key to continue after. */
function encodeScanCursor(item: Item): string {
  return Buffer.from(JSON.stringify({ pk: item.pk, sk: item.sk })).toString('base64url');
}

function decodeScanCursor(cursor: string): Record<string, DynamoAttributeValue> {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  if (typeof key !== 'object' || key === null || !('pk' in key) || !('sk' in key)) {
    throw new Error('invalid scan cursor');
  }
  const { pk, sk } = key;
  if (typeof pk !== 'string' || typeof sk !== 'string' || pk === '' || sk === '') {
    throw new Error('invalid scan cursor');
  }
  return keyOf(pk, sk);
}

function isValidationError(error: unknown): error is Error {
  return error instanceof Error && error.name === 'ValidationException';
}
