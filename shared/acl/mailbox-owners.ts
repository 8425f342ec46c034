/**
 * From a mailbox path (mailbox-paths.ts) to the owner the mailbox store files it under: an account's id
 * for `user/<address>/...`, the domain's shared-mailbox owner for everything else. The directory says
 * whether the account or domain exists; nothing is created here.
 */
import type { Account } from '../directory/directory.ts';
import { AccountNotFoundError, DomainNotFoundError } from '../directory/errors.ts';
import type { MailboxPath } from './mailbox-paths.ts';
import { sharedMailboxOwner } from './mailbox-paths.ts';

export interface MailboxOwner {
  /** The mailbox-store owner: an account id, or `shared@<domain>`. */
  id: string;
  domain: string;
  /** The account, for personal mailboxes (its address names it in ACLs, its limits are its quota). */
  account?: Account;
}

/** What resolution needs of the directory (shared/directory's Directory fits). */
export interface OwnerDirectory {
  getAccount(address: string): Promise<Account | undefined>;
  isLocalDomain(domain: string): Promise<boolean>;
}

/** The owner of the path; AccountNotFoundError or DomainNotFoundError when there is none. */
export async function resolveMailboxOwner(directory: OwnerDirectory, path: MailboxPath): Promise<MailboxOwner> {
  if (path.kind === 'personal') {
    const account = await directory.getAccount(path.address);
    if (!account) throw new AccountNotFoundError(path.address);
    return { id: account.id, domain: account.domain, account };
  }
  if (!(await directory.isLocalDomain(path.domain))) throw new DomainNotFoundError(path.domain);
  return { id: sharedMailboxOwner(path.domain), domain: path.domain };
}
