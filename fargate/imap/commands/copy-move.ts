/**
 * COPY, MOVE and their UID forms (RFC 9051 §6.4.7, RFC 6851), answering with COPYUID (RFC 4315 §3).
 * The copies share the source's blobs; the quota of the target's owner is checked for COPY (MOVE frees
 * as much as it takes, within one owner).
 */

import { permittedFlags, requireOperation } from '../../../shared/acl/index.ts';
import { MailboxNotFoundError } from '../../../shared/mailbox/errors.ts';
import {
  type CopyResult,
  copyMessages,
  expungeMessages,
  moveMessages,
  updateFlags,
} from '../../../shared/mailbox/messages.ts';
import { bad, type CommandOf, type Completion, no, ok } from '../completion.ts';
import { formatSequenceSet, type ResponseCode, token, untaggedStatus } from '../protocol/response-writer.ts';
import type { ImapSession } from '../session.ts';
import { type OpenedMailbox, openMailbox, quotaOf } from './acl-access.ts';

export async function runCopy(session: ImapSession, command: CommandOf<'COPY' | 'MOVE'>): Promise<Completion> {
  const selected = session.selected!;
  if (command.name === 'MOVE' && selected.readOnly) return no('Mailbox is read-only', { name: 'READ-ONLY' });
  if (!command.uid && !selected.view.sequenceSetInRange(command.sequenceSet)) {
    return bad('Message sequence number out of range');
  }
  // RFC 4314 §4 and RFC 6851 §3.3: `i` on the target; MOVE also `t` and `e` on the source.
  if (command.name === 'MOVE') requireOperation(selected.rights, 'move-out', selected.mailbox.name);
  let opened: OpenedMailbox;
  try {
    opened = await openMailbox(session, command.mailbox, 'insert');
  } catch (error) {
    // RFC 9051 §6.4.7: [TRYCREATE] tells the client it may create the target and try again.
    if (error instanceof MailboxNotFoundError) return no('No such target mailbox', { name: 'TRYCREATE' });
    throw error;
  }
  const target = opened.mailbox;
  const uids = selected.view.resolve(command.sequenceSet, command.uid, session.savedSearch);
  if (uids.length === 0) return ok(`${command.name} completed (no messages)`);
  const mail = session.server.mail;
  if (command.name === 'COPY') {
    const copied = await copyMessages(mail, selected.mailbox, uids, target, { quota: quotaOf(opened.target) });
    await dropForbiddenFlags(session, opened, copied);
    session.server.notifier.changed(target.id);
    return ok('COPY completed', copyUidCode(copied));
  }
  // Within one owner a move frees what it takes; into another owner's mailbox that owner's quota applies.
  const moved =
    target.account === selected.mailbox.account
      ? await moveMessages(mail, selected.mailbox, uids, target)
      : await moveAcrossOwners(session, uids, opened);
  await dropForbiddenFlags(session, opened, moved);
  session.server.notifier.changed(target.id);
  session.server.notifier.changed(selected.id);
  // RFC 6851 §4.3: COPYUID goes in an untagged OK before the expunges.
  const code = copyUidCode(moved);
  if (code) session.send(untaggedStatus('OK', 'Moved', code));
  selected.announceExpunged(session, moved.expunged);
  return ok('MOVE completed');
}

/** MOVE into another owner's mailbox: a copy held to the target owner's quota, then the expunge. */
async function moveAcrossOwners(session: ImapSession, uids: number[], opened: OpenedMailbox) {
  const selected = session.selected!;
  const mail = session.server.mail;
  const copied = await copyMessages(mail, selected.mailbox, uids, opened.mailbox, { quota: quotaOf(opened.target) });
  const sources = copied.mapping.map((pair) => pair.source);
  return { ...copied, ...(await expungeMessages(mail, selected.mailbox, sources)) };
}

/**
 * RFC 4314 §4: copies keep only the flags the rights on the target allow. The copies carry the source's
 * flags; those not allowed are taken off again (nothing to do with full rights, the common case).
 */
async function dropForbiddenFlags(session: ImapSession, opened: OpenedMailbox, result: CopyResult): Promise<void> {
  const forbidden = new Set<string>();
  const snapshot = await session.server.snapshots.current(session.selected!.id);
  for (const pair of result.mapping) {
    for (const flag of snapshot.states.get(pair.source)?.flags ?? []) {
      if (permittedFlags(opened.rights, [flag]).length === 0) forbidden.add(flag);
    }
  }
  if (forbidden.size === 0) return;
  const copies = result.mapping.map((pair) => pair.target);
  await updateFlags(session.server.mail, opened.mailbox, copies, { mode: 'remove', flags: [...forbidden] });
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
