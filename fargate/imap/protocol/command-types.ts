/**
 * The typed form of every IMAP command the server understands: IMAP4rev1 (RFC 3501), IMAP4rev2
 * (RFC 9051) and the extensions we implement. `parseCommand` (command-parser.ts) produces these; the
 * session dispatches on `name`. The parser checks syntax only: which commands are allowed in which
 * state, and whether an extension has been ENABLEd, is the session's business.
 *
 * Conventions: keywords and atoms the grammar treats case-insensitively come out upper-cased; strings come
 * out as JS strings decoded from UTF-8 (SEARCH strings from the command's CHARSET); mailbox names come
 * out as sent (modified UTF-7 unless UTF8=ACCEPT is enabled, see mailbox-name.ts), except that any case of
 * `INBOX` becomes `INBOX` (RFC 9051 §5.1). Numbers are JS numbers: 32-bit values are exact; 63-bit
 * values (mod-sequences, sizes) above Number.MAX_SAFE_INTEGER are saturated to it, which keeps every
 * comparison against our own mod-sequences (allocated one by one from 1) correct.
 */

/** One end of a sequence range: a number, or `*` (the largest number in use). */
export type SequenceNumber = number | '*';

/** `a`, `a:b` (either order: `4:2` is `2:4`, RFC 9051 §9 seq-range), `*`, `a:*`. */
export interface SequenceRange {
  start: SequenceNumber;
  end: SequenceNumber;
}

/** A sequence set as written, or `$`: the saved search result (RFC 5182 SEARCHRES). */
export type SequenceSet = { kind: 'ranges'; ranges: SequenceRange[] } | { kind: 'saved' };

/** A calendar date from SEARCH (`1-Feb-1994`); no time, no zone (RFC 9051 §6.4.4 uses the server's). */
export interface ImapDate {
  year: number;
  /** 1 to 12. */
  month: number;
  day: number;
}

/** An APPEND date-time (`"17-Jul-1996 02:44:25 -0700"`). */
export interface ImapDateTime {
  /** The instant, as milliseconds since the epoch. */
  time: number;
  /** The zone the client gave, in minutes east of UTC (-0700 is -420). */
  zoneMinutes: number;
}

/** A flag as sent; system flags (`\Seen` ...) are normalised to their canonical case. */
export type Flag = string;

export type SearchKey =
  | {
      key:
        | 'ALL'
        | 'ANSWERED'
        | 'DELETED'
        | 'DRAFT'
        | 'FLAGGED'
        | 'NEW'
        | 'OLD'
        | 'RECENT'
        | 'SEEN'
        | 'UNANSWERED'
        | 'UNDELETED'
        | 'UNDRAFT'
        | 'UNFLAGGED'
        | 'UNSEEN'
        /** RFC 8514: every message, when the mailbox keeps save dates. */
        | 'SAVEDATESUPPORTED';
    }
  | { key: 'BCC' | 'BODY' | 'CC' | 'FROM' | 'SUBJECT' | 'TEXT' | 'TO'; value: string }
  | { key: 'BEFORE' | 'ON' | 'SINCE' | 'SENTBEFORE' | 'SENTON' | 'SENTSINCE'; date: ImapDate }
  /** RFC 8514: by the date the message was saved in the mailbox. */
  | { key: 'SAVEDBEFORE' | 'SAVEDON' | 'SAVEDSINCE'; date: ImapDate }
  | { key: 'KEYWORD' | 'UNKEYWORD'; flag: Flag }
  | { key: 'HEADER'; field: string; value: string }
  | { key: 'LARGER' | 'SMALLER'; size: number }
  /** RFC 5032 WITHIN: messages whose internal date is older/younger than this many seconds. */
  | { key: 'OLDER' | 'YOUNGER'; seconds: number }
  | { key: 'UID'; set: SequenceSet }
  /** A bare sequence set: message sequence numbers. */
  | { key: 'SEQUENCE'; set: SequenceSet }
  /** RFC 7162 §3.1.5: MODSEQ [entry-name entry-type] mod-sequence. */
  | { key: 'MODSEQ'; modSeq: number; entry?: { name: string; type: 'PRIV' | 'SHARED' | 'ALL' } }
  | { key: 'NOT'; operand: SearchKey }
  | { key: 'OR'; left: SearchKey; right: SearchKey }
  /** A parenthesised list, and the top-level list of a SEARCH: every operand must match. */
  | { key: 'AND'; operands: SearchKey[] };

