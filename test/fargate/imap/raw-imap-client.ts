/**
 * A minimal IMAP client over a raw socket for tests that must see the exact protocol: it sends what it
 * is told, and reads responses as lines, folding literals `{n}` into the line they belong to.
 */
import { connect, type Socket } from 'node:net';
import { connect as connectTls, type TLSSocket } from 'node:tls';

export interface TaggedResult {
  /** `OK`, `NO` or `BAD`. */
  status: string;
  /** The whole tagged line. */
  line: string;
  /** Untagged and continuation lines received before it, literals folded in. */
  untagged: string[];
}

export class RawImapClient {
  private buffer = Buffer.alloc(0);
  private lines: string[] = [];
  private waiters: Array<() => void> = [];
  private closed = false;
  private nextTag = 1;

  private constructor(private socket: Socket | TLSSocket) {
    this.attach(socket);
  }

  /** `localAddress`: another loopback address (127.0.0.x) to connect from, to be another client. */
  static async connect(
    port: number,
    options: { tls?: boolean; ca?: string; localAddress?: string } = {},
  ): Promise<RawImapClient> {
    const tcp = connect({ host: '127.0.0.1', port, localAddress: options.localAddress });
    const socket = options.tls ? connectTls({ socket: tcp, ca: options.ca, servername: 'localhost' }) : tcp;
    await new Promise<void>((resolve, reject) => {
      socket.once(options.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return new RawImapClient(socket);
  }

  /** A plaintext connection past the greeting, logged in with LOGIN. */
  static async loggedIn(port: number, credentials: { user: string; pass: string }): Promise<RawImapClient> {
    const client = await RawImapClient.connect(port);
    await client.readLine();
    await client.login(credentials.user, credentials.pass);
    return client;
  }

  /** The TLS socket once TLS is on (implicit or after STARTTLS): channel-binding data comes from it. */
  get tlsSocket(): TLSSocket {
    return this.socket as TLSSocket;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private attach(socket: Socket | TLSSocket): void {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.split();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  /** Upgrades to TLS after a STARTTLS OK. */
  async startTls(ca: string): Promise<void> {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    const secure = connectTls({ socket: this.socket as Socket, ca, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
  }

  /** Takes whole responses off the buffer: a line, and when it ends in `{n}`, the literal and what follows. */
  private split(): void {
    for (;;) {
      let position = 0;
      let end = -1;
      while (end === -1) {
        const lf = this.buffer.indexOf(0x0a, position);
        if (lf === -1) return;
        const literal = /\{(\d+)\}\r?\n$/.exec(this.buffer.subarray(position, lf + 1).toString('latin1'));
        if (!literal) {
          end = lf + 1;
          break;
        }
        position = lf + 1 + Number(literal[1]);
        if (this.buffer.length < position) return;
      }
      this.lines.push(
        this.buffer
          .subarray(0, end)
          .toString('utf8')
          .replace(/\r?\n$/, ''),
      );
      this.buffer = this.buffer.subarray(end);
      this.wake();
    }
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** The next line, waiting up to `timeoutMs`; undefined when the connection closed or time ran out. */
  async readLine(timeoutMs = 5_000): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.closed) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.lines.shift();
  }

  /** Every line until the server closes the connection; throws if it is still open after `ms`. */
  async linesUntilClosed(ms: number): Promise<string[]> {
    const seen: string[] = [];
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const line = await this.readLine(deadline - Date.now());
      if (line === undefined) break;
      seen.push(line);
    }
    if (!this.closed) throw new Error(`connection still open after ${JSON.stringify(seen)}`);
    return seen;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends `tag command` and collects everything up to the tagged response. */
  async command(text: string, timeoutMs = 10_000): Promise<TaggedResult> {
    const tag = `t${this.nextTag++}`;
    this.write(`${tag} ${text}\r\n`);
    return this.untilTagged(tag, timeoutMs);
  }

  async untilTagged(tag: string, timeoutMs = 10_000): Promise<TaggedResult> {
    const untagged: string[] = [];
    for (;;) {
      const line = await this.readLine(timeoutMs);
      if (line === undefined) throw new Error(`no tagged response for ${tag}; got ${JSON.stringify(untagged)}`);
      if (line.startsWith(`${tag} `)) return { status: line.split(' ')[1]!, line, untagged };
      untagged.push(line);
    }
  }

  /** Logs in with LOGIN and checks the answer. */
  async login(user: string, pass: string): Promise<void> {
    const result = await this.command(`LOGIN "${user}" "${pass}"`);
    if (result.status !== 'OK') throw new Error(`login failed: ${result.line}`);
  }

  close(): void {
    this.socket.destroy();
  }
}
