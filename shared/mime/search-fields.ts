/**
 * The header values SEARCH, SORT (RFC 5256) and THREAD need, decoded to UTF-8 once at delivery:
 * addresses, subject and base subject, the Date header as an instant, Message-ID, In-Reply-To and
 * References. Reads arbitrary mail; never throws.
 */
import { type ParsedAddress, parseAddressList } from './address-list.ts';
import { decodeEncodedWords } from './encoded-words.ts';
import { allFields, type HeaderField, lastField } from './header-section.ts';
import { MAX_REFERENCES } from './limits.ts';
import type { SearchAddress, SearchFields } from './structure-types.ts';

function searchAddresses(parsed: ParsedAddress[]): SearchAddress[] {
  const result: SearchAddress[] = [];
  for (const entry of parsed) {
    if (entry.kind !== 'mailbox') continue;
    const address = entry.mailbox ? (entry.host ? `${entry.mailbox}@${entry.host}` : entry.mailbox) : '';
    result.push({ name: entry.name ? decodeEncodedWords(entry.name) : '', address });
  }
  return result;
}

function addressField(fields: readonly HeaderField[], key: string): SearchAddress[] {
  return allFields(fields, key).flatMap((value) => searchAddresses(parseAddressList(value)));
}

const MSG_ID = /<[^<>\s]*>/g;

/** The first `<...>` in a field, or the trimmed value when it has none; null when absent or blank. */
function firstMessageId(value: string | undefined): string | null {
  if (value === undefined) return null;
  const match = value.match(MSG_ID);
  if (match) return match[0];
  const trimmed = value.trim();
  return trimmed === '' ? null : trimmed;
}

export function computeSearchFields(fields: readonly HeaderField[]): SearchFields {
  const subject = decodeEncodedWords(lastField(fields, 'subject') ?? '');
  const references = (lastField(fields, 'references') ?? '').match(MSG_ID) ?? [];
  return {
    from: addressField(fields, 'from'),
    to: addressField(fields, 'to'),
    cc: addressField(fields, 'cc'),
    bcc: addressField(fields, 'bcc'),
    subject,
    baseSubject: baseSubject(subject),
    date: parseMessageDate(lastField(fields, 'date')),
    messageId: firstMessageId(lastField(fields, 'message-id')),
    inReplyTo: firstMessageId(lastField(fields, 'in-reply-to')),
    references: references.slice(0, MAX_REFERENCES),
  };
}

/** subj-refwd (RFC 5256 §5): ("re" / ("fw" ["d"])) *WSP [subj-blob] ":". */
const SUBJ_REFWD = /(?:re|fwd?) *(?:\[[^[\]]*\] *)?:/iy;
/** subj-blob: "[" *BLOBCHAR "]" *WSP. */
const SUBJ_BLOB = /\[[^[\]]*\] */y;
const FWD_TRAILER = '(fwd)';
const FWD_HEADER = '[fwd:';

/** The RFC 5256 §2.1 base subject of a subject, and whether it marked a reply or forward (§3 REFERENCES step 5). */
export interface SubjectBase {
  baseSubject: string;
  /** Extraction removed a subj-refwd, a "(fwd)" trailer or a "[fwd: ...]" wrapper. */
  replyOrForward: boolean;
}

/**
 * RFC 5256 §2.1 steps 1 to 7 on a subject already decoded from encoded words (step 1's first half; see
 * computeSearchFields). Case is kept: comparing base subjects is the collation's job (i;ascii-casemap).
 *
 * Linear in the subject's length: it walks two indexes inward instead of re-matching the remaining text,
 * because step 3's `*subj-blob subj-refwd` re-scans every leading blob each time step 4 removes one
 * (quadratic: a 120 KB subject of "[a]" blobs took 10 s).
 */
