/**
 * The mail-store side of recipient resolution: shared mailboxes and quota fullness.
 *
 * Shared mailboxes (`+name/@domain`) belong to a pseudo-owner per domain, `shared@<domain>`: an id no
 * directory account can have (account ids are UUIDs), so the shared mailboxes of a domain live beside
 * its accounts' mailboxes in the mailbox module without a namespace of their own. Delivery needs the
 * mailbox to exist and to grant `anyone` the `p` right (RFC 4314 §2.1.1).
 */
import { anyoneMayPost } from '../acl/access.ts';
import { sharedMailboxOwner } from '../acl/mailbox-paths.ts';
import { InvalidMailboxNameError, MailboxNotFoundError } from '../mailbox/errors.ts';
import type { MailStore } from '../mailbox/mail-store.ts';
import { getMailboxByName } from '../mailbox/mailboxes.ts';
import { INBOX, normalizeMailboxName } from '../mailbox/names.ts';
import { getQuotaUsage } from '../mailbox/quota.ts';
import type { QuotaLimit, QuotaProbe, SharedMailboxDirectory } from './recipient-resolution.ts';

export class MailStoreRecipients implements SharedMailboxDirectory, QuotaProbe {
  constructor(private readonly store: MailStore) {}

  async postableSharedMailbox(domain: string, name: string): Promise<{ owner: string } | undefined> {
    const owner = sharedMailboxOwner(domain);
    try {
      // Looking INBOX up would create it (it exists for every owner); a shared INBOX is never postable.
      if (normalizeMailboxName(name) === INBOX) return undefined;
      const mailbox = await getMailboxByName(this.store, owner, name);
      return anyoneMayPost(mailbox) ? { owner } : undefined;
    } catch (error) {
      if (error instanceof MailboxNotFoundError || error instanceof InvalidMailboxNameError) return undefined;
      throw error;
    }
  }

  async isFull(owner: string, limit: QuotaLimit): Promise<boolean> {
    if (limit.storage === undefined && limit.messages === undefined) return false;
    const usage = await getQuotaUsage(this.store, owner);
    return (
      (limit.storage !== undefined && usage.bytes >= limit.storage) ||
      (limit.messages !== undefined && usage.messages >= limit.messages)
    );
  }
}
