/**
 * Mailbox names between the wire and the store, and the namespaces (RFC 2342) the server presents.
 *
 * The store keeps names in UTF-8 with `/` as the hierarchy separator (shared/mailbox/names.ts). On the
 * wire they are modified UTF-7 (RFC 3501 §5.1.3) unless the client enabled UTF8=ACCEPT (RFC 6855).
 * Three namespaces (shared/acl/session-names.ts): the account's own mailboxes at the top (personal,
 * prefix ""), other accounts' mailboxes under `user/` (other users, as Cyrus names them), and the shared
 * mailboxes of the account's domain under `Shared/`. Which of them a session may use is the ACL's say
 * (commands/acl-access.ts).
 *
 * SECURITY: wire names are untrusted; decoding is strict (protocol/mailbox-name.ts).
 */
import { OTHER_USERS_PREFIX, SHARED_PREFIX } from '../../shared/acl/index.ts';
import { HIERARCHY_SEPARATOR } from '../../shared/mailbox/names.ts';
import { decodeMailboxName, encodeMailboxName } from './protocol/mailbox-name.ts';
import type { NamespaceEntry } from './protocol/response-writer.ts';

export const PERSONAL_NAMESPACES: readonly NamespaceEntry[] = [{ prefix: '', delimiter: HIERARCHY_SEPARATOR }];
export const OTHER_USERS_NAMESPACES: readonly NamespaceEntry[] = [
  { prefix: OTHER_USERS_PREFIX, delimiter: HIERARCHY_SEPARATOR },
];
export const SHARED_NAMESPACES: readonly NamespaceEntry[] = [{ prefix: SHARED_PREFIX, delimiter: HIERARCHY_SEPARATOR }];

/** The name a wire name stands for; throws MailboxNameError (bad encoding). */
export function mailboxNameFromWire(wire: string, utf8: boolean): string {
  return utf8 ? wire : decodeMailboxName(wire);
}

/** The wire form of a name. */
export function mailboxNameToWire(name: string, utf8: boolean): string {
  return utf8 ? name : encodeMailboxName(name);
}
