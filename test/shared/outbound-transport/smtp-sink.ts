/**
 * An SMTP server the test controls (smtp-server on 127.0.0.1, port 0): it records every accepted message
 * (envelope and bytes as received) and answers MAIL, RCPT and DATA as the test's script says: accept, a
 * 4xx or 5xx reply, or no answer at all (to hold a client mid-DATA while a test kills it).
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

export type SinkReply = 'accept' | { code: number; message: string } | 'hang';

export interface ReceivedMessage {
  mailFrom: string;
  recipients: string[];
  data: Buffer;
  secure: boolean;
  user?: string;
}

export interface SinkScript {
  mailFrom?: (address: string) => SinkReply;
  rcptTo?: (address: string) => SinkReply;
  /** Called once the whole message arrived; its answer is the reply to DATA. */
  data?: (message: ReceivedMessage) => SinkReply;
}

export interface SmtpSink {
  port: number;
  received: ReceivedMessage[];
  /** Every transaction that reached the end of DATA, accepted or not. */
  dataAttempts: ReceivedMessage[];
  script: SinkScript;
  /** Resolves when `count` messages have been accepted. */
  waitForMessages(count: number, timeoutMs?: number): Promise<ReceivedMessage[]>;
  close(): Promise<void>;
}

export interface SinkOptions {
  /** PEM key and certificate: STARTTLS is offered with them. Without, STARTTLS is not offered. */
  tls?: { key: string; cert: string };
  /** Require AUTH PLAIN/LOGIN with this user and password. */
  auth?: { user: string; pass: string };
}

function replyError(reply: Exclude<SinkReply, 'accept' | 'hang'>): Error {
  return Object.assign(new Error(reply.message), { responseCode: reply.code });
}

export async function startSmtpSink(options: SinkOptions = {}): Promise<SmtpSink> {
  const received: ReceivedMessage[] = [];
  const waiters: (() => void)[] = [];
  const sink: SmtpSink = {
    port: 0,
    received,
    dataAttempts: [],
    script: {},
    waitForMessages(count, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (received.length < count) return false;
          clearTimeout(timer);
          resolve(received.slice());
          return true;
        };
        const timer = setTimeout(
          () => reject(new Error(`the sink got ${received.length} of ${count} messages`)),
          timeoutMs,
        );
        const waiter = () => {
          if (!check()) waiters.push(waiter);
        };
        waiter();
      });
    },
    close: async () => {},
  };
  const answer = (reply: SinkReply | undefined, callback: (error?: Error | null) => void) => {
    if (reply === undefined || reply === 'accept') return callback();
    if (reply === 'hang') return;
    callback(replyError(reply));
  };
  const serverOptions: SMTPServerOptions = {
    logger: false,
    banner: 'sink',
    size: 50 * 1024 * 1024,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: !options.auth,
    allowInsecureAuth: true,
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : {}),
    disabledCommands: [...(options.tls ? [] : ['STARTTLS']), ...(options.auth ? [] : ['AUTH'])],
    closeTimeout: 100,
    onAuth(auth, _session, callback) {
      if (options.auth && auth.username === options.auth.user && auth.password === options.auth.pass) {
        return callback(null, { user: auth.username });
      }
      callback(Object.assign(new Error('5.7.8 authentication failed'), { responseCode: 535 }));
    },
    onMailFrom(address, _session, callback) {
      answer(sink.script.mailFrom?.(address.address), callback);
    },
    onRcptTo(address, _session, callback) {
      answer(sink.script.rcptTo?.(address.address), callback);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const message: ReceivedMessage = {
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          recipients: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          data: Buffer.concat(chunks),
          secure: session.secure,
          ...(typeof session.user === 'string' ? { user: session.user } : {}),
        };
        sink.dataAttempts.push(message);
        const reply = sink.script.data?.(message);
        if (reply === undefined || reply === 'accept') {
          received.push(message);
          for (const waiter of waiters.splice(0)) waiter();
        }
        answer(reply, callback);
      });
    },
  };
  const server = new SMTPServer(serverOptions);
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  sink.port = (server.server.address() as AddressInfo).port;
  sink.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
    });
  return sink;
}
