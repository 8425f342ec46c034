/**
 * Repairs the drift crashes leave in the atomic counters (mail-store.ts): mailbox counters and quota
 * usage are recounted from the entries. For the expire job; safe to run while the system is live.
 *
 * A recount is only valid if nothing changed while it ran and nothing was in flight when it started.
 * Every operation stamps `changedAt` on the counter item before touching the entries it accounts for,
 * and finishes within the write deadline; so a recount starts only when `changedAt` is older than
 * `settleMs`, and writes its result under the condition that `changedAt` is still the same.
 */
import { ConditionFailedError } from '../store/errors.ts';
import type { MailStore } from './mail-store.ts';
import { readMailboxItem } from './mailbox-record.ts';
import { listExistingMailboxes } from './mailboxes.ts';
import { listMessages } from './messages.ts';
import { SEEN } from './names.ts';
import { accountPk, MAILBOX_SK, mailboxPk, numberOf, QUOTA_SK } from './schema.ts';

export type ReconcileOutcome = 'unchanged' | 'repaired' | 'busy';

interface Tally {
  messages: number;
  unseen: number;
  size: number;
}

/** Recounts messages, unseen and size of one mailbox (deleted ones too, for an undelete). */
export async function reconcileMailboxCounters(store: MailStore, mailboxId: string): Promise<ReconcileOutcome> {
  const item = await readMailboxItem(store, mailboxId, true);
  const changedAt = numberOf(item, 'changedAt');
  if (Date.now() - changedAt <= store.settleMs) return 'busy';
  const tally = await tallyMailbox(store, mailboxId);
  if (tally.messages === item.messages && tally.unseen === item.unseen && tally.size === item.size) {
    return 'unchanged';
  }
  return conditionalSet(store, mailboxPk(mailboxId), MAILBOX_SK, { ...tally }, changedAt);
}

/** Recounts an account's quota usage over its visible mailboxes. */
export async function reconcileQuota(store: MailStore, account: string): Promise<ReconcileOutcome> {
  const item = await store.metadata.get(accountPk(account), QUOTA_SK);
  if (!item) return 'unchanged';
  const changedAt = numberOf(item, 'changedAt');
  if (Date.now() - changedAt <= store.settleMs) return 'busy';
  let bytes = 0;
  let messages = 0;
  for (const mailbox of await listExistingMailboxes(store, account)) {
    const tally = await tallyMailbox(store, mailbox.id);
    bytes += tally.size;
    messages += tally.messages;
  }
  if (bytes === item.bytes && messages === item.messages) return 'unchanged';
  return conditionalSet(store, accountPk(account), QUOTA_SK, { bytes, messages }, changedAt);
}

async function tallyMailbox(store: MailStore, mailboxId: string): Promise<Tally> {
  const tally: Tally = { messages: 0, unseen: 0, size: 0 };
  let after: number | undefined;
  do {
    const page = await listMessages(store, mailboxId, after === undefined ? {} : { after });
    for (const state of page.messages) {
      tally.messages++;
      tally.size += state.size;
      if (!state.flags.includes(SEEN)) tally.unseen++;
    }
    after = page.next;
  } while (after !== undefined);
  return tally;
}

async function conditionalSet(
  store: MailStore,
  pk: string,
  sk: string,
  values: Record<string, number>,
  changedAt: number,
): Promise<ReconcileOutcome> {
  try {
    await store.metadata.update(pk, sk, {
      set: values,
      conditions: [{ attribute: 'changedAt', op: '=', value: changedAt }],
    });
    return 'repaired';
  } catch (error) {
    if (error instanceof ConditionFailedError) return 'busy';
    throw error;
  }
}
