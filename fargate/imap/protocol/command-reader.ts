/**
 * Frames the client's byte stream into complete IMAP commands: lines, synchronizing literals `{n}`,
 * non-synchronizing literals `{n+}` (RFC 7888 LITERAL+/LITERAL-) and literal8 `~{n}` (RFC 3516 BINARY).
 * No I/O: the session pushes socket chunks in and pulls events out.
 *
 *   reader.push(chunk);
 *   for (let event = reader.next(); event; event = reader.next()) { ... }
 *
 * Events:
 *   - `command`: one whole command (its lines and literal bodies), ready for `parseCommand`;
 *   - `continuation`: the client announced a synchronizing literal and waits: send `+ ...` now (or call
 *     `rejectLiteral()` and answer the tag with NO/BAD);
 *   - `line`: after `expectLine()`, the next raw line (IDLE's `DONE`, an AUTHENTICATE response);
 *   - `error`: an `ImapParseError` (see errors.ts for what the session answers).
 *
 * SECURITY: everything here is untrusted client input. The reader checks each announced literal size
 * against the limits before reading a byte of it, and refuses lines and commands beyond the limits, so
 * after `next()` has returned `undefined` it holds at most `maxCommandBytes` (plus one partial line).
 * Bytes pushed but not yet pulled are the session's backpressure to manage: pause the socket while a
 * command runs. Lines may end in CRLF or a bare LF (as Dovecot accepts); the CR is not part of the line.
 */
import { ImapParseError } from './errors.ts';
import { MAX_TAG_BYTES, type ReaderLimits, UNAUTHENTICATED_READER_LIMITS } from './limits.ts';

export interface RawLiteral {
  data: Buffer;
  /** Announced as literal8 `~{n}`: may hold NUL bytes (RFC 3516). */
  binary: boolean;
  /** Announced as `{n+}`: the client sent it without waiting for a continuation. */
  nonSynchronizing: boolean;
}

export interface RawCommand {
  /** The tag when the first line starts with a well-formed one. */
  tag: string | undefined;
  /**
   * The command's lines without their line ends. Every line but the last ends with a literal
   * announcement (`{n}`, `{n+}`, `~{n}`), whose data is `literals[i]`.
   */
  lines: Buffer[];
  literals: RawLiteral[];
  /** Bytes of lines and literals together. */
  size: number;
}

export type ReaderEvent =
  | { kind: 'command'; command: RawCommand }
  | { kind: 'continuation'; tag: string | undefined; literalBytes: number }
  | { kind: 'line'; line: Buffer }
  | { kind: 'error'; error: ImapParseError };

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
/** Literal sizes with more digits than this are beyond every limit (and beyond exact doubles). */
const MAX_EXACT_DIGITS = 15;

interface LiteralAnnouncement {
  size: number;
  binary: boolean;
  nonSynchronizing: boolean;
}

type Mode = 'line' | 'literal' | 'raw-line' | 'failed';

export class CommandReader {
  private limits: ReaderLimits;
  private mode: Mode = 'line';
  /** Pushed chunks not yet looked at. */
  private input: Buffer[] = [];
  private inputBytes = 0;
  /** The line being read. */
  private lineParts: Buffer[] = [];
  private lineBytes = 0;
  /** The command being read. */
  private lines: Buffer[] = [];
  private literals: RawLiteral[] = [];
  private commandBytes = 0;
  private tag: string | undefined;
  /** The literal being read. */
  private literal: LiteralAnnouncement | undefined;
  private literalParts: Buffer[] = [];
  private literalRemaining = 0;
  /** The synchronizing literal just announced, which `rejectLiteral()` may still refuse. */
  private awaitingLiteralData = false;

  constructor(limits: Readonly<ReaderLimits> = UNAUTHENTICATED_READER_LIMITS) {
    this.limits = { ...limits };
  }

  /** Applies new limits from the next command on (the session raises them after authentication). */
  setLimits(limits: Readonly<ReaderLimits>): void {
    this.limits = { ...limits };
  }

  /** Appends bytes received from the client. Ignored after a fatal error. */
  push(chunk: Buffer): void {
    if (this.mode === 'failed' || chunk.length === 0) return;
    this.input.push(chunk);
    this.inputBytes += chunk.length;
  }

  /**
   * The next raw line (without its line end) is delivered as a `line` event rather than parsed as a
   * command: IDLE's `DONE` (RFC 2177) and the client's AUTHENTICATE responses (RFC 9051 §6.2.2).
   */
  expectLine(): void {
    if (this.mode === 'line' && this.lines.length === 0) this.mode = 'raw-line';
  }

