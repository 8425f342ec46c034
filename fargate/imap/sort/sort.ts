/**
 * SORT (RFC 5256 §3) with the RFC 5957 DISPLAYFROM/DISPLAYTO keys. Pure: the session supplies each
 * message's keys from the index (envelope, sizes, dates), no I/O here.
 *
 * Strings compare with i;ascii-casemap (ASCII letters folded to upper case, then by code unit), which
 * RFC 5256 §3 requires servers to support. Messages equal on every key keep mailbox order (§3).
 */
import type { SortCriterion, SortKey } from '../protocol/command-types.ts';

export interface SortableMessage {
  /** Mailbox order: the sequence number. */
  sequence: number;
  /** Internal date, ms since the epoch (ARRIVAL). */
  internalDate: number;
  /** Sent date (the Date header, else the internal date), ms since the epoch (DATE). */
  sentDate: number;
  size: number;
  /** RFC 5256 §2.1 base subject. */
  baseSubject: string;
  /** addr-mailbox (local part) of the first From / To / Cc address, '' when none. */
  fromMailbox: string;
  toMailbox: string;
  ccMailbox: string;
  /** RFC 5957: the display name of the first From / To address, else its addr-spec, '' when none. */
  displayFrom: string;
  displayTo: string;
}

export function asciiCasemap(text: string): string {
  return text.replace(/[a-z]+/g, (letters) => letters.toUpperCase());
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

type Extractor = (message: SortableMessage) => number | string;

const EXTRACTORS: Record<SortKey, Extractor> = {
  ARRIVAL: (message) => message.internalDate,
  DATE: (message) => message.sentDate,
  SIZE: (message) => message.size,
  SUBJECT: (message) => asciiCasemap(message.baseSubject),
  FROM: (message) => asciiCasemap(message.fromMailbox),
  TO: (message) => asciiCasemap(message.toMailbox),
  CC: (message) => asciiCasemap(message.ccMailbox),
  DISPLAYFROM: (message) => asciiCasemap(message.displayFrom),
  DISPLAYTO: (message) => asciiCasemap(message.displayTo),
};

/** The messages in the order the criteria give. */
export function sortMessages(
  messages: readonly SortableMessage[],
  criteria: readonly SortCriterion[],
): SortableMessage[] {
  // Extract each key once per message rather than once per comparison.
  const rows = messages.map((message) => ({ message, keys: criteria.map(({ key }) => EXTRACTORS[key](message)) }));
  rows.sort((a, b) => {
    for (const [index, criterion] of criteria.entries()) {
      const x = a.keys[index]!;
      const y = b.keys[index]!;
      const order = typeof x === 'number' && typeof y === 'number' ? x - y : compareStrings(String(x), String(y));
      if (order !== 0) return criterion.reverse ? -order : order;
    }
    return a.message.sequence - b.message.sequence;
  });
  return rows.map((row) => row.message);
}
