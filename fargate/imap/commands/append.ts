/**
 * APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502), UIDPLUS's APPENDUID (RFC 4315 §3), APPENDLIMIT
 * (RFC 7889), and UTF8 (literal8) of RFC 6855. The message is stored as a blob, its MIME structure is
 * computed once (shared/mime) and kept in the index with the entry.
 *
 * SECURITY: the message bytes are untrusted and only parsed by the MIME module; the size was bounded by
 * the command reader and is checked against APPENDLIMIT here; the account's quota is enforced by the
 * mailbox layer (NO [OVERQUOTA]).
 */

import { randomUUID } from 'node:crypto';
import type { Account } from '../../../shared/directory/directory.ts';
import { MailboxNotFoundError } from '../../../shared/mailbox/errors.ts';
import { indexSearchFields } from '../../../shared/mailbox/index-search-fields.ts';
import type { Mailbox } from '../../../shared/mailbox/mailbox-record.ts';
import { getMailboxByName } from '../../../shared/mailbox/mailboxes.ts';
import type { JsonValue } from '../../../shared/mailbox/message-record.ts';
import { appendMessage, expungeMessages } from '../../../shared/mailbox/messages.ts';
import type { QuotaLimit } from '../../../shared/mailbox/quota.ts';
import { parseMessageStructure } from '../../../shared/mime/mime-structure.ts';
import { type CommandOf, type Completion, no, ok } from '../completion.ts';
import { MAX_APPEND_BYTES } from '../limits.ts';
import { mailboxNameFromWire } from '../namespaces.ts';
import type { AppendMessage } from '../protocol/command-types.ts';
import { formatSequenceSet, token } from '../protocol/response-writer.ts';
import type { ImapSession } from '../session.ts';

/** The account's quota as the mailbox layer takes it. */
export function quotaLimitOf(account: Account): QuotaLimit {
  return {
    ...(account.quota.storageBytes !== undefined ? { storage: account.quota.storageBytes } : {}),
    ...(account.quota.messages !== undefined ? { messages: account.quota.messages } : {}),
  };
}

/** A fresh blob key for a message (the same layout SMTP delivery uses). */
function newBlobKey(now: Date): string {
  return `msg/${now.toISOString().slice(0, 10)}/${randomUUID()}`;
}

export async function runAppend(session: ImapSession, command: CommandOf<'APPEND'>): Promise<Completion> {
  const account = session.account!;
  const name = mailboxNameFromWire(command.mailbox, session.utf8);
  if (command.messages.some((message) => message.data.length > MAX_APPEND_BYTES)) {
    return no(`Message larger than ${MAX_APPEND_BYTES} bytes`, { name: 'TOOBIG' });
  }
  let mailbox: Mailbox;
  try {
    mailbox = await getMailboxByName(session.server.mail, account.id, name);
  } catch (error) {
    // RFC 9051 §6.3.12: [TRYCREATE] when the target does not exist.
    if (error instanceof MailboxNotFoundError) return no('No such mailbox', { name: 'TRYCREATE' });
    throw error;
  }
  const uids: number[] = [];
  let uidValidity = mailbox.uidValidity;
  try {
    for (const message of command.messages) {
      const appended = await appendOne(session, account, mailbox, message);
      uids.push(appended.uid);
      uidValidity = appended.uidValidity;
    }
  } catch (error) {
    // RFC 3502 §6.3.11: MULTIAPPEND is all or nothing.
    if (uids.length > 0) await expungeMessages(session.server.mail, mailbox, uids);
    throw error;
  } finally {
    if (uids.length > 0) session.server.notifier.changed(mailbox.id);
  }
  return ok('APPEND completed', { name: 'APPENDUID', args: [uidValidity, token(formatSequenceSet(uids))] });
}

async function appendOne(
  session: ImapSession,
  account: Account,
  mailbox: Mailbox,
  message: AppendMessage,
): Promise<{ uid: number; uidValidity: number }> {
  const structure = parseMessageStructure(message.data);
  const now = new Date();
  const blobKey = newBlobKey(now);
  await session.server.blobs.put(blobKey, message.data);
  const result = await appendMessage(
    session.server.mail,
    mailbox,
    {
      blobKey,
      size: message.data.length,
      internalDate: message.internalDate ? new Date(message.internalDate.time) : now,
      flags: message.flags ?? [],
      envelope: structure.envelope as unknown as JsonValue,
      bodyStructure: structure.body as unknown as JsonValue,
      search: indexSearchFields(structure.search),
    },
    { quota: quotaLimitOf(account) },
  );
  return { uid: result.uid, uidValidity: result.uidValidity };
}
