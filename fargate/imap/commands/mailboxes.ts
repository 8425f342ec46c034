/**
 * Mailbox commands: CREATE (with RFC 6154 USE), DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST (RFC 9051
 * §6.3.9 with LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819, SPECIAL-USE RFC 6154, CHILDREN), LSUB,
 * STATUS, NAMESPACE. Names are resolved in the three namespaces, and the rights RFC 4314 §4 asks for
 * checked, by acl-access.ts; shared/mailbox owns the rules about what a name may be.
 *
 * An administrator also creates accounts' mailbox trees, as cyradm's `cm user/bob@example.com` does:
 * CREATE of another account's INBOX makes its default mailboxes.
 */
import { effectiveRights, inheritAcl, requireOperation } from '../../../shared/acl/index.ts';
import { getMailboxStatus } from '../../../shared/mailbox/changes.ts';
import {
  MailboxExistsError,
  MailboxNotFoundError,
  MailboxOperationNotAllowedError,
} from '../../../shared/mailbox/errors.ts';
import type { Mailbox } from '../../../shared/mailbox/mailbox-record.ts';
import {
  createDefaultMailboxes,
  createMailbox,
  deleteMailbox,
  getMailboxByName,
  listExistingMailboxes,
  listSubscriptions,
  renameMailbox,
  subscribe,
  unsubscribe,
} from '../../../shared/mailbox/mailboxes.ts';
import { HIERARCHY_SEPARATOR, INBOX, SPECIAL_USES, superiorNames } from '../../../shared/mailbox/names.ts';
import { countUnclaimedRecent } from '../../../shared/mailbox/recent.ts';
import { bad, type CommandOf, type Completion, no, ok } from '../completion.ts';
import { MAX_APPEND_BYTES } from '../limits.ts';
import { joinReference, MAX_LIST_PATTERN_LENGTH, matchesPattern } from '../list-pattern.ts';
import { mailboxNameToWire, OTHER_USERS_NAMESPACES, PERSONAL_NAMESPACES, SHARED_NAMESPACES } from '../namespaces.ts';
import type { StatusItem } from '../protocol/command-types.ts';
import { decodeMailboxName } from '../protocol/mailbox-name.ts';
import { listResponse, namespaceResponse, statusResponse, untaggedStatus } from '../protocol/response-writer.ts';
import type { ImapSession } from '../session.ts';
import { accessorOf, type MailboxTarget, openMailbox, resolveTarget } from './acl-access.ts';
import { type VisibleMailbox, visibleMailboxes } from './acl-listing.ts';

export async function runCreate(session: ImapSession, command: CommandOf<'CREATE'>): Promise<Completion> {
  // RFC 9051 §6.3.4: a trailing separator says the client intends to create inferiors; the name is without it.
  const wire = command.mailbox.endsWith(HIERARCHY_SEPARATOR) ? command.mailbox.slice(0, -1) : command.mailbox;
  const target = await resolveTarget(session, wire);
  if (command.specialUse.length > 1) return no('Only one special use per mailbox', { name: 'USEATTR' });
  const requested = command.specialUse[0];
  const specialUse = SPECIAL_USES.find((use) => use.toLowerCase() === requested?.toLowerCase());
  if (requested !== undefined && !specialUse) return no(`Unsupported special use ${requested}`, { name: 'USEATTR' });
  const mail = session.server.mail;
  if (target.name === INBOX) {
    if (target.location.kind === 'own') return no('INBOX always exists', { name: 'ALREADYEXISTS' });
    return createAccountTree(session, target);
  }
  const parent = await nearestSuperior(session, target);
  // RFC 4314 §4: CREATE needs `k` on the nearest existing parent (the owner has it on its own).
  if (target.location.kind !== 'own') await requireCreateRight(session, target, parent);
  const created = await createMailbox(mail, target.owner, target.name, specialUse ? { specialUse } : {});
  // RFC 4314 §4: a new mailbox SHOULD inherit its parent's ACL.
  if (parent) await inheritAcl(mail, parent, created, target.ownerAccount?.address);
  return ok('CREATE completed');
}

/** `CREATE user/bob@example.com` by an administrator: the account's INBOX and default mailboxes. */
async function createAccountTree(session: ImapSession, target: MailboxTarget): Promise<Completion> {
  requireOperation(session.account!.admin ? 'k' : '', 'create-child', target.sessionName);
  const mail = session.server.mail;
  if ((await listExistingMailboxes(mail, target.owner)).length > 0) throw new MailboxExistsError(target.sessionName);
  await createDefaultMailboxes(mail, target.owner);
  return ok('CREATE completed');
}

