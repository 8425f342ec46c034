/**
 * RFC 4314 rights as Cyrus spells them: `l r s w i p k x t e a`, plus the obsolete RFC 2086 letters
 * `c` and `d` that clients (cyradm among them) still send. A set of rights is kept as a canonical string:
 * each real right once, in the order of ALL_RIGHTS; `c` and `d` never appear in it, they are expanded on
 * input and added back on output (RFC 4314 §2.1.1).
 *
 * Trusts nothing: rights strings come from IMAP clients and operators and are checked here.
 */

import { InvalidRightsError } from './errors.ts';

/** The standard rights of RFC 4314 §2.1, in the order Cyrus prints them. */
export const ALL_RIGHTS = 'lrswipkxtea';
export type Right = 'l' | 'r' | 's' | 'w' | 'i' | 'p' | 'k' | 'x' | 't' | 'e' | 'a';

/**
 * RFC 4314 §2.1.1 leaves the obsolete rights to one of two readings; like Cyrus we take the second:
 * "create" (c) is `k`, "delete" (d) is `x t e`.
 */
export const CREATE_GROUP = 'k';
export const DELETE_GROUP = 'xte';
/** Longest rights argument accepted (every letter a few times over); anything longer is refused. */
export const MAX_RIGHTS_LENGTH = 64;

/** How a SETACL rights argument changes the current rights (RFC 4314 §3.1). */
export interface RightsModification {
  mode: 'replace' | 'add' | 'remove';
  rights: string;
}

/**
 * A rights string as a client sends it, to the canonical set. `c` and `d` stand for their whole group.
 * An unknown right (also an upper-case or digit one) is an error: RFC 4314 §3.1 forbids ignoring it.
 */
export function parseRights(text: string): string {
  if (typeof text !== 'string') throw new InvalidRightsError('rights must be a string');
  if (text.length > MAX_RIGHTS_LENGTH) throw new InvalidRightsError(`rights longer than ${MAX_RIGHTS_LENGTH}`);
  const letters = new Set<string>();
  for (const letter of text) {
    if (letter === 'c') for (const member of CREATE_GROUP) letters.add(member);
    else if (letter === 'd') for (const member of DELETE_GROUP) letters.add(member);
    else if (ALL_RIGHTS.includes(letter)) letters.add(letter);
    else throw new InvalidRightsError(`unknown right ${JSON.stringify(letter)} (RFC 4314 §2.1: ${ALL_RIGHTS}cd)`);
  }
  return canonical(letters);
}

/** The SETACL rights argument: an optional `+` (add) or `-` (remove) prefix and rights (RFC 4314 §3.1). */
export function parseRightsModification(text: string): RightsModification {
  if (typeof text !== 'string') throw new InvalidRightsError('rights must be a string');
  if (text.startsWith('+')) return { mode: 'add', rights: parseRights(text.slice(1)) };
  if (text.startsWith('-')) return { mode: 'remove', rights: parseRights(text.slice(1)) };
  return { mode: 'replace', rights: parseRights(text) };
}

/** The rights after a modification; both sides canonical. */
export function modifyRights(current: string, modification: RightsModification): string {
  switch (modification.mode) {
    case 'replace':
      return modification.rights;
    case 'add':
      return unionRights(current, modification.rights);
    case 'remove':
      return subtractRights(current, modification.rights);
  }
}

/**
 * Canonical rights as MYRIGHTS and ACL responses show them: with `c` when any member of the create group
 * is present and `d` when any member of the delete group is (RFC 4314 §2.1.1), as Cyrus prints them.
 */
export function formatRights(rights: string): string {
  let text = rights;
  if ([...CREATE_GROUP].some((member) => rights.includes(member))) text += 'c';
  if ([...DELETE_GROUP].some((member) => rights.includes(member))) text += 'd';
  return text;
}

export function hasRight(rights: string, right: Right): boolean {
  return rights.includes(right);
}

export function unionRights(...sets: string[]): string {
  return canonical(new Set(sets.join('')));
}

export function subtractRights(rights: string, removed: string): string {
  return canonical(new Set([...rights].filter((letter) => !removed.includes(letter))));
}

function canonical(letters: Set<string>): string {
  return [...ALL_RIGHTS].filter((letter) => letters.has(letter)).join('');
}
