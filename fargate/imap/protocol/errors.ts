/**
 * The one error the IMAP protocol layer produces for bad client input. The reader and the parser never
 * throw anything else on any input; the session maps it to a response in one place:
 *
 *   - `fatal: false`: answer `<tag> BAD [code] message` (or `* BAD` without a tag) and read the next command;
 *   - `fatal: true`: the byte stream can no longer be framed safely (or the client broke a hard limit):
 *     answer the tagged BAD if there is a tag, then `* BYE` and close the connection.
 *
 * `status: 'NO'` marks the rare syntactically valid request the server refuses on its face (an unsupported
 * SEARCH charset, RFC 9051 §6.4.4 `[BADCHARSET]`).
 */

export type ParseErrorKind =
  /** A line longer than the line limit. */
  | 'line-too-long'
  /** A literal larger than the literal limit (or the LITERAL- limit for `{n+}`). */
  | 'literal-too-large'
  /** The command (lines plus literals) is larger than the command limit. */
  | 'command-too-large'
  /** Parentheses nested deeper than the nesting limit. */
  | 'too-deep'
  /** A request for a charset this server cannot decode. */
  | 'bad-charset'
  /** Anything else that does not match the grammar. */
  | 'syntax';

/** IMAP response codes a parse error may carry (RFC 9051 §7.1, RFC 5530). */
export type ParseErrorCode = 'PARSE' | 'TOOBIG' | 'CLIENTBUG' | 'BADCHARSET' | 'LIMIT';

export class ImapParseError extends Error {
  readonly kind: ParseErrorKind;
  /** The command's tag when it could be read, so the session can answer with a tagged BAD. */
  readonly tag: string | undefined;
  readonly fatal: boolean;
  readonly status: 'BAD' | 'NO';
  readonly code: ParseErrorCode | undefined;

  constructor(
    kind: ParseErrorKind,
    message: string,
    options: { tag?: string | undefined; fatal?: boolean; status?: 'BAD' | 'NO'; code?: ParseErrorCode } = {},
  ) {
    super(message);
    this.name = 'ImapParseError';
    this.kind = kind;
    this.tag = options.tag;
    this.fatal = options.fatal ?? false;
    this.status = options.status ?? 'BAD';
    this.code = options.code;
  }

  /** The same error, now knowing the command's tag. */
  withTag(tag: string | undefined): ImapParseError {
    if (tag === undefined || this.tag !== undefined) return this;
    return new ImapParseError(this.kind, this.message, {
      tag,
      fatal: this.fatal,
      status: this.status,
      ...(this.code === undefined ? {} : { code: this.code }),
    });
  }
}