/** The nearest existing superior mailbox of the target in its owner, if any. */
async function nearestSuperior(session: ImapSession, target: MailboxTarget): Promise<Mailbox | undefined> {
  for (const name of superiorNames(target.name).reverse()) {
    try {
      return await getMailboxByName(session.server.mail, target.owner, name);
    } catch (error) {
      if (!(error instanceof MailboxNotFoundError)) throw error;
    }
  }
  return undefined;
}

/**
 * `k` on the nearest existing parent: the superior mailbox, else (at the top of another account's
 * tree, `user/bob/New`) that account's INBOX, as Cyrus counts `user/bob` the parent of its folders.
 * New top-level shared mailboxes are for administrators.
 */
async function requireCreateRight(session: ImapSession, target: MailboxTarget, superior: Mailbox | undefined) {
  let parent = superior;
  if (!parent && target.location.kind === 'personal') {
    parent = await getMailboxByName(session.server.mail, target.owner, INBOX);
  }
  const rights = parent ? effectiveRights(parent, accessorOf(session)) : session.account!.admin ? 'k' : '';
  requireOperation(rights, 'create-child', target.sessionName);
}

export async function runDelete(session: ImapSession, command: CommandOf<'DELETE'>): Promise<Completion> {
  const { target, mailbox } = await openMailbox(session, command.mailbox, 'delete');
  if (target.name === INBOX) {
    throw new MailboxOperationNotAllowedError(
      target.location.kind === 'own' ? 'INBOX cannot be deleted' : "an account's INBOX goes with the account",
    );
  }
  await deleteMailbox(session.server.mail, target.owner, target.name);
  if (session.selected?.id === mailbox.id) {
    // RFC 7162 §3.2.11: [CLOSED] tells the client the selected mailbox is no longer selected.
    session.unselect();
    session.send(untaggedStatus('OK', 'Selected mailbox deleted', { name: 'CLOSED' }));
  }
  return ok('DELETE completed');
}

export async function runRename(session: ImapSession, command: CommandOf<'RENAME'>): Promise<Completion> {
  // RFC 4314 §4: `x` on the mailbox, `k` on the new parent.
  const from = await openMailbox(session, command.mailbox, 'delete');
  const to = await resolveTarget(session, command.newName);
  if (to.owner !== from.target.owner) return no('Mailboxes move only within one namespace owner', { name: 'CANNOT' });
  if (to.name === INBOX) return no('INBOX already exists', { name: 'ALREADYEXISTS' });
  if (to.location.kind !== 'own') await requireCreateRight(session, to, await nearestSuperior(session, to));
  await renameMailbox(session.server.mail, from.target.owner, from.target.name, to.name);
  return ok('RENAME completed');
}

export async function runSubscribe(
  session: ImapSession,
  command: CommandOf<'SUBSCRIBE' | 'UNSUBSCRIBE'>,
): Promise<Completion> {
  // Any valid name may be subscribed (RFC 9051 §6.3.7), so no right is needed (RFC 4314 §4).
  const { sessionName } = await resolveTarget(session, command.mailbox).catch((error: unknown) => {
    if (error instanceof MailboxNotFoundError) return { sessionName: error.mailbox };
    throw error;
  });
  if (command.name === 'SUBSCRIBE') {
    await subscribe(session.server.mail, session.account!.id, sessionName);
    return ok('SUBSCRIBE completed');
  }
  // Unsubscribing a name that is not subscribed is harmless (as Dovecot and Cyrus treat it).
  await unsubscribe(session.server.mail, session.account!.id, sessionName);
  return ok('UNSUBSCRIBE completed');
}

export async function runNamespace(session: ImapSession): Promise<Completion> {
  session.send(namespaceResponse(PERSONAL_NAMESPACES, OTHER_USERS_NAMESPACES, SHARED_NAMESPACES));
  return ok('NAMESPACE completed');
}

/** One line of a LIST answer, before encoding. */
interface ListCandidate {
  name: string;
  mailbox: VisibleMailbox | undefined;
  subscribed: boolean;
  hasChildren: boolean;
  /** RFC 5258 §3.5: listed only because an inferior matches the selection (RECURSIVEMATCH). */
  childInfo?: string[];
}

