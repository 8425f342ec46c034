/**
 * The IMAP listeners: port 143 (1143 locally) with STARTTLS, and port 993 (1993 locally) with implicit
 * TLS. Each accepted connection becomes an ImapSession; both listeners of a process share the change
 * notifier and the per-account session counter.
 *
 * SECURITY: every connection is untrusted. Connections per client address are capped before a byte is
 * read; with implicit TLS nothing is read before the handshake; behind the NLB the PROXY v2 header gives
 * the real client address (read only when configured, since it decides who the client is). The session
 * refuses authentication before TLS unless MARMOT_IMAP_PLAINTEXT_AUTH marks this listener as trusted
 * plaintext (tests, loopback). It must never serve a client before the greeting or after `close()`.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext, TLSSocket } from 'node:tls';
import { Directory } from '../../shared/directory/directory.ts';
import { openMailStore } from '../../shared/mailbox/mail-store.ts';
import { getMailbox } from '../../shared/mailbox/mailbox-record.ts';
import type { Stores } from '../../shared/store/open-stores.ts';
import type { ListenerContext, RunningListener, StartListener } from '../listener.ts';
import { readProxyHeader } from '../proxy-protocol/proxy-v2.ts';
import { MailboxChangeNotifier } from './change-notifier.ts';
import { MessageDetailsCache } from './details-cache.ts';
import { HeaderCache } from './header-cache.ts';
import {
  AUTHENTICATED_IDLE_TIMEOUT_MS,
  IDLE_COMMAND_TIMEOUT_MS,
  MAX_CONNECTIONS_PER_ACCOUNT,
  MAX_CONNECTIONS_PER_IP,
  TLS_HANDSHAKE_TIMEOUT_MS,
  UNAUTHENTICATED_IDLE_TIMEOUT_MS,
  WRITE_STALL_TIMEOUT_MS,
} from './limits.ts';
import { MailboxSnapshots } from './mailbox-snapshots.ts';
import { untaggedStatus } from './protocol/response-writer.ts';
import { ConnectionCounter } from './rate-limiter.ts';
import type { ImapServerContext, ImapTimeouts } from './server-context.ts';
import { ImapSession } from './session.ts';
import { Transport, waitForHandshake } from './transport.ts';

/** How long close() waits for sessions to take their BYE before dropping them. */
const CLOSE_GRACE_MS = 2_000;

/** One shared context per process (per set of open stores): both listeners use it. */
const contexts = new WeakMap<Stores, { server: ImapServerContext; perIp: ConnectionCounter }>();

function timeoutsFrom({ imap }: ListenerContext['config']): ImapTimeouts {
  return {
    unauthenticatedIdleMs: imap.unauthenticatedIdleTimeoutMs ?? UNAUTHENTICATED_IDLE_TIMEOUT_MS,
    authenticatedIdleMs: imap.authenticatedIdleTimeoutMs ?? AUTHENTICATED_IDLE_TIMEOUT_MS,
    idleCommandMs: imap.idleCommandTimeoutMs ?? IDLE_COMMAND_TIMEOUT_MS,
    writeStallMs: imap.writeStallTimeoutMs ?? WRITE_STALL_TIMEOUT_MS,
    tlsHandshakeMs: imap.tlsHandshakeTimeoutMs ?? TLS_HANDSHAKE_TIMEOUT_MS,
  };
}

