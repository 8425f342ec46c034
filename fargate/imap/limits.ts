/**
 * The IMAP server's session and connection limits, in one place (the protocol layer's own limits, line
 * and literal sizes and nesting depth, are in protocol/limits.ts).
 */

/** RFC 9051 §5.4: an authenticated client may stay silent at least 30 minutes before autologout. */
export const AUTHENTICATED_IDLE_TIMEOUT_MS = 30 * 60_000;
/** Before login a silent client is most likely a scanner; Dovecot allows about a minute too. */
export const UNAUTHENTICATED_IDLE_TIMEOUT_MS = 60_000;
/** RFC 2177 §3: clients re-issue IDLE at least every 29 minutes; a little more than 30 is allowed. */
export const IDLE_COMMAND_TIMEOUT_MS = 31 * 60_000;
/** A client that does not read our responses gets this long to drain them before it is dropped. */
export const WRITE_STALL_TIMEOUT_MS = 5 * 60_000;
/** How long a TLS handshake (implicit TLS or STARTTLS) may take. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 30_000;

/**
 * Commands per second per connection: a token bucket refilled at this rate, holding at most
 * COMMAND_BURST. A client past it is slowed down (its next command waits for a token), not refused;
 * real clients send a few commands per second at most, synchronising ones a burst of a few hundred.
 */
export const COMMANDS_PER_SECOND = 200;
export const COMMAND_BURST = 1_000;

/** Simultaneous connections from one client address (per process); beyond it: `* BYE` and close. */
export const MAX_CONNECTIONS_PER_IP = 100;
/** Simultaneous authenticated sessions of one account (per process); beyond it: `NO [LIMIT]`. */
export const MAX_CONNECTIONS_PER_ACCOUNT = 50;
/** Failed LOGIN/AUTHENTICATE attempts in one connection before it is closed. */
export const MAX_AUTH_FAILURES_PER_CONNECTION = 3;
/** Commands answered BAD in a row before the connection is closed: the peer is not speaking IMAP. */
export const MAX_CONSECUTIVE_BAD_COMMANDS = 10;

/** A response is flushed to the socket once this much is buffered (FETCH results stream in pieces). */
export const OUTPUT_FLUSH_BYTES = 64 * 1024;
/** FETCH body literals larger than this are streamed from the blob store rather than read whole. */
export const STREAM_BODY_BYTES = 256 * 1024;
/** Largest message APPEND accepts; advertised as APPENDLIMIT (RFC 7889). */
export const MAX_APPEND_BYTES = 50 * 1024 * 1024;

/** SEARCH BODY/TEXT reads at most this much of a message (decoded text) to match against. */
export const MAX_SEARCH_TEXT_BYTES_PER_MESSAGE = 1024 * 1024;
/**
 * Messages whose content (HEADER, BODY, TEXT) one SEARCH reads at once: reads overlap, and a search holds
 * the decoded text of at most this many messages (each at most MAX_SEARCH_TEXT_BYTES_PER_MESSAGE).
 */
export const SEARCH_CONTENT_READS_IN_FLIGHT = 8;
/** HEADER searches on fields the index does not keep read at most this much of the header. */
export const MAX_SEARCH_HEADER_BYTES = 256 * 1024;
/** Messages whose index entries are read in one page. */
export const INDEX_PAGE_SIZE = 500;

/** RFC 2971 ID: we echo nothing back, but log at most this much of what the client said. */
export const MAX_LOGGED_ID_BYTES = 512;
