/**
 * Every limit the IMAP protocol layer enforces, in one place.
 *
 * Three mature servers shipped pre-authentication memory exhaustion through literals and parenthesis
 * nesting (Cyrus CVE-2024-34055, Stalwart CVE-2025-61600, Dovecot CVE-2026-27857). The command reader
 * checks these before it allocates anything, and the parser checks the nesting depth before it recurses,
 * so what one client can make us hold is bounded by the numbers below.
 */

/** What the command reader allows; the session switches from the first set to the second after login. */
export interface ReaderLimits {
  /** Longest command line (the text between literals, without CRLF), in bytes. */
  maxLineBytes: number;
  /** Largest single literal (synchronizing, non-synchronizing or literal8), in bytes. */
  maxLiteralBytes: number;
  /** Largest whole command: every line plus every literal, in bytes. */
  maxCommandBytes: number;
  /**
   * Largest non-synchronizing literal `{n+}`. RFC 7888 §3 (LITERAL-) fixes this at 4096: the client sends
   * such a literal without waiting, so the server cannot refuse it without losing the command framing.
   */
  maxNonSyncLiteralBytes: number;
}

/** RFC 7888 §3: with LITERAL- a client may send non-synchronizing literals of at most 4096 octets. */
export const LITERAL_MINUS_MAX_BYTES = 4096;

/**
 * RFC 9051 §4 recommends clients keep lines under 8192 octets, and RFC 7162 §4 asks servers to accept
 * at least 8192; long UID sets from CONDSTORE/QRESYNC clients are the usual reason for long lines.
 */
export const MAX_LINE_BYTES_UNAUTHENTICATED = 8 * 1024;
/** After login a client may send long sequence sets (QRESYNC, SEARCH results echoed back). */
export const MAX_LINE_BYTES_AUTHENTICATED = 64 * 1024;

/** Before login the only literals are user names, passwords and SASL data. */
export const MAX_LITERAL_BYTES_UNAUTHENTICATED = 8 * 1024;
/** After login the largest literal is an APPENDed message; keep in step with the SMTP size limit. */
export const MAX_LITERAL_BYTES_AUTHENTICATED = 64 * 1024 * 1024;

export const MAX_COMMAND_BYTES_UNAUTHENTICATED = 16 * 1024;
/** MULTIAPPEND may carry several messages in one command. */
export const MAX_COMMAND_BYTES_AUTHENTICATED = 128 * 1024 * 1024;

export const UNAUTHENTICATED_READER_LIMITS: Readonly<ReaderLimits> = Object.freeze({
  maxLineBytes: MAX_LINE_BYTES_UNAUTHENTICATED,
  maxLiteralBytes: MAX_LITERAL_BYTES_UNAUTHENTICATED,
  maxCommandBytes: MAX_COMMAND_BYTES_UNAUTHENTICATED,
  maxNonSyncLiteralBytes: LITERAL_MINUS_MAX_BYTES,
});

export const AUTHENTICATED_READER_LIMITS: Readonly<ReaderLimits> = Object.freeze({
  maxLineBytes: MAX_LINE_BYTES_AUTHENTICATED,
  maxLiteralBytes: MAX_LITERAL_BYTES_AUTHENTICATED,
  maxCommandBytes: MAX_COMMAND_BYTES_AUTHENTICATED,
  maxNonSyncLiteralBytes: LITERAL_MINUS_MAX_BYTES,
});

/**
 * Deepest parenthesised nesting the parser follows (SEARCH keys, flag lists, LIST options, ID ...).
 * No real client nests SEARCH criteria deeper than a handful of levels; the bound keeps recursion and
 * allocation per command small whatever the line holds.
 */
export const MAX_NESTING_DEPTH = 32;

/**
 * Most IMAP tags, atoms and numbers are short; these bound the pieces a command is made of so a single
 * token cannot be made into a large allocation either.
 */
export const MAX_TAG_BYTES = 64;

/** RFC 2971 §3.3: at most 30 field-value pairs, fields at most 30 octets, values at most 1024 octets. */
export const ID_MAX_PAIRS = 30;
export const ID_MAX_FIELD_BYTES = 30;
export const ID_MAX_VALUE_BYTES = 1024;

/** Largest number a `number` may hold (RFC 9051 §9: 32-bit unsigned). */
export const MAX_NUMBER32 = 0xffff_ffff;

/** MULTIAPPEND (RFC 3502): messages in one APPEND command. */
export const MAX_APPEND_MESSAGES = 1000;
