/**
 * Which rights each mailbox operation needs (RFC 4314 §4, with RFC 6851 §3.3 for MOVE), in one table
 * that the IMAP commands, SMTP delivery and the tests share. UID forms need what the plain ones need.
 *
 * Flags are a special case (RFC 4314 §4): APPEND, COPY and STORE need `t` to set or clear \Deleted, `s`
 * for \Seen and `w` for every other flag, and a missing flag right drops that flag instead of failing.
 */
import { NoPermissionError } from './errors.ts';

export type MailboxOperation =
  /** LIST/LSUB show it; SUBSCRIBE checks existence with it. */
  | 'lookup'
  /** SELECT, EXAMINE, STATUS, and so FETCH, SEARCH, SORT, THREAD in the selected state. */
  | 'read'
  /** CREATE of a mailbox below this one, the new parent in RENAME. */
  | 'create-child'
  /** DELETE, the old name in RENAME. */
  | 'delete'
  /** APPEND to it, COPY or MOVE into it. */
  | 'insert'
  /** MOVE out of it: the source loses the messages (RFC 6851 §3.3: `t` and `e` on the source). */
  | 'move-out'
  /** EXPUNGE, and the expunge part of CLOSE. */
  | 'expunge'
  /** SMTP delivery to a shared mailbox or a plus-address folder by someone other than the owner. */
  | 'post'
  /** SETACL, DELETEACL, GETACL, LISTRIGHTS. */
  | 'administer';

/** Every right listed is needed. */
export const OPERATION_RIGHTS: Readonly<Record<MailboxOperation, string>> = {
  lookup: 'l',
  read: 'r',
  'create-child': 'k',
  delete: 'x',
  insert: 'i',
  'move-out': 'te',
  expunge: 'e',
  post: 'p',
  administer: 'a',
};

/** MYRIGHTS needs any one of these (RFC 4314 §4). */
export const MYRIGHTS_ANY_OF = 'lrikxa';

export const DELETED_FLAG = '\\Deleted';
export const SEEN_FLAG = '\\Seen';

export function allows(rights: string, operation: MailboxOperation): boolean {
  return [...OPERATION_RIGHTS[operation]].every((right) => rights.includes(right));
}

/** Throws NoPermissionError naming the first missing right. */
export function requireOperation(rights: string, operation: MailboxOperation, mailbox: string): void {
  const missing = [...OPERATION_RIGHTS[operation]].find((right) => !rights.includes(right));
  if (missing !== undefined) throw new NoPermissionError(missing, mailbox);
}

export function mayAskMyRights(rights: string): boolean {
  return [...MYRIGHTS_ANY_OF].some((right) => rights.includes(right));
}

/** The right that setting or clearing this flag needs. */
export function flagRight(flag: string): 's' | 't' | 'w' {
  const folded = flag.toLowerCase();
  if (folded === SEEN_FLAG.toLowerCase()) return 's';
  if (folded === DELETED_FLAG.toLowerCase()) return 't';
  return 'w';
}

/** The flags the rights allow to be set (APPEND, COPY) or changed (STORE); the others are dropped. */
export function permittedFlags(rights: string, flags: readonly string[]): string[] {
  return flags.filter((flag) => rights.includes(flagRight(flag)));
}

/** Whether any flag can be changed at all: a session with none of `s w t` is read-only (RFC 4314 §5.2). */
export function mayChangeAnyFlag(rights: string): boolean {
  return ['s', 'w', 't'].some((right) => rights.includes(right));
}
