/**
 * The ACL stored on the mailbox item (`mbox#<id>` / `mailbox`, schema in shared/mailbox/schema.ts):
 * `acl` maps each identifier to its canonical rights, `aclAccountIds` maps each address identifier to
 * the account id it was granted to, and `aclVersion` counts changes. A change reads the item and writes
 * both maps under the condition that `aclVersion` is still what it read, so two concurrent SETACLs never
 * lose one another; the loser retries. The ACL lives and dies with the mailbox: RENAME keeps it (RFC 4314
 * §4), DELETE takes it into DELETED/ with the mailbox and undelete brings it back.
 *
 * Trusts nothing: identifiers and rights are parsed and normalized here, and an address identifier must
 * name an existing account. Grants on personal mailboxes are also indexed by grantee (grant-index.ts).
 */

import { ConcurrentModificationError, MailboxNotFoundError } from '../mailbox/errors.ts';
import type { MailStore } from '../mailbox/mail-store.ts';
import { type Mailbox, readMailboxItem, toMailbox } from '../mailbox/mailbox-record.ts';
import { MAILBOX_SK, mailboxPk } from '../mailbox/schema.ts';
import { ConditionFailedError } from '../store/errors.ts';
import type { Condition } from '../store/metadata.ts';
import { OwnerRightsError, UnknownIdentifierError } from './errors.ts';
import { indexGrant, unindexGrant } from './grant-index.ts';
import { ANONYMOUS, formatIdentifier, NEGATIVE_PREFIX, parseIdentifier } from './identifiers.ts';
import { modifyRights, parseRightsModification, type RightsModification } from './rights.ts';

/** Entries one mailbox's ACL may hold: bounds the item (DynamoDB items stop at 400 KB). */
export const MAX_ACL_ENTRIES = 256;
/** Optimistic rounds before giving up when other writers keep changing the same ACL. */
const MAX_ACL_ATTEMPTS = 5;

/** How an address identifier becomes an account: the directory (shared/directory) fits this. */
export interface AccountLookup {
  getAccount(address: string): Promise<{ id: string } | undefined>;
}

export class TooManyAclEntriesError extends Error {
  override name = 'TooManyAclEntriesError';
}

/**
 * SETACL (RFC 4314 §3.1): changes the identifier's rights by `modification` (`lr`, `+w`, `-x`; `c` and
 * `d` expand to their groups). Rights that end up empty remove the entry. Returns the new rights.
 * `ownerAddress` is given for a personal mailbox: grants on it are indexed (grant-index.ts) so the
 * grantee's LIST finds it under `user/<ownerAddress>/`.
 */
export async function setMailboxRights(
  store: MailStore,
  mailboxId: string,
  identifier: string,
  modification: string | RightsModification,
  accounts: AccountLookup,
  ownerAddress?: string,
): Promise<string> {
  const parsed = parseIdentifier(identifier);
  const change = typeof modification === 'string' ? parseRightsModification(modification) : modification;
  const key = formatIdentifier(parsed);
  let accountId: string | undefined;
  if (parsed.kind === 'account') {
    const account = await accounts.getAccount(parsed.address);
    if (!account) throw new UnknownIdentifierError(parsed.address);
    accountId = account.id;
  }
  const indexed = ownerAddress !== undefined && !parsed.negative && parsed.kind !== 'anonymous';
  if (indexed && change.mode !== 'remove' && change.rights !== '') {
    // Before the ACL: a crash leaves an index item too many, which readers check against the ACL.
    await indexGrant(store, key, toMailbox(await readMailboxItem(store, mailboxId)), ownerAddress);
  }
  let result = '';
  await changeAcl(store, mailboxId, (mailbox, acl, ids) => {
    if (accountId !== undefined && accountId === mailbox.account) throw new OwnerRightsError(key);
    // A grant to a different account under the same address starts from nothing.
    const current = accountId === undefined || ids[key] === accountId ? (acl[key] ?? '') : '';
    result = modifyRights(current, change);
    if (result === '') {
      delete acl[key];
      delete ids[key];
      return;
    }
    if (acl[key] === undefined && Object.keys(acl).length >= MAX_ACL_ENTRIES) {
      throw new TooManyAclEntriesError(`a mailbox ACL holds at most ${MAX_ACL_ENTRIES} entries`);
    }
    acl[key] = result;
    if (accountId !== undefined) ids[key] = accountId;
  });
  if (result === '') await unindexGrant(store, key, mailboxId);
  return result;
}

/** DELETEACL (RFC 4314 §3.2): removes the identifier's entry; false when it had none. */
export async function deleteMailboxRights(store: MailStore, mailboxId: string, identifier: string): Promise<boolean> {
  const key = formatIdentifier(parseIdentifier(identifier));
  let removed = false;
  await changeAcl(store, mailboxId, (_mailbox, acl, ids) => {
    removed = acl[key] !== undefined;
    delete acl[key];
    delete ids[key];
  });
  await unindexGrant(store, key, mailboxId);
  return removed;
}

/**
 * Gives a new mailbox its parent's ACL (RFC 4314 §4: CREATE SHOULD inherit the parent's ACL), when the
 * parent has one and belongs to the same owner; `ownerAddress` as for setMailboxRights.
 */
export async function inheritAcl(
  store: MailStore,
  parent: Mailbox,
  child: Mailbox,
  ownerAddress?: string,
): Promise<void> {
  if (parent.account !== child.account || Object.keys(parent.acl).length === 0) return;
  if (ownerAddress !== undefined) {
    for (const identifier of Object.keys(parent.acl)) {
      if (!identifier.startsWith(NEGATIVE_PREFIX) && identifier !== ANONYMOUS) {
        await indexGrant(store, identifier, child, ownerAddress);
      }
    }
  }
  await changeAcl(store, child.id, (_mailbox, acl, ids) => {
    Object.assign(acl, parent.acl);
    Object.assign(ids, parent.aclAccountIds);
  });
}

async function changeAcl(
  store: MailStore,
  mailboxId: string,
  change: (mailbox: Mailbox, acl: Record<string, string>, ids: Record<string, string>) => void,
): Promise<void> {
  for (let attempt = 0; attempt < MAX_ACL_ATTEMPTS; attempt++) {
    const item = await readMailboxItem(store, mailboxId);
    const mailbox = toMailbox(item);
    const acl = { ...mailbox.acl };
    const ids = { ...mailbox.aclAccountIds };
    change(mailbox, acl, ids);
    const version = item.aclVersion;
    const unchanged: Condition =
      typeof version === 'number'
        ? { attribute: 'aclVersion', op: '=', value: version }
        : { attribute: 'aclVersion', op: 'notExists' };
    try {
      await store.metadata.update(mailboxPk(mailboxId), MAILBOX_SK, {
        set: { acl, aclAccountIds: ids },
        add: { aclVersion: 1 },
        conditions: [{ attribute: 'pk', op: 'exists' }, { attribute: 'deletedAt', op: 'notExists' }, unchanged],
      });
      return;
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
    }
  }
  // Either deleted meanwhile (readMailboxItem says so) or changed on every attempt.
  await readMailboxItem(store, mailboxId).catch((error: unknown) => {
    throw error instanceof MailboxNotFoundError ? error : new ConcurrentModificationError(String(error));
  });
  throw new ConcurrentModificationError(`the ACL of mailbox ${mailboxId} keeps changing; retry`);
}