/** Decodes a LIST pattern from the wire (modified UTF-7 leaves `*` and `%` alone). */
function patternFromWire(session: ImapSession, reference: string, pattern: string): string | undefined {
  const joined = joinReference(reference, pattern);
  if (joined.length > MAX_LIST_PATTERN_LENGTH) return undefined;
  return session.utf8 ? joined : decodeMailboxName(joined);
}

export async function runList(session: ImapSession, command: CommandOf<'LIST'>): Promise<Completion> {
  const { returns, selection } = command;
  if (returns.status && !statusItemsAllowed(session, returns.status)) return bad(RECENT_NOT_IN_REV2);
  // RFC 9051 §6.3.9: an empty pattern asks for the hierarchy delimiter and root.
  if (command.patterns.length === 1 && command.patterns[0] === '') {
    session.send(listResponse({ attributes: ['\\Noselect'], delimiter: HIERARCHY_SEPARATOR, name: '' }));
    return ok('LIST completed');
  }
  const patterns: string[] = [];
  for (const pattern of command.patterns) {
    const decoded = patternFromWire(session, command.reference, pattern);
    if (decoded === undefined) return bad('Pattern too long');
    patterns.push(decoded);
  }
  const subscribedOnly = selection.includes('SUBSCRIBED');
  const recursive = selection.includes('RECURSIVEMATCH');
  const specialUseOnly = selection.includes('SPECIAL-USE');
  const wantSubscribed = subscribedOnly || returns.subscribed;
  const account = session.account!.id;
  const mailboxes = await visibleMailboxes(session, patterns);
  const subscriptions = wantSubscribed
    ? new Set(await listSubscriptions(session.server.mail, account))
    : new Set<string>();
  const byName = new Map(mailboxes.map((mailbox) => [mailbox.name, mailbox]));
  const allNames = new Set([...byName.keys(), ...(subscribedOnly ? subscriptions : [])]);
  // Superiors without a mailbox of their own (left by DELETE) still structure the hierarchy.
  for (const name of [...allNames]) for (const superior of superiorNames(name)) allNames.add(superior);
  const hasChildren = new Set<string>();
  for (const name of allNames) for (const superior of superiorNames(name)) hasChildren.add(superior);
  const matches = (name: string) => patterns.some((pattern) => matchesPattern(name, pattern));

  const candidates: ListCandidate[] = [];
  for (const name of [...allNames].sort(compareNames)) {
    if (!matches(name)) continue;
    const mailbox = byName.get(name);
    const subscribed = subscriptions.has(name);
    const candidate: ListCandidate = { name, mailbox, subscribed, hasChildren: hasChildren.has(name) };
    if (subscribedOnly && !subscribed) {
      // RFC 5258 §3.5: with RECURSIVEMATCH, a parent of a subscribed mailbox is listed with CHILDINFO.
      const subscribedInferior = [...subscriptions].some((other) => other.startsWith(name + HIERARCHY_SEPARATOR));
      if (!(recursive && subscribedInferior)) continue;
      candidate.childInfo = ['SUBSCRIBED'];
    }
    if (specialUseOnly && !mailbox?.specialUse) continue;
    candidates.push(candidate);
  }

  for (const candidate of candidates) {
    const attributes: string[] = [];
    // RFC 5258 §3 / RFC 9051 §7.3.1: \NonExistent (which implies \Noselect) for clients that know it.
    if (!candidate.mailbox) attributes.push(command.extended || session.imap4rev2 ? '\\NonExistent' : '\\Noselect');
    attributes.push(candidate.hasChildren ? '\\HasChildren' : '\\HasNoChildren');
    if (candidate.subscribed && wantSubscribed) attributes.push('\\Subscribed');
    if (candidate.mailbox?.specialUse) attributes.push(candidate.mailbox.specialUse);
    session.send(
      listResponse({
        attributes,
        delimiter: HIERARCHY_SEPARATOR,
        name: mailboxNameToWire(candidate.name, session.utf8),
        ...(candidate.childInfo ? { childInfo: candidate.childInfo } : {}),
      }),
    );
    // RFC 5819 §2: the STATUS of each selectable listed mailbox follows its LIST line.
    // RFC 4314 §4: STATUS needs `r`; a mailbox listed for `l` alone gets no STATUS line.
    if (returns.status && candidate.mailbox?.rights.includes('r')) {
      await sendStatus(session, candidate.mailbox, returns.status);
    }
  }
  return ok('LIST completed');
}

