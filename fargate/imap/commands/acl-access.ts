/**
 * How an IMAP session reaches a mailbox by name, in any of the three namespaces (shared/acl/
 * session-names.ts: personal, `user/` other users, `Shared/`), and what it may do there (RFC 4314 §4).
 * Every command that names a mailbox goes through here: the name is decoded from the wire, mapped to
 * its owner in the store, and the session's effective rights on it are computed from the mailbox's ACL
 * (the owner and administrators have every right).
 *
 * SECURITY: the name is untrusted. A mailbox the session may not even look up (`l`) answers exactly as
 * a missing one does (NONEXISTENT), so names cannot be probed; one it may look up but not use answers
 * NOPERM. The session's own account is fixed at login: an other-users name reaches another account's
 * mailbox only through that mailbox's ACL.
 */
import {
  type Accessor,
  allows,
  effectiveRights,
  type MailboxOperation,
  requireOperation,
  resolveSessionName,
  type SessionMailbox,
  sessionNameOf,
  sharedMailboxOwner,
} from '../../../shared/acl/index.ts';
import type { Account } from '../../../shared/directory/directory.ts';
import { getMailboxByName, type Mailbox, MailboxNotFoundError } from '../../../shared/mailbox/index.ts';
import type { QuotaLimit } from '../../../shared/mailbox/quota.ts';
import { quotaLimitOf } from '../../../shared/quota/quota-roots.ts';
import { mailboxNameFromWire } from '../namespaces.ts';
import type { ImapSession } from '../session.ts';

/** A mailbox name as the session gave it, resolved to its owner in the store. */
export interface MailboxTarget {
  location: SessionMailbox;
  /** The mailbox-store owner: an account id or a domain's shared-mailbox owner. */
  owner: string;
  /** The owning account, for personal mailboxes (its address names it, its limits are the quota). */
  ownerAccount?: Account;
  /** The store name within the owner. */
  name: string;
  /** The name the session shows (before wire encoding). */
  sessionName: string;
}

export interface OpenedMailbox {
  target: MailboxTarget;
  mailbox: Mailbox;
  /** The session's canonical rights on it. */
  rights: string;
}

export function accessorOf(session: ImapSession): Accessor & { kind: 'account' } {
  const account = session.account!;
  return { kind: 'account', id: account.id, address: account.address, admin: account.admin };
}

/** Where a wire name points; MailboxNotFoundError for an account that does not exist. */
export async function resolveTarget(session: ImapSession, wire: string): Promise<MailboxTarget> {
  const account = session.account!;
  const location = resolveSessionName(mailboxNameFromWire(wire, session.utf8), {
    address: account.address,
    domain: account.domain,
  });
  const sessionName = sessionNameOf(location);
  switch (location.kind) {
    case 'own':
      return { location, owner: account.id, ownerAccount: account, name: location.name, sessionName };
    case 'personal': {
      const owner = await session.server.directory.getAccount(location.address);
      if (!owner) throw new MailboxNotFoundError(sessionName);
      return { location, owner: owner.id, ownerAccount: owner, name: location.name, sessionName };
    }
    case 'shared':
      return { location, owner: sharedMailboxOwner(location.domain), name: location.name, sessionName };
  }
}

/**
 * The mailbox a wire name points to, with the session's rights on it, checked for `operation`:
 * NONEXISTENT when it is missing or the session may not look it up, NOPERM when it may look it up but
 * not do this.
 */
export async function openMailbox(
  session: ImapSession,
  wire: string,
  operation?: MailboxOperation,
): Promise<OpenedMailbox> {
  const target = await resolveTarget(session, wire);
  const mailbox = await getMailboxByName(session.server.mail, target.owner, target.name);
  const rights = effectiveRights(mailbox, accessorOf(session));
  requireRights(target, rights, operation);
  return { target, mailbox, rights };
}

/**
 * Throws as openMailbox does when `rights` do not allow `operation` on the target; without an
 * operation, any right at all will do.
 */
export function requireRights(target: MailboxTarget, rights: string, operation?: MailboxOperation): void {
  if (operation === undefined ? rights !== '' : allows(rights, operation)) return;
  if (operation === undefined || !rights.includes('l')) throw new MailboxNotFoundError(target.sessionName);
  requireOperation(rights, operation, target.sessionName);
}

/** The quota the mailbox's owner is held to (none for shared mailboxes). */
export function quotaOf(target: MailboxTarget): QuotaLimit {
  return target.ownerAccount ? quotaLimitOf(target.ownerAccount) : {};
}
