/**
 * One IMAP connection's session: reads commands off the transport, runs them one at a time through the
 * state machine of RFC 9051 §3 (not authenticated → authenticated ⇄ selected → logout), writes the
 * responses, and maps every error to a reply in one place (`completionForError`).
 *
 * SECURITY: everything the client sends is untrusted. The command reader bounds lines, literals and
 * whole commands (tight before login); the parser bounds nesting; this file adds command pacing,
 * inactivity timeouts, a cap on consecutive BAD commands and on failed logins, and never reads the next
 * command while one runs, so a client that pipelines cannot make the session hold more than one
 * command's worth of input. Authentication is refused before TLS unless the listener is configured as
 * trusted-plaintext. It must never answer a command of one account with another account's data: the
 * account is fixed at login and every mailbox lookup goes through it.
 */
import { AclError, TooManyAclEntriesError } from '../../shared/acl/index.ts';
import type { Account } from '../../shared/directory/directory.ts';
import type { Logger } from '../../shared/log/logger.ts';
import { MailboxError } from '../../shared/mailbox/errors.ts';
import { InvalidQuotaError, QuotaRootNotFoundError } from '../../shared/quota/quota-roots.ts';
import { channelBindingsOf } from '../../shared/sasl/channel-binding.ts';
import type { SaslConnection } from '../../shared/sasl/sasl-server.ts';
import { capabilities, type Enableable } from './capabilities.ts';
import { dispatchCommand } from './commands/dispatch.ts';
import { bad, type Completion, no } from './completion.ts';
import { COMMAND_BURST, COMMANDS_PER_SECOND, MAX_APPEND_BYTES, MAX_CONSECUTIVE_BAD_COMMANDS } from './limits.ts';
import { SavedSearchMissingError } from './message-view.ts';
import { parseCommand } from './protocol/command-parser.ts';
import { CommandReader, type RawCommand } from './protocol/command-reader.ts';
import type { Command } from './protocol/command-types.ts';
import type { ImapParseError } from './protocol/errors.ts';
import {
  AUTHENTICATED_READER_LIMITS,
  LITERAL_MINUS_MAX_BYTES,
  type ReaderLimits,
  UNAUTHENTICATED_READER_LIMITS,
} from './protocol/limits.ts';
import { MailboxNameError } from './protocol/mailbox-name.ts';
import {
  continuationRequest,
  type ResponseCode,
  taggedResponse,
  token,
  untaggedStatus,
} from './protocol/response-writer.ts';
import { TokenBucket } from './rate-limiter.ts';
import type { SelectedMailbox } from './selected-mailbox.ts';
import type { ImapServerContext } from './server-context.ts';
import { type Transport, TransportClosedError } from './transport.ts';

export type SessionState = 'not-authenticated' | 'authenticated' | 'selected' | 'logout';

/** After login: large literals for APPEND, and LITERAL+ of any size up to the APPEND limit. */
const SESSION_AUTHENTICATED_LIMITS: ReaderLimits = {
  ...AUTHENTICATED_READER_LIMITS,
  maxLiteralBytes: MAX_APPEND_BYTES,
  maxNonSyncLiteralBytes: MAX_APPEND_BYTES,
};

/** Pre-login limits: LITERAL- (RFC 7888 §3) caps non-synchronizing literals at 4096 bytes. */
const SESSION_UNAUTHENTICATED_LIMITS: ReaderLimits = {
  ...UNAUTHENTICATED_READER_LIMITS,
  maxNonSyncLiteralBytes: LITERAL_MINUS_MAX_BYTES,
};

let nextSessionId = 1;

export class ImapSession {
  readonly id = `imap-${process.pid}-${nextSessionId++}`;
  state: SessionState = 'not-authenticated';
  account: Account | undefined;
  selected: SelectedMailbox | undefined;
  /** Extensions the client turned on with ENABLE (RFC 5161) or, for CONDSTORE, by using them. */
  readonly enabled = new Set<Enableable>();
  /** SEARCHRES (RFC 5182): the UIDs of the last `SEARCH RETURN (SAVE)`. */
  savedSearch: number[] | undefined;
  authFailures = 0;
  readonly logger: Logger;