export async function runLsub(session: ImapSession, command: CommandOf<'LSUB'>): Promise<Completion> {
  const pattern = patternFromWire(session, command.reference, command.pattern);
  if (pattern === undefined) return bad('Pattern too long');
  const subscriptions = await listSubscriptions(session.server.mail, session.account!.id);
  const existing = new Set((await visibleMailboxes(session, [pattern])).map((mailbox) => mailbox.name));
  const names = new Set<string>();
  for (const name of subscriptions) {
    if (matchesPattern(name, pattern)) names.add(name);
    // RFC 3501 §6.3.9: with `%`, a superior of a subscribed name that is not itself subscribed appears \Noselect.
    for (const superior of superiorNames(name)) if (matchesPattern(superior, pattern)) names.add(superior);
  }
  const subscribed = new Set(subscriptions);
  for (const name of [...names].sort(compareNames)) {
    const attributes = subscribed.has(name) && existing.has(name) ? [] : ['\\Noselect'];
    session.send(
      listResponse({ attributes, delimiter: HIERARCHY_SEPARATOR, name: mailboxNameToWire(name, session.utf8) }, 'LSUB'),
    );
  }
  return ok('LSUB completed');
}

export async function runStatus(session: ImapSession, command: CommandOf<'STATUS'>): Promise<Completion> {
  if (!statusItemsAllowed(session, command.items)) return bad(RECENT_NOT_IN_REV2);
  // RFC 4314 §4: STATUS needs `r`.
  const { target, mailbox } = await openMailbox(session, command.mailbox, 'read');
  await sendStatus(session, { ...mailbox, name: target.sessionName }, command.items);
  return ok('STATUS completed');
}

const RECENT_NOT_IN_REV2 = 'RECENT is not an IMAP4rev2 status item';

/** RFC 9051 §6.3.11 has no RECENT (IMAP4rev2 dropped \Recent). */
function statusItemsAllowed(session: ImapSession, items: readonly StatusItem[]): boolean {
  return !(session.imap4rev2 && items.includes('RECENT'));
}

async function sendStatus(session: ImapSession, mailbox: Mailbox, items: readonly StatusItem[]): Promise<void> {
  const status = await getMailboxStatus(session.server.mail, mailbox.id);
  const values: Array<[StatusItem, number]> = [];
  for (const item of items) {
    switch (item) {
      case 'MESSAGES':
        values.push([item, status.messages]);
        break;
      case 'UIDNEXT':
        values.push([item, status.uidNext]);
        break;
      case 'UIDVALIDITY':
        values.push([item, status.uidValidity]);
        break;
      case 'UNSEEN':
        values.push([item, status.unseen]);
        break;
      case 'SIZE':
        values.push([item, status.size]);
        break;
      case 'RECENT':
        values.push([item, await countRecent(session, mailbox, status.uidNext)]);
        break;
      case 'HIGHESTMODSEQ':
        values.push([item, status.highestModseq]);
        break;
      case 'APPENDLIMIT':
        values.push([item, MAX_APPEND_BYTES]);
        break;
      case 'DELETED':
        values.push([item, await countDeleted(session, mailbox.id)]);
        break;
    }
  }
  session.send(statusResponse(mailboxNameToWire(mailbox.name, session.utf8), values));
}

/**
 * STATUS RECENT (RFC 3501 §6.3.10): the messages no session has claimed yet (the next session to
 * learn of them gets them), and those this session holds as recent if it has the mailbox selected.
 */
async function countRecent(session: ImapSession, mailbox: Mailbox, uidNext: number): Promise<number> {
  const unclaimed = await countUnclaimedRecent(session.server.mail, mailbox.id, mailbox.recentUid, uidNext);
  const selected = session.selected;
  const claimedHere = selected?.id === mailbox.id && selected.recent.mode === 'claim';
  return unclaimed + (claimedHere ? selected.recent.count(selected.view) : 0);
}

/** RFC 9051 §6.3.11 STATUS DELETED: messages with \Deleted (the index keeps no counter for it). */
async function countDeleted(session: ImapSession, mailboxId: string): Promise<number> {
  const snapshot = await session.server.snapshots.current(mailboxId);
  let count = 0;
  for (const state of snapshot.states.values()) if (state.flags.includes('\\Deleted')) count++;
  return count;
}

/** INBOX first, then by name. */
function compareNames(a: string, b: string): number {
  if (a === INBOX) return -1;
  if (b === INBOX) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
