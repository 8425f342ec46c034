/**
 * The filter step: decides which mailbox of each account recipient gets its copy.
 *
 * Today that is plus addressing: `user+folder@domain` asked for the mailbox `folder` (nested `a/b`
 * allowed); it gets the copy if that mailbox exists and grants `anyone` the `p` (post) right
 * (RFC 4314 §2.1.1, as Cyrus does), otherwise the INBOX does, so a stranger can neither probe nor fill
 * folders the owner did not open for posting. Sieve (a later issue) runs here too.
 *
 * SECURITY: the request is validated (shared/delivery/steps.ts); mailbox names from the request are
 * untrusted and go through the mailbox module's name checks, an invalid one meaning INBOX.
 */
import { anyoneMayPost } from '../../shared/acl/access.ts';
import type { FilterRequest, FilterResult } from '../../shared/delivery/steps.ts';
import { InvalidMailboxNameError, MailboxNotFoundError } from '../../shared/mailbox/errors.ts';
import type { MailStore } from '../../shared/mailbox/mail-store.ts';
import { getMailboxByName } from '../../shared/mailbox/mailboxes.ts';
import { INBOX } from '../../shared/mailbox/names.ts';

export async function placeRecipients(request: FilterRequest, store: MailStore): Promise<FilterResult> {
  const placements: FilterResult['placements'] = [];
  for (const recipient of request.recipients) {
    placements.push({ mailbox: await plusAddressedMailbox(store, recipient.owner, recipient.requestedMailbox) });
  }
  return { placements };
}

async function plusAddressedMailbox(store: MailStore, owner: string, requested: string | undefined): Promise<string> {
  if (requested === undefined) return INBOX;
  try {
    const mailbox = await getMailboxByName(store, owner, requested);
    return anyoneMayPost(mailbox) ? mailbox.name : INBOX;
  } catch (error) {
    if (error instanceof MailboxNotFoundError || error instanceof InvalidMailboxNameError) return INBOX;
    throw error;
  }
}
