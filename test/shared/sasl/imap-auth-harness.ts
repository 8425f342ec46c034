/**
 * A throwaway IMAP server that speaks just enough (CAPABILITY, AUTHENTICATE with SASL-IR, NOOP, LIST,
 * LOGOUT) for real clients (Cyrus imtest, curl, Python imaplib) to authenticate against the SASL
 * mechanisms before the real IMAP listener exists. It records each exchange's outcome so tests can
 * assert what the server decided, not only what the client printed.
 */
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { channelBindingsOf } from '../../../shared/sasl/channel-binding.ts';
import { parseClientResponse } from '../../../shared/sasl/client-response.ts';
import type { SaslContext, SaslOutcome } from '../../../shared/sasl/mechanism.ts';
import { createMechanism } from '../../../shared/sasl/sasl.ts';

export interface HarnessOptions {
  /** Mechanisms listed in CAPABILITY. */
  mechanisms: readonly string[];
  /** The SASL context for a connection (tls and channel bindings are filled in by the harness). */
  context: (connection: { tls: boolean }) => SaslContext;
  /** Implicit TLS (IMAPS) with this certificate, up to this TLS version. */
  tls?: { key: string; cert: string; maxVersion?: 'TLSv1.2' | 'TLSv1.3' };
}

export interface Harness {
  port: number;
  outcomes: SaslOutcome[];
  close(): Promise<void>;
}

export async function startImapHarness(options: HarnessOptions): Promise<Harness> {
  const outcomes: SaslOutcome[] = [];
  const sockets = new Set<Socket>();
  const onConnection = (socket: Socket, tls: boolean) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    void serve(socket, tls, options, outcomes);
  };
  const server: Server = options.tls
    ? createTlsServer(
        { key: options.tls.key, cert: options.tls.cert, maxVersion: options.tls.maxVersion ?? 'TLSv1.3' },
        (socket) => onConnection(socket, true),
      )
    : createServer((socket) => onConnection(socket, false));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    outcomes,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

async function serve(socket: Socket, tls: boolean, options: HarnessOptions, outcomes: SaslOutcome[]) {
  const capability = ['IMAP4rev1', 'SASL-IR', ...options.mechanisms.map((name) => `AUTH=${name}`)].join(' ');
  const write = (line: string) => socket.write(`${line}\r\n`);
  write(`* OK [CAPABILITY ${capability}] harness ready`);
  const lines = createInterface({ input: socket, crlfDelay: Number.POSITIVE_INFINITY })[Symbol.asyncIterator]();
  const nextLine = async () => {
    const next = await lines.next();
    return next.done ? undefined : next.value;
  };
  for (;;) {
    const line = await nextLine();
    if (line === undefined) return;
    const [tag = '*', command = '', ...args] = line.split(' ');
    switch (command.toUpperCase()) {
      case 'CAPABILITY':
        write(`* CAPABILITY ${capability}`);
        write(`${tag} OK CAPABILITY completed`);
        break;
      case 'AUTHENTICATE': {
        const baseContext = options.context({ tls });
        const ctx: SaslContext = {
          ...baseContext,
          tls,
          ...(tls ? { channelBindings: channelBindingsOf(socket as TLSSocket) } : {}),
        };
        const result = await authenticate(ctx, args[0] ?? '', args[1], write, nextLine);
        outcomes.push(result);
        if ('success' in result) write(`${tag} OK [CAPABILITY IMAP4rev1] authenticated as ${result.success.authzid}`);
        else if (result.failure.kind === 'malformed' || result.failure.kind === 'aborted')
          write(`${tag} BAD ${result.failure.kind}`);
        else write(`${tag} NO [AUTHENTICATIONFAILED] ${result.failure.kind}`);
        break;
      }
      case 'LOGOUT':
        write('* BYE logging out');
        write(`${tag} OK LOGOUT completed`);
        socket.end();
        return;
      default:
        write(`${tag} OK ${command} completed`);
    }
  }
}

async function authenticate(
  ctx: SaslContext,
  name: string,
  initial: string | undefined,
  write: (line: string) => void,
  nextLine: () => Promise<string | undefined>,
): Promise<SaslOutcome> {
  const mechanism = createMechanism(name, ctx);
  if (!mechanism) return { failure: { kind: 'malformed', detail: `no mechanism ${name}` } };
  let response: Buffer | undefined;
  if (initial !== undefined) {
    const parsed = parseClientResponse(initial, { initial: true });
    if ('failure' in parsed) return parsed;
    response = parsed.response;
  }
  for (;;) {
    const result = await mechanism.step(response);
    if ('failure' in result) return result;
    // IMAP has no data-with-success: send it as a challenge, expect an empty response (RFC 4422 §5).
    if ('success' in result && result.serverFinal === undefined) return result;
    const challenge = 'challenge' in result ? result.challenge : result.serverFinal!;
    write(`+ ${challenge.toString('base64')}`);
    const line = await nextLine();
    if (line === undefined) return { failure: { kind: 'aborted', detail: 'connection closed' } };
    const parsed = parseClientResponse(line, { initial: false });
    if ('failure' in parsed) return parsed;
    if ('success' in result) {
      return parsed.response.length === 0 ? result : { failure: { kind: 'malformed', detail: 'expected empty' } };
    }
    response = parsed.response;
  }
}
