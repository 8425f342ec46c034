/**
 * The meaning of conditions and updates, for adapters that evaluate them themselves (SQLite).
 * The DynamoDB adapter translates the same shapes into ConditionExpression / UpdateExpression,
 * and the contract tests hold both to this. The assert functions reject, in every adapter, what
 * DynamoDB would refuse or evaluate differently.
 */
import { assertStorableNumber, assertStorableValue } from './item-limits.ts';
import { compareCodePoints } from './key-order.ts';
import type { AttributeValue, Condition, Item, Update } from './metadata.ts';

const COMPARISONS = new Set(['=', '<>', '<', '<=', '>', '>=']);
const ATTRIBUTE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function conditionsHold(item: Item | undefined, conditions: Condition[] | undefined): boolean {
  return (conditions ?? []).every((condition) => conditionHolds(item, condition));
}

function conditionHolds(item: Item | undefined, condition: Condition): boolean {
  const present = item !== undefined && Object.hasOwn(item, condition.attribute);
  if (!('value' in condition)) return condition.op === 'exists' ? present : !present;
  if (!present) return false;
  const actual = item[condition.attribute];
  const expected = condition.value;
  // DynamoDB compares only values of the same type; anything else is simply false (and <> is true).
  if (typeof actual !== typeof expected) return condition.op === '<>';
  const order = compareScalars(actual as string | number | boolean, expected);
  switch (condition.op) {
    case '=':
      return order === 0;
    case '<>':
      return order !== 0;
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    case '>=':
      return order >= 0;
  }
}

/** Two values of the same type; strings in code point order, as DynamoDB compares them. */
function compareScalars(a: string | number | boolean, b: string | number | boolean): number {
  if (typeof a === 'string' && typeof b === 'string') return compareCodePoints(a, b);
  return a === b ? 0 : a < b ? -1 : 1;
}

/** The item after applying an update to it (or to nothing, which creates it). */
export function applyUpdate(pk: string, sk: string, item: Item | undefined, update: Update): Item {
  const next: Item = { ...(item ?? {}), pk, sk };
  for (const [name, value] of Object.entries(update.set ?? {})) next[name] = value;
  for (const [name, delta] of Object.entries(update.add ?? {})) {
    const current: AttributeValue | undefined = next[name];
    if (current !== undefined && typeof current !== 'number') {
      throw new TypeError(`cannot add to non-numeric attribute ${name}`);
    }
    next[name] = (current ?? 0) + delta;
  }
  for (const name of update.remove ?? []) delete next[name];
  return next;
}

/**
 * Attribute names the adapters accept: plain identifiers, never the key attributes, each named at most
 * once across set/add/remove (DynamoDB refuses overlapping paths). Values must be storable, and add
 * takes safe integers only: DynamoDB adds in decimal, JavaScript in binary floating point, so
 * fractional deltas would give different sums.
 */
export function assertUpdatable(update: Update): void {
  const names = [...Object.keys(update.set ?? {}), ...Object.keys(update.add ?? {}), ...(update.remove ?? [])];
  const seen = new Set<string>();
  for (const name of names) {
    if (name === 'pk' || name === 'sk') throw new Error('the key attributes cannot be updated');
    if (!ATTRIBUTE_NAME.test(name)) throw new Error(`invalid attribute name ${JSON.stringify(name)}`);
    if (seen.has(name)) throw new Error(`attribute ${name} appears more than once in one update`);
    seen.add(name);
  }
  for (const [name, value] of Object.entries(update.set ?? {})) assertStorableValue(name, value);
  for (const [name, delta] of Object.entries(update.add ?? {})) {
    if (!Number.isSafeInteger(delta)) throw new Error(`add ${name}: ${delta} is not a safe integer`);
  }
  assertConditions(update.conditions);
}

/** Conditions DynamoDB evaluates the way conditionsHold does; booleans have no order there. */
export function assertConditions(conditions: Condition[] | undefined): void {
  for (const condition of conditions ?? []) {
    const name = condition.attribute;
    if (typeof name !== 'string' || name === '' || !name.isWellFormed()) {
      throw new Error(`invalid condition attribute ${JSON.stringify(name)}`);
    }
    if (!('value' in condition)) {
      if (condition.op !== 'exists' && condition.op !== 'notExists') {
        throw new Error(`condition on ${name}: ${JSON.stringify(condition.op)} needs a value`);
      }
      continue;
    }
    const { op, value } = condition;
    if (!COMPARISONS.has(op)) throw new Error(`condition on ${name}: unknown operator ${JSON.stringify(op)}`);
    if (typeof value === 'number') assertStorableNumber(name, value);
    else if (typeof value === 'string') assertStorableValue(name, value);
    else if (typeof value !== 'boolean')
      throw new Error(`condition on ${name}: the value must be a string, number or boolean`);
    else if (op !== '=' && op !== '<>') throw new Error(`condition on ${name}: booleans compare only with = and <>`);
  }
}
