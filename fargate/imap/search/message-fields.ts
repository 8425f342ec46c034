/**
 * What SEARCH, SORT and THREAD read from a message's index details: decoded addresses and subject from
 * the ENVELOPE the MIME module computed at delivery, the sent date from the Date header, and the
 * references for threading.
 */
import libmime from 'libmime';
import type { MessageDetails } from '../../../shared/mailbox/message-record.ts';
import { baseSubject } from '../../../shared/mime/search-fields.ts';
import type { EnvelopeAddress } from '../../../shared/mime/structure-types.ts';
import { structureOf } from '../message-loader.ts';
import type { ImapDate } from '../protocol/command-types.ts';

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** Encoded words decoded; undecodable input is kept as it is. */
export function decodeWords(text: string | null | undefined): string {
  if (!text) return '';
  try {
    return libmime.decodeWords(text);
  } catch {
    return text;
  }
}

/** The addr-spec of an envelope address, `mailbox@host` (or what there is of it). */
export function addressSpec(address: EnvelopeAddress): string {
  if (!address.mailbox) return '';
  return address.host ? `${address.mailbox}@${address.host}` : address.mailbox;
}

/** An address list as text for substring search: `Name <mailbox@host>, ...`, names decoded. */
export function addressListText(addresses: readonly EnvelopeAddress[] | null): string {
  if (!addresses) return '';
  return addresses
    .filter((address) => address.mailbox !== null)
    .map((address) => {
      const name = decodeWords(address.name);
      const spec = addressSpec(address);
      return name ? `${name} <${spec}>` : spec;
    })
    .join(', ');
}

/** The calendar date a Date header value names, as written (its own zone), or undefined. */
export function calendarDateOf(value: string | null | undefined): ImapDate | undefined {
  if (!value) return undefined;
  const match = /(\d{1,2})\s+([A-Za-z]{3})[A-Za-z]*\s+(\d{2,4})/.exec(value);
  if (!match) return undefined;
  const month = MONTHS.indexOf(match[2]!.toLowerCase()) + 1;
  if (month === 0) return undefined;
  let year = Number(match[3]);
  // RFC 5322 §4.3: two-digit years are 19xx from 50, else 20xx; three digits add 1900.
  if (match[3]!.length === 2) year += year >= 50 ? 1900 : 2000;
  else if (match[3]!.length === 3) year += 1900;
  return { year, month, day: Number(match[1]) };
}

/** RFC 5256 §2.2 sent date: the Date header as an instant, else the internal date. */
export function sentTimeOf(details: MessageDetails, internalDate: number): number {
  const indexed = details.search.sentDate;
  if (indexed !== undefined && Number.isFinite(indexed)) return indexed;
  const parsed = Date.parse(structureOf(details).envelope.date ?? '');
  return Number.isFinite(parsed) ? parsed : internalDate;
}

/** The subject decoded from encoded words. */
export function subjectOf(details: MessageDetails): string {
  return decodeWords(structureOf(details).envelope.subject);
}

/** RFC 5256 §2.1 base subject, case kept: as indexed at delivery, else (older entries) computed the same way. */
export function baseSubjectOf(details: MessageDetails): string {
  return details.search.baseSubject ?? baseSubject(subjectOf(details));
}
