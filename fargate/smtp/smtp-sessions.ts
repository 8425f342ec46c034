/**
 * The policy of one SMTP listener, as smtp-server's hooks: who may authenticate, who may send as whom,
 * what a recipient means, and what happens to DATA. smtp-server does the protocol (RFC 5321 syntax,
 * PIPELINING, STARTTLS, dot-unstuffing), shared/sasl the SASL exchanges; everything that decides is here.
 *
 *   mx              port 25: mail for our domains from anyone; remote recipients only from relay hosts.
 *                   No AUTH (RFC 6409 §4.3 puts authenticated submission on 587/465).
 *   submission      port 587: AUTH through the SASL module (sasl-auth.ts). Before STARTTLS only the
 *                   mechanisms that never send the password (SCRAM, and CRAM-MD5, DIGEST-MD5, NTLM
 *                   where a domain allows them, as the clients of the system this replaces use them);
 *                   PLAIN and LOGIN only after it (RFC 4954 §4: 538 before), so no client sends a
 *                   password in clear. MAIL needs AUTH or a relay host; the sender must be an address
 *                   the account owns (or, for an admin acting as another user, that user owns).
 *   submission-tls  port 465 (RFC 8314 §3.3): the same, on implicit TLS.
 *
 * SECURITY: everything from the client is untrusted. Addresses go through shared/address and the
 * directory's checks before they are used as keys; replies quote them only after removing anything
 * that could end a line. The client address is the socket's, or the PROXY header's when the listener is
 * configured for it (only the NLB can reach such a listener).
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { SMTPServer, SMTPServerAddress, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { InvalidAddressError, parseAddress } from '../../shared/address/address.ts';
import { type ResolvedRecipient, resolveRecipient } from '../../shared/delivery/recipient-resolution.ts';
import { receivedHeader, returnPathHeader } from '../../shared/delivery/trace-headers.ts';
import type { Account } from '../../shared/directory/directory.ts';
import type { Logger } from '../../shared/log/logger.ts';
import { MimeStructureScanner } from '../../shared/mime/mime-structure.ts';
import type { SaslFailure, SaslIdentity } from '../../shared/sasl/mechanism.ts';
import type { SmtpLimits } from './limits.ts';
import { spoolMessage } from './message-spool.ts';
import { deliveryFailed, recipientRejected, replies, SmtpReply, spoolRefused } from './replies.ts';
import type { SmtpService } from './smtp-service.ts';

export type SmtpListenerKind = 'mx' | 'submission' | 'submission-tls';

type Callback = (error?: Error | null) => void;

/** Failures that count towards closing the connection: guesses, garbage, and trying on while refused. */
const COUNTED_FAILURES: ReadonlySet<SaslFailure['kind']> = new Set([
  'bad-credentials',
  'authorization-denied',
  'malformed',
  'throttled',
]);

interface SessionState {
  relayHost: boolean;
  account?: Account;
  commands: number;
  authFailures: number;
  /** Accepted recipients of the current transaction, by the address as given (lower case). */
  recipients: Map<string, ResolvedRecipient>;
}

export class SmtpSessions {
  private readonly states = new Map<string, SessionState>();
  private server: SMTPServer | undefined;

  constructor(
    private readonly kind: SmtpListenerKind,
    private readonly service: SmtpService,
    private readonly limits: SmtpLimits,
    private readonly logger: Logger,
  ) {}

  /** The server whose connections these sessions are (to close one that breaks a limit). */
  attach(server: SMTPServer): void {
    this.server = server;
  }

  onConnect = (session: SMTPServerSession, callback: Callback): void => {
    this.service.relayHosts.contains(session.remoteAddress).then(
      (relayHost) => {
        this.states.set(session.id, { relayHost, commands: 0, authFailures: 0, recipients: new Map() });
        callback();
      },
      (error: unknown) => {
        this.logger.error('relay host lookup failed', { connection: session.id, error });
        callback(replies.temporaryFailure());
      },
    );
  };

  onClose = (session: SMTPServerSession): void => {
    this.states.delete(session.id);
  };

  /** Called for every command line smtp-server dispatches (see smtp-server-log.ts). */
  countCommand = (connectionId: string): void => {
    const state = this.states.get(connectionId);
    if (!state) return;
    state.commands++;
    if (state.commands === this.limits.maxCommandsBeforeData + 1) {
      // On the next turn, so a command answered synchronously gets its reply first; the 421 ends the session.
      setImmediate(() => this.closeWith(connectionId, replies.tooManyCommands()));
    }
  };

