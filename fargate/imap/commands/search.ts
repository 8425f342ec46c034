/**
 * SEARCH (RFC 9051 §6.4.4) with ESEARCH (RFC 4731), SEARCHRES (RFC 5182) and CONDSTORE's MODSEQ
 * (RFC 7162 §3.1.5); SORT (RFC 5256 §3, RFC 5957 DISPLAYFROM/DISPLAYTO); THREAD=ORDEREDSUBJECT and
 * THREAD=REFERENCES (RFC 5256 §3).
 *
 * Candidates are the session's messages; cheap criteria are checked on the index state first, index
 * details are read in ranges only when a criterion needs them, and message bodies only for HEADER, BODY
 * and TEXT (bounded per message, see search/message-text.ts).
 */
import type { MessageDetails, MessageState } from '../../../shared/mailbox/message-record.ts';
import { bad, type CommandOf, type Completion, ok } from '../completion.ts';
import type { CachedDetails } from '../details-cache.ts';
import { SEARCH_CONTENT_READS_IN_FLIGHT } from '../limits.ts';
import { loadDetails, loadStates, structureOf } from '../message-loader.ts';
import type { SearchKey } from '../protocol/command-types.ts';
import { esearchResponse, searchResponse, sortResponse, threadResponse } from '../protocol/response-writer.ts';
import {
  addressListText,
  addressSpec,
  baseSubjectOf,
  calendarDateOf,
  decodeWords,
  sentTimeOf,
  subjectOf,
} from '../search/message-fields.ts';
import { parseHeaderFields, readBodyText, readHeaderSection } from '../search/message-text.ts';
import {
  foldText,
  type MessageContent,
  matches,
  needsContent,
  needsState,
  planSearch,
  type SearchCandidate,
  type SearchFieldsOfMessage,
  type SearchScope,
} from '../search/search-evaluator.ts';
import type { SelectedMailbox } from '../selected-mailbox.ts';
import type { ImapSession } from '../session.ts';
import { type SortableMessage, sortMessages } from '../sort/sort.ts';
import { type ThreadableMessage, threadOrderedSubject, threadReferences } from '../thread/thread.ts';

interface SearchResult {
  /** Matching UIDs in mailbox order. */
  uids: number[];
  /** Index state of the candidates (empty when the criteria needed none and `withStates` was false). */
  states: Map<number, MessageState>;
  /** Details of the matches (and of other candidates the criteria needed them for). */
  details: Map<number, CachedDetails>;
}

/** Whether the criteria use a key that passes `test`, at any depth. */
function usesKey(key: SearchKey, test: (name: SearchKey['key']) => boolean): boolean {
  switch (key.key) {
    case 'NOT':
      return usesKey(key.operand, test);
    case 'OR':
      return usesKey(key.left, test) || usesKey(key.right, test);
    case 'AND':
      return key.operands.some((operand) => usesKey(operand, test));
    default:
      return test(key.key);
  }
}

function usesModseq(key: SearchKey): boolean {
  return usesKey(key, (name) => name === 'MODSEQ');
}

/** RFC 9051 has no \Recent: RECENT, NEW and OLD are not IMAP4rev2 search keys (Appendix E). */
function refusedInRev2(session: ImapSession, criteria: SearchKey): Completion | undefined {
  if (!session.imap4rev2) return undefined;
  const recentKey = usesKey(criteria, (name) => name === 'RECENT' || name === 'NEW' || name === 'OLD');
  return recentKey ? bad('RECENT, NEW and OLD are not IMAP4rev2 search keys') : undefined;
}

/**
 * Runs the criteria over the selected mailbox. The index state is read only when a criterion needs it
 * or `withStates` asks (SORT, THREAD: dates, sizes); details only when a criterion needs them or
 * `withDetails` asks (for the matches).
 */
