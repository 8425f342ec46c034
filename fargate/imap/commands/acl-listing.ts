/**
 * The mailboxes a session can see (RFC 4314 §4: LIST needs `l`), under the names it sees them by:
 * its own mailboxes, the shared mailboxes of its domain (`Shared/…`), and other accounts' mailboxes
 * (`user/<address>/…`) that were granted to it or to anyone (the grant index, shared/acl). An
 * administrator sees every account's mailboxes; which accounts are read is narrowed by the LIST
 * patterns when they name one (`user/bob@example.com/*`), and bounded in any case.
 *
 * The mailboxes are returned as Mailbox records whose `name` is the session's name, which is all LIST,
 * LSUB and LIST-STATUS need.
 */
import {
  ALL_RIGHTS,
  effectiveRights,
  listGrantedMailboxes,
  OTHER_USERS_PREFIX,
  sessionNameOf,
  sharedMailboxOwner,
} from '../../../shared/acl/index.ts';
import {
  HIERARCHY_SEPARATOR,
  INBOX,
  listExistingMailboxes,
  listMailboxes,
  type Mailbox,
} from '../../../shared/mailbox/index.ts';
import type { ImapSession } from '../session.ts';
import { accessorOf } from './acl-access.ts';

/** Other accounts an administrator's LIST reads at most (each one's mailboxes are bounded already). */
export const MAX_ADMIN_LISTED_ACCOUNTS = 5_000;

/** A mailbox as a session lists it: its session name, and the session's rights on it. */
export interface VisibleMailbox extends Mailbox {
  rights: string;
}

/** Every mailbox the session may look up, named as the session names them. */
export async function visibleMailboxes(session: ImapSession, patterns: readonly string[]): Promise<VisibleMailbox[]> {
  const mail = session.server.mail;
  const accessor = accessorOf(session);
  const account = session.account!;
  const visible: VisibleMailbox[] = (await listMailboxes(mail, account.id)).map((mailbox) => ({
    ...mailbox,
    rights: ALL_RIGHTS,
  }));
  for (const mailbox of await listExistingMailboxes(mail, sharedMailboxOwner(account.domain))) {
    const rights = effectiveRights(mailbox, accessor);
    if (mailbox.name === INBOX || !rights.includes('l')) continue;
    const name = sessionNameOf({ kind: 'shared', domain: account.domain, name: mailbox.name });
    visible.push({ ...mailbox, name, rights });
  }
  const named = (address: string, mailbox: Mailbox, rights: string): VisibleMailbox => ({
    ...mailbox,
    name: sessionNameOf({ kind: 'personal', address, name: mailbox.name }),
    rights,
  });
  if (!account.admin) {
    for (const granted of await listGrantedMailboxes(mail, accessor)) {
      visible.push(named(granted.ownerAddress, granted.mailbox, granted.rights));
    }
    return visible;
  }
  for (const other of await accountsToList(session, patterns)) {
    if (other.id === account.id) continue;
    for (const mailbox of await listExistingMailboxes(mail, other.id)) {
      visible.push(named(other.address, mailbox, ALL_RIGHTS));
    }
  }
  return visible;
}

/** The accounts an administrator's patterns can reach: the ones they name, or all (bounded). */
async function accountsToList(session: ImapSession, patterns: readonly string[]) {
  const directory = session.server.directory;
  const named = new Set<string>();
  for (const pattern of patterns) {
    const address = namedAccount(pattern);
    if (address === null) continue;
    if (address === undefined) {
      const accounts = [];
      for (const domain of await directory.listDomains()) {
        if (domain.state !== 'active') continue;
        accounts.push(...(await directory.listAccounts(domain.name)));
        if (accounts.length >= MAX_ADMIN_LISTED_ACCOUNTS) break;
      }
      return accounts.slice(0, MAX_ADMIN_LISTED_ACCOUNTS);
    }
    named.add(address);
  }
  const accounts = [];
  for (const address of named) {
    const found = await directory.getAccount(address).catch(() => undefined);
    if (found) accounts.push(found);
  }
  return accounts;
}

/**
 * What a pattern says about other users: null when it cannot match under `user/` at all, the address
 * when it names one account literally (`user/bob@example.com…`), undefined when it could match any.
 */
function namedAccount(pattern: string): string | null | undefined {
  const wildcard = pattern.search(/[*%]/);
  const literal = wildcard < 0 ? pattern : pattern.slice(0, wildcard);
  if (!literal.startsWith(OTHER_USERS_PREFIX)) {
    return OTHER_USERS_PREFIX.startsWith(literal) ? undefined : null;
  }
  const rest = literal.slice(OTHER_USERS_PREFIX.length);
  const end = rest.indexOf(HIERARCHY_SEPARATOR);
  if (end >= 0) return rest.slice(0, end);
  return wildcard < 0 ? rest : undefined;
}
