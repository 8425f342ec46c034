/**
 * The SEARCH criteria grammar (RFC 9051 §6.4.4 and §9 search-key, with the IMAP4rev1 keys of RFC 3501
 * §6.4.4 that IMAP4rev2 dropped), RFC 7162 MODSEQ, RFC 5032 OLDER/YOUNGER, RFC 5182 `$`, and the RFC
 * 4731 ESEARCH return options, RFC 8514 SAVEDATE keys. Used by SEARCH, SORT and THREAD (command-parser.ts).
 *
 * SECURITY: untrusted input; parenthesised lists and NOT/OR operands count against the nesting limit
 * before recursing, and strings are decoded with the declared charset strictly.
 */
import { TextDecoder } from 'node:util';
import type { CommandCursor } from './command-cursor.ts';
import type { SearchKey, SearchReturnOptions } from './command-types.ts';
import { ImapParseError } from './errors.ts';

/** Charsets every IMAP server must accept for SEARCH (RFC 9051 §6.4.4). */
const NATIVE_CHARSETS = new Set(['UTF-8', 'US-ASCII']);

/** Decodes search strings in the charset the client named, or rejects it with [BADCHARSET]. */
export type SearchStringDecoder = (bytes: Buffer) => string;

export function searchStringDecoder(cursor: CommandCursor, charset: string | undefined): SearchStringDecoder {
  if (charset === undefined || NATIVE_CHARSETS.has(charset)) return (bytes) => cursor.decode(bytes);
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset, { fatal: true });
  } catch {
    throw new ImapParseError('bad-charset', `Unsupported charset ${charset}`, {
      tag: cursor.tag,
      status: 'NO',
      code: 'BADCHARSET',
    });
  }
  return (bytes) => {
    try {
      return decoder.decode(bytes);
    } catch {
      throw cursor.error(`Invalid ${charset} in search string`);
    }
  };
}

/** charset = atom / quoted (RFC 9051 §9), upper-cased. */
export function parseCharset(cursor: CommandCursor): string {
  const charset = cursor.peek() === 0x22 ? cursor.quotedBytes().toString('latin1') : cursor.atom('a charset');
  return charset.toUpperCase();
}

/** search-key *(SP search-key), to the end of the command: one AND of the keys. */
export function parseSearchCriteria(cursor: CommandCursor, decode: SearchStringDecoder): SearchKey {
  const operands = [parseSearchKey(cursor, decode)];
  while (cursor.takeSp()) operands.push(parseSearchKey(cursor, decode));
  cursor.expectEnd();
  return { key: 'AND', operands };
}

const FLAG_KEYS = new Set([
  'ALL',
  'ANSWERED',
  'DELETED',
  'DRAFT',
  'FLAGGED',
  'NEW',
  'OLD',
  'RECENT',
  'SEEN',
  'UNANSWERED',
  'UNDELETED',
  'UNDRAFT',
  'UNFLAGGED',
  'UNSEEN',
  'SAVEDATESUPPORTED',
] as const);
type FlagKey = typeof FLAG_KEYS extends Set<infer K> ? K : never;

const STRING_KEYS = new Set(['BCC', 'BODY', 'CC', 'FROM', 'SUBJECT', 'TEXT', 'TO'] as const);
type StringKey = typeof STRING_KEYS extends Set<infer K> ? K : never;

const DATE_KEYS = new Set([
  'BEFORE',
  'ON',
  'SINCE',
  'SENTBEFORE',
  'SENTON',
  'SENTSINCE',
  'SAVEDBEFORE',
  'SAVEDON',
  'SAVEDSINCE',
] as const);
type DateKey = typeof DATE_KEYS extends Set<infer K> ? K : never;

function isOneOf<K extends string>(set: Set<K>, word: string): word is K {
  return set.has(word as K);
}

export function parseSearchKey(cursor: CommandCursor, decode: SearchStringDecoder): SearchKey {
  if (cursor.peek() === 0x28) {
    cursor.enterList();
    const operands = [parseSearchKey(cursor, decode)];
    while (cursor.takeSp()) operands.push(parseSearchKey(cursor, decode));
    cursor.leaveList();
    return { key: 'AND', operands };
  }
  if (cursor.atSequenceSet()) return { key: 'SEQUENCE', set: cursor.sequenceSet() };
  const word = cursor.keyword('a search key');
  if (isOneOf(FLAG_KEYS, word)) return { key: word as FlagKey };
  cursor.sp();
  if (isOneOf(STRING_KEYS, word)) return { key: word as StringKey, value: decode(cursor.astringBytes()) };
  if (isOneOf(DATE_KEYS, word)) return { key: word as DateKey, date: cursor.date() };
  switch (word) {
    case 'KEYWORD':
    case 'UNKEYWORD':
      return { key: word, flag: cursor.atom('a keyword') };
    case 'HEADER': {
      const field = cursor.astring();
      cursor.sp();
      return { key: 'HEADER', field, value: decode(cursor.astringBytes()) };
    }
    case 'LARGER':
    case 'SMALLER':
      return { key: word, size: cursor.number64() };
    case 'OLDER':
    case 'YOUNGER':
      return { key: word, seconds: cursor.nzNumber() };
    case 'UID':
      return { key: 'UID', set: cursor.sequenceSet() };
    case 'MODSEQ':
      return parseModSeqKey(cursor);
    case 'NOT': {
      cursor.descend();
      const operand = parseSearchKey(cursor, decode);
      cursor.ascend();
      return { key: 'NOT', operand };
    }
    case 'OR': {
      cursor.descend();
      const left = parseSearchKey(cursor, decode);
      cursor.sp();
      const right = parseSearchKey(cursor, decode);
      cursor.ascend();
      return { key: 'OR', left, right };
    }
    default:
      throw cursor.error(`Unknown search key ${word}`);
  }
}

/** RFC 7162 §3.1.5: "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer. */
function parseModSeqKey(cursor: CommandCursor): SearchKey {
  if (cursor.peek() === 0x22) {
    const name = cursor.quotedBytes().toString('latin1');
    if (!/^\/flags\/\\?[\x21-\x7e]+$/i.test(name)) throw cursor.error('Bad MODSEQ entry name');
    cursor.sp();
    const type = cursor.keyword('an entry type');
    if (type !== 'PRIV' && type !== 'SHARED' && type !== 'ALL') throw cursor.error('Bad MODSEQ entry type');
    cursor.sp();
    return { key: 'MODSEQ', modSeq: cursor.number64(), entry: { name, type } };
  }
  return { key: 'MODSEQ', modSeq: cursor.number64() };
}

/**
 * search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")" (RFC 4731 §3.1,
 * RFC 5182 SAVE). Call with the cursor on `RETURN`. Unknown options are an error (RFC 4731 §3.1).
 */
export function parseSearchReturnOptions(cursor: CommandCursor): SearchReturnOptions {
  if (!cursor.takeKeyword('RETURN')) throw cursor.error('Expected RETURN');
  cursor.sp();
  const options: SearchReturnOptions = { min: false, max: false, all: false, count: false, save: false };
  const names = cursor.list(() => cursor.keyword('a return option'));
  for (const name of names) {
    switch (name) {
      case 'MIN':
        options.min = true;
        break;
      case 'MAX':
        options.max = true;
        break;
      case 'ALL':
        options.all = true;
        break;
      case 'COUNT':
        options.count = true;
        break;
      case 'SAVE':
        options.save = true;
        break;
      default:
        throw cursor.error(`Unknown search return option ${name}`);
    }
  }
  if (names.length === 0) options.all = true;
  return options;
}