function sharedContext(context: ListenerContext): { server: ImapServerContext; perIp: ConnectionCounter } {
  const existing = contexts.get(context.stores);
  if (existing) return existing;
  const mail = openMailStore(context.stores.metadata);
  const logger = context.logger.child({ component: 'imap' });
  const server: ImapServerContext = {
    config: context.config,
    logger,
    mail,
    blobs: context.stores.blobs,
    directory: new Directory(context.stores.metadata, { keyVault: context.keyVault }),
    notifier: new MailboxChangeNotifier(
      async (mailboxId) => {
        try {
          const mailbox = await getMailbox(mail, mailboxId);
          return { highestModseq: mailbox.highestModseq, uidNext: mailbox.uidNext };
        } catch {
          return undefined;
        }
      },
      { onError: (error, mailboxId) => logger.warn('change poll failed', { mailboxId, error }) },
    ),
    secureContext: createSecureContext({ cert: context.tls.cert, key: context.tls.key }),
    accountSessions: new ConnectionCounter(context.config.imap.maxConnectionsPerAccount ?? MAX_CONNECTIONS_PER_ACCOUNT),
    sasl: context.sasl,
    detailsCache: new MessageDetailsCache(),
    headerCache: new HeaderCache(),
    snapshots: new MailboxSnapshots(mail),
    timeouts: timeoutsFrom(context.config),
  };
  const shared = {
    server,
    perIp: new ConnectionCounter(context.config.imap.maxConnectionsPerIp ?? MAX_CONNECTIONS_PER_IP),
  };
  // A rotated certificate applies to the next handshake (IMAPS or STARTTLS); open sessions keep theirs.
  context.tls.onChange((pair) => {
    server.secureContext = createSecureContext({ cert: pair.cert, key: pair.key });
  });
  contexts.set(context.stores, shared);
  return shared;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

async function startImap(context: ListenerContext, implicitTls: boolean): Promise<RunningListener> {
  const { server: imap, perIp } = sharedContext(context);
  const config = implicitTls ? context.config.listeners.imaps : context.config.listeners.imap;
  const name = implicitTls ? 'imaps' : 'imap';
  const logger = imap.logger.child({ listener: name });
  const sessions = new Set<ImapSession>();
  const plaintextAuth = !implicitTls && context.config.imap.plaintextAuth;

  const accept = async (socket: Socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    let remoteAddress = socket.remoteAddress ?? 'unknown';
    if (context.config.proxyProtocol) {
      // Behind the NLB the real client address comes first, before TLS (haproxy's PROXY protocol v2).
      try {
        const header = await readProxyHeader(socket);
        if (header.command === 'proxy') remoteAddress = header.source.address;
      } catch (error) {
        logger.info('connection without a valid PROXY header dropped', { peer: socket.remoteAddress, error });
        socket.destroy();
        return;
      }
    }
    if (!perIp.acquire(remoteAddress)) {
      logger.warn('too many connections from one address', { remote: remoteAddress });
      socket.end(untaggedStatus('BYE', 'Too many connections from your address'));
      return;
    }
    socket.once('close', () => perIp.release(remoteAddress));
    let stream: Socket = socket;
    if (implicitTls) {
      const secure = new TLSSocket(socket, { isServer: true, secureContext: imap.secureContext });
      try {
        await waitForHandshake(secure, imap.timeouts.tlsHandshakeMs);
      } catch {
        socket.destroy();
        return;
      }
      stream = secure;
    }
    const session = new ImapSession(
      imap,
      new Transport(stream, implicitTls, imap.timeouts),
      remoteAddress,
      plaintextAuth,
    );
    sessions.add(session);
    session.onClose(() => sessions.delete(session));
    session.start();
  };

  const server = createServer({ pauseOnConnect: false }, (socket) => {
    accept(socket).catch((error: unknown) => {
      logger.error('connection setup failed', { error });
      socket.destroy();
    });
  });
  const port = await listen(server, config.host, config.port);
  return {
    name,
    host: config.host,
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.race([
        Promise.allSettled([...sessions].map((session) => session.shutdown())),
        new Promise((resolve) => setTimeout(resolve, CLOSE_GRACE_MS).unref()),
      ]);
      for (const session of sessions) session.transport.destroy();
      await closed;
    },
  };
}

/** Port 143 (1143 locally): plaintext with STARTTLS. */
export const startImapListener: StartListener = (context) => startImap(context, false);

/** Port 993 (1993 locally): implicit TLS. */
export const startImapsListener: StartListener = (context) => startImap(context, true);
