/**
 * Mailbox names between the wire and the store, and the namespaces (RFC 2342) the server presents.
 *
 * The store keeps names in UTF-8 with `/` as the hierarchy separator (shared/mailbox/names.ts). On the
 * wire they are modified UTF-7 (RFC 3501 §5.1.3) unless the client enabled UTF8=ACCEPT (RFC 6855).
 * Namespaces as Cyrus presents them: the account's own mailboxes at the top (personal, prefix ""),
 * other users' mailboxes under `user/` (other users), shared mailboxes at the top. The account sees
 * only its own mailboxes until ACLs exist, so the other-users namespace is announced but empty, and
 * no shared namespace is announced until there are shared mailboxes to show.
 *
 * SECURITY: wire names are untrusted; decoding is strict (protocol/mailbox-name.ts), and names in the
 * other-users namespace are refused for the account's own operations, so a client can never reach
 * another account's mailbox by name.
 */
import { HIERARCHY_SEPARATOR } from '../../shared/mailbox/names.ts';
import { decodeMailboxName, encodeMailboxName } from './protocol/mailbox-name.ts';
import type { NamespaceEntry } from './protocol/response-writer.ts';

export const OTHER_USERS_PREFIX = `user${HIERARCHY_SEPARATOR}`;

export const PERSONAL_NAMESPACES: readonly NamespaceEntry[] = [{ prefix: '', delimiter: HIERARCHY_SEPARATOR }];
export const OTHER_USERS_NAMESPACES: readonly NamespaceEntry[] = [
  { prefix: OTHER_USERS_PREFIX, delimiter: HIERARCHY_SEPARATOR },
];
export const SHARED_NAMESPACES: readonly NamespaceEntry[] = [];

export class ForeignMailboxError extends Error {
  override name = 'ForeignMailboxError';
  constructor(readonly mailbox: string) {
    super(`${mailbox} is in another namespace`);
  }
}

/** The store name for a wire name; throws MailboxNameError (bad encoding) or ForeignMailboxError. */
export function mailboxNameFromWire(wire: string, utf8: boolean): string {
  const name = utf8 ? wire : decodeMailboxName(wire);
  if (isOtherUsersName(name)) throw new ForeignMailboxError(name);
  return name;
}

/** The wire form of a store name. */
export function mailboxNameToWire(name: string, utf8: boolean): string {
  return utf8 ? name : encodeMailboxName(name);
}

/** True for `user` itself and everything under `user/`: the other-users namespace. */
export function isOtherUsersName(name: string): boolean {
  return name === OTHER_USERS_PREFIX.slice(0, -1) || name.startsWith(OTHER_USERS_PREFIX);
}