  /**
   * After a successful SASL exchange (sasl-auth.ts): the session acts as the authorization identity,
   * the login itself or, for an admin, the user it asked to act as.
   */
  authenticated = async (identity: SaslIdentity, session: SMTPServerSession): Promise<{ user: string } | SmtpReply> => {
    const state = this.states.get(session.id);
    if (!state || this.kind === 'mx') return replies.authenticationFailed();
    const account = await this.service.directory.getAccount(identity.authzid);
    if (!account) return replies.authenticationFailed();
    state.account = account;
    this.logger.info('authenticated', { connection: session.id, login: identity.authcid, as: identity.authzid });
    return { user: account.address };
  };

  /** After a failed exchange: logged; repeated failures close the connection (the throttle slows them too). */
  authenticationFailed = (failure: SaslFailure, session: SMTPServerSession): SmtpReply | undefined => {
    const fields = {
      connection: session.id,
      client: session.remoteAddress,
      kind: failure.kind,
      detail: failure.detail,
    };
    if (failure.kind === 'unavailable')
      this.logger.error('authentication unavailable', { ...fields, error: failure.cause });
    else this.logger.info('authentication failed', { ...fields, login: failure.authcid });
    const state = this.states.get(session.id);
    if (!state || !COUNTED_FAILURES.has(failure.kind)) return undefined;
    state.authFailures++;
    return state.authFailures >= this.limits.maxAuthFailures ? replies.tooManyAuthenticationFailures() : undefined;
  };

  onMailFrom = (address: SMTPServerAddress, session: SMTPServerSession, callback: Callback): void => {
    const state = this.states.get(session.id);
    if (state) state.recipients = new Map();
    const check = state ? this.checkSender(address.address, state) : Promise.resolve(replies.temporaryFailure());
    check.then(
      (refusal) => callback(refusal),
      (error: unknown) => {
        this.logger.error('sender check failed', { connection: session.id, error });
        callback(replies.temporaryFailure());
      },
    );
  };

  onRcptTo = (address: SMTPServerAddress, session: SMTPServerSession, callback: Callback): void => {
    this.checkRecipient(address.address, session).then(
      (refusal) => callback(refusal),
      (error: unknown) => {
        this.logger.error('recipient lookup failed', { connection: session.id, error });
        callback(replies.temporaryFailure());
      },
    );
  };

  onData = (
    stream: SMTPServerDataStream,
    session: SMTPServerSession,
    callback: (error?: Error | null, message?: string) => void,
  ): void => {
    this.receive(stream, session).then(
      (reply) => {
        const state = this.states.get(session.id);
        if (state) {
          state.commands = 0;
          state.recipients = new Map();
        }
        if (reply instanceof SmtpReply) callback(reply);
        else callback(null, reply);
      },
      (error: unknown) => {
        this.logger.error('message handling failed', { connection: session.id, error });
        stream.resume();
        callback(replies.temporaryFailure());
      },
    );
  };

  private async checkRecipient(address: string, session: SMTPServerSession): Promise<SmtpReply | undefined> {
    const state = this.states.get(session.id);
    if (!state) return replies.temporaryFailure();
    const key = address.toLowerCase();
    if (!state.recipients.has(key) && state.recipients.size >= this.limits.maxRecipients) {
      return replies.tooManyRecipients(this.limits.maxRecipients);
    }
    const mayRelay = state.account !== undefined || state.relayHost;
    const resolution = await resolveRecipient(address, { mayRelay }, this.service.resolution);
    if (!resolution.accepted) {
      this.logger.info('recipient rejected', {
        connection: session.id,
        reason: resolution.reason,
        detail: resolution.detail,
      });
      return recipientRejected(resolution.reason, address);
    }
    state.recipients.set(key, resolution.recipient);
    return undefined;
  }

  private async checkSender(mailFrom: string, state: SessionState): Promise<SmtpReply | undefined> {
    if (this.kind !== 'mx' && !state.account && !state.relayHost) return replies.authenticationRequired();
    // The null sender (bounces, MDNs: RFC 5321 §4.5.5, RFC 8098) owns nothing, so it impersonates nobody.
    if (mailFrom === '') return undefined;
    let sender: string;
    try {
      const parsed = parseAddress(mailFrom);
      sender = `${parsed.localPart}@${parsed.domain}`;
    } catch (error) {
      if (error instanceof InvalidAddressError) return replies.badSender();
      throw error;
    }
    if (!state.account) return undefined;
    return (await this.owns(state.account, sender)) ? undefined : replies.senderNotOwned(mailFrom);
  }

