/**
 * A cursor over one framed command (command-reader.ts) and the lexical productions of RFC 9051 §9 that
 * every command uses: SP, atoms, quoted strings, literals, astrings, numbers, dates, flags, sequence sets.
 * The command grammars (command-parser.ts, search-parser.ts, fetch-parser.ts) are written on top of it.
 *
 * SECURITY: input is untrusted. Every failure throws `ImapParseError` (and nothing else); the cursor
 * never reads past the framed command, and `enterList()` bounds parenthesis nesting before the grammar
 * recurses or allocates for the next level (limits.ts MAX_NESTING_DEPTH).
 */
import { TextDecoder } from 'node:util';
import type { RawCommand, RawLiteral } from './command-reader.ts';
import type { Flag, ImapDate, ImapDateTime, SequenceRange, SequenceSet } from './command-types.ts';
import { ImapParseError } from './errors.ts';
import { MAX_NESTING_DEPTH, MAX_NUMBER32 } from './limits.ts';

const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_PAREN = 0x28;
const CLOSE_PAREN = 0x29;

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

const SYSTEM_FLAGS = new Map(
  ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft', '\\Recent'].map((flag) => [flag.toUpperCase(), flag]),
);

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** RFC 9051 §9: ATOM-CHAR is any CHAR except atom-specials ( ) { SP CTL % * " \ ]. */
export function isAtomChar(byte: number): boolean {
  return (
    byte > 0x20 &&
    byte < 0x7f &&
    byte !== OPEN_PAREN &&
    byte !== CLOSE_PAREN &&
    byte !== 0x7b && // {
    byte !== 0x25 && // %
    byte !== 0x2a && // *
    byte !== DQUOTE &&
    byte !== BACKSLASH &&
    byte !== 0x5d // ]
  );
}

/** ASTRING-CHAR = ATOM-CHAR / resp-specials. */
export function isAstringChar(byte: number): boolean {
  return isAtomChar(byte) || byte === 0x5d;
}

/** list-char = ATOM-CHAR / list-wildcards / resp-specials (RFC 9051 §9). */
function isListChar(byte: number): boolean {
  return isAstringChar(byte) || byte === 0x25 || byte === 0x2a;
}

const LITERAL_ANNOUNCEMENT = /^(~?)\{(\d+)(\+?)\}$/;

export class CommandCursor {
  private lineIndex = 0;
  private pos = 0;
  private line: Buffer;
  private depth = 0;
  readonly tag: string | undefined;

  constructor(private readonly raw: RawCommand) {
    this.line = raw.lines[0] ?? Buffer.alloc(0);
    this.tag = raw.tag;
  }

  /** An error for the current position; callers `throw` it. */
  error(message: string): ImapParseError {
    return new ImapParseError('syntax', message, { tag: this.tag });
  }

  atEnd(): boolean {
    return this.lineIndex >= this.raw.lines.length - 1 && this.pos >= this.line.length;
  }

  expectEnd(): void {
    if (!this.atEnd()) throw this.error('Unexpected characters at end of command');
  }

  /** The byte at the cursor, or -1 at the end of a line. */
  peek(): number {
    return this.pos < this.line.length ? this.line[this.pos]! : -1;
  }

  /** True (and consumed) when the next byte is `byte`. */
  take(byte: number): boolean {
    if (this.peek() !== byte) return false;
    this.pos++;
    return true;
  }

  expect(byte: number, what: string): void {
    if (!this.take(byte)) throw this.error(`Expected ${what}`);
  }

  sp(): void {
    if (!this.take(SP)) throw this.error('Expected a space');
  }

  /** True when a space follows (consumed). */
  takeSp(): boolean {
    return this.take(SP);
  }

  /**
   * Counts one more level of nesting (a parenthesised list, or a SEARCH `NOT`/`OR` operand) and checks
   * the limit before the grammar recurses into it.
   */
  descend(): void {
    this.depth++;
    if (this.depth > MAX_NESTING_DEPTH) {
      throw new ImapParseError('too-deep', 'Too deeply nested', { tag: this.tag, code: 'LIMIT' });
    }
  }

  ascend(): void {
    this.depth--;
  }

  /** Consumes `(` and checks the nesting limit before the caller parses the list's contents. */
  enterList(): void {
    this.expect(OPEN_PAREN, '(');
    this.descend();
  }

  leaveList(): void {
    this.expect(CLOSE_PAREN, ')');
    this.ascend();
  }

  /** For `( [item *(SP item)] )`: true when the list closes here (consumed). */
  closesList(): boolean {
    if (this.peek() !== CLOSE_PAREN) return false;
    this.leaveList();
    return true;
  }

  /** Parses `"(" [item *(SP item)] ")"`, calling `item` for each element. */
  list<T>(item: () => T, allowEmpty = true): T[] {
    this.enterList();
    const items: T[] = [];
    if (this.closesList()) {
      if (!allowEmpty) throw this.error('Empty list');
      return items;
    }
    for (;;) {
      items.push(item());
      if (this.closesList()) return items;
      this.sp();
    }
  }

  /** 1*ATOM-CHAR, as text. */
  atom(what = 'atom'): string {
    const start = this.pos;
    while (this.pos < this.line.length && isAtomChar(this.line[this.pos]!)) this.pos++;
    if (this.pos === start) throw this.error(`Expected ${what}`);
    return this.line.toString('latin1', start, this.pos);
  }

  /** An atom, upper-cased: command names, keywords, options. */
  keyword(what = 'keyword'): string {
    return this.atom(what).toUpperCase();
  }

  /** The next keyword without consuming it; '' when none follows. */
  peekKeyword(): string {
    let end = this.pos;
    while (end < this.line.length && isAtomChar(this.line[end]!)) end++;
    return this.line.toString('latin1', this.pos, end).toUpperCase();
  }

  /** Consumes `word` (case-insensitive) when it is the next whole atom. */
  takeKeyword(word: string): boolean {
    if (this.peekKeyword() !== word) return false;
    this.pos += word.length;
    return true;
  }

  /** The remaining bytes of the current line, consumed. */
  restOfLine(): Buffer {
    const rest = this.line.subarray(this.pos);
    this.pos = this.line.length;
    return rest;
  }

  /** A bare run of bytes accepted by `accept`. */
  run(accept: (byte: number) => boolean, what: string): string {
    const start = this.pos;
    while (this.pos < this.line.length && accept(this.line[this.pos]!)) this.pos++;
    if (this.pos === start) throw this.error(`Expected ${what}`);
    return this.line.toString('latin1', start, this.pos);
  }

  /** True when a string (quoted or literal) starts here. */
  atString(): boolean {
    const byte = this.peek();
    return byte === DQUOTE || this.atLiteral() !== undefined;
  }

  /** The literal announced at the cursor, if the rest of the line is an announcement. */
  private atLiteral(): RawLiteral | undefined {
    const byte = this.peek();
    if (byte !== 0x7b && byte !== 0x7e) return undefined; // { ~
    if (!LITERAL_ANNOUNCEMENT.test(this.line.toString('latin1', this.pos))) return undefined;
    return this.raw.literals[this.lineIndex];
  }

  /**
   * A literal: its bytes. `literal8` allows `~{n}` (RFC 3516); otherwise a literal must not contain NUL
   * (RFC 9051 §9 CHAR8).
   */
  literal(options: { literal8: boolean } = { literal8: false }): RawLiteral {
    const literal = this.atLiteral();
    if (!literal) throw this.error('Expected a literal');
    if (literal.binary && !options.literal8) throw this.error('literal8 not allowed here');
    if (!literal.binary && literal.data.includes(0)) throw this.error('NUL in literal');
    this.lineIndex++;
    this.line = this.raw.lines[this.lineIndex]!;
    this.pos = 0;
    return literal;
  }

  /** quoted = DQUOTE *QUOTED-CHAR DQUOTE, as bytes (RFC 9051 §9; UTF-8 allowed in QUOTED-CHAR). */
  quotedBytes(): Buffer {
    this.expect(DQUOTE, 'a quoted string');
    const start = this.pos;
    let escapes = false;
    for (;;) {
      if (this.pos >= this.line.length) throw this.error('Unterminated quoted string');
      const byte = this.line[this.pos]!;
      if (byte === DQUOTE) break;
      if (byte === 0) throw this.error('NUL in quoted string');
      if (byte === BACKSLASH) {
        const next = this.line[this.pos + 1];
        if (next !== DQUOTE && next !== BACKSLASH) throw this.error('Bad escape in quoted string');
        escapes = true;
        this.pos += 2;
        continue;
      }
      this.pos++;
    }
    const body = this.line.subarray(start, this.pos);
    this.pos++;
    if (!escapes) return body;
    const out = Buffer.allocUnsafe(body.length);
    let length = 0;
    for (let i = 0; i < body.length; i++) {
      const byte = body[i]!;
      if (byte === BACKSLASH) i++;
      out[length++] = body[i]!;
    }
    return out.subarray(0, length);
  }

  /** string = quoted / literal, as bytes. */
  stringBytes(): Buffer {
    if (this.peek() === DQUOTE) return this.quotedBytes();
    if (this.atLiteral()) return this.literal().data;
    throw this.error('Expected a string');
  }

  string(): string {
    return this.decode(this.stringBytes());
  }

  /** astring = 1*ASTRING-CHAR / string, as bytes. */
  astringBytes(): Buffer {
    if (this.atString()) return this.stringBytes();
    const start = this.pos;
    while (this.pos < this.line.length && isAstringChar(this.line[this.pos]!)) this.pos++;
    if (this.pos === start) throw this.error('Expected a string or atom');
    return this.line.subarray(start, this.pos);
  }

  astring(): string {
    return this.decode(this.astringBytes());
  }

  /** nstring = string / NIL. */
  nstring(): string | null {
    if (!this.atString() && this.takeKeyword('NIL')) return null;
    return this.string();
  }

  /** mailbox = "INBOX" / astring; any case of INBOX is INBOX (RFC 9051 §5.1). */
  mailbox(): string {
    const name = this.astring();
    return name.length === 5 && name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
  }

  /** list-mailbox = 1*list-char / string (a LIST pattern, with % and * wildcards). */
  listMailbox(): string {
    if (this.atString()) return this.string();
    return this.decode(Buffer.from(this.run(isListChar, 'a mailbox pattern'), 'latin1'));
  }

  /** Decodes UTF-8 strictly. */
  decode(bytes: Buffer): string {
    try {
      return utf8Decoder.decode(bytes);
    } catch {
      throw this.error('Invalid UTF-8 in string');
    }
  }

  private digits(): string {
    const start = this.pos;
    while (this.pos < this.line.length && this.line[this.pos]! >= 0x30 && this.line[this.pos]! <= 0x39) this.pos++;
    if (this.pos === start) throw this.error('Expected a number');
    return this.line.toString('latin1', start, this.pos);
  }

  atDigit(): boolean {
    const byte = this.peek();
    return byte >= 0x30 && byte <= 0x39;
  }

  /** number = 1*DIGIT, 32-bit unsigned (RFC 9051 §9). */
  number(): number {
    const text = this.digits().replace(/^0+(?=\d)/, '');
    const value = text.length > 10 ? Number.POSITIVE_INFINITY : Number(text);
    if (value > MAX_NUMBER32) throw this.error('Number out of range');
    return value;
  }

  /** nz-number: a non-zero 32-bit number (leading zeros are tolerated). */
  nzNumber(): number {
    const value = this.number();
    if (value === 0) throw this.error('Expected a non-zero number');
    return value;
  }

  /**
   * number64 / mod-sequence-value: up to 2^63-1 (RFC 9051 §9, RFC 7162 §7). Saturated at
   * Number.MAX_SAFE_INTEGER (see command-types.ts).
   */
  number64(): number {
    const text = this.digits().replace(/^0+(?=\d)/, '');
    if (text.length > 19 || BigInt(text) > 0x7fff_ffff_ffff_ffffn) throw this.error('Number out of range');
    return Math.min(Number(text), Number.MAX_SAFE_INTEGER);
  }

  /** seq-number = nz-number / "*". */
  private sequenceNumber(): number | '*' {
    if (this.take(0x2a)) return '*';
    return this.nzNumber();
  }

  /** sequence-set (RFC 9051 §9) or `$` (RFC 5182). */
  sequenceSet(): SequenceSet {
    if (this.take(0x24)) return { kind: 'saved' }; // $
    const ranges: SequenceRange[] = [];
    do {
      const start = this.sequenceNumber();
      const end = this.take(0x3a) ? this.sequenceNumber() : start; // :
      ranges.push({ start, end });
    } while (this.take(0x2c)); // ,
    return { kind: 'ranges', ranges };
  }

  /** True when a sequence set starts here. */
  atSequenceSet(): boolean {
    const byte = this.peek();
    return this.atDigit() || byte === 0x2a || byte === 0x24;
  }

  /** date = date-text / DQUOTE date-text DQUOTE; date-text = date-day "-" date-month "-" date-year. */
  date(): ImapDate {
    const quoted = this.take(DQUOTE);
    const dayText = this.digits();
    if (dayText.length > 2) throw this.error('Bad date');
    this.expect(0x2d, '-');
    const monthText = this.run((byte) => (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7a, 'month').toUpperCase();
    this.expect(0x2d, '-');
    const yearText = this.digits();
    if (quoted) this.expect(DQUOTE, 'closing quote');
    const month = MONTHS.indexOf(monthText) + 1;
    const day = Number(dayText);
    const year = Number(yearText);
    if (month === 0 || yearText.length !== 4 || !isCalendarDate(year, month, day)) throw this.error('Bad date');
    return { year, month, day };
  }

  /** date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE. */
  dateTime(): ImapDateTime {
    const bytes = this.quotedBytes().toString('latin1');
    const match = /^([ \d]\d)-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$/.exec(bytes);
    if (!match) throw this.error('Bad date-time');
    const [, dayText, monthText, yearText, hh, mm, ss, sign, zh, zm] = match;
    const day = Number(dayText!.trim());
    const month = MONTHS.indexOf(monthText!.toUpperCase()) + 1;
    const year = Number(yearText);
    const hours = Number(hh);
    const minutes = Number(mm);
    const seconds = Number(ss);
    const zoneMinutes = (sign === '-' ? -1 : 1) * (Number(zh) * 60 + Number(zm));
    if (
      month === 0 ||
      !isCalendarDate(year, month, day) ||
      hours > 23 ||
      minutes > 59 ||
      seconds > 60 ||
      Number(zm) > 59
    ) {
      throw this.error('Bad date-time');
    }
    // A leap second (:60) is kept as :59: Date has no room for it.
    const utc = new Date(0);
    utc.setUTCFullYear(year, month - 1, day);
    utc.setUTCHours(hours, minutes, Math.min(seconds, 59), 0);
    const time = utc.getTime() - zoneMinutes * 60_000;
    return { time, zoneMinutes };
  }

  /**
   * flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" / flag-keyword / flag-extension.
   * System flags (and the obsolete `\Recent`) come out in their canonical case.
   */
  flag(): Flag {
    if (this.take(BACKSLASH)) {
      const name = this.atom('a flag name');
      return SYSTEM_FLAGS.get(`\\${name.toUpperCase()}`) ?? `\\${name}`;
    }
    return this.atom('a flag');
  }

  /** flag-list = "(" [flag *(SP flag)] ")". */
  flagList(): Flag[] {
    return this.list(() => this.flag());
  }
}

function isCalendarDate(year: number, month: number, day: number): boolean {
  if (day < 1 || day > 31) return false;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}
