/**
 * The SMTP listeners: MX (25; 2525 locally), submission with STARTTLS (587; 2587) and submission on
 * implicit TLS (465; 2465). Each accepts TCP connections itself, so that before smtp-server sees a byte
 * it can read the PROXY protocol v2 header (the AWS NLB's; smtp-server only knows v1) and count the
 * connection against the per-address and per-listener limits with the real client address. The socket
 * then goes to smtp-server's `connect`, which runs the session (and for 465 the TLS handshake first).
 *
 * SECURITY: with `proxyProtocol` on, the header is required and trusted: such a port must only be
 * reachable through the NLB. Without it, the socket's address is the client's.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { ListenerConfig } from '../../shared/config/config.ts';
import type { ListenerContext, RunningListener, StartListener } from '../listener.ts';
import { readProxyHeader } from '../proxy-protocol/proxy-v2.ts';
import { ConnectionGate } from './connection-gate.ts';
import { DEFAULT_SMTP_LIMITS, type SmtpLimits } from './limits.ts';
import { replies, type SmtpReply } from './replies.ts';
import { enableSaslAuth } from './sasl-auth.ts';
import { smtpServerLogger } from './smtp-server-log.ts';
import { acquireSmtpService } from './smtp-service.ts';
import { type SmtpListenerKind, SmtpSessions } from './smtp-sessions.ts';

const LISTENER_NAMES: Record<SmtpListenerKind, string> = {
  mx: 'smtp',
  submission: 'submission',
  'submission-tls': 'submission-tls',
};

export const startSmtpListener: StartListener = (context) => startSmtp('mx', context);
export const startSubmissionListener: StartListener = (context) => startSmtp('submission', context);
export const startSubmissionTlsListener: StartListener = (context) => startSmtp('submission-tls', context);

export async function startSmtp(
  kind: SmtpListenerKind,
  context: ListenerContext,
  overrides: Partial<SmtpLimits> = {},
): Promise<RunningListener> {
  const limits: SmtpLimits = { ...DEFAULT_SMTP_LIMITS, ...overrides };
  const { config } = context;
  const listenerConfig: ListenerConfig = {
    mx: config.listeners.smtp,
    submission: config.listeners.submission,
    'submission-tls': config.listeners.submissionTls,
  }[kind];
  const name = LISTENER_NAMES[kind];
  const logger = context.logger.child({ listener: name });
  const service = await acquireSmtpService(context);
  const sessions = new SmtpSessions(kind, service, limits, logger);
  const implicitTls = kind === 'submission-tls';

  const smtp = new SMTPServer({
    name: config.hostname,
    key: context.tls.key,
    cert: context.tls.cert,
    // For 465, smtp-server wraps the socket handed to connect() in TLS before the greeting.
    secure: implicitTls,
    needsUpgrade: implicitTls,
    size: config.smtpMaxMessageBytes,
    // Submission requires AUTH or a relay host; the check is ours (onMailFrom), since relay hosts skip it.
    authOptional: true,
    disabledCommands: kind === 'mx' ? ['AUTH'] : [],
    hideENHANCEDSTATUSCODES: true,
    hideDSN: true,
    disableReverseLookup: true,
    maxClients: limits.maxConnections,
    socketTimeout: limits.idleTimeoutMs,
    closeTimeout: limits.closeGraceMs,
    maxCommandLength: limits.maxCommandLineBytes,
    logger: smtpServerLogger(logger, sessions.countCommand),
    onConnect: sessions.onConnect,
    onMailFrom: sessions.onMailFrom,
    onRcptTo: sessions.onRcptTo,
    onData: sessions.onData,
    onClose: (session) => {
      sessions.onClose(session);
      releases.get(session.id)?.();
    },
  });
  sessions.attach(smtp);
  if (kind !== 'mx') {
    enableSaslAuth(smtp, {
      sasl: context.sasl,
      authenticated: sessions.authenticated,
      failed: sessions.authenticationFailed,
    });
  }
  // A rotated certificate applies to the next TLS handshake (STARTTLS or 465); open sessions keep theirs.
  const stopFollowingCertificate = context.tls.onChange((pair) =>
    smtp.updateSecureContext({ key: pair.key, cert: pair.cert }),
  );
  smtp.on('error', (error: Error) => logger.warn('smtp session error', { error }));

  const gate = new ConnectionGate(limits.maxConnections, limits.maxConnectionsPerIp);
  const sockets = new Set<Socket>();
  /**
   * Per connection id: gives the connection's gate slot back, once. smtp-server removes every listener
   * from the raw socket when it starts TLS (STARTTLS, and 465 at once), so a 'close' listener there
   * cannot be relied on; its onClose hook can, and the raw socket's 'close' covers the rest.
   */
  const releases = new Map<string, () => void>();

  const refuse = (socket: Socket, reply: SmtpReply) => {
    // Before TLS on 465 nothing can be said in SMTP; the connection is simply dropped.
    if (implicitTls) socket.destroy();
    else socket.end(`${reply.responseCode} ${reply.message}\r\n`);
  };

  const accept = async (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let remoteAddress = socket.remoteAddress ?? '';
    let remotePort = socket.remotePort ?? 0;
    if (config.proxyProtocol) {
      try {
        const header = await readProxyHeader(socket, limits.proxyHeaderTimeoutMs);
        if (header.command === 'proxy') {
          remoteAddress = header.source.address;
          remotePort = header.source.port;
        }
      } catch (error) {
        logger.info('connection without a valid PROXY header dropped', { peer: socket.remoteAddress, error });
        socket.destroy();
        return;
      }
    }
    if (socket.destroyed) return;
    const verdict = gate.enter(remoteAddress);
    if (verdict !== 'open') {
      logger.info('connection refused', { client: remoteAddress, verdict });
      refuse(socket, verdict === 'listener-full' ? replies.listenerFull() : replies.tooManyConnectionsFromAddress());
      return;
    }
    const id = randomBytes(10).toString('hex');
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      gate.leave(remoteAddress);
      sockets.delete(socket);
      releases.delete(id);
    };
    releases.set(id, release);
    socket.once('close', release);
    smtp.connect(socket, { id, remoteAddress, remotePort });
  };

  const tcp: Server = createServer({ pauseOnConnect: config.proxyProtocol }, (socket) => {
    accept(socket).catch((error: unknown) => {
      logger.error('accepting a connection failed', { error });
      socket.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(listenerConfig.port, listenerConfig.host, () => {
      tcp.off('error', reject);
      resolve();
    });
  });
  tcp.on('error', (error) => logger.error('listener error', { error }));
  const address = tcp.address();
  const port = typeof address === 'object' && address ? address.port : listenerConfig.port;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      stopFollowingCertificate();
      const stopped = new Promise<void>((resolve) => tcp.close(() => resolve()));
      // From here smtp-server answers every new command with 421; sessions in DATA finish first.
      smtp.close();
      const deadline = Date.now() + limits.closeGraceMs;
      const open = () => [...sockets].filter((socket) => !socket.destroyed).length;
      while (open() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      for (const connection of smtp.connections) connection.send(421, '4.3.2 Server shutting down');
      for (const socket of sockets) socket.destroy();
      await stopped;
      await service.release();
    })();
    return closing;
  };

  return { name, host: listenerConfig.host, port, close };
}
