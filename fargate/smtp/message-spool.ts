/**
 * DATA into the blob spool: the message goes from the SMTP session into one blob, behind the trace
 * headers we prepend. A small message is held in memory and stored at once; a larger one streams into the
 * store from the moment it outgrows MEMORY_SPOOL_BYTES, so memory use does not depend on message size. While it streams, the spool
 * counts bytes against the size limit, hashes the content (the transaction key, shared/delivery), and
 * checks line endings.
 *
 * SMTP smuggling (CVE-2023-51764/51765/51766 and the SEC Consult write-up): a sender hides a second
 * message behind an end-of-data sequence that one server honours and another does not (`<LF>.<LF>`,
 * `<CR>.<CR>`, `<LF>.<CR><LF>`, ...). smtp-server itself ends DATA only at `<CR><LF>.<CR><LF>`, so such
 * bytes can never split a message here; but stored as content, they would be passed on to the next hop
 * when we forward or relay. So, as Postfix does since 3.9 (`smtpd_forbid_bare_newline`), a message with
 * a bare LF or a bare CR anywhere (RFC 5321 §2.3.8: they only occur together, as CRLF) is refused whole.
 *
 * Trusts nothing in the stream. On any failure the blob is never completed (the store removes the
 * partial write) and the rest of the stream is read and discarded, so the session can answer.
 */
import { createHash } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import type { BlobStore } from '../../shared/store/blob.ts';

const CR = 0x0d;
const LF = 0x0a;
/** A message up to this size (prefix included) is held in memory and stored with one write. */
const MEMORY_SPOOL_BYTES = 256 * 1024;

export type SpoolRefusal = 'too-large' | 'bare-line-ending' | 'timed-out' | 'client-gone';

export interface SpooledMessage {
  blobKey: string;
  /** The whole blob: prefix and content. */
  size: number;
  /** Bytes of content as the client sent it (after dot-unstuffing). */
  contentBytes: number;
  /** SHA-256 of the content, hex. */
  contentSha256: string;
}

export type SpoolOutcome = { ok: true; message: SpooledMessage } | { ok: false; refusal: SpoolRefusal };

export interface SpoolOptions {
  blobs: BlobStore;
  blobKey: string;
  /** Written before the content (our trace headers). */
  prefix: Buffer;
  maxContentBytes: number;
  /** Aborts when the transfer must stop (the DATA deadline). */
  deadline?: AbortSignal;
  /** Sees every byte stored, in order (prefix included): the MIME structure is computed on the way. */
  onStored?: (chunk: Buffer) => void;
}

class SpoolRefused extends Error {
  constructor(readonly refusal: SpoolRefusal) {
    super(refusal);
  }
}

export async function spoolMessage(data: Readable, options: SpoolOptions): Promise<SpoolOutcome> {
  // Held in memory until it outgrows MEMORY_SPOOL_BYTES, then streamed into the store through `sink`.
  let held: Buffer[] | undefined = [options.prefix];
  let heldBytes = options.prefix.length;
  let sink: PassThrough | undefined;
  let stored: Promise<{ size: number }> | undefined;
  options.onStored?.(options.prefix);

  const store = (body: Buffer | PassThrough) => {
    stored = options.blobs.put(options.blobKey, body);
    // Observed below; this keeps an early rejection from counting as unhandled meanwhile.
    stored.catch(() => {});
  };
  const startStreaming = (chunks: Buffer[]) => {
    const stream = new PassThrough();
    // A refusal destroys the sink, possibly before the store has attached to it; the store still sees it.
    stream.on('error', () => {});
    store(stream);
    for (const chunk of chunks) stream.write(chunk);
    return stream;
  };

  const hash = createHash('sha256');
  let contentBytes = 0;
  let lastByte = -1;
  let refusal: SpoolRefusal | undefined;

  const refuse = (reason: SpoolRefusal) => {
    if (refusal) return;
    refusal = reason;
    held = undefined;
    sink?.destroy(new SpoolRefused(reason));
    // Keep reading (and dropping) what the client still sends, so the session can reply afterwards.
    data.resume();
  };

  const onAbort = () => refuse('timed-out');
  if (options.deadline?.aborted) onAbort();
  options.deadline?.addEventListener('abort', onAbort, { once: true });

  const finished = new Promise<void>((resolve) => {
    data.on('data', (chunk: Buffer) => {
      if (refusal) return;
      contentBytes += chunk.length;
      if (contentBytes > options.maxContentBytes) return refuse('too-large');
      if (hasBareLineEnding(chunk, lastByte)) return refuse('bare-line-ending');
      lastByte = chunk[chunk.length - 1]!;
      hash.update(chunk);
      options.onStored?.(chunk);
      if (held) {
        held.push(chunk);
        heldBytes += chunk.length;
        if (heldBytes <= MEMORY_SPOOL_BYTES) return;
        sink = startStreaming(held);
        held = undefined;
      } else if (sink && !sink.write(chunk)) {
        data.pause();
        sink.once('drain', () => data.resume());
      }
    });
    data.once('end', () => {
      // A CR as the very last byte has no LF after it.
      if (!refusal && lastByte === CR) refuse('bare-line-ending');
      if (!refusal) {
        if (held) store(Buffer.concat(held, heldBytes));
        else sink?.end();
      }
      resolve();
    });
    data.once('close', () => {
      if (!data.readableEnded) refuse('client-gone');
      resolve();
    });
    data.once('error', () => refuse('client-gone'));
  });

  await finished;
  options.deadline?.removeEventListener('abort', onAbort);
  if (!stored) return { ok: false, refusal: refusal ?? 'client-gone' };
  let size: number;
  try {
    ({ size } = await stored);
  } catch (error) {
    if (refusal) return { ok: false, refusal };
    throw error;
  }
  if (refusal) {
    // Refused after the last byte was already written: the blob is complete but nobody may use it.
    await options.blobs.delete(options.blobKey);
    return { ok: false, refusal };
  }
  return { ok: true, message: { blobKey: options.blobKey, size, contentBytes, contentSha256: hash.digest('hex') } };
}

/**
 * Whether the chunk has an LF without a CR before it, or a CR without an LF after it; `previous` is the
 * last byte of the chunk before (or -1). A CR at the very end is judged with the next chunk.
 */
export function hasBareLineEnding(chunk: Buffer, previous: number): boolean {
  if (previous === CR && chunk[0] !== LF) return true;
  for (let at = chunk.indexOf(LF); at !== -1; at = chunk.indexOf(LF, at + 1)) {
    const before = at === 0 ? previous : chunk[at - 1];
    if (before !== CR) return true;
  }
  for (let at = chunk.indexOf(CR); at !== -1 && at < chunk.length - 1; at = chunk.indexOf(CR, at + 1)) {
    if (chunk[at + 1] !== LF) return true;
  }
  return false;
}
