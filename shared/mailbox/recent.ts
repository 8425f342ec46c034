/**
 * The \Recent watermark (RFC 3501 §2.3.2): a message is recent in exactly one IMAP session, the first
 * to learn of it, in whatever process that session runs. The mailbox item keeps the highest UID some
 * session already holds as recent (`recentuid`); a session claims newer messages by advancing it with
 * a conditional write, and the UIDs between the old and the new watermark are recent to that session
 * alone (it keeps them in memory). The watermark only grows, so two sessions never claim one UID.
 *
 * Claims are made only up to UIDs the session has seen settled (changes.ts): no lower UID can land
 * after them, so no message is skipped.
 */
import { ConditionFailedError } from '../store/errors.ts';
import type { MailStore } from './mail-store.ts';
import { getMailbox } from './mailbox-record.ts';
import { listMessages, MAX_LIST_LIMIT } from './messages.ts';
import { MAILBOX_SK, mailboxPk, RECENT_UID } from './schema.ts';

/**
 * Claims the messages up to `upTo` as recent for the caller. `known` is the watermark as the caller
 * last read it (Mailbox.recentUid); a stale value costs a retry. Returns the watermark the claim
 * advanced from, so the caller's recent UIDs are those above it up to `upTo`; undefined when other
 * sessions had claimed up to `upTo` already. MailboxNotFoundError when the mailbox is gone.
 */
export async function claimRecent(
  store: MailStore,
  mailboxId: string,
  known: number,
  upTo: number,
): Promise<number | undefined> {
  let watermark = known;
  while (watermark < upTo) {
    try {
      await store.metadata.update(mailboxPk(mailboxId), MAILBOX_SK, {
        set: { [RECENT_UID]: upTo },
        conditions: [
          { attribute: 'pk', op: 'exists' },
          { attribute: 'deletedAt', op: 'notExists' },
          // Only ever written above 0, so 0 is the attribute's absence.
          watermark === 0
            ? { attribute: RECENT_UID, op: 'notExists' }
            : { attribute: RECENT_UID, op: '=', value: watermark },
        ],
      });
      return watermark;
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      // Another session claimed meanwhile (or the mailbox went): look again.
      watermark = (await getMailbox(store, mailboxId)).recentUid;
    }
  }
  return undefined;
}

/**
 * STATUS RECENT: the messages no session has claimed yet, below the settled `uidNext`. Reads only the
 * index entries above the watermark.
 */
export async function countUnclaimedRecent(
  store: MailStore,
  mailboxId: string,
  watermark: number,
  uidNext: number,
): Promise<number> {
  let count = 0;
  let after: number | undefined;
  while (watermark + 1 < uidNext) {
    const page = await listMessages(store, mailboxId, {
      fromUid: watermark + 1,
      toUid: uidNext - 1,
      limit: MAX_LIST_LIMIT,
      ...(after !== undefined ? { after } : {}),
    });
    count += page.messages.length;
    if (page.next === undefined) break;
    after = page.next;
  }
  return count;
}
