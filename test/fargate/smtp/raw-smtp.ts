/**
 * A raw SMTP client for tests that need exact bytes on the wire (smuggling, limits, PROXY headers):
 * it sends what it is told and reads replies whole (multi-line replies included).
 */
import { connect, type Socket } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';

export interface Reply {
  code: number;
  lines: string[];
  text: string;
}

export class RawSmtp {
  private buffer = '';
  private waiting: Array<(reply: Reply | undefined) => void> = [];
  private replies: Reply[] = [];
  private ended = false;

  private constructor(private socket: Socket | TLSSocket) {
    this.attach(socket);
  }

  /** `localAddress`: another loopback address (127.0.0.x) to connect from, to be another client. */
  static async open(
    port: number,
    options: { tls?: boolean; before?: Buffer; localAddress?: string } = {},
  ): Promise<RawSmtp> {
    const tcp = connect({ host: '127.0.0.1', port, localAddress: options.localAddress });
    const socket = options.tls ? tlsConnect({ socket: tcp, rejectUnauthorized: false }) : tcp;
    await new Promise<void>((resolve, reject) => {
      socket.once(options.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    if (options.before) socket.write(options.before);
    return new RawSmtp(socket);
  }

  private attach(socket: Socket | TLSSocket): void {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.parse();
    });
    socket.on('close', () => {
      this.ended = true;
      for (const resolve of this.waiting.splice(0)) resolve(undefined);
    });
    socket.on('error', () => {});
  }

  private parse(): void {
    const lines: string[] = [];
    for (;;) {
      const end = this.buffer.indexOf('\r\n');
      if (end < 0) return;
      const line = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      lines.push(line);
      if (line[3] !== '-') {
        const reply = { code: Number(line.slice(0, 3)), lines: lines.splice(0), text: line.slice(4) };
        const waiter = this.waiting.shift();
        if (waiter) waiter(reply);
        else this.replies.push(reply);
      }
    }
  }

  /** The next reply, or undefined when the server closed the connection first. */
  read(): Promise<Reply | undefined> {
    const reply = this.replies.shift();
    if (reply) return Promise.resolve(reply);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends one command line and reads its reply. */
  async command(line: string): Promise<Reply | undefined> {
    this.write(`${line}\r\n`);
    return this.read();
  }

  /** STARTTLS, then the rest of the session over TLS. */
  async startTls(): Promise<Reply | undefined> {
    const reply = await this.command('STARTTLS');
    if (reply?.code !== 220) return reply;
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    const secure = tlsConnect({ socket: this.socket as Socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
    return reply;
  }

  /** The TLS socket once TLS is on (implicit or after STARTTLS): channel-binding data comes from it. */
  get tlsSocket(): TLSSocket {
    return this.socket as TLSSocket;
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Resolves once the server has closed the connection. */
  waitForClose(): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Greeting, EHLO, MAIL, each RCPT: the replies, for the common start of a transaction. */
export async function openTransaction(
  port: number,
  from: string,
  to: string[],
): Promise<{ client: RawSmtp; replies: Array<Reply | undefined> }> {
  const client = await RawSmtp.open(port);
  const replies = [
    await client.read(),
    await client.command('EHLO client.test'),
    await client.command(`MAIL FROM:<${from}>`),
  ];
  for (const recipient of to) replies.push(await client.command(`RCPT TO:<${recipient}>`));
  return { client, replies };
}
