/**
 * Mailbox names and flags as the store keeps them: UTF-8 in Unicode NFC (RFC 9051 §5.1 asks for
 * Net-Unicode, RFC 5198), hierarchy separator `/`, and INBOX case-insensitive. Modified UTF-7 and
 * quoting belong to the IMAP protocol layer, which hands names over already decoded.
 *
 * Trusts nothing: names, flags and account ids come from clients and are checked here before they
 * become parts of store keys.
 */
import { InvalidFlagError, InvalidMailboxNameError } from './errors.ts';

export const HIERARCHY_SEPARATOR = '/';
export const INBOX = 'INBOX';
export const MAX_MAILBOX_NAME_BYTES = 512;
export const MAX_MAILBOX_NAME_DEPTH = 32;
export const MAX_ACCOUNT_ID_BYTES = 320;
export const MAX_FLAG_LENGTH = 128;
export const MAX_FLAGS_PER_MESSAGE = 128;

/** RFC 6154 special-use attributes. */
export const SPECIAL_USES = ['\\All', '\\Archive', '\\Drafts', '\\Flagged', '\\Junk', '\\Sent', '\\Trash'] as const;
export type SpecialUse = (typeof SPECIAL_USES)[number];

/** RFC 9051 §2.3.2 system flags that can be stored (\Recent is session state, never stored). */
const SYSTEM_FLAGS = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'] as const;
export const SEEN = '\\Seen';

// Control characters never belong in a name; % and * are LIST wildcards (RFC 9051 §6.3.9).
const FORBIDDEN_IN_NAME = /[\u0000-\u001f\u007f-\u009f%*]/u;
// RFC 9051 §9 flag-keyword is an atom: no atom-specials, and "]" (resp-specials) is excluded too.
const KEYWORD = /^[\u0021-\u007e]+$/;
const ATOM_SPECIALS = /[(){ %*"\\\]]/;

/**
 * The canonical form of a mailbox name: NFC, INBOX (any case) as `INBOX`, also as the first level of
 * its inferiors (`inbox/x` is `INBOX/x`, as Dovecot treats it). Throws InvalidMailboxNameError.
 */
export function normalizeMailboxName(name: string): string {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidMailboxNameError(String(name), 'empty');
  const nfc = name.normalize('NFC');
  if (Buffer.byteLength(nfc) > MAX_MAILBOX_NAME_BYTES) {
    throw new InvalidMailboxNameError(name, `longer than ${MAX_MAILBOX_NAME_BYTES} bytes`);
  }
  if (FORBIDDEN_IN_NAME.test(nfc)) throw new InvalidMailboxNameError(name, 'contains a control character, % or *');
  if (!nfc.isWellFormed()) throw new InvalidMailboxNameError(name, 'not well-formed Unicode');
  const levels = nfc.split(HIERARCHY_SEPARATOR);
  if (levels.some((level) => level.length === 0)) {
    throw new InvalidMailboxNameError(name, 'empty hierarchy level (leading, trailing or doubled "/")');
  }
  if (levels.length > MAX_MAILBOX_NAME_DEPTH) {
    throw new InvalidMailboxNameError(name, `deeper than ${MAX_MAILBOX_NAME_DEPTH} levels`);
  }
  if (levels[0]!.toUpperCase() === INBOX) levels[0] = INBOX;
  return levels.join(HIERARCHY_SEPARATOR);
}

/** The superior names of a (normalized) name, outermost first: `a/b/c` → `a`, `a/b`. */
export function superiorNames(name: string): string[] {
  const levels = name.split(HIERARCHY_SEPARATOR);
  return levels.slice(1).map((_, index) => levels.slice(0, index + 1).join(HIERARCHY_SEPARATOR));
}

/** Whether `candidate` is `name` itself or one of its inferiors. */
export function isSameOrInferior(candidate: string, name: string): boolean {
  return candidate === name || candidate.startsWith(name + HIERARCHY_SEPARATOR);
}

/** Account ids are opaque normalised strings from the directory; they only have to be safe as key parts. */
export function assertAccountId(account: string): void {
  if (typeof account !== 'string' || account.length === 0 || Buffer.byteLength(account) > MAX_ACCOUNT_ID_BYTES) {
    throw new InvalidMailboxNameError(String(account), 'invalid account id');
  }
  if (/[\u0000-\u0020\u007f]/.test(account)) throw new InvalidMailboxNameError(account, 'invalid account id');
}

export function assertSpecialUse(value: string): asserts value is SpecialUse {
  if (!(SPECIAL_USES as readonly string[]).includes(value)) {
    throw new InvalidMailboxNameError(value, 'unknown special-use attribute (RFC 6154)');
  }
}

/**
 * A flag list in canonical form: system flags spelled as RFC 9051 spells them, keywords kept as given,
 * duplicates dropped case-insensitively (flags are case-insensitive, RFC 9051 §2.3.2), order kept.
 */
export function normalizeFlags(flags: readonly string[]): string[] {
  if (!Array.isArray(flags)) throw new InvalidFlagError(String(flags), 'not a list');
  const seen = new Set<string>();
  const result: string[] = [];
  for (const flag of flags) {
    const canonical = canonicalFlag(flag);
    const folded = canonical.toLowerCase();
    if (seen.has(folded)) continue;
    seen.add(folded);
    result.push(canonical);
  }
  if (result.length > MAX_FLAGS_PER_MESSAGE) {
    throw new InvalidFlagError(result[MAX_FLAGS_PER_MESSAGE]!, `more than ${MAX_FLAGS_PER_MESSAGE} flags`);
  }
  return result;
}

function canonicalFlag(flag: string): string {
  if (typeof flag !== 'string' || flag.length === 0) throw new InvalidFlagError(String(flag), 'empty');
  if (flag.length > MAX_FLAG_LENGTH) throw new InvalidFlagError(flag, `longer than ${MAX_FLAG_LENGTH}`);
  if (flag.startsWith('\\')) {
    const system = SYSTEM_FLAGS.find((known) => known.toLowerCase() === flag.toLowerCase());
    if (!system) throw new InvalidFlagError(flag, 'not a storable system flag');
    return system;
  }
  if (!KEYWORD.test(flag) || ATOM_SPECIALS.test(flag)) throw new InvalidFlagError(flag, 'not an atom');
  return flag;
}

/** Flags of `current` with `change` applied, in canonical form. */
export function applyFlagChange(current: readonly string[], mode: 'set' | 'add' | 'remove', change: readonly string[]) {
  if (mode === 'set') return normalizeFlags(change);
  const folded = new Set(change.map((flag) => flag.toLowerCase()));
  if (mode === 'remove') return current.filter((flag) => !folded.has(flag.toLowerCase()));
  return normalizeFlags([...current, ...change]);
}

export function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const folded = new Set(a.map((flag) => flag.toLowerCase()));
  return b.every((flag) => folded.has(flag.toLowerCase()));
}
