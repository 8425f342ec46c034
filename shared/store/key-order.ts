/**
 * String order as DynamoDB and SQLite see it: by UTF-8 bytes, which is Unicode code point order.
 * JavaScript's `<` compares UTF-16 code units instead, and the two disagree once characters beyond
 * U+FFFF meet characters from U+E000 to U+FFFF, so every adapter compares keys and values through here.
 */

const LAST_CODE_POINT = 0x10ffff;
const FIRST_SURROGATE = 0xd800;
const AFTER_SURROGATES = 0xe000;

/** Negative, zero or positive as a sorts before, with or after b in code point order. */
export function compareCodePoints(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * The smallest string after every string that starts with prefix, so `prefix <= s < successor` means
 * "s starts with prefix". Undefined when no such string exists (the prefix is all U+10FFFF).
 */
export function prefixSuccessor(prefix: string): string | undefined {
  const codePoints = Array.from(prefix, (char) => char.codePointAt(0) ?? 0);
  while (codePoints.at(-1) === LAST_CODE_POINT) codePoints.pop();
  const last = codePoints.pop();
  if (last === undefined) return undefined;
  const next = last + 1 === FIRST_SURROGATE ? AFTER_SURROGATES : last + 1;
  return codePoints.map((codePoint) => String.fromCodePoint(codePoint)).join('') + String.fromCodePoint(next);
}
