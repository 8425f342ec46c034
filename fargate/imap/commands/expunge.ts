/**
 * EXPUNGE and UID EXPUNGE (RFC 9051 §6.4.3, RFC 4315 §2.1): marks the \Deleted messages expunged (the
 * index keeps them for the retention period) and tells the client which are gone.
 */
import { requireOperation } from '../../../shared/acl/index.ts';
import { expungeMessages } from '../../../shared/mailbox/messages.ts';
import { type CommandOf, type Completion, no, ok } from '../completion.ts';
import { loadStates } from '../message-loader.ts';
import type { ImapSession } from '../session.ts';
import { deletedUids } from './select.ts';

export async function runExpunge(session: ImapSession, command: CommandOf<'EXPUNGE'>): Promise<Completion> {
  const selected = session.selected!;
  if (selected.readOnly) return no('Mailbox is read-only', { name: 'READ-ONLY' });
  // RFC 4314 §4: EXPUNGE needs `e`.
  requireOperation(selected.rights, 'expunge', selected.mailbox.name);
  let uids: number[];
  if (command.uid) {
    // RFC 4315 §2.1: only the named messages, so only their states are read.
    const named = selected.view.resolve(command.sequenceSet, true, session.savedSearch);
    const states = await loadStates(session.server, selected.id, selected.view, named);
    uids = named.filter((uid) => states.get(uid)?.flags.includes('\\Deleted'));
  } else {
    uids = await deletedUids(session, selected);
  }
  if (uids.length > 0) {
    const result = await expungeMessages(session.server.mail, selected.mailbox, uids);
    selected.announceExpunged(session, result.expunged);
    session.server.notifier.changed(selected.id);
  }
  return ok('EXPUNGE completed');
}
