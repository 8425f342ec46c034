/**
 * Numbers as operators type them: byte sizes with binary suffixes (`500M`, `2G`, `1.5T`) and plain
 * counts, with `none` where a limit can be removed. Parsers for commander options: a bad value is an
 * InvalidArgumentError, which commander reports as a usage error.
 */
import { InvalidArgumentError } from 'commander';

const SIZE_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
const SIZE = /^([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)(?:i?B)?$/i;
const COUNT = /^[0-9]+$/;
export const NO_LIMIT = 'none' as const;

/** A positive whole number of bytes. */
export function parseSize(text: string): number {
  const match = SIZE.exec(text.trim());
  if (!match) throw new InvalidArgumentError('expected a size such as 500M, 2G or 1073741824');
  const bytes = Math.round(Number(match[1]) * SIZE_UNITS[match[2]!.toUpperCase()]!);
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new InvalidArgumentError('expected a size of at least 1 byte');
  return bytes;
}

/** A positive whole number. */
export function parseCount(text: string): number {
  const value = Number(text.trim());
  if (!COUNT.test(text.trim()) || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError('expected a positive whole number');
  }
  return value;
}

/** A whole number, possibly zero or too large: the directory checks the range and says what it is. */
export function parseWholeNumber(text: string): number {
  if (!COUNT.test(text.trim())) throw new InvalidArgumentError('expected a whole number');
  return Number(text.trim());
}

/** A size, or `none` (remove the limit). Not null: commander turns a parser's null into ''. */
export function parseSizeOrNone(text: string): number | typeof NO_LIMIT {
  return text.trim().toLowerCase() === NO_LIMIT ? NO_LIMIT : parseSize(text);
}

/** A count, or `none` (remove the limit). */
export function parseCountOrNone(text: string): number | typeof NO_LIMIT {
  return text.trim().toLowerCase() === NO_LIMIT ? NO_LIMIT : parseCount(text);
}

/** An option parsed by parseSizeOrNone or parseCountOrNone as a limit change: null removes it. */
export function limitChange(value: number | typeof NO_LIMIT | undefined): number | null | undefined {
  return value === NO_LIMIT ? null : value;
}

/** The shortest exact spelling in the syntax parseSize reads: `2G`, `1536M`, `1000`. */
export function formatSize(bytes: number): string {
  for (const unit of ['T', 'G', 'M', 'K']) {
    const factor = SIZE_UNITS[unit]!;
    if (bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return String(bytes);
}