/** RFC 4731 ESEARCH `RETURN (...)`; RFC 5182 SAVE. `RETURN ()` parses as `all: true` (RFC 4731 §3.1). */
export interface SearchReturnOptions {
  min: boolean;
  max: boolean;
  all: boolean;
  count: boolean;
  save: boolean;
}

export type SortKey = 'ARRIVAL' | 'CC' | 'DATE' | 'FROM' | 'SIZE' | 'SUBJECT' | 'TO' | 'DISPLAYFROM' | 'DISPLAYTO';

export interface SortCriterion {
  key: SortKey;
  reverse: boolean;
}

/** BODY[<part>.<text>] (RFC 9051 §6.4.5). `part` is empty for the top-level message. */
export interface BodySection {
  /** 1.2.3 as [1, 2, 3]. */
  part: number[];
  /** Absent for the whole part (`BODY[]`, `BODY[1.2]`). MIME needs a non-empty part. */
  text?: 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME';
  /** Header field names for HEADER.FIELDS[.NOT], as sent. */
  fields?: string[];
}

/** `<offset.length>`: the response carries `<offset>` only (RFC 9051 §7.5.2). */
export interface PartialRange {
  offset: number;
  length: number;
}

export type SimpleFetchItem =
  | 'ENVELOPE'
  | 'FLAGS'
  | 'INTERNALDATE'
  | 'RFC822'
  | 'RFC822.HEADER'
  | 'RFC822.SIZE'
  | 'RFC822.TEXT'
  /** BODY without a section: the non-extensible body structure. */
  | 'BODY'
  | 'BODYSTRUCTURE'
  | 'UID'
  /** RFC 7162 §3.1.4.1. */
  | 'MODSEQ'
  /** RFC 8514 §3. */
  | 'SAVEDATE';

export type FetchItem =
  | { kind: SimpleFetchItem }
  | { kind: 'BODY[]'; section: BodySection; peek: boolean; partial?: PartialRange }
  /** RFC 3516: the part decoded from its Content-Transfer-Encoding. */
  | { kind: 'BINARY[]'; part: number[]; peek: boolean; partial?: PartialRange }
  | { kind: 'BINARY.SIZE'; part: number[] };

export type StatusItem =
  | 'MESSAGES'
  | 'UIDNEXT'
  | 'UIDVALIDITY'
  | 'UNSEEN'
  | 'DELETED'
  | 'SIZE'
  | 'RECENT'
  | 'HIGHESTMODSEQ'
  | 'APPENDLIMIT';

/** RFC 5258 §3.1 selection options. */
export type ListSelectOption = 'SUBSCRIBED' | 'REMOTE' | 'RECURSIVEMATCH' | 'SPECIAL-USE';

/** RFC 5258 §3.2 return options, RFC 5819 STATUS, RFC 6154 SPECIAL-USE. */
export interface ListReturnOptions {
  subscribed: boolean;
  children: boolean;
  specialUse: boolean;
  /** RFC 5819 LIST-STATUS: the STATUS items to send for each listed mailbox. */
  status?: StatusItem[];
}

/** RFC 7162 §3.2.5: SELECT/EXAMINE (QRESYNC (uidvalidity modseq [known-uids [seq-match]])). */
export interface QresyncParameters {
  uidValidity: number;
  modSeq: number;
  knownUids?: SequenceSet;
  sequenceMatch?: { sequences: SequenceSet; uids: SequenceSet };
}

export interface AppendMessage {
  flags?: Flag[];
  internalDate?: ImapDateTime;
  data: Buffer;
  /** Sent as literal8 (RFC 3516 §4.4): may hold NULs and raw binary. */
  binary: boolean;
  /** Sent as `UTF8 (literal8)` (RFC 6855 §4). */
  utf8: boolean;
}

