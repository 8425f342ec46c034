/**
 * SELECT and EXAMINE (RFC 9051 §6.3.2-3, with CONDSTORE and QRESYNC of RFC 7162 §3.1.8 and §3.2.5),
 * CLOSE (§6.4.1), UNSELECT (RFC 3691) and CHECK.
 */
import { allows, permittedFlags } from '../../../shared/acl/index.ts';
import type { Mailbox } from '../../../shared/mailbox/mailbox-record.ts';
import { expungeMessages } from '../../../shared/mailbox/messages.ts';
import { HIERARCHY_SEPARATOR } from '../../../shared/mailbox/names.ts';
import { bad, type CommandOf, type Completion, ok } from '../completion.ts';
import { MessageView, uidsInSet } from '../message-view.ts';
import { mailboxNameToWire } from '../namespaces.ts';
import type { QresyncParameters } from '../protocol/command-types.ts';
import {
  type FetchAttribute,
  fetchResponse,
  flagsResponse,
  listResponse,
  messageCountResponse,
  token,
  untaggedStatus,
  vanishedResponse,
} from '../protocol/response-writer.ts';
import { RecentMessages } from '../recent-messages.ts';
import { SelectedMailbox } from '../selected-mailbox.ts';
import type { ImapSession } from '../session.ts';
import { type MailboxTarget, openMailbox } from './acl-access.ts';
import { visibleMailboxes } from './acl-listing.ts';

const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];

export async function runSelect(session: ImapSession, command: CommandOf<'SELECT' | 'EXAMINE'>): Promise<Completion> {
  if (command.qresync && !session.qresync) return bad('QRESYNC must be enabled first (RFC 7162 §3.2.3)');
  if (session.selected) {
    // RFC 7162 §3.2.11: the previous mailbox is closed before the new one opens.
    session.unselect();
    session.send(untaggedStatus('OK', 'Previous mailbox closed', { name: 'CLOSED' }));
  }
  if (command.condstore) session.enabled.add('CONDSTORE');
  const mail = session.server.mail;
  // RFC 4314 §4: SELECT and EXAMINE need `r`; the rights are kept for the selected state (§5.1.1 lets
  // a server cache them until the mailbox is selected again).
  const { target, mailbox, rights } = await openMailbox(session, command.mailbox, 'read');
  const snapshot = await session.server.snapshots.current(mailbox.id);
  const uids = [...snapshot.states.keys()].sort((a, b) => a - b);
  const keywords = new Set<string>();
  let firstUnseen: number | undefined;
  uids.forEach((uid, index) => {
    const flags = snapshot.states.get(uid)!.flags;
    if (firstUnseen === undefined && !flags.includes('\\Seen')) firstUnseen = index + 1;
    for (const flag of flags) if (!flag.startsWith('\\')) keywords.add(flag);
  });
  const status = {
    uidValidity: snapshot.uidValidity,
    uidNext: snapshot.uidNext,
    highestModseq: snapshot.highestModseq,
  };

  // RFC 4314 §5.2: READ-WRITE only with a right that changes something (flags, insert, expunge).
  const readOnly = command.name === 'EXAMINE' || !mayChangeAnything(rights);
  const selected = new SelectedMailbox(mail, mailbox, readOnly, new MessageView(uids), status, snapshot.version);
  selected.rights = rights;
  // RFC 3501 §6.3.2: EXAMINE leaves \Recent to the session that selects the mailbox read-write. An
  // IMAP4rev2 session has no \Recent and takes none (RFC 9051 Appendix E), leaving them to rev1 clients.
  selected.recent = new RecentMessages(session.imap4rev2 ? 'none' : readOnly ? 'observe' : 'claim');
  await selected.recent.learn(mail, mailbox.id, mailbox.recentUid, selected.view.highestUid);
  const flags = [...SYSTEM_FLAGS, ...[...keywords].sort()];
  // RFC 4314 §5.1.1: PERMANENTFLAGS shows only the flags these rights let the user change.
  const permanent = readOnly ? [] : permittedFlags(rights, [...flags, '\\*']);
  session.send(flagsResponse(flags));
  session.send(
    untaggedStatus('OK', readOnly ? 'No permanent flags in read-only mode' : 'Flags permitted', {
      name: 'PERMANENTFLAGS',
      args: [permanent.map(token)],
    }),
  );
  session.send(messageCountResponse(uids.length, 'EXISTS'));
  if (session.imap4rev2) {
    // RFC 9051 §6.3.2: a LIST response for the mailbox instead of the RECENT and UNSEEN of RFC 3501.
    session.send(await selectedListResponse(session, command.mailbox, target, mailbox));
  } else {
    session.send(messageCountResponse(selected.recent.count(selected.view), 'RECENT'));
    if (firstUnseen !== undefined) {
      session.send(untaggedStatus('OK', 'First unseen', { name: 'UNSEEN', args: [firstUnseen] }));
    }
  }
  session.send(untaggedStatus('OK', 'UIDs valid', { name: 'UIDVALIDITY', args: [status.uidValidity] }));
  session.send(untaggedStatus('OK', 'Predicted next UID', { name: 'UIDNEXT', args: [status.uidNext] }));
  session.send(untaggedStatus('OK', 'Highest', { name: 'HIGHESTMODSEQ', args: [status.highestModseq] }));
  session.select(selected);
  if (command.qresync && command.qresync.uidValidity === status.uidValidity) {
    await resynchronize(session, selected, command.qresync);
  }
  return ok(`${command.name} completed`, { name: readOnly ? 'READ-ONLY' : 'READ-WRITE' });
}

