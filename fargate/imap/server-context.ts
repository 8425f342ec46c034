/**
 * What every IMAP session of one process shares: the stores (through the mailbox and directory
 * modules), the change notifier, the TLS context for STARTTLS, the per-account connection counter and
 * the timeouts.
 */
import type { SecureContext } from 'node:tls';
import type { Config } from '../../shared/config/config.ts';
import type { Directory } from '../../shared/directory/directory.ts';
import type { Logger } from '../../shared/log/logger.ts';
import type { MailStore } from '../../shared/mailbox/mail-store.ts';
import type { SaslServer } from '../../shared/sasl/sasl-server.ts';
import type { BlobStore } from '../../shared/store/blob.ts';
import type { MailboxChangeNotifier } from './change-notifier.ts';
import type { MessageDetailsCache } from './details-cache.ts';
import type { HeaderCache } from './header-cache.ts';
import type { MailboxSnapshots } from './mailbox-snapshots.ts';
import type { ConnectionCounter } from './rate-limiter.ts';

/** The session and connection timeouts: limits.ts's constants unless the configuration overrides them. */
export interface ImapTimeouts {
  /** Silence before login, then `* BYE` (limits.ts UNAUTHENTICATED_IDLE_TIMEOUT_MS). */
  unauthenticatedIdleMs: number;
  /** Silence after login outside IDLE, then `* BYE` (AUTHENTICATED_IDLE_TIMEOUT_MS). */
  authenticatedIdleMs: number;
  /** How long one IDLE may last without DONE, then `* BYE` (IDLE_COMMAND_TIMEOUT_MS). */
  idleCommandMs: number;
  /** How long a client may leave our output unread before it is dropped (WRITE_STALL_TIMEOUT_MS). */
  writeStallMs: number;
  /** How long a TLS handshake, implicit or after STARTTLS, may take (TLS_HANDSHAKE_TIMEOUT_MS). */
  tlsHandshakeMs: number;
}

export interface ImapServerContext {
  config: Config;
  logger: Logger;
  mail: MailStore;
  blobs: BlobStore;
  directory: Directory;
  notifier: MailboxChangeNotifier;
  /** For STARTTLS on the plaintext listener. */
  secureContext: SecureContext;
  /** Authenticated sessions per account, in this process. */
  accountSessions: ConnectionCounter;
  /** Mailboxes' index state, kept current from the change log, shared by the sessions of this process. */
  snapshots: MailboxSnapshots;
  /** Messages' header sections by blob key, shared by the sessions of this process. */
  headerCache: HeaderCache;
  /** Message details by mailbox and UID, shared by the sessions of this process. */
  detailsCache: MessageDetailsCache;
  /** SASL for LOGIN and AUTHENTICATE: the mechanisms, and the process's failed-login throttle. */
  sasl: SaslServer;
  timeouts: ImapTimeouts;
}
