/**
 * Every limit of the SMTP listeners, in one place, with the reply a client gets when it hits one.
 * Listeners take overrides (tests shrink the timeouts); the message size comes from the configuration.
 */

export interface SmtpLimits {
  /** Connections open at once on one listener; more get `421 4.3.2` and are closed. */
  maxConnections: number;
  /** Connections open at once from one client address (the real one, after PROXY); more get `421 4.7.0`. */
  maxConnectionsPerIp: number;
  /** RFC 5321 §4.5.3.1.8 requires at least 100; more get `452 4.5.3` (the client sends the rest later). */
  maxRecipients: number;
  /**
   * Commands (any, including NOOP, RSET, VRFY and rejected ones) since the session started or since the
   * last message; one more gets `421 4.7.0` and the connection is closed. Room for a full envelope of
   * maxRecipients plus the session's opening commands; stops RCPT harvesting and junk-command floods.
   */
  maxCommandsBeforeData: number;
  /**
   * Longest command line. RFC 5321 §4.5.3.1.4 says 512 octets, RFC 4954 §4 raises it to 12288 for AUTH.
   * smtp-server answers a longer one with 421 and closes.
   */
  maxCommandLineBytes: number;
  /** Failed AUTH attempts per connection before `421 4.7.0` closes it (slows password guessing). */
  maxAuthFailures: number;
  /** RFC 5321 §4.5.3.2.7: the server waits 5 minutes for the next command; then `421` and close. */
  idleTimeoutMs: number;
  /** The whole DATA transfer, however slowly the bytes trickle in; then `421 4.4.2` and close. */
  dataTimeoutMs: number;
  /** Time for the implicit-TLS handshake (465) before the socket is dropped. */
  tlsHandshakeTimeoutMs: number;
  /** Time for the PROXY protocol header, when the listener expects one. */
  proxyHeaderTimeoutMs: number;
  /** How long close() lets sessions finish before they get `421` and are cut. */
  closeGraceMs: number;
}

export const DEFAULT_SMTP_LIMITS: SmtpLimits = {
  maxConnections: 1000,
  maxConnectionsPerIp: 20,
  maxRecipients: 100,
  maxCommandsBeforeData: 150,
  maxCommandLineBytes: 12_288,
  maxAuthFailures: 3,
  idleTimeoutMs: 5 * 60_000,
  dataTimeoutMs: 10 * 60_000,
  tlsHandshakeTimeoutMs: 10_000,
  proxyHeaderTimeoutMs: 5_000,
  closeGraceMs: 10_000,
};

/** How long the relay-host allow-list is cached between directory reads. */
export const RELAY_HOSTS_CACHE_MS = 10_000;