/**
 * RFC 9051 §6.3.2: the selected mailbox's LIST line, with accurate attributes (children, special use),
 * and OLDNAME when the client named it in a form that is not the normalized one (NFC, RFC 9051 §5.1).
 */
async function selectedListResponse(
  session: ImapSession,
  wire: string,
  target: MailboxTarget,
  mailbox: Mailbox,
): Promise<Buffer> {
  const inferiors = `${target.sessionName}${HIERARCHY_SEPARATOR}`;
  const visible = await visibleMailboxes(session, [`${inferiors}*`]);
  const attributes = [visible.some((each) => each.name.startsWith(inferiors)) ? '\\HasChildren' : '\\HasNoChildren'];
  if (mailbox.specialUse) attributes.push(mailbox.specialUse);
  const name = mailboxNameToWire(target.sessionName, session.utf8);
  return listResponse({
    attributes,
    delimiter: HIERARCHY_SEPARATOR,
    name,
    ...(wire !== wire.normalize('NFC') ? { oldName: wire } : {}),
  });
}

/**
 * RFC 7162 §3.2.5.2: what changed since the client's MODSEQ: VANISHED (EARLIER) for expunged UIDs it
 * may know, FETCH for changed flags. When expunged entries older than the retention were purged, the
 * change log cannot name them all, so the UIDs the client says it knows are compared with the mailbox.
 */
async function resynchronize(
  session: ImapSession,
  selected: SelectedMailbox,
  qresync: QresyncParameters,
): Promise<void> {
  const view = selected.view;
  const highest = selected.uidNext - 1;
  const known = qresync.knownUids ? new Set(uidsInSet(qresync.knownUids, highest)) : undefined;
  const changes = await selected.readChanges(qresync.modSeq);
  let vanished = changes.vanished.filter((uid) => !known || known.has(uid));
  if (!changes.vanishedComplete) {
    const candidates = known ?? uidsInSet({ kind: 'ranges', ranges: [{ start: 1, end: '*' }] }, highest);
    vanished = [...candidates].filter((uid) => !view.has(uid));
  }
  if (vanished.length > 0) session.send(vanishedResponse(vanished, true));
  for (const state of changes.changed) {
    const sequence = view.sequenceOf(state.uid);
    if (sequence === undefined) continue;
    const attributes: FetchAttribute[] = [
      { kind: 'UID', uid: state.uid },
      { kind: 'FLAGS', flags: selected.recent.flagsOf(state.uid, state.flags) },
      { kind: 'MODSEQ', modSeq: state.modseq },
    ];
    session.send(fetchResponse(sequence, attributes));
  }
}

export async function runClose(session: ImapSession): Promise<Completion> {
  const selected = session.selected!;
  // RFC 4314 §4: without `e`, CLOSE only closes.
  if (!selected.readOnly && allows(selected.rights, 'expunge')) {
    // RFC 9051 §6.4.1: CLOSE expunges silently (no EXPUNGE responses).
    const deleted = await deletedUids(session, selected);
    if (deleted.length > 0) {
      await expungeMessages(session.server.mail, selected.mailbox, deleted);
      session.server.notifier.changed(selected.id);
    }
  }
  session.unselect();
  return ok('CLOSE completed');
}

export async function runUnselect(session: ImapSession): Promise<Completion> {
  session.unselect();
  return ok('UNSELECT completed');
}

export async function runCheck(): Promise<Completion> {
  return ok('CHECK completed');
}

/** Whether any of the rights changes the mailbox: flags (`s w t`), `i`nsert or `e`xpunge. */
function mayChangeAnything(rights: string): boolean {
  return [...'swtie'].some((right) => rights.includes(right));
}

/** UIDs of the session's messages that carry \Deleted. */
export async function deletedUids(session: ImapSession, selected: SelectedMailbox): Promise<number[]> {
  const snapshot = await session.server.snapshots.current(selected.id);
  const deleted: number[] = [];
  for (const [uid, state] of snapshot.states) {
    if (state.flags.includes('\\Deleted') && selected.view.has(uid)) deleted.push(uid);
  }
  return deleted.sort((a, b) => a - b);
}
