/**
 * The two items of one message index entry. The state item (`uid#…`) is small and is what SELECT, flag
 * changes and expunge read and rewrite; the details item (`msg#…`) holds what FETCH ENVELOPE /
 * BODYSTRUCTURE and SEARCH need, is written once before the state item and never changes. An entry
 * exists when its state item does; a details item without one is the leftover of a crashed append.
 */
import type { AttributeValue, Item } from '../store/metadata.ts';
import { InvalidMessageError } from './errors.ts';
import { checkVersion, jsonOf, numberOf, optionalNumberOf, optionalStringOf, stringOf, stringsOf } from './schema.ts';

/** Opaque JSON the caller computed (IMAP's envelope and body structure with part offsets). */
export type JsonValue = AttributeValue;

/** Header fields SEARCH, SORT and THREAD use without reading the blob; decoded to UTF-8 by the caller. */
export interface SearchFields {
  from?: string;
  to?: string;
  cc?: string;
  bcc?: string;
  subject?: string;
  /** RFC 5256 §2.1 base subject, case kept (SORT SUBJECT, THREAD); absent on entries indexed before it was kept. */
  baseSubject?: string;
  messageId?: string;
  inReplyTo?: string;
  references?: string;
  /** The Date: header, in milliseconds since the epoch (SENTBEFORE, SORT DATE). */
  sentDate?: number;
}

const SEARCH_STRING_FIELDS = [
  'from',
  'to',
  'cc',
  'bcc',
  'subject',
  'baseSubject',
  'messageId',
  'inReplyTo',
  'references',
] as const;

export interface MessageState {
  uid: number;
  modseq: number;
  flags: string[];
  /** RFC822.SIZE. */
  size: number;
  internalDate: Date;
  /** When this entry was made (RFC 8514 SAVEDATE). */
  savedAt: Date;
  blobKey: string;
  expunged: boolean;
  expungedAt?: Date;
  /** Set on an expunged entry once unexpunge restored it as a new entry with this UID. */
  restoredAs?: number;
}

export interface MessageDetails {
  uid: number;
  envelope: JsonValue;
  bodyStructure: JsonValue;
  search: SearchFields;
}

export function toMessageState(item: Item): MessageState {
  checkVersion(item);
  const expungedAt = optionalNumberOf(item, 'expungedAt');
  const restoredAs = optionalNumberOf(item, 'restoredAs');
  return {
    uid: numberOf(item, 'uid'),
    modseq: numberOf(item, 'modseq'),
    flags: stringsOf(item, 'flags'),
    size: numberOf(item, 'size'),
    internalDate: new Date(numberOf(item, 'internalDate')),
    savedAt: new Date(numberOf(item, 'savedAt')),
    blobKey: stringOf(item, 'blobKey'),
    expunged: item.expunged === true,
    ...(expungedAt !== undefined ? { expungedAt: new Date(expungedAt) } : {}),
    ...(restoredAs !== undefined ? { restoredAs } : {}),
  };
}

export function toMessageDetails(item: Item): MessageDetails {
  checkVersion(item);
  const stored = item.search;
  const search: SearchFields = {};
  if (stored && typeof stored === 'object' && !Array.isArray(stored)) {
    const fields = { ...stored, pk: item.pk, sk: item.sk };
    for (const name of SEARCH_STRING_FIELDS) {
      const value = optionalStringOf(fields, name);
      if (value !== undefined) search[name] = value;
    }
    const sentDate = optionalNumberOf(fields, 'sentDate');
    if (sentDate !== undefined) search.sentDate = sentDate;
  }
  return {
    uid: numberOf(item, 'uid'),
    envelope: jsonOf(item, 'envelope'),
    bodyStructure: jsonOf(item, 'bodyStructure'),
    search,
  };
}

/** The search fields as stored: only known fields, only strings (and the date as a number). */
export function searchFieldsToStore(search: SearchFields | undefined): Record<string, AttributeValue> {
  const stored: Record<string, AttributeValue> = {};
  if (!search) return stored;
  for (const name of SEARCH_STRING_FIELDS) {
    const value = search[name];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw new InvalidMessageError(`search field ${name} must be a string`);
    stored[name] = value;
  }
  if (search.sentDate !== undefined) {
    if (!Number.isFinite(search.sentDate)) throw new InvalidMessageError('search field sentDate must be a number');
    stored.sentDate = search.sentDate;
  }
  return stored;
}
