/**
 * The meaning of conditions and updates, for adapters that evaluate them themselves (SQLite).
 * The DynamoDB adapter translates the same shapes into ConditionExpression / UpdateExpression,
 * and the contract tests hold both to this.
 */
import type { AttributeValue, Condition, Item, Update } from './metadata.ts';

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
  const a = actual as string | number | boolean;
  switch (condition.op) {
    case '=':
      return a === expected;
    case '<>':
      return a !== expected;
    case '<':
      return a < expected;
    case '<=':
      return a <= expected;
    case '>':
      return a > expected;
    case '>=':
      return a >= expected;
  }
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

/** Attribute names the adapters accept: plain identifiers, never the key attributes in set/add/remove. */
export function assertUpdatable(update: Update): void {
  const names = [...Object.keys(update.set ?? {}), ...Object.keys(update.add ?? {}), ...(update.remove ?? [])];
  for (const name of names) {
    if (name === 'pk' || name === 'sk') throw new Error('the key attributes cannot be updated');
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`invalid attribute name ${JSON.stringify(name)}`);
  }
}
