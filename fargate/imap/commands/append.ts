/**
 * APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502), UIDPLUS's APPENDUID (RFC 4315 §3), APPENDLIMIT
 * (RFC 7889), and UTF8 (literal8) of RFC 6855. The message is stored as a blob, its MIME structure is
 * computed once (shared/mime) and kept in the index with the entry.
 *
 * SECURITY: the message bytes are untrusted and only parsed by the MIME module; the size was bounded by
 * the command reader and is checked against APPENDLIMIT here; the quota of the mailbox's owner is
 * enforced by the mailbox layer (NO [OVERQUOTA]); the `i` right is needed (RFC 4314 §4).
 */
import { randomUUID } from 'node:crypto';
import { permittedFlags } from '../../../shared/acl/index.ts';
import { MailboxNotFoundError } from '../../../shared/mailbox/errors.ts';
import { indexSearchFields } from '../../../shared/mailbox/index-search-fields.ts';
import type { JsonValue } from '../../../shared/mailbox/message-record.ts';
import { appendMessage, expungeMessages } from '../../../shared/mailbox/messages.ts';
import { parseMessageStructure } from '../../../shared/mime/mime-structure.ts';
import { type CommandOf, type Completion, no, ok } from '../completion.ts';
import { MAX_APPEND_BYTES } from '../limits.ts';
import type { AppendMessage } from '../protocol/command-types.ts';
import { formatSequenceSet, token } from '../protocol/response-writer.ts';
import { withoutRecent } from '../recent-messages.ts';
import type { ImapSession } from '../session.ts';
import { type OpenedMailbox, openMailbox, quotaOf } from './acl-access.ts';

/** A fresh blob key for a message (the same layout SMTP delivery uses). */
function newBlobKey(now: Date): string {
  return `msg/${now.toISOString().slice(0, 10)}/${randomUUID()}`;
}

export async function runAppend(session: ImapSession, command: CommandOf<'APPEND'>): Promise<Completion> {
  if (command.messages.some((message) => message.data.length > MAX_APPEND_BYTES)) {
    return no(`Message larger than ${MAX_APPEND_BYTES} bytes`, { name: 'TOOBIG' });
  }
  let opened: OpenedMailbox;
  try {
    // RFC 4314 §4: APPEND needs `i` on the target.
    opened = await openMailbox(session, command.mailbox, 'insert');
  } catch (error) {
    // RFC 9051 §6.3.12: [TRYCREATE] when the target does not exist.
    if (error instanceof MailboxNotFoundError) return no('No such mailbox', { name: 'TRYCREATE' });
    throw error;
  }
  const { mailbox } = opened;
  const uids: number[] = [];
  let uidValidity = mailbox.uidValidity;
  try {
    for (const message of command.messages) {
      const appended = await appendOne(session, opened, message);
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
  { target, mailbox, rights }: OpenedMailbox,
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
      // RFC 4314 §4: flags the rights do not allow are dropped, not refused; \Recent is the server's.
      flags: permittedFlags(rights, withoutRecent(message.flags ?? [])),
      envelope: structure.envelope as unknown as JsonValue,
      bodyStructure: structure.body as unknown as JsonValue,
      search: indexSearchFields(structure.search),
    },
    { quota: quotaOf(target) },
  );
  return { uid: result.uid, uidValidity: result.uidValidity };
}
