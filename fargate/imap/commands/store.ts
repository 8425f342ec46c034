/**
 * STORE and UID STORE (RFC 9051 §6.4.6): set, add or remove flags, optionally silently, with CONDSTORE's
 * UNCHANGEDSINCE (RFC 7162 §3.1.3) answered by [MODIFIED] for the messages that changed meanwhile.
 */
import { permittedFlags } from '../../../shared/acl/index.ts';
import { updateFlags } from '../../../shared/mailbox/messages.ts';
import { bad, type CommandOf, type Completion, no, ok } from '../completion.ts';
import { type FetchAttribute, fetchResponse, formatSequenceSet, token } from '../protocol/response-writer.ts';
import { withoutRecent } from '../recent-messages.ts';
import type { ImapSession } from '../session.ts';

const MODE = { replace: 'set', add: 'add', remove: 'remove' } as const;

function hasAllFlagRights(rights: string): boolean {
  return [...'swt'].every((right) => rights.includes(right));
}

export async function runStore(session: ImapSession, command: CommandOf<'STORE'>): Promise<Completion> {
  const selected = session.selected!;
  if (selected.readOnly) return no('Mailbox is read-only', { name: 'READ-ONLY' });
  if (!command.uid && !selected.view.sequenceSetInRange(command.sequenceSet)) {
    return bad('Message sequence number out of range');
  }
  // RFC 4314 §4: `s` for \Seen, `t` for \Deleted, `w` for the others; a STORE still changes the flags it
  // may, and fails only when it may change none. Replacing all flags touches every kind, so needs all three.
  // RFC 3501 §2.3.2: \Recent cannot be altered by the client; it is left out, not refused.
  const requested = withoutRecent(command.flags);
  const flags = permittedFlags(selected.rights, requested);
  const refused =
    command.operation === 'replace' ? !hasAllFlagRights(selected.rights) : flags.length === 0 && requested.length > 0;
  if (refused) return no('Permission denied to change these flags', { name: 'NOPERM' });
  if (command.unchangedSince !== undefined) session.enabled.add('CONDSTORE');
  const uids = selected.view.resolve(command.sequenceSet, command.uid, session.savedSearch);
  const result = await updateFlags(session.server.mail, selected.mailbox, uids, {
    mode: MODE[command.operation],
    flags,
    ...(command.unchangedSince !== undefined ? { unchangedSince: command.unchangedSince } : {}),
  });
  if (result.updated.length > 0) session.server.notifier.changed(selected.id);
  const reply = (uid: number, flags: readonly string[], modseq: number) => {
    const sequence = selected.view.sequenceOf(uid);
    if (sequence === undefined) return;
    const attributes: FetchAttribute[] = [];
    // RFC 7162 §3.1: once CONDSTORE is on, FETCH responses caused by STORE carry UID and MODSEQ.
    if (command.uid || session.condstore) attributes.push({ kind: 'UID', uid });
    // RFC 7162 §3.1.3: with UNCHANGEDSINCE the new MODSEQ is reported even for .SILENT.
    if (!command.silent) attributes.push({ kind: 'FLAGS', flags: selected.recent.flagsOf(uid, flags) });
    if (session.condstore) attributes.push({ kind: 'MODSEQ', modSeq: modseq });
    if (attributes.some((attribute) => attribute.kind !== 'UID')) session.send(fetchResponse(sequence, attributes));
  };
  for (const updated of result.updated) {
    selected.noteReported(updated.uid, updated.modseq);
    if (!command.silent || command.unchangedSince !== undefined) reply(updated.uid, updated.flags, updated.modseq);
  }
  if (!command.silent)
    for (const unchanged of result.unchanged) reply(unchanged.uid, unchanged.flags, unchanged.modseq);
  if (result.failed.length > 0) {
    const numbers = command.uid
      ? result.failed
      : result.failed.map((uid) => selected.view.sequenceOf(uid)).filter((n): n is number => n !== undefined);
    return ok('Conditional STORE failed for some messages', {
      name: 'MODIFIED',
      args: [token(formatSequenceSet(numbers))],
    });
  }
  return ok('STORE completed');
}
