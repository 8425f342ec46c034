/**
 * The byte stream under one IMAP session: a TCP socket, later perhaps wrapped in TLS (STARTTLS, RFC 9051
 * §6.2.1) and in DEFLATE (COMPRESS, RFC 4978). It buffers what the session writes, flushes it in large
 * writes, waits for the socket to drain (so a client that does not read cannot make us hold a mailbox's
 * worth of FETCH output), and hands received bytes to one consumer.
 *
 * SECURITY: bytes received are untrusted and passed on unchanged; the command reader bounds them. Bytes a
 * client sent before a TLS or compression layer started are returned by the caller's reader
 * (`takeUnread`), never read as if they had arrived through the new layer.
 */
import type { Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import {
  createDeflateRaw,
  createInflateRaw,
  type DeflateRaw,
  type InflateRaw,
  constants as zlibConstants,
} from 'node:zlib';
import { OUTPUT_FLUSH_BYTES } from './limits.ts';
import type { ImapTimeouts } from './server-context.ts';

/** DEFLATE with a smaller history and memory level than zlib's defaults: a few tens of KB per connection. */
const DEFLATE_OPTIONS = { windowBits: 13, memLevel: 6, level: 6 };
/** The client chooses its window; inflating must accept the largest (RFC 1951: 32 KB). */
const INFLATE_OPTIONS = { windowBits: 15 };

export class TransportClosedError extends Error {
  override name = 'TransportClosedError';
}

export interface TransportEvents {
  /** Bytes from the client, after TLS and decompression. */
  onData(chunk: Buffer): void;
  /** The connection is gone (closed by either side, or failed). Called once. */
  onClose(error?: Error): void;
  /** No bytes in either direction for the current timeout. */
  onTimeout(): void;
}

export class Transport {
  private socket: Socket;
  private deflate: DeflateRaw | undefined;
  private inflate: InflateRaw | undefined;
  /** Bytes went into the deflater since its last flush. */
  private deflateUnflushed = false;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The inactivity timeout, carried over to the TLS socket after STARTTLS. */
  private timeoutMs = 0;
  private closed = false;
  private drainWaiters: Array<(error?: Error) => void> = [];
  private events: TransportEvents | undefined;
  private readonly handleData = (chunk: Buffer) => {
    if (this.inflate) this.inflate.write(chunk);
    else this.events?.onData(chunk);
  };
  private readonly handleDrain = () => this.releaseDrainWaiters();
  private readonly handleClose = () => this.finish();
  private readonly handleError = (error: Error) => this.finish(error);
  private readonly handleTimeout = () => this.events?.onTimeout();

  constructor(
    socket: Socket,
    /** The connection is TLS-protected (implicit TLS, or after STARTTLS). */
    public secure: boolean,
    private readonly timeouts: Pick<ImapTimeouts, 'writeStallMs' | 'tlsHandshakeMs'>,
  ) {
    this.socket = socket;
  }

  /** Starts delivering data and events. */
  start(events: TransportEvents): void {
    this.events = events;
    this.attach(this.socket);
  }

  get compressed(): boolean {
    return this.deflate !== undefined;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The TLS socket, for channel binding and protocol details; undefined before TLS. */
  get tlsSocket(): TLSSocket | undefined {
    return this.socket instanceof TLSSocket ? this.socket : undefined;
  }

  /** Sets the inactivity timeout (both directions); 0 turns it off. */
  setTimeout(ms: number): void {
    this.timeoutMs = ms;
    this.socket.setTimeout(ms);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    if (!this.closed) this.socket.resume();
  }

  /** Queues bytes; they go out at the next flush, or earlier once enough have queued. */
  write(data: Buffer | string): void {
    if (this.closed) return;
    const chunk = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= OUTPUT_FLUSH_BYTES) this.sendPending();
  }

  /**
   * Sends what is queued and resolves once the socket has taken it (its buffer drained below the
   * high-water mark). Rejects with TransportClosedError if the connection is gone.
   */
  async flush(): Promise<void> {
    this.sendPending();
    if (this.closed) throw new TransportClosedError('connection closed');
    // Flushing a deflater with nothing in it still emits an empty block: after COMPRESS's OK, those
    // bytes would reach the client before it has switched to inflating (RFC 4978 §4).
    if (this.deflate && this.deflateUnflushed) {
      this.deflateUnflushed = false;
      this.deflate.flush(zlibConstants.Z_SYNC_FLUSH);
    }
    if (!this.socket.writableNeedDrain && !this.deflate?.writableNeedDrain) return;
    // A client that stops reading cannot hold a command (and its output) forever.
    const stalled = setTimeout(() => this.destroy(), this.timeouts.writeStallMs);
    try {
      await new Promise<void>((resolve, reject) => {
        this.drainWaiters.push((error) => (error ? reject(error) : resolve()));
      });
    } finally {
      clearTimeout(stalled);
    }
  }

  /**
   * Wraps the connection in TLS (after the tagged OK to STARTTLS has been flushed) and resolves once the
   * handshake is done. The caller has already taken the reader's unread bytes.
   */
  async startTls(context: SecureContext): Promise<void> {
    await this.flush();
    const plain = this.socket;
    this.detach(plain);
    plain.setTimeout(0);
    const secure = new TLSSocket(plain, { isServer: true, secureContext: context });
    this.socket = secure;
    await waitForHandshake(secure, this.timeouts.tlsHandshakeMs);
    this.secure = true;
    this.attach(secure);
    secure.setTimeout(this.timeoutMs);
  }

  /** Starts DEFLATE in both directions (after the tagged OK to COMPRESS has been flushed). */
  async startCompression(alreadyReceived: Buffer): Promise<void> {
    // Switch at once, with no await in between: anything sent from here on (an untagged update from
    // another session, say) must already be compressed (RFC 4978 §3). The socket keeps write order, so
    // the OK queued before it still goes out first, uncompressed.
    this.sendPending();
    if (this.closed) throw new TransportClosedError('connection closed');
    const deflate = createDeflateRaw(DEFLATE_OPTIONS);
    const inflate = createInflateRaw(INFLATE_OPTIONS);
    deflate.on('data', (chunk: Buffer) => {
      if (!this.socket.write(chunk)) deflate.pause();
    });
    deflate.on('drain', this.handleDrain);
    deflate.on('error', (error) => this.finish(error));
    inflate.on('data', (chunk: Buffer) => this.events?.onData(chunk));
    // A corrupt stream from the client cannot be recovered: close.
    inflate.on('error', (error) => this.finish(error));
    this.deflate = deflate;
    this.inflate = inflate;
    if (alreadyReceived.length > 0) inflate.write(alreadyReceived);
  }

  /** Sends what is queued, then closes; the socket is destroyed if it does not close in time. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } catch {
      // Already gone.
    }
    if (this.deflate) {
      const deflate = this.deflate;
      await new Promise<void>((resolve) => deflate.end(resolve));
    }
    this.socket.end();
    const socket = this.socket;
    setTimeout(() => socket.destroy(), 2_000).unref();
  }

  /** Drops the connection at once. */
  destroy(): void {
    this.socket.destroy();
    this.finish();
  }

  private sendPending(): void {
    if (this.pending.length === 0 || this.closed) return;
    const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    if (this.deflate) {
      this.deflate.write(data);
      this.deflateUnflushed = true;
    } else this.socket.write(data);
  }

  private attach(socket: Socket): void {
    socket.on('data', this.handleData);
    socket.on('drain', this.handleDrain);
    socket.on('close', this.handleClose);
    socket.on('error', this.handleError);
    socket.on('timeout', this.handleTimeout);
  }

  private detach(socket: Socket): void {
    socket.off('data', this.handleData);
    socket.off('drain', this.handleDrain);
    socket.off('close', this.handleClose);
    socket.off('error', this.handleError);
    socket.off('timeout', this.handleTimeout);
  }

  private releaseDrainWaiters(error?: Error): void {
    this.deflate?.resume();
    if (!error && (this.socket.writableNeedDrain || this.deflate?.writableNeedDrain)) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const waiter of waiters) waiter(error);
  }

  private finish(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = [];
    this.pendingBytes = 0;
    this.releaseDrainWaiters(new TransportClosedError('connection closed'));
    this.deflate?.destroy();
    this.inflate?.destroy();
    this.socket.destroy();
    this.events?.onClose(error);
  }
}

/** Resolves when a server-side TLS socket finished its handshake; rejects on error, close or timeout. */
export function waitForHandshake(socket: TLSSocket, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      socket.off('secure', onSecure);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (error) {
        socket.destroy();
        reject(error);
      } else resolve();
    };
    const onSecure = () => done();
    const onError = (error: Error) => done(error);
    const onClose = () => done(new TransportClosedError('closed during the TLS handshake'));
    const timer = setTimeout(() => done(new TransportClosedError('TLS handshake timed out')), timeoutMs);
    socket.once('secure', onSecure);
    socket.once('error', onError);
    socket.once('close', onClose);
  });
}
