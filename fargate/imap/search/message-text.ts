/**
 * Decoded text of a stored message for SEARCH HEADER, TEXT and BODY: the header section with encoded
 * words decoded, and the text parts' bodies decoded from their transfer encoding and charset. Reads only
 * the byte ranges it needs from the blob store (the index keeps every part's offsets), and never more
 * than the limits below per message, whatever the message claims.
 *
 * SECURITY: message bytes are untrusted; decoders here never throw on malformed input (bad base64,
 * quoted-printable or charsets degrade to replacement characters), and sizes come from our own index.
 */
import iconv from 'iconv-lite';
import libmime from 'libmime';
import type { BodyPart } from '../../../shared/mime/structure-types.ts';
import { decodeTransferEncoding } from '../../../shared/mime/transfer-encoding.ts';
import type { BlobStore } from '../../../shared/store/blob.ts';
import { MAX_SEARCH_HEADER_BYTES, MAX_SEARCH_TEXT_BYTES_PER_MESSAGE } from '../limits.ts';

export interface HeaderField {
  /** Field name as written. */
  name: string;
  /** Unfolded value with encoded words decoded. */
  value: string;
}

/** Splits a header section into fields: unfolds continuation lines, decodes RFC 2047 encoded words. */
export function parseHeaderFields(header: Buffer): HeaderField[] {
  const text = header.toString('latin1');
  const fields: HeaderField[] = [];
  let current: { name: string; raw: string } | undefined;
  const finish = () => {
    if (!current) return;
    fields.push({ name: current.name, value: decodeHeaderValue(current.raw) });
    current = undefined;
  };
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break;
    if ((line.startsWith(' ') || line.startsWith('\t')) && current) {
      current.raw += ` ${line.trim()}`;
      continue;
    }
    finish();
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    current = { name: line.slice(0, colon).trim(), raw: line.slice(colon + 1).trim() };
  }
  finish();
  return fields;
}

/** A raw (latin1-read) header value: 8-bit bytes taken as UTF-8 (RFC 6532), encoded words decoded. */
function decodeHeaderValue(raw: string): string {
  const bytes = Buffer.from(raw, 'latin1');
  const utf8 = bytes.some((byte) => byte > 0x7f) ? bytes.toString('utf8') : raw;
  try {
    return libmime.decodeWords(utf8);
  } catch {
    return utf8;
  }
}

/** Reads the header section of a message (bounded). */
export async function readHeaderSection(blobs: BlobStore, blobKey: string, body: BodyPart): Promise<Buffer> {
  const length = Math.min(body.bodyOffset - body.headerOffset, MAX_SEARCH_HEADER_BYTES);
  if (length <= 0) return Buffer.alloc(0);
  return blobs.read(blobKey, { offset: body.headerOffset, length });
}

/** The text parts worth searching, in order: text/* leaves, also inside attached messages. */
function textParts(root: BodyPart): BodyPart[] {
  const found: BodyPart[] = [];
  const stack: BodyPart[] = [root];
  while (stack.length > 0) {
    const part = stack.pop()!;
    if (part.parts) {
      for (let i = part.parts.length - 1; i >= 0; i--) stack.push(part.parts[i]!);
    } else if (part.message) {
      stack.push(part.message.body);
    } else if (part.type.toLowerCase() === 'text') {
      found.push(part);
    }
  }
  return found;
}

/** The decoded text of the message's text parts, at most MAX_SEARCH_TEXT_BYTES_PER_MESSAGE read. */
export async function readBodyText(blobs: BlobStore, blobKey: string, body: BodyPart): Promise<string> {
  let budget = MAX_SEARCH_TEXT_BYTES_PER_MESSAGE;
  const texts: string[] = [];
  for (const part of textParts(body)) {
    if (budget <= 0) break;
    const length = Math.min(part.bodyEnd - part.bodyOffset, budget);
    if (length <= 0) continue;
    budget -= length;
    const raw = await blobs.read(blobKey, { offset: part.bodyOffset, length });
    const text = decodeText(decodeTransferEncoding(raw, part.encoding) ?? raw, charsetOf(part));
    texts.push(part.subtype.toLowerCase() === 'html' ? htmlToText(text) : text);
  }
  return texts.join('\n');
}

function charsetOf(part: BodyPart): string {
  const charset = part.params?.find(([name]) => name.toLowerCase() === 'charset')?.[1];
  return charset ?? 'us-ascii';
}

function decodeText(bytes: Buffer, charset: string): string {
  const name = charset.toLowerCase();
  if (name === 'us-ascii' || name === 'utf-8' || name === 'utf8' || !iconv.encodingExists(name)) {
    return bytes.toString('utf8');
  }
  return iconv.decode(bytes, name);
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** Enough HTML-to-text for matching: no tags, scripts or styles; common entities decoded. */
function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (entity, name: string) => {
      if (name.startsWith('#x') || name.startsWith('#X')) return safeCodePoint(Number.parseInt(name.slice(2), 16));
      if (name.startsWith('#')) return safeCodePoint(Number.parseInt(name.slice(1), 10));
      return ENTITIES[name.toLowerCase()] ?? entity;
    });
}

function safeCodePoint(code: number): string {
  return Number.isInteger(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : ' ';
}
