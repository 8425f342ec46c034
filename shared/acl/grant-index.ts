/**
 * Which accounts' mailboxes an identifier was granted rights on: the index LIST needs to show another
 * user's folders under `user/<owner>/` (RFC 4314 §4, RFC 2342 "other users" namespace) without reading
 * every account. Only personal mailboxes are indexed; a domain's shared mailboxes are listed from their
 * owner directly.
 *
 *   pk `aclgrant#<identifier>` (an account address, or `anyone`), sk `<mailbox id>`:
 *     { v, mailboxId, owner (the owning account id), ownerAddress }
 *
 * The index only ever says "maybe": a grant writes its index item before the ACL and a revocation
 * deletes it after, so a crash leaves an item too many, never one too few, and readers check the
 * mailbox's current ACL (and its current name) before showing anything. Items whose mailbox no longer
 * exists are dropped when read.
 */
import { getMailbox, type Mailbox, MailboxNotFoundError, type MailStore } from '../mailbox/index.ts';
import { MAILBOX_SK, mailboxPk } from '../mailbox/schema.ts';
import { type Accessor, effectiveRights } from './access.ts';
import { ANYONE } from './identifiers.ts';

const GRANT_PK_PREFIX = 'aclgrant#';
export const GRANT_INDEX_VERSION = 1;
/** Granted mailboxes one listing reads at most (per identifier: the account, and anyone). */
export const MAX_GRANTS_LISTED = 10_000;
const GRANT_PAGE = 500;

export const grantPk = (identifier: string) => GRANT_PK_PREFIX + identifier;

/** Records that `identifier` may have rights on the personal mailbox of `ownerAddress`. */
export async function indexGrant(
  store: MailStore,
  identifier: string,
  mailbox: Pick<Mailbox, 'id' | 'account'>,
  ownerAddress: string,
): Promise<void> {
  await store.metadata.put({
    pk: grantPk(identifier),
    sk: mailbox.id,
    v: GRANT_INDEX_VERSION,
    mailboxId: mailbox.id,
    owner: mailbox.account,
    ownerAddress,
  });
}

export async function unindexGrant(store: MailStore, identifier: string, mailboxId: string): Promise<void> {
  await store.metadata.delete(grantPk(identifier), mailboxId);
}

export interface GrantedMailbox {
  mailbox: Mailbox;
  ownerAddress: string;
  /** The accessor's effective rights on it (canonical). */
  rights: string;
}

/**
 * Other accounts' mailboxes the accessor can see (`l`), through grants to its address or to anyone,
 * in no particular order. The accessor's own mailboxes are left out.
 */
export async function listGrantedMailboxes(
  store: MailStore,
  accessor: Accessor & { kind: 'account' },
): Promise<GrantedMailbox[]> {
  const found = new Map<string, GrantedMailbox>();
  for (const identifier of [accessor.address, ANYONE]) {
    let startAfter: string | undefined;
    let read = 0;
    do {
      const page = await store.metadata.query(grantPk(identifier), {
        limit: GRANT_PAGE,
        ...(startAfter ? { startAfter } : {}),
      });
      for (const item of page.items) {
        read++;
        const mailboxId = String(item.mailboxId);
        if (item.owner === accessor.id || found.has(mailboxId)) continue;
        const mailbox = await visibleMailbox(store, identifier, mailboxId);
        if (!mailbox) continue;
        const rights = effectiveRights(mailbox, accessor);
        if (rights.includes('l')) found.set(mailboxId, { mailbox, ownerAddress: String(item.ownerAddress), rights });
      }
      startAfter = page.next;
    } while (startAfter && read < MAX_GRANTS_LISTED);
  }
  return [...found.values()];
}

async function visibleMailbox(store: MailStore, identifier: string, mailboxId: string): Promise<Mailbox | undefined> {
  try {
    return await getMailbox(store, mailboxId);
  } catch (error) {
    if (!(error instanceof MailboxNotFoundError)) throw error;
  }
  // Deleted (it may come back with undelete) or purged (then its index item is of no more use).
  if (!(await store.metadata.get(mailboxPk(mailboxId), MAILBOX_SK))) await unindexGrant(store, identifier, mailboxId);
  return undefined;
}
