/**
 * Evaluates SEARCH criteria (RFC 9051 §6.4.4, the IMAP4rev1 keys of RFC 3501 §6.4.4, RFC 7162 MODSEQ,
 * RFC 5032 OLDER/YOUNGER, RFC 8514 SAVED*) against messages of the selected mailbox.
 *
 * Cheap keys (flags, sizes, dates, UIDs, sequence numbers, MODSEQ) use the message state the index
 * keeps; address and subject keys use the index's decoded search fields; HEADER and BODY/TEXT read the
 * message from the blob store through `MessageContent`, bounded per message. Within an AND the cheap
 * operands run first, so expensive reads happen only for messages that can still match.
 *
 * String matching is case-insensitive substring matching on decoded text (i;unicode-casemap in spirit:
 * both sides lower-cased and NFC-normalised, see `foldText`), as clients expect: `planSearch` folds the
 * search strings once, and MessageContent returns folded text. Keys that need no content are evaluated
 * synchronously, so a flag search over a big mailbox does not pay a promise per message.
 */
import type { ImapDate, SearchKey } from '../protocol/command-types.ts';

/** What evaluation needs of one message; the loaders are called at most once per message. */
export interface SearchCandidate {
  sequence: number;
  uid: number;
  flags: readonly string[];
  modseq: number;
  /** Internal date, ms since the epoch. */
  internalDate: number;
  /** When the message was saved in the mailbox (RFC 8514), ms since the epoch. */
  savedAt: number;
  size: number;
  recent: boolean;
}

/** Decoded header fields, folded with `foldText`. */
export interface SearchFieldsOfMessage {
  from: string;
  to: string;
  cc: string;
  bcc: string;
  subject: string;
  /** The Date header's calendar date as written (its own zone), for SENT*; undefined when missing. */
  sentDate: ImapDate | undefined;
}

/** Lazily loaded content of a candidate, folded with `foldText`; each call may read the store. */
export interface MessageContent {
  fields(candidate: SearchCandidate): Promise<SearchFieldsOfMessage>;
  /** The decoded values of every header field with this name (case-insensitive), in order. */
  header(candidate: SearchCandidate, name: string): Promise<string[]>;
  /** The whole header section, decoded, for TEXT. */
  headerText(candidate: SearchCandidate): Promise<string>;
  /** The decoded text of the body's text parts, bounded. */
  bodyText(candidate: SearchCandidate): Promise<string>;
}

export interface SearchScope {
  /** UIDs each sequence-set key names (resolved by the session against its view). */
  resolveSet(key: Extract<SearchKey, { key: 'UID' | 'SEQUENCE' }>): ReadonlySet<number>;
  now: number;
}

/** Relative cost of a key; AND evaluates operands cheapest first. */
function cost(key: SearchKey): number {
  switch (key.key) {
    case 'BODY':
    case 'TEXT':
      return 100;
    case 'HEADER':
      return 50;
    case 'BCC':
    case 'CC':
    case 'FROM':
    case 'SUBJECT':
    case 'TO':
    case 'SENTBEFORE':
    case 'SENTON':
    case 'SENTSINCE':
      return 10;
    case 'NOT':
      return cost(key.operand);
    case 'OR':
      return cost(key.left) + cost(key.right);
    case 'AND':
      return key.operands.reduce((sum, operand) => sum + cost(operand), 0);
    default:
      return 1;
  }
}

/** Sorts every AND's operands by cost and folds the search strings, once per search. */
export function planSearch(key: SearchKey): SearchKey {
  switch (key.key) {
    case 'BCC':
    case 'BODY':
    case 'CC':
    case 'FROM':
    case 'SUBJECT':
    case 'TEXT':
    case 'TO':
      return { ...key, value: foldText(key.value) };
    case 'HEADER':
      return { ...key, value: foldText(key.value) };
    case 'AND':
      return { key: 'AND', operands: key.operands.map(planSearch).sort((a, b) => cost(a) - cost(b)) };
    case 'OR':
      return { key: 'OR', left: planSearch(key.left), right: planSearch(key.right) };
    case 'NOT':
      return { key: 'NOT', operand: planSearch(key.operand) };
    default:
      return key;
  }
}

/** True when the key needs more than the message state: index details, or the message itself. */
export function needsContent(key: SearchKey): boolean {
  return cost(key) > 1;
}

/**
 * True when the key needs the message's index state: flags, size, dates, MODSEQ, or (for HEADER, BODY,
 * TEXT) the blob key; SENT* falls back to the internal date. FROM, TO, CC, BCC, SUBJECT, UID and
 * sequence sets do not.
 */
export function needsState(key: SearchKey): boolean {
  switch (key.key) {
    case 'NOT':
      return needsState(key.operand);
    case 'OR':
      return needsState(key.left) || needsState(key.right);
    case 'AND':
      return key.operands.some(needsState);
    case 'FROM':
    case 'TO':
    case 'CC':
    case 'BCC':
    case 'SUBJECT':
    case 'UID':
    case 'SEQUENCE':
      return false;
    default:
      return true;
  }
}

const FLAG_OF: Record<string, string> = {
  ANSWERED: '\\Answered',
  DELETED: '\\Deleted',
  DRAFT: '\\Draft',
  FLAGGED: '\\Flagged',
  SEEN: '\\Seen',
};

