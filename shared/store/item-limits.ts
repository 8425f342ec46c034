/**
 * What an item may hold: DynamoDB's limits, checked by every metadata adapter before it writes, so code
 * that passes its tests on SQLite cannot fail in AWS on an item DynamoDB would refuse (and SQLite never
 * silently turns NaN into null). Item sizes follow DynamoDB's published rules, rounded up, so the
 * estimate never undercounts.
 */
import type { AttributeValue, Item } from './metadata.ts';

/** DynamoDB: partition key values up to 2048 bytes, sort key values up to 1024 bytes (UTF-8). */
export const MAX_PARTITION_KEY_BYTES = 2048;
export const MAX_SORT_KEY_BYTES = 1024;
/** DynamoDB's item size limit: attribute names and values together. */
export const MAX_ITEM_BYTES = 400 * 1024;
/** DynamoDB nests lists and maps up to 32 levels. */
export const MAX_NESTING_DEPTH = 32;
/** The smallest magnitude DynamoDB stores; JavaScript numbers go far smaller. */
const MIN_NUMBER_MAGNITUDE = 1e-130;
/** DynamoDB's size rules: lists and maps cost 3 bytes plus 1 per element; booleans and null 1 byte. */
const CONTAINER_BYTES = 3;
const ELEMENT_BYTES = 1;
const SCALAR_BYTES = 1;

export function assertItemKey(pk: unknown, sk: unknown): void {
  assertKeyPart('pk', pk, MAX_PARTITION_KEY_BYTES);
  assertKeyPart('sk', sk, MAX_SORT_KEY_BYTES);
}

export function assertPartitionKey(pk: unknown): void {
  assertKeyPart('pk', pk, MAX_PARTITION_KEY_BYTES);
}

function assertKeyPart(name: string, value: unknown, maxBytes: number): void {
  if (typeof value !== 'string' || value === '') throw new Error(`${name} must be a non-empty string`);
  if (!value.isWellFormed()) throw new Error(`${name} contains an unpaired surrogate`);
  if (Buffer.byteLength(value) > maxBytes) throw new Error(`${name} is longer than ${maxBytes} bytes`);
}

/** Throws unless DynamoDB would store the item exactly as given. */
export function assertStorableItem(item: Item): void {
  assertItemKey(item.pk, item.sk);
  let size = 0;
  for (const [name, value] of Object.entries(item)) {
    assertAttributeName(name);
    size += Buffer.byteLength(name) + storedSize(name, value, 0);
  }
  if (size > MAX_ITEM_BYTES) {
    throw new Error(`item ${item.pk} / ${item.sk} is about ${size} bytes, more than ${MAX_ITEM_BYTES}`);
  }
}

/** Throws unless the value can be stored as an attribute (same rules as in assertStorableItem). */
export function assertStorableValue(name: string, value: AttributeValue): void {
  assertAttributeName(name);
  storedSize(name, value, 0);
}

/** Throws unless the number is one DynamoDB stores and gives back unchanged. */
export function assertStorableNumber(name: string, value: number): void {
  if (!Number.isFinite(value)) throw new Error(`${name} is not a finite number`);
  if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
    throw new Error(`${name} is an integer beyond ±${Number.MAX_SAFE_INTEGER}`);
  }
  if (value !== 0 && Math.abs(value) < MIN_NUMBER_MAGNITUDE) throw new Error(`${name} is too close to zero`);
}

function assertAttributeName(name: string): void {
  if (name === '') throw new Error('attribute names must not be empty');
  if (!name.isWellFormed()) throw new Error(`attribute name ${JSON.stringify(name)} contains an unpaired surrogate`);
}

/** The value's size by DynamoDB's rules, validating it on the way. */
function storedSize(name: string, value: AttributeValue, depth: number): number {
  if (value === null || typeof value === 'boolean') return SCALAR_BYTES;
  if (typeof value === 'string') {
    if (!value.isWellFormed()) throw new Error(`${name} contains an unpaired surrogate`);
    return Buffer.byteLength(value);
  }
  if (typeof value === 'number') {
    assertStorableNumber(name, value);
    return numberSize(value);
  }
  if (typeof value !== 'object' || !isListOrMap(value)) throw new Error(`${name} is not a JSON value`);
  if (depth >= MAX_NESTING_DEPTH) throw new Error(`${name} nests deeper than ${MAX_NESTING_DEPTH} levels`);
  let size = CONTAINER_BYTES;
  if (Array.isArray(value)) {
    for (const element of value) size += ELEMENT_BYTES + storedSize(name, element, depth + 1);
    return size;
  }
  for (const [key, element] of Object.entries(value)) {
    if (element === undefined) throw new Error(`${name}.${key} is undefined`);
    assertAttributeName(key);
    size += ELEMENT_BYTES + Buffer.byteLength(key) + storedSize(name, element, depth + 1);
  }
  return size;
}

function isListOrMap(value: object): boolean {
  const prototype = Object.getPrototypeOf(value);
  return Array.isArray(value) || prototype === Object.prototype || prototype === null;
}

/** DynamoDB: about one byte per two significant digits, plus one. */
function numberSize(value: number): number {
  return Math.ceil(Math.max(significantDigits(value), 1) / 2) + 1;
}

/** Significant decimal digits, without leading or trailing zeros (0 has none). */
function significantDigits(value: number): number {
  if (Number.isSafeInteger(value)) {
    let magnitude = Math.abs(value);
    if (magnitude === 0) return 0;
    while (magnitude % 10 === 0) magnitude /= 10;
    return String(magnitude).length;
  }
  return Math.abs(value)
    .toExponential()
    .replace(/e.*$/, '')
    .replace('.', '')
    .replace(/^0+|0+$/g, '').length;
}

/** Pages hold at most this many items, whatever the caller asks for; callers follow the cursor. */
export const MAX_PAGE_ITEMS = 1000;

/** The number of items a query or scan page may hold. */
export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return MAX_PAGE_ITEMS;
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`page limit must be a positive integer, not ${limit}`);
  return Math.min(limit, MAX_PAGE_ITEMS);
}