export function extractBaseSubject(subject: string): SubjectBase {
  // Step 1: tabs and continuations become spaces, runs of spaces one (WSP is SP / HTAB only).
  const text = subject.replace(/[ \t\r\n]+/g, ' ');
  let start = 0;
  let end = text.length;
  let replyOrForward = false;
  for (;;) {
    // Step 2: subj-trailer, "(fwd)" / WSP, until none is left.
    for (;;) {
      if (end > start && text[end - 1] === ' ') {
        end--;
      } else if (
        end - start >= FWD_TRAILER.length &&
        text.slice(end - FWD_TRAILER.length, end).toLowerCase() === FWD_TRAILER
      ) {
        end -= FWD_TRAILER.length;
        replyOrForward = true;
      } else {
        break;
      }
    }
    // Steps 3 to 5: subj-leader, (*subj-blob subj-refwd) / WSP, and a leading subj-blob when something
    // is left after it. Removing the leader's blobs one at a time as step 4 would, then its subj-refwd,
    // gives the same result as removing them together.
    while (start < end) {
      if (text[start] === ' ') {
        start++;
        continue;
      }
      SUBJ_REFWD.lastIndex = start;
      if (SUBJ_REFWD.test(text) && SUBJ_REFWD.lastIndex <= end) {
        start = SUBJ_REFWD.lastIndex;
        replyOrForward = true;
        continue;
      }
      SUBJ_BLOB.lastIndex = start;
      if (SUBJ_BLOB.test(text) && SUBJ_BLOB.lastIndex < end) {
        start = SUBJ_BLOB.lastIndex;
        continue;
      }
      break;
    }
    // Step 6: "[fwd:" ... "]" is removed, and extraction starts again from step 2.
    if (
      end - start > FWD_HEADER.length &&
      text.slice(start, start + FWD_HEADER.length).toLowerCase() === FWD_HEADER &&
      text[end - 1] === ']'
    ) {
      start += FWD_HEADER.length;
      end--;
      replyOrForward = true;
      continue;
    }
    // Step 7.
    return { baseSubject: text.slice(start, end), replyOrForward };
  }
}

/** RFC 5256 §2.1 base subject, which SORT SUBJECT orders by and THREAD groups by. */
export function baseSubject(subject: string): string {
  return extractBaseSubject(subject).baseSubject;
}

/** Whether a subject marks a reply or forward, for THREAD=REFERENCES' subject merging (RFC 5256 §3 step 5). */
export function isReplyOrForward(subject: string): boolean {
  return extractBaseSubject(subject).replyOrForward;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** RFC 5322 §4.3 obsolete zone names, in minutes east of UTC. */
const ZONES: Record<string, number> = {
  UT: 0,
  GMT: 0,
  Z: 0,
  EST: -300,
  EDT: -240,
  CST: -360,
  CDT: -300,
  MST: -420,
  MDT: -360,
  PST: -480,
  PDT: -420,
};

const DATE =
  /^\s*(?:[A-Za-z]+\s*,\s*)?(\d{1,2})\s+([A-Za-z]{3})[A-Za-z]*\s+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([+-]\d{4}|[A-Za-z]{1,5})?/;

/**
 * An RFC 5322 §3.3 date-time (with the §4.3 obsolete forms: two-digit years, zone names) as milliseconds
 * since the epoch; null when it cannot be read. Deliberately not Date.parse, which accepts nearly
 * anything and guesses.
 */
export function parseMessageDate(value: string | undefined): number | null {
  if (value === undefined) return null;
  const match = DATE.exec(value);
  if (!match) return null;
  const [, dayText, monthText, yearText, hourText, minuteText, secondText, zoneText] = match;
  const month = MONTHS.indexOf(monthText!.toLowerCase());
  let year = Number(yearText);
  // RFC 5322 §4.3: two-digit years from 50 are 19xx, below 50 are 20xx; three digits add 1900.
  if (yearText!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (yearText!.length === 3) year += 1900;
  const day = Number(dayText);
  const hour = Number(hourText);
  const minute = Number(minuteText);
  const second = Number(secondText ?? 0);
  if (month < 0 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  let zoneMinutes = 0;
  if (zoneText && /^[+-]\d{4}$/.test(zoneText)) {
    const sign = zoneText[0] === '-' ? -1 : 1;
    zoneMinutes = sign * (Number(zoneText.slice(1, 3)) * 60 + Number(zoneText.slice(3, 5)));
  } else if (zoneText) {
    // Unknown and military zones mean "no information" (RFC 5322 §4.3): read as UTC.
    zoneMinutes = ZONES[zoneText.toUpperCase()] ?? 0;
  }
  const utc = new Date(0);
  utc.setUTCFullYear(year, month, day);
  if (utc.getUTCDate() !== day) return null;
  utc.setUTCHours(hour, minute, Math.min(second, 59), 0);
  return utc.getTime() - zoneMinutes * 60_000;
}
