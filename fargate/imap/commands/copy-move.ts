/**
 * COPY, MOVE and their UID forms (RFC 9051 §6.4.7, RFC 6851), answering with COPYUID (RFC 4315 §3).
 * The copies share the source's blobs; the quota of the account is checked for COPY (MOVE frees as
 * much as it takes).
 */

import { MailboxNotFoundError } from '../../../shared/mailbox/errors.ts';
import type { Mailbox } from '../../../shared/mailbox/mailbox-record.ts';
import { getMailboxByName } from '../../../shared/mailbox/mailboxes.ts';
import { type CopyResult, copyMessages, moveMessages } from '../../../shared/mailbox/messages.ts';
import { bad, type CommandOf, type Completion, no, ok } from '../completion.ts';
import { mailboxNameFromWire } from '../namespaces.ts';
import { formatSequenceSet, type ResponseCode, token, untaggedStatus } from '../protocol/response-writer.ts';
import type { ImapSession } from '../session.ts';
import { quotaLimitOf } from './append.ts';

export async function runCopy(session: ImapSession, command: CommandOf<'COPY' | 'MOVE'>): Promise<Completion> {
  const selected = session.selected!;
  if (command.name === 'MOVE' && selected.readOnly) return no('Mailbox is read-only', { name: 'READ-ONLY' });
  if (!command.uid && !selected.view.sequenceSetInRange(command.sequenceSet)) {
    return bad('Message sequence number out of range');
  }
  const account = session.account!;
  let target: Mailbox;
  try {
    target = await getMailboxByName(
      session.server.mail,
      account.id,
      mailboxNameFromWire(command.mailbox, session.utf8),
    );
  } catch (error) {
    // RFC 9051 §6.4.7: [TRYCREATE] tells the client it may create the target and try again.
    if (error instanceof MailboxNotFoundError) return no('No such target mailbox', { name: 'TRYCREATE' });
    throw error;
  }
  const uids = selected.view.resolve(command.sequenceSet, command.uid, session.savedSearch);
  if (uids.length === 0) return ok(`${command.name} completed (no messages)`);
  const mail = session.server.mail;
  if (command.name === 'COPY') {
    const copied = await copyMessages(mail, selected.mailbox, uids, target, { quota: quotaLimitOf(account) });
    session.server.notifier.changed(target.id);
    return ok('COPY completed', copyUidCode(copied));
  }
  const moved = await moveMessages(mail, selected.mailbox, uids, target);
  session.server.notifier.changed(target.id);
  session.server.notifier.changed(selected.id);
  // RFC 6851 §4.3: COPYUID goes in an untagged OK before the expunges.
  const code = copyUidCode(moved);
  if (code) session.send(untaggedStatus('OK', 'Moved', code));
  selected.announceExpunged(session, moved.expunged);
  return ok('MOVE completed');
}

/** RFC 4315 §3 COPYUID: the target's UIDVALIDITY, the source UIDs and the new UIDs, in the same order. */
function copyUidCode(result: CopyResult): ResponseCode | undefined {
  if (result.mapping.length === 0) return undefined;
  return {
    name: 'COPYUID',
    args: [
      result.uidValidity,
      token(formatSequenceSet(result.mapping.map((pair) => pair.source))),
      token(formatSequenceSet(result.mapping.map((pair) => pair.target))),
    ],
  };
}