async function evaluate(
  session: ImapSession,
  selected: SelectedMailbox,
  criteria: SearchKey,
  options: { withStates: boolean; withDetails: boolean },
): Promise<SearchResult> {
  const view = selected.view;
  const uids = view.allUids;
  const plan = planSearch(criteria);
  const states =
    options.withStates || needsState(plan)
      ? await loadStates(session.server, selected.id, view, uids)
      : new Map<number, MessageState>();
  const details = needsContent(plan)
    ? await loadDetails(session.server, selected.id, view, uids)
    : new Map<number, CachedDetails>();
  const resolved = new WeakMap<SearchKey, ReadonlySet<number>>();
  const scope: SearchScope = {
    now: Date.now(),
    resolveSet(key) {
      let set = resolved.get(key);
      if (!set) {
        set = new Set(view.resolve(key.set, key.key === 'UID', session.savedSearch));
        resolved.set(key, set);
      }
      return set;
    },
  };
  const content = messageContent(session, states, details);
  // Keys that need no content answer at once; content reads overlap, a few messages at a time, and each
  // message's decoded content is dropped as soon as its verdict is in.
  const hits = new Uint8Array(uids.length);
  const inFlight = new Set<Promise<void>>();
  for (const [index, uid] of uids.entries()) {
    const state = states.get(uid);
    if (states.size > 0 && !state) continue;
    // Without state (criteria that need none), the state fields are never looked at.
    const candidate: SearchCandidate = {
      sequence: view.sequenceOf(uid)!,
      uid,
      flags: state?.flags ?? [],
      modseq: state?.modseq ?? 0,
      internalDate: state?.internalDate.getTime() ?? 0,
      savedAt: state?.savedAt.getTime() ?? 0,
      size: state?.size ?? 0,
      recent: selected.recent.has(uid),
    };
    const result = matches(plan, candidate, content, scope);
    if (result === true) hits[index] = 1;
    if (typeof result === 'boolean') continue;
    const verdict: Promise<void> = result
      .then((hit) => {
        if (hit) hits[index] = 1;
      })
      .finally(() => {
        content.forget(uid);
        inFlight.delete(verdict);
      });
    inFlight.add(verdict);
    if (inFlight.size >= SEARCH_CONTENT_READS_IN_FLIGHT) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  const matched = uids.filter((_, index) => hits[index] === 1);
  if (options.withDetails && details.size === 0 && matched.length > 0) {
    return { uids: matched, states, details: await loadDetails(session.server, selected.id, view, matched) };
  }
  return { uids: matched, states, details };
}

/**
 * Lazily decoded content of the candidates, each piece read at most once while its message is being
 * evaluated; `forget` drops a message's pieces once its verdict is in.
 */
function messageContent(
  session: ImapSession,
  states: Map<number, MessageState>,
  details: Map<number, CachedDetails>,
): MessageContent & { forget(uid: number): void } {
  const blobs = session.server.blobs;
  const headerCache = new Map<number, Array<{ name: string; value: string }>>();
  const bodyCache = new Map<number, string>();
  const detailsOf = (candidate: SearchCandidate) => details.get(candidate.uid)?.details;
  const headerFields = async (candidate: SearchCandidate) => {
    let fields = headerCache.get(candidate.uid);
    if (!fields) {
      const found = detailsOf(candidate);
      const state = states.get(candidate.uid)!;
      fields = found ? parseHeaderFields(await readHeaderSection(blobs, state.blobKey, structureOf(found).body)) : [];
      headerCache.set(candidate.uid, fields);
    }
    return fields;
  };
  return {
    forget(uid) {
      headerCache.delete(uid);
      bodyCache.delete(uid);
    },
    async fields(candidate) {
      const cached = details.get(candidate.uid);
      if (!cached) return NO_FIELDS;
      cached.searchFields ??= searchFieldsOf(cached.details);
      return cached.searchFields;
    },
    async header(candidate, name) {
      const wanted = name.toLowerCase();
      return (await headerFields(candidate))
        .filter((field) => field.name.toLowerCase() === wanted)
        .map((field) => foldText(field.value));
    },
    async headerText(candidate) {
      return foldText((await headerFields(candidate)).map((field) => `${field.name}: ${field.value}`).join('\n'));
    },
    async bodyText(candidate) {
      let text = bodyCache.get(candidate.uid);
      if (text === undefined) {
        const found = detailsOf(candidate);
        const state = states.get(candidate.uid)!;
        text = found ? foldText(await readBodyText(blobs, state.blobKey, structureOf(found).body)) : '';
        bodyCache.set(candidate.uid, text);
      }
      return text;
    },
  };
}

const NO_FIELDS: SearchFieldsOfMessage = { from: '', to: '', cc: '', bcc: '', subject: '', sentDate: undefined };

/** The header fields SEARCH matches against, decoded and folded once per cached message. */
function searchFieldsOf(details: MessageDetails): SearchFieldsOfMessage {
  const envelope = structureOf(details).envelope;
  return {
    from: foldText(addressListText(envelope.from)),
    to: foldText(addressListText(envelope.to)),
    cc: foldText(addressListText(envelope.cc)),
    bcc: foldText(addressListText(envelope.bcc)),
    subject: foldText(decodeWords(envelope.subject)),
    sentDate: calendarDateOf(envelope.date),
  };
}

export async function runSearch(session: ImapSession, command: CommandOf<'SEARCH'>): Promise<Completion> {
  const refused = refusedInRev2(session, command.criteria);
  if (refused) return refused;
  const selected = session.selected!;
  const modseqUsed = usesModseq(command.criteria);
  if (modseqUsed) session.enabled.add('CONDSTORE');
  const { uids, states } = await evaluate(session, selected, command.criteria, {
    withStates: false,
    withDetails: false,
  });
  const numbers = uids.map((uid) => (command.uid ? uid : selected.view.sequenceOf(uid)!));
  const highestModseq = modseqUsed ? Math.max(0, ...uids.map((uid) => states.get(uid)!.modseq)) : undefined;
  // RFC 9051 §6.4.4: an IMAP4rev2 session always gets ESEARCH; without RETURN, as if RETURN (ALL).
  const options =
    command.returnOptions ??
    (session.imap4rev2 ? { min: false, max: false, all: true, count: false, save: false } : undefined);
  if (!options) {
    session.send(searchResponse(numbers, highestModseq));
    return ok('SEARCH completed');
  }
  // RFC 5182 §2.4: SAVE keeps the result (as UIDs, so later expunges cannot shift it).
  if (options.save) session.savedSearch = uids;
  const onlySave = options.save && !options.min && !options.max && !options.count && !options.all;
  if (!onlySave) {
    session.send(
      esearchResponse({
        tag: command.tag,
        uid: command.uid,
        ...(options.min && numbers.length > 0 ? { min: Math.min(...numbers) } : {}),
        ...(options.max && numbers.length > 0 ? { max: Math.max(...numbers) } : {}),
        ...(options.all && numbers.length > 0 ? { all: numbers } : {}),
        ...(options.count ? { count: numbers.length } : {}),
        ...(highestModseq !== undefined && numbers.length > 0 ? { modSeq: highestModseq } : {}),
      }),
    );
  }
  return ok('SEARCH completed');
}

export async function runSort(session: ImapSession, command: CommandOf<'SORT'>): Promise<Completion> {
  if (command.returnOptions) return bad('ESORT is not supported');
  const refused = refusedInRev2(session, command.search);
  if (refused) return refused;
  const selected = session.selected!;
  const modseqUsed = usesModseq(command.search);
  if (modseqUsed) session.enabled.add('CONDSTORE');
  const result = await evaluate(session, selected, command.search, { withStates: true, withDetails: true });
  const states = result.uids.map((uid) => result.states.get(uid)!);
  const sortable: SortableMessage[] = [];
  for (const state of states) {
    const found = result.details.get(state.uid)?.details;
    const internalDate = state.internalDate.getTime();
    const envelope = found ? structureOf(found).envelope : undefined;
    const from = envelope?.from?.find((address) => address.mailbox !== null);
    const to = envelope?.to?.find((address) => address.mailbox !== null);
    const cc = envelope?.cc?.find((address) => address.mailbox !== null);
    sortable.push({
      sequence: selected.view.sequenceOf(state.uid)!,
      internalDate,
      sentDate: found ? sentTimeOf(found, internalDate) : internalDate,
      size: state.size,
      baseSubject: found ? baseSubjectOf(found) : '',
      fromMailbox: from?.mailbox ?? '',
      toMailbox: to?.mailbox ?? '',
      ccMailbox: cc?.mailbox ?? '',
      // RFC 5957 §3: the display name if there is one, else the addr-spec.
      displayFrom: from ? decodeWords(from.name) || addressSpec(from) : '',
      displayTo: to ? decodeWords(to.name) || addressSpec(to) : '',
    });
  }
  const uidBySequence = new Map(states.map((state) => [selected.view.sequenceOf(state.uid)!, state.uid]));
  const ordered = sortMessages(sortable, command.criteria).map((message) =>
    command.uid ? uidBySequence.get(message.sequence)! : message.sequence,
  );
  const highestModseq = modseqUsed ? Math.max(0, ...states.map((state) => state.modseq)) : undefined;
  session.send(sortResponse(ordered, highestModseq));
  return ok('SORT completed');
}

export async function runThread(session: ImapSession, command: CommandOf<'THREAD'>): Promise<Completion> {
  if (command.algorithm !== 'REFERENCES' && command.algorithm !== 'ORDEREDSUBJECT') {
    return bad(`Unsupported threading algorithm ${command.algorithm}`);
  }
  const refused = refusedInRev2(session, command.search);
  if (refused) return refused;
  const selected = session.selected!;
  const result = await evaluate(session, selected, command.search, { withStates: true, withDetails: true });
  const messages: ThreadableMessage[] = result.uids.map((uid) => {
    const state = result.states.get(uid)!;
    const found = result.details.get(uid)?.details;
    const envelope = found ? structureOf(found).envelope : undefined;
    const internalDate = state.internalDate.getTime();
    return {
      id: command.uid ? state.uid : selected.view.sequenceOf(state.uid)!,
      messageId: envelope?.messageId ?? undefined,
      inReplyTo: envelope?.inReplyTo ?? undefined,
      references: found?.search.references,
      subject: found ? subjectOf(found) : '',
      baseSubject: found ? baseSubjectOf(found) : '',
      sentDate: found ? sentTimeOf(found, internalDate) : internalDate,
    };
  });
  const threads = command.algorithm === 'REFERENCES' ? threadReferences(messages) : threadOrderedSubject(messages);
  session.send(threadResponse(threads));
  return ok('THREAD completed');
}
