/**
 * LIST/LSUB name patterns (RFC 9051 §6.3.9): the reference and the pattern joined, `*` matching any
 * characters and `%` any but the hierarchy separator; INBOX matches case-insensitively (§5.1).
 * Patterns are client input: matching is a linear-time scan without regular expressions built from it.
 */
import { HIERARCHY_SEPARATOR, INBOX } from '../../shared/mailbox/names.ts';

/** The canonical pattern for a reference and a mailbox pattern (RFC 9051 §6.3.9). */
export function joinReference(reference: string, pattern: string): string {
  if (reference === '' || pattern.startsWith(HIERARCHY_SEPARATOR)) return canonicalInbox(pattern);
  if (reference.endsWith(HIERARCHY_SEPARATOR)) return canonicalInbox(reference + pattern);
  return canonicalInbox(`${reference}${HIERARCHY_SEPARATOR}${pattern}`);
}

/** `inbox`, `Inbox/x`, ... as the store spells them. */
function canonicalInbox(pattern: string): string {
  const first = pattern.split(HIERARCHY_SEPARATOR, 1)[0]!;
  return first.toUpperCase() === INBOX ? INBOX + pattern.slice(first.length) : pattern;
}

/** Longest pattern accepted: names are at most 512 bytes, longer patterns can match nothing useful. */
export const MAX_LIST_PATTERN_LENGTH = 1024;

/**
 * Whether the name matches the pattern: a simulation of the pattern's automaton over the name, with the
 * set of pattern positions still alive after each character, so the cost is at most
 * name length × pattern length whatever the wildcards.
 */
export function matchesPattern(name: string, pattern: string): boolean {
  const alive = new Uint8Array(pattern.length + 1);
  let current: number[] = [];
  const add = (list: number[], position: number) => {
    // Wildcards may match nothing: a position on one also reaches the position after it.
    for (let p = position; p <= pattern.length && !alive[p]; p++) {
      alive[p] = 1;
      list.push(p);
      if (pattern[p] !== '*' && pattern[p] !== '%') break;
    }
  };
  add(current, 0);
  for (let index = 0; index < name.length; index++) {
    const char = name[index];
    for (const position of current) alive[position] = 0;
    const next: number[] = [];
    for (const position of current) {
      const wildcard = pattern[position];
      if (wildcard === '*' || (wildcard === '%' && char !== HIERARCHY_SEPARATOR)) add(next, position);
      else if (wildcard !== undefined && wildcard !== '%' && wildcard === char) add(next, position + 1);
    }
    if (next.length === 0) return false;
    current = next;
  }
  return current.includes(pattern.length);
}