  private readonly reader = new CommandReader(SESSION_UNAUTHENTICATED_LIMITS);
  private readonly pacing = new TokenBucket(COMMANDS_PER_SECOND, COMMAND_BURST);
  /** The command being run; no further command is read meanwhile. */
  private running: Promise<void> | undefined;
  /** A command (IDLE, AUTHENTICATE) waiting for the client's next raw line. */
  private lineWaiter: { resolve(line: Buffer): void; reject(error: Error): void } | undefined;
  private pumping = false;
  /** In IDLE (RFC 2177): the IDLE command's timeout applies instead of the authenticated one. */
  private idling = false;
  private consecutiveBad = 0;
  private closed = false;
  private releaseAccount: (() => void) | undefined;
  private readonly onCloseCallbacks: Array<() => void> = [];

  constructor(
    readonly server: ImapServerContext,
    readonly transport: Transport,
    readonly remoteAddress: string,
    /** The listener permits authentication without TLS. */
    readonly plaintextAuth: boolean,
  ) {
    this.logger = server.logger.child({ session: this.id, remote: remoteAddress });
  }

  /** Greets the client and starts reading commands. */
  start(): void {
    this.transport.start({
      onData: (chunk) => {
        this.reader.push(chunk);
        this.pump();
      },
      onClose: (error) => this.handleClose(error),
      onTimeout: () => this.handleTimeout(),
    });
    this.transport.setTimeout(this.server.timeouts.unauthenticatedIdleMs);
    this.send(
      untaggedStatus('OK', 'Marmot Mail IMAP ready', { name: 'CAPABILITY', args: this.capabilityList().map(token) }),
    );
    void this.flush();
  }

  // Output

  send(response: Buffer): void {
    this.transport.write(response);
  }

