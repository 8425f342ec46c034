/**
 * Delivers a DSN to whoever sent the message it reports on:
 *   - a local account (the envelope sender, or the account that submitted the message when the sender was
 *     one of its aliases): straight into its INBOX through shared/mailbox, idempotent per DSN, outside
 *     quota (a full mailbox must still learn that its mail bounced);
 *   - a remote sender (a relay host's client): through the outbound queue with the null sender, so a DSN
 *     about the DSN is never made (RFC 5321 §4.5.5);
 *   - the null sender, or a local address that is no account: nobody; the DSN is dropped and logged.
 *
 * Idempotent: the blob key, the delivery key and the queue id all derive from the DSN key, so the same DSN
 * delivered again after a crash is found, not duplicated.
 *
 * Trusts its inputs (made by the worker from queue entries); the DSN text is parsed like any message.
 */

import { normalizeAddress } from '../address/address.ts';
import type { Directory } from '../directory/directory.ts';
import { appendMessage, getMailboxByName, INBOX, type JsonValue, type MailStore } from '../mailbox/index.ts';
import { indexSearchFields } from '../mailbox/index-search-fields.ts';
import { parseMessageStructure } from '../mime/mime-structure.ts';
import type { OutboundQueue } from '../outbound-queue/outbound-queue.ts';
import type { BlobStore } from '../store/blob.ts';

/** DSN blobs live with the other message blobs (the expire job owns them once nothing refers to them). */
const DSN_BLOB_PREFIX = 'msg/dsn/';

export interface DsnDeliveryDependencies {
  directory: Directory;
  mailStore: MailStore;
  blobs: BlobStore;
  queue: OutboundQueue;
}

export interface DsnLetter {
  /** Unique per DSN: `<kind>-<queue id>`; [A-Za-z0-9_-]. */
  key: string;
  /** The original envelope sender. */
  to: string;
  /** The original message's submitter (an account address, or a relay host's IP address). */
  submittedBy: string;
  message: Buffer;
}

export type DsnDestination = 'mailbox' | 'queued' | 'dropped';

export async function deliverDsn(deps: DsnDeliveryDependencies, letter: DsnLetter): Promise<DsnDestination> {
  if (letter.to === '') return 'dropped';
  const account =
    (await accountFor(deps.directory, letter.to)) ?? (await accountFor(deps.directory, letter.submittedBy));
  if (account) {
    await appendToInbox(deps, account, letter);
    return 'mailbox';
  }
  const domain = letter.to.slice(letter.to.lastIndexOf('@') + 1);
  if (await deps.directory.isLocalDomain(domain)) return 'dropped';
  await deps.queue.enqueue({
    id: `dsn-${letter.key}`,
    mailFrom: '',
    recipients: [letter.to],
    body: letter.message,
    submittedBy: 'MAILER-DAEMON',
  });
  return 'queued';
}

async function accountFor(directory: Directory, address: string): Promise<string | undefined> {
  if (!address.includes('@')) return undefined;
  let normal: string;
  try {
    normal = normalizeAddress(address);
  } catch {
    return undefined;
  }
  return (await directory.getAccount(normal))?.id;
}

async function appendToInbox(deps: DsnDeliveryDependencies, accountId: string, letter: DsnLetter): Promise<void> {
  const blobKey = `${DSN_BLOB_PREFIX}${letter.key}`;
  // A retry finds the blob of the first attempt and delivers that one: an entry may already point at it.
  const existing = await deps.blobs.head(blobKey);
  const message = existing ? await deps.blobs.read(blobKey) : letter.message;
  if (!existing) await deps.blobs.put(blobKey, message);
  const structure = parseMessageStructure(message);
  const inbox = await getMailboxByName(deps.mailStore, accountId, INBOX);
  await appendMessage(
    deps.mailStore,
    inbox,
    {
      blobKey,
      size: structure.size,
      internalDate: new Date(),
      envelope: structure.envelope as unknown as JsonValue,
      bodyStructure: structure.body as unknown as JsonValue,
      search: indexSearchFields(structure.search),
    },
    { deliveryKey: `dsn#${letter.key}` },
  );
}
