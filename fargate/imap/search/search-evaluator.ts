/**
 * Evaluates SEARCH criteria (RFC 9051 §6.4.4, the IMAP4rev1 keys of RFC 3501 §6.4.4, RFC 7162 MODSEQ,
 * RFC 5032 OLDER/YOUNGER) against messages of the selected mailbox.
 *
 * Cheap keys (flags, sizes, dates, UIDs, sequence numbers, MODSEQ) use the message state the index
 * keeps; address and subject keys use the index's decoded search fields; HEADER and BODY/TEXT read the
 * message from the blob store through `MessageContent`, bounded per message. Within an AND the cheap
 * operands run first, so expensive reads happen only for messages that can still match.
 *
 * String matching is case-insensitive substring matching on decoded text (i;unicode-casemap in spirit:
 * both sides lower-cased and NFC-normalised), as clients expect.
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
  size: number;
  recent: boolean;
}

export interface SearchFieldsOfMessage {
  from: string;
  to: string;
  cc: string;
  bcc: string;
  subject: string;
  /** The Date header's calendar date as written (its own zone), for SENT*; undefined when missing. */
  sentDate: ImapDate | undefined;
}

/** Lazily loaded content of a candidate; each call may read the store. */
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

/** Sorts every AND's operands by cost, once per search. */
export function planSearch(key: SearchKey): SearchKey {
  switch (key.key) {
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

/** Case-insensitive substring match on normalised text. */
export function containsText(haystack: string, needle: string): boolean {
  if (needle === '') return true;
  return fold(haystack).includes(fold(needle));
}

function fold(text: string): string {
  return text.normalize('NFC').toLowerCase();
}

function dayNumber(date: ImapDate): number {
  return Date.UTC(date.year, date.month - 1, date.day) / 86_400_000;
}

/** The calendar day of an instant in UTC (the internal date's zone is not kept). */
function utcDay(time: number): number {
  return Math.floor(time / 86_400_000);
}

function compareDay(day: number, key: 'BEFORE' | 'ON' | 'SINCE', date: ImapDate): boolean {
  const target = dayNumber(date);
  if (key === 'BEFORE') return day < target;
  if (key === 'ON') return day === target;
  return day >= target;
}

export async function matches(
  key: SearchKey,
  candidate: SearchCandidate,
  content: MessageContent,
  scope: SearchScope,
): Promise<boolean> {
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
    case 'SENTSINCE': {
      const sent = (await content.fields(candidate)).sentDate;
      const day = sent ? dayNumber(sent) : utcDay(candidate.internalDate);
      return compareDay(day, key.key === 'SENTBEFORE' ? 'BEFORE' : key.key === 'SENTON' ? 'ON' : 'SINCE', key.date);
    }
    case 'FROM':
    case 'TO':
    case 'CC':
    case 'BCC':
    case 'SUBJECT': {
      const fields = await content.fields(candidate);
      const name = key.key.toLowerCase() as 'from' | 'to' | 'cc' | 'bcc' | 'subject';
      return containsText(fields[name], key.value);
    }
    case 'HEADER': {
      const values = await content.header(candidate, key.field);
      // RFC 9051 §6.4.4: an empty string matches every message that has the field at all.
      return values.some((value) => containsText(value, key.value));
    }
    case 'BODY':
      return containsText(await content.bodyText(candidate), key.value);
    case 'TEXT':
      return (
        containsText(await content.headerText(candidate), key.value) ||
        containsText(await content.bodyText(candidate), key.value)
      );
    case 'NOT':
      return !(await matches(key.operand, candidate, content, scope));
    case 'OR':
      return (
        (await matches(key.left, candidate, content, scope)) || (await matches(key.right, candidate, content, scope))
      );
    case 'AND':
      for (const operand of key.operands) {
        if (!(await matches(operand, candidate, content, scope))) return false;
      }
      return true;
  }
}