  /** Sends what is queued and waits for the client to take it (backpressure for large FETCHes). */
  async flush(): Promise<void> {
    try {
      await this.transport.flush();
    } catch (error) {
      if (!(error instanceof TransportClosedError)) throw error;
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  capabilityList(): string[] {
    return capabilities({
      authenticated: this.state === 'authenticated' || this.state === 'selected',
      secure: this.transport.secure,
      plaintextAuth: this.plaintextAuth,
      startTlsAvailable: !this.transport.secure,
      mechanisms: this.server.sasl.mechanisms(this.saslConnection()),
      compressed: this.transport.compressed,
    });
  }

  /**
   * This connection as SASL sees it. A trusted-plaintext listener counts as protected (PLAIN and
   * LOGIN allowed), but only real TLS gives channel-binding data.
   */
  saslConnection(): SaslConnection {
    const tlsSocket = this.transport.tlsSocket;
    return {
      service: 'imap',
      tls: this.authenticationAllowed,
      channelBindings: tlsSocket ? channelBindingsOf(tlsSocket) : undefined,
      clientAddress: this.remoteAddress,
    };
  }

  /** Authentication is allowed on this connection now (TLS, or a trusted-plaintext listener). */
  get authenticationAllowed(): boolean {
    return this.transport.secure || this.plaintextAuth;
  }

  /** CONDSTORE is on: FETCH responses carry MODSEQ (RFC 7162 §3.1). */
  get condstore(): boolean {
    return this.enabled.has('CONDSTORE') || this.enabled.has('QRESYNC');
  }

  get qresync(): boolean {
    return this.enabled.has('QRESYNC');
  }

  /** Mailbox names travel as UTF-8, not modified UTF-7 (RFC 6855 §3, RFC 9051 §5.1). */
  get utf8(): boolean {
    return this.enabled.has('UTF8=ACCEPT') || this.imap4rev2;
  }

  /** The client sent ENABLE IMAP4rev2: RFC 9051 behaviour instead of RFC 3501's where they differ. */
  get imap4rev2(): boolean {
    return this.enabled.has('IMAP4rev2');
  }

  // State transitions

  /**
   * Moves to the authenticated state with this account, if the account has a free session slot.
   * Returns false (and stays unauthenticated) when the account is at its session limit.
   */
  authenticate(account: Account): boolean {
    if (!this.server.accountSessions.acquire(account.id)) return false;
    const accountId = account.id;
    this.releaseAccount = () => this.server.accountSessions.release(accountId);
    this.account = account;
    this.state = 'authenticated';
    this.reader.setLimits(SESSION_AUTHENTICATED_LIMITS);
    this.transport.setTimeout(this.server.timeouts.authenticatedIdleMs);
    this.logger.info('logged in', { account: account.address });
    return true;
  }

  select(selected: SelectedMailbox): void {
    this.selected = selected;
    this.savedSearch = undefined;
    this.state = 'selected';
  }

  unselect(): void {
    this.selected = undefined;
    this.savedSearch = undefined;
    if (this.state === 'selected') this.state = 'authenticated';
  }

  /** Runs when the connection ends (unwatch mailboxes, release counters). */
  onClose(callback: () => void): void {
    this.onCloseCallbacks.push(callback);
  }

  /** Reader access for STARTTLS and COMPRESS: bytes the client pipelined after the command. */
  takeUnreadInput(): Buffer {
    return this.reader.takeUnread();
  }

  /**
   * Waits for the client's next raw line (IDLE's DONE, an AUTHENTICATE response). The socket is read
   * while the command waits. Rejects when the connection closes or the line breaks a limit.
   */
  readLine(): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      if (this.closed) {
        reject(new TransportClosedError('connection closed'));
        return;
      }
      this.reader.expectLine();
      this.lineWaiter = { resolve, reject };
      queueMicrotask(() => this.pump());
    });
  }

  /** Enters or leaves IDLE, which has its own inactivity timeout (longer than between commands). */
  setIdling(idling: boolean): void {
    this.idling = idling;
    const { idleCommandMs, authenticatedIdleMs } = this.server.timeouts;
    this.transport.setTimeout(idling ? idleCommandMs : authenticatedIdleMs);
  }

  /** Closes the connection after sending what is queued. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.state = 'logout';
    await this.transport.close();
  }

  /** Server shutdown: tell the client and close. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.send(untaggedStatus('BYE', 'Server shutting down'));
    await this.close();
  }

  // Reading and running commands

  private pump(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    try {
      while (!this.closed) {
        if (this.running && !this.lineWaiter) break;
        const event = this.reader.next();
        if (!event) break;
        switch (event.kind) {
          case 'line': {
            const waiter = this.lineWaiter;
            this.lineWaiter = undefined;
            waiter?.resolve(event.line);
            break;
          }
          case 'error': {
            const waiter = this.lineWaiter;
            this.lineWaiter = undefined;
            if (waiter) waiter.reject(event.error);
            this.answerParseError(event.error);
            break;
          }
          case 'continuation':
            this.send(continuationRequest());
            void this.flush();
            break;
          case 'command':
            this.running = this.run(event.command).finally(() => {
              this.running = undefined;
              this.pump();
            });
            break;
        }
      }
    } finally {
      this.pumping = false;
    }
    // Backpressure: while a command runs (and wants no line), leave further input in the socket.
    if (this.running && !this.lineWaiter) this.transport.pause();
    else this.transport.resume();
  }

  private async run(raw: RawCommand): Promise<void> {
    const wait = this.pacing.take();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (this.closed) return;
    const parsed = parseCommand(raw);
    if (!parsed.ok) {
      this.answerParseError(parsed.error);
      await this.flush();
      return;
    }
    const command = parsed.command;
    let completion: Completion;
    try {
      completion = await dispatchCommand(this, command);
    } catch (error) {
      completion = this.completionForError(error, command);
    }
    if (this.closed) return;
    if (completion.status === 'BAD') this.noteBad();
    else this.consecutiveBad = 0;
    if (!completion.answered)
      this.send(taggedResponse(command.tag, completion.status, completion.text, completion.code));
    await this.flush();
  }

  private answerParseError(error: ImapParseError): void {
    // RFC 9051 §7.1: BADCHARSET lists the charsets SEARCH accepts.
    const code: ResponseCode | undefined = !error.code
      ? undefined
      : error.code === 'BADCHARSET'
        ? { name: error.code, args: [[token('UTF-8'), token('US-ASCII')]] }
        : { name: error.code };
    if (error.tag !== undefined) this.send(taggedResponse(error.tag, error.status, error.message, code));
    else this.send(untaggedStatus('BAD', error.message, code));
    if (error.fatal) {
      this.send(untaggedStatus('BYE', 'Protocol error; closing'));
      void this.close();
      return;
    }
    if (error.status === 'BAD') this.noteBad();
    void this.flush();
  }

  private noteBad(): void {
    this.consecutiveBad++;
    if (this.consecutiveBad >= MAX_CONSECUTIVE_BAD_COMMANDS) {
      this.send(untaggedStatus('BYE', 'Too many invalid commands'));
      void this.close();
    }
  }

  /** The one place domain and protocol errors become replies. */
  completionForError(error: unknown, command: Command): Completion {
    if (error instanceof MailboxError) {
      switch (error.code) {
        case 'mailbox-not-found':
          return no('No such mailbox', { name: 'NONEXISTENT' });
        case 'mailbox-exists':
          return no('Mailbox already exists', { name: 'ALREADYEXISTS' });
        case 'invalid-mailbox-name':
        case 'mailbox-operation-not-allowed':
        case 'invalid-message':
          return no(error.message, { name: 'CANNOT' });
        case 'invalid-flag':
          return bad(error.message);
        case 'too-many-mailboxes':
        case 'uid-space-exhausted':
          return no(error.message, { name: 'LIMIT' });
        case 'over-quota':
          return no('Quota exceeded', { name: 'OVERQUOTA' });
        case 'blob-gone':
        case 'delivery-in-progress':
        case 'write-deadline-exceeded':
        case 'concurrent-modification':
          return no('Temporary failure; try again', { name: 'UNAVAILABLE' });
      }
    }
    if (error instanceof MailboxNameError) return bad(`Invalid mailbox name: ${error.message}`);
    if (error instanceof AclError) {
      switch (error.code) {
        case 'invalid-rights':
        case 'invalid-identifier':
          return bad(error.message);
        case 'no-permission':
          return no(`Permission denied: ${error.message}`, { name: 'NOPERM' });
        case 'owner-rights':
          return no(error.message, { name: 'CANNOT' });
        case 'unknown-identifier':
          return no(error.message, { name: 'NONEXISTENT' });
      }
    }
    if (error instanceof TooManyAclEntriesError) return no(error.message, { name: 'LIMIT' });
    if (error instanceof QuotaRootNotFoundError) return no('No such quota root', { name: 'NONEXISTENT' });
    if (error instanceof InvalidQuotaError) return no(error.message, { name: 'CANNOT' });
    if (error instanceof SavedSearchMissingError) return bad('No saved search result ($)');
    if (error instanceof TransportClosedError) return no('Connection closed');
    this.logger.error('command failed', { command: command.name, tag: command.tag, error });
    return no('Internal server error', { name: 'SERVERBUG' });
  }

  private handleTimeout(): void {
    if (this.closed) return;
    this.logger.info('idle timeout', { state: this.state, idling: this.idling });
    // RFC 9051 §7.1.5: the BYE says why the server closes; here, an autologout, and after how long.
    const { unauthenticatedIdleMs, authenticatedIdleMs, idleCommandMs } = this.server.timeouts;
    const reason = this.idling
      ? `Autologout; idle for ${spokenDuration(idleCommandMs)} in IDLE (re-issue IDLE sooner)`
      : this.state === 'not-authenticated'
        ? `Autologout; idle for ${spokenDuration(unauthenticatedIdleMs)} without logging in`
        : `Autologout; idle for ${spokenDuration(authenticatedIdleMs)}`;
    this.send(untaggedStatus('BYE', reason));
    void this.close();
  }

  private handleClose(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.state = 'logout';
    const waiter = this.lineWaiter;
    this.lineWaiter = undefined;
    waiter?.reject(new TransportClosedError('connection closed'));
    this.selected = undefined;
    this.releaseAccount?.();
    this.releaseAccount = undefined;
    for (const callback of this.onCloseCallbacks.splice(0)) callback();
    if (error && !isExpectedSocketError(error)) this.logger.warn('connection error', { error });
  }
}

/** `30 minutes`, `60 seconds`, `250 ms`. */
function spokenDuration(ms: number): string {
  const plural = (amount: number, unit: string) => `${amount} ${unit}${amount === 1 ? '' : 's'}`;
  if (ms % 60_000 === 0) return plural(ms / 60_000, 'minute');
  if (ms % 1000 === 0) return plural(ms / 1000, 'second');
  return `${ms} ms`;
}

/** Resets and broken pipes are how clients often leave; not worth a warning. */
function isExpectedSocketError(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'ETIMEDOUT';
}