  /**
   * Refuses the synchronizing literal of the last `continuation` event: the client has not sent it and
   * will not once it reads the tagged NO/BAD the session sends instead of `+` (RFC 9051 §7.5). The
   * command is dropped and the next line starts a new command.
   */
  rejectLiteral(): void {
    if (!this.awaitingLiteralData) return;
    this.awaitingLiteralData = false;
    this.resetCommand();
    this.mode = 'line';
  }

  /**
   * Takes the bytes pushed but not yet framed, leaving none. STARTTLS (RFC 9051 §6.2.1) and COMPRESS
   * (RFC 4978 §3) change the byte stream after their tagged OK, so anything the client pipelined after
   * them must not be read as commands; the session rejects or drops what this returns.
   */
  takeUnread(): Buffer {
    const unread = Buffer.concat([...this.lineParts, ...this.input]);
    this.lineParts = [];
    this.lineBytes = 0;
    this.input = [];
    this.inputBytes = 0;
    return unread;
  }

  /** Bytes held: pushed and not yet framed, plus the partial line and command. */
  get bufferedBytes(): number {
    return this.inputBytes + this.lineBytes + this.commandBytes + (this.literal ? this.literalBytesRead() : 0);
  }

  /** True after a fatal error: the session must close the connection. */
  get failed(): boolean {
    return this.mode === 'failed';
  }

  next(): ReaderEvent | undefined {
    for (;;) {
      if (this.mode === 'failed') return undefined;
      if (this.mode === 'literal') {
        if (!this.readLiteralData()) return undefined;
        continue;
      }
      const line = this.readLine();
      if (line === undefined) return undefined;
      if (line instanceof ImapParseError) return this.fail(line);
      if (this.mode === 'raw-line') {
        this.mode = 'line';
        return { kind: 'line', line };
      }
      const event = this.handleCommandLine(line);
      if (event) return event;
    }
  }

  /** Reports a fatal error and drops everything: the session closes the connection. */
  private fail(error: ImapParseError): ReaderEvent {
    this.mode = 'failed';
    this.input = [];
    this.inputBytes = 0;
    this.lineParts = [];
    this.lineBytes = 0;
    this.resetCommand();
    return { kind: 'error', error };
  }

  /** Reads one whole line from the input: undefined when more input is needed, an error past the limit. */
  private readLine(): Buffer | ImapParseError | undefined {
    // A line may end in CRLF; allow one byte more than the limit while the terminator is still unseen.
    const maxPartial = this.limits.maxLineBytes + 1;
    while (this.input.length > 0) {
      const head = this.input[0]!;
      const lf = head.indexOf(LF);
      const take = lf === -1 ? head.length : lf;
      if (this.lineBytes + take > maxPartial) {
        return this.lineTooLong(Buffer.concat([...this.lineParts, head.subarray(0, MAX_TAG_BYTES + 1)]));
      }
      if (lf === -1) {
        this.lineParts.push(head);
        this.lineBytes += head.length;
        this.input.shift();
        this.inputBytes -= head.length;
        continue;
      }
      this.lineParts.push(head.subarray(0, lf));
      this.lineBytes += lf;
      if (lf + 1 === head.length) this.input.shift();
      else this.input[0] = head.subarray(lf + 1);
      this.inputBytes -= lf + 1;
      let line = this.lineParts.length === 1 ? this.lineParts[0]! : Buffer.concat(this.lineParts, this.lineBytes);
      this.lineParts = [];
      this.lineBytes = 0;
      if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
      if (line.length > this.limits.maxLineBytes) return this.lineTooLong(line);
      return line;
    }
    return undefined;
  }

  private lineTooLong(start: Buffer): ImapParseError {
    const tag = this.lines.length === 0 ? extractTag(start) : this.tag;
    return new ImapParseError('line-too-long', 'Command line too long', { tag, fatal: true, code: 'TOOBIG' });
  }

  private handleCommandLine(line: Buffer): ReaderEvent | undefined {
    const first = this.lines.length === 0;
    if (first) {
      this.tag = extractTag(line);
      if (line.length === 0) return { kind: 'error', error: new ImapParseError('syntax', 'Empty command line') };
    }
    const tag = this.tag;
    const announcement = parseAnnouncement(line);
    const sizeWithLine = this.commandBytes + line.length;
    if (!announcement) {
      if (sizeWithLine > this.limits.maxCommandBytes) {
        this.resetCommand();
        return {
          kind: 'error',
          error: new ImapParseError('command-too-large', 'Command too large', { tag, code: 'TOOBIG' }),
        };
      }
      this.lines.push(line);
      this.commandBytes = sizeWithLine;
      const command: RawCommand = { tag, lines: this.lines, literals: this.literals, size: this.commandBytes };
      this.resetCommand();
      return { kind: 'command', command };
    }
    const { size, nonSynchronizing } = announcement;
    const tooLarge =
      size > this.limits.maxLiteralBytes || (nonSynchronizing && size > this.limits.maxNonSyncLiteralBytes);
    const commandTooLarge = sizeWithLine + size > this.limits.maxCommandBytes;
    if (tooLarge || commandTooLarge) {
      this.resetCommand();
      const error = new ImapParseError(
        tooLarge ? 'literal-too-large' : 'command-too-large',
        tooLarge ? 'Literal too large' : 'Command too large',
        // A non-synchronizing literal is already on its way: the stream cannot be re-framed safely
        // (RFC 7888 §4), so the session must answer and close.
        { tag, code: 'TOOBIG', fatal: nonSynchronizing },
      );
      if (nonSynchronizing) return this.fail(error);
      return { kind: 'error', error };
    }
    this.lines.push(line);
    this.commandBytes = sizeWithLine;
    this.literal = announcement;
    this.literalParts = [];
    this.literalRemaining = size;
    this.mode = 'literal';
    if (!nonSynchronizing) {
      this.awaitingLiteralData = true;
      return { kind: 'continuation', tag, literalBytes: size };
    }
    return undefined;
  }

