/**
 * Mailbox names as a logged-in user sees them over IMAP, in the three namespaces of RFC 2342 that
 * NAMESPACE reports:
 *   personal       ""          the user's own mailboxes: INBOX, Sent, Projects/2024, ...
 *   other users    "user/"     other accounts' mailboxes the user was granted: user/bob@example.com is
 *                              bob's INBOX, user/bob@example.com/Sent his Sent (user/bob means bob in the
 *                              user's own domain, as Cyrus reads it)
 *   shared         "Shared/"   the shared mailboxes of the user's domain: Shared/news
 * Administrators see the same three namespaces (and, through their rights, everything in them), so
 * cyradm's `cm user/bob@example.com` and `cm Shared/news` mean what they say.
 *
 * Trusts nothing: the name comes from the client (already decoded from modified UTF-7); the parts are
 * validated by shared/address and shared/mailbox's name rules.
 */
import { InvalidMailboxNameError } from '../mailbox/errors.ts';
import { HIERARCHY_SEPARATOR, normalizeMailboxName } from '../mailbox/names.ts';
import { formatMailboxPath, OTHER_USERS_PREFIX, OTHER_USERS_ROOT, parseMailboxPath } from './mailbox-paths.ts';

export const SHARED_ROOT = 'Shared';
export const SHARED_PREFIX = SHARED_ROOT + HIERARCHY_SEPARATOR;

/** Where a session's name points. `name` is the store name within the owner. */
export type SessionMailbox =
  | { kind: 'own'; name: string }
  | { kind: 'personal'; address: string; name: string }
  | { kind: 'shared'; domain: string; name: string };

export interface SessionUser {
  address: string;
  domain: string;
}

/** The namespace roots themselves: names that are never mailboxes of their own. */
export function isNamespaceRoot(name: string): boolean {
  return name === OTHER_USERS_ROOT || name === SHARED_ROOT;
}

/** Where a name the user sent points; InvalidMailboxNameError for a malformed one or a bare root. */
export function resolveSessionName(name: string, user: SessionUser): SessionMailbox {
  if (isNamespaceRoot(name)) throw new InvalidMailboxNameError(name, 'a namespace, not a mailbox');
  if (name.startsWith(OTHER_USERS_PREFIX)) {
    const path = parseMailboxPath(name, user.domain);
    if (path.kind !== 'personal') throw new InvalidMailboxNameError(name, 'not an account');
    if (path.address === user.address) return { kind: 'own', name: path.name };
    return { kind: 'personal', address: path.address, name: path.name };
  }
  if (name.startsWith(SHARED_PREFIX)) {
    const path = parseMailboxPath(name.slice(SHARED_PREFIX.length), user.domain);
    if (path.kind !== 'shared' || path.domain !== user.domain) {
      throw new InvalidMailboxNameError(name, "not a shared mailbox of the user's domain");
    }
    return { kind: 'shared', domain: path.domain, name: path.name };
  }
  return { kind: 'own', name: normalizeMailboxName(name) };
}

/** The name the session shows for a mailbox. */
export function sessionNameOf(target: SessionMailbox): string {
  switch (target.kind) {
    case 'own':
      return target.name;
    case 'personal':
      return formatMailboxPath({ kind: 'personal', address: target.address, name: target.name });
    case 'shared':
      return SHARED_PREFIX + target.name;
  }
}