function hasFlag(candidate: SearchCandidate, flag: string): boolean {
  const folded = flag.toLowerCase();
  return candidate.flags.some((candidateFlag) => candidateFlag.toLowerCase() === folded);
}

/** The form both sides of a text match take: NFC, lower case. */
export function foldText(text: string): string {
  return text.normalize('NFC').toLowerCase();
}

function dayNumber(date: ImapDate): number {
  return Date.UTC(date.year, date.month - 1, date.day) / 86_400_000;
}

/** The calendar day of an instant in UTC (the internal date's zone is not kept). */
function utcDay(time: number): number {
  return Math.floor(time / 86_400_000);
}

const SAVED_COMPARISON = { SAVEDBEFORE: 'BEFORE', SAVEDON: 'ON', SAVEDSINCE: 'SINCE' } as const;

function compareDay(day: number, key: 'BEFORE' | 'ON' | 'SINCE', date: ImapDate): boolean {
  const target = dayNumber(date);
  if (key === 'BEFORE') return day < target;
  if (key === 'ON') return day === target;
  return day >= target;
}

/**
 * Whether the candidate matches the (planned) key: a boolean when no content was needed, else a promise.
 * AND and OR stop at the first operand that decides, so content is read only when it still matters.
 */
export function matches(
  key: SearchKey,
  candidate: SearchCandidate,
  content: MessageContent,
  scope: SearchScope,
): boolean | Promise<boolean> {
  switch (key.key) {
    case 'ALL':
      return true;
    case 'ANSWERED':
    case 'DELETED':
    case 'DRAFT':
    case 'FLAGGED':
    case 'SEEN':
      return hasFlag(candidate, FLAG_OF[key.key]!);
    case 'UNANSWERED':
    case 'UNDELETED':
    case 'UNDRAFT':
    case 'UNFLAGGED':
    case 'UNSEEN':
      return !hasFlag(candidate, FLAG_OF[key.key.slice(2)]!);
    case 'RECENT':
      return candidate.recent;
    case 'NEW':
      return candidate.recent && !hasFlag(candidate, '\\Seen');
    case 'OLD':
      return !candidate.recent;
    case 'KEYWORD':
      return hasFlag(candidate, key.flag);
    case 'UNKEYWORD':
      return !hasFlag(candidate, key.flag);
    case 'LARGER':
      return candidate.size > key.size;
    case 'SMALLER':
      return candidate.size < key.size;
    case 'BEFORE':
    case 'ON':
    case 'SINCE':
      return compareDay(utcDay(candidate.internalDate), key.key, key.date);
    case 'SAVEDBEFORE':
    case 'SAVEDON':
    case 'SAVEDSINCE':
      return compareDay(utcDay(candidate.savedAt), SAVED_COMPARISON[key.key], key.date);
    case 'SAVEDATESUPPORTED':
      return true;
    case 'OLDER':
      return candidate.internalDate <= scope.now - key.seconds * 1000;
    case 'YOUNGER':
      return candidate.internalDate >= scope.now - key.seconds * 1000;
    case 'UID':
    case 'SEQUENCE':
      return scope.resolveSet(key).has(candidate.uid);
    case 'MODSEQ':
      return candidate.modseq >= key.modSeq;
    case 'SENTBEFORE':
    case 'SENTON':
    case 'SENTSINCE':
      return content.fields(candidate).then(({ sentDate }) => {
        const day = sentDate ? dayNumber(sentDate) : utcDay(candidate.internalDate);
        const comparison = key.key === 'SENTBEFORE' ? 'BEFORE' : key.key === 'SENTON' ? 'ON' : 'SINCE';
        return compareDay(day, comparison, key.date);
      });
    case 'FROM':
    case 'TO':
    case 'CC':
    case 'BCC':
    case 'SUBJECT': {
      const name = key.key.toLowerCase() as 'from' | 'to' | 'cc' | 'bcc' | 'subject';
      return content.fields(candidate).then((fields) => fields[name].includes(key.value));
    }
    case 'HEADER':
      // RFC 9051 §6.4.4: an empty string matches every message that has the field at all.
      return content.header(candidate, key.field).then((values) => values.some((value) => value.includes(key.value)));
    case 'BODY':
      return content.bodyText(candidate).then((text) => text.includes(key.value));
    case 'TEXT':
      return content
        .headerText(candidate)
        .then(async (header) => header.includes(key.value) || (await content.bodyText(candidate)).includes(key.value));
    case 'NOT': {
      const operand = matches(key.operand, candidate, content, scope);
      return typeof operand === 'boolean' ? !operand : operand.then((matched) => !matched);
    }
    case 'OR': {
      const left = matches(key.left, candidate, content, scope);
      if (left === true) return true;
      if (left === false) return matches(key.right, candidate, content, scope);
      return left.then((matched) => matched || matches(key.right, candidate, content, scope));
    }
    case 'AND':
      return matchesAll(key.operands, 0, candidate, content, scope);
  }
}

function matchesAll(
  operands: readonly SearchKey[],
  from: number,
  candidate: SearchCandidate,
  content: MessageContent,
  scope: SearchScope,
): boolean | Promise<boolean> {
  for (let index = from; index < operands.length; index++) {
    const result = matches(operands[index]!, candidate, content, scope);
    if (result === false) return false;
    if (result !== true) {
      return result.then((matched) => matched && matchesAll(operands, index + 1, candidate, content, scope));
    }
  }
  return true;
}