  /** Moves literal bytes from the input; true when the literal is complete. */
  private readLiteralData(): boolean {
    while (this.literalRemaining > 0 && this.input.length > 0) {
      this.awaitingLiteralData = false;
      const head = this.input[0]!;
      if (head.length <= this.literalRemaining) {
        this.literalParts.push(head);
        this.literalRemaining -= head.length;
        this.input.shift();
        this.inputBytes -= head.length;
      } else {
        this.literalParts.push(head.subarray(0, this.literalRemaining));
        this.input[0] = head.subarray(this.literalRemaining);
        this.inputBytes -= this.literalRemaining;
        this.literalRemaining = 0;
      }
    }
    if (this.literalRemaining > 0) return false;
    const announced = this.literal!;
    const data =
      this.literalParts.length === 1 ? this.literalParts[0]! : Buffer.concat(this.literalParts, announced.size);
    this.literals.push({ data, binary: announced.binary, nonSynchronizing: announced.nonSynchronizing });
    this.commandBytes += data.length;
    this.literal = undefined;
    this.literalParts = [];
    this.awaitingLiteralData = false;
    this.mode = 'line';
    return true;
  }

  private literalBytesRead(): number {
    return (this.literal?.size ?? 0) - this.literalRemaining;
  }

  private resetCommand(): void {
    this.lines = [];
    this.literals = [];
    this.commandBytes = 0;
    this.tag = undefined;
    this.literal = undefined;
    this.literalParts = [];
    this.literalRemaining = 0;
    this.awaitingLiteralData = false;
  }
}

/** RFC 9051 §9: tag = 1*<any ASTRING-CHAR except "+">. */
export function isTagChar(byte: number): boolean {
  if (byte <= 0x20 || byte >= 0x7f) return false;
  // atom-specials other than resp-specials ("]" is an ASTRING-CHAR), plus "+".
  return !(
    byte === 0x28 || // (
    byte === 0x29 || // )
    byte === 0x7b || // {
    byte === 0x25 || // %
    byte === 0x2a || // *
    byte === 0x22 || // "
    byte === 0x5c || // \
    byte === 0x2b // +
  );
}

/** The tag at the start of a command line, if well formed. */
export function extractTag(line: Buffer): string | undefined {
  const end = line.indexOf(SP);
  const length = end === -1 ? line.length : end;
  if (length === 0 || length > MAX_TAG_BYTES) return undefined;
  for (let i = 0; i < length; i++) if (!isTagChar(line[i]!)) return undefined;
  return line.toString('latin1', 0, length);
}

/**
 * The literal announced at the end of a line: `{n}`, `{n+}`, `~{n}` or `~{n+}` (RFC 9051 §9 literal,
 * literal8; RFC 7888 §2). Sizes beyond what a double holds exactly are reported as Infinity, which every
 * limit rejects.
 */
export function parseAnnouncement(line: Buffer): LiteralAnnouncement | undefined {
  let i = line.length - 1;
  if (i < 2 || line[i] !== 0x7d) return undefined; // }
  i--;
  const nonSynchronizing = line[i] === 0x2b; // +
  if (nonSynchronizing) i--;
  const digitsEnd = i + 1;
  while (i >= 0 && line[i]! >= 0x30 && line[i]! <= 0x39) i--;
  if (digitsEnd === i + 1 || i < 0 || line[i] !== 0x7b) return undefined; // {
  const binary = i > 0 && line[i - 1] === 0x7e; // ~
  let first = i + 1;
  while (first < digitsEnd - 1 && line[first] === 0x30) first++; // leading zeros are allowed
  const size =
    digitsEnd - first > MAX_EXACT_DIGITS ? Number.POSITIVE_INFINITY : Number(line.toString('latin1', first, digitsEnd));
  return { size, binary, nonSynchronizing };
}