  /** The account's own address or an alias that targets it, either with a `+detail` (RFC 5233). */
  private async owns(account: Account, sender: string): Promise<boolean> {
    const at = sender.lastIndexOf('@');
    const local = sender.slice(0, at).toLowerCase();
    const plus = local.indexOf('+');
    const address = `${plus < 0 ? local : local.slice(0, plus)}@${sender.slice(at + 1)}`;
    if (address === account.address) return true;
    try {
      const alias = await this.service.directory.getAlias(address);
      return alias?.targets.includes(account.address) ?? false;
    } catch (error) {
      if (error instanceof InvalidAddressError) return false;
      throw error;
    }
  }

  /** Spools the message and runs the pipeline; the reply text for 250, or the refusal. */
  private async receive(stream: Readable, session: SMTPServerSession): Promise<string | SmtpReply> {
    const state = this.states.get(session.id);
    const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const recipients = session.envelope.rcptTo
      .map((rcpt) => state?.recipients.get(rcpt.address.toLowerCase()))
      .filter((recipient): recipient is ResolvedRecipient => recipient !== undefined);
    if (!state || recipients.length === 0) {
      stream.resume();
      return replies.noValidRecipients();
    }
    const receivedAt = new Date();
    // randomUUID draws from a pool; randomBytes asks OpenSSL each time, which costs more per message.
    const id = randomUUID().replaceAll('-', '');
    const returnPath = returnPathHeader(mailFrom);
    const received = receivedHeader({
      helo: session.hostNameAppearsAs || '',
      clientAddress: session.remoteAddress,
      serverName: this.service.context.config.hostname,
      protocol: session.transmissionType,
      id,
      ...(recipients.length === 1 ? { recipient: recipients[0]!.address } : {}),
      ...(session.tlsOptions ? { tls: `${session.tlsOptions.version} ${session.tlsOptions.name}` } : {}),
      date: receivedAt,
    });
    const prefix = Buffer.from(returnPath + received, 'latin1');
    const maxBytes = this.service.context.config.smtpMaxMessageBytes;
    const deadline = AbortSignal.timeout(this.limits.dataTimeoutMs);
    const onDeadline = () => this.closeWith(session.id, spoolRefused('timed-out', maxBytes));
    deadline.addEventListener('abort', onDeadline, { once: true });
    const scanner = new MimeStructureScanner();
    let spooled: Awaited<ReturnType<typeof spoolMessage>>;
    try {
      spooled = await spoolMessage(stream, {
        blobs: this.service.context.stores.blobs,
        blobKey: `msg/${receivedAt.toISOString().slice(0, 10)}/${id}`,
        prefix,
        maxContentBytes: maxBytes,
        deadline,
        onStored: (chunk) => scanner.write(chunk),
      });
    } finally {
      deadline.removeEventListener('abort', onDeadline);
    }
    if (!spooled.ok) {
      this.logger.info('message refused while receiving', { connection: session.id, refusal: spooled.refusal });
      return spoolRefused(spooled.refusal, maxBytes);
    }
    const result = await this.service.pipeline.deliver({
      id,
      blobKey: spooled.message.blobKey,
      size: spooled.message.size,
      contentSha256: spooled.message.contentSha256,
      returnPathBytes: Buffer.byteLength(returnPath, 'latin1'),
      traceBytes: prefix.length,
      structure: scanner.end(),
      mailFrom,
      recipients,
      client: { address: session.remoteAddress, helo: session.hostNameAppearsAs || '' },
      submittedBy: state.account?.address ?? session.remoteAddress,
      receivedAt,
    });
    if (!result.accepted) return deliveryFailed(result.failure);
    if (this.service.context.config.testHooks.exitBeforeDataReply) {
      // Test hook (config.ts): every write is durable now; die before the sender hears about it.
      process.kill(process.pid, 'SIGKILL');
    }
    return replies.accepted(id);
  }

  /** Sends the reply (a 421 closes the connection) on the session's connection, if it is still open. */
  private closeWith(connectionId: string, reply: SmtpReply): void {
    for (const connection of this.server?.connections ?? []) {
      if (connection.id === connectionId) {
        connection.send(reply.responseCode, reply.message);
        connection.close();
        return;
      }
    }
  }
}