export type CommandBody =
  | { name: 'CAPABILITY' | 'NOOP' | 'LOGOUT' | 'STARTTLS' | 'NAMESPACE' | 'IDLE' | 'CHECK' | 'CLOSE' | 'UNSELECT' }
  /** RFC 9051 §6.2.2, RFC 4959 SASL-IR: `=` is an empty initial response. */
  | { name: 'AUTHENTICATE'; mechanism: string; initialResponse?: Buffer }
  | { name: 'LOGIN'; username: string; password: string }
  /** RFC 5161. */
  | { name: 'ENABLE'; capabilities: string[] }
  /** RFC 2971: NIL, or field-value pairs. */
  | { name: 'ID'; parameters: Array<{ field: string; value: string | null }> | null }
  | { name: 'SELECT' | 'EXAMINE'; mailbox: string; condstore: boolean; qresync?: QresyncParameters }
  /** RFC 6154 §3: CREATE mailbox (USE (\Drafts ...)). */
  | { name: 'CREATE'; mailbox: string; specialUse: string[] }
  | { name: 'DELETE' | 'SUBSCRIBE' | 'UNSUBSCRIBE' | 'GETACL' | 'MYRIGHTS' | 'GETQUOTAROOT'; mailbox: string }
  | { name: 'RENAME'; mailbox: string; newName: string }
  /**
   * RFC 9051 §6.3.9 with RFC 5258 LIST-EXTENDED. `extended` is true when selection options, several
   * patterns or return options were given: the session then answers in the extended form.
   */
  | {
      name: 'LIST';
      reference: string;
      patterns: string[];
      selection: ListSelectOption[];
      returns: ListReturnOptions;
      extended: boolean;
    }
  | { name: 'LSUB'; reference: string; pattern: string }
  | { name: 'STATUS'; mailbox: string; items: StatusItem[] }
  /** RFC 3502 MULTIAPPEND: one or more messages. */
  | { name: 'APPEND'; mailbox: string; messages: AppendMessage[] }
  | { name: 'EXPUNGE'; uid: false }
  /** RFC 4315 UIDPLUS. */
  | { name: 'EXPUNGE'; uid: true; sequenceSet: SequenceSet }
  | {
      name: 'SEARCH';
      uid: boolean;
      /** Upper-cased; absent when none was given (then UTF-8/US-ASCII). */
      charset?: string;
      /** The criteria as one AND of the listed keys. */
      criteria: SearchKey;
      /** Present for ESEARCH (`RETURN (...)`); absent for a plain SEARCH response. */
      returnOptions?: SearchReturnOptions;
    }
  | {
      name: 'FETCH';
      uid: boolean;
      sequenceSet: SequenceSet;
      /** Macros (ALL, FAST, FULL) are expanded here and named in `macro`. */
      items: FetchItem[];
      macro?: 'ALL' | 'FAST' | 'FULL';
      /** RFC 7162 §3.1.4.1 CHANGEDSINCE. */
      changedSince?: number;
      /** RFC 7162 §3.2.6 VANISHED (only with UID FETCH and CHANGEDSINCE). */
      vanished: boolean;
    }
  | {
      name: 'STORE';
      uid: boolean;
      sequenceSet: SequenceSet;
      operation: 'replace' | 'add' | 'remove';
      silent: boolean;
      flags: Flag[];
      /** RFC 7162 §3.1.3 UNCHANGEDSINCE. */
      unchangedSince?: number;
    }
  | { name: 'COPY' | 'MOVE'; uid: boolean; sequenceSet: SequenceSet; mailbox: string }
  /** RFC 5256 SORT, with RFC 5267 ESORT return options and RFC 5957 DISPLAYFROM/DISPLAYTO. */
  | {
      name: 'SORT';
      uid: boolean;
      criteria: SortCriterion[];
      charset: string;
      search: SearchKey;
      returnOptions?: SearchReturnOptions;
    }
  /** RFC 5256 THREAD; `algorithm` upper-cased (ORDEREDSUBJECT, REFERENCES, ...). */
  | { name: 'THREAD'; uid: boolean; algorithm: string; charset: string; search: SearchKey }
  /** RFC 4978; `mechanism` upper-cased (DEFLATE). */
  | { name: 'COMPRESS'; mechanism: string }
  /** RFC 4314 §3.1: rights `+abc` add, `-abc` remove, `abc` replace. */
  | { name: 'SETACL'; mailbox: string; identifier: string; rights: string; operation: 'replace' | 'add' | 'remove' }
  | { name: 'DELETEACL' | 'LISTRIGHTS'; mailbox: string; identifier: string }
  /** RFC 9208. */
  | { name: 'GETQUOTA'; root: string }
  | { name: 'SETQUOTA'; root: string; limits: Array<{ resource: string; limit: number }> };

export type Command = { tag: string } & CommandBody;

export type CommandName = CommandBody['name'];
