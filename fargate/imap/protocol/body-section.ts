/**
 * Maps a FETCH section (BODY[1.2.MIME], BODY[2.HEADER], BINARY[3] ...) onto the byte range of the stored
 * message that holds it, using the structure computed at delivery (shared/mime), so the session serves it
 * with one ranged blob read. Also filters a header for HEADER.FIELDS[.NOT]. Pure functions, no I/O.
 *
 * Part numbering (RFC 9051 §6.4.5): the parts of a multipart are numbered from 1; a message that is not
 * multipart has one part, 1, its body; the number after a message/rfc822 part indexes the encapsulated
 * message's body the same way. HEADER, TEXT and HEADER.FIELDS[.NOT] apply to the whole message or to a
 * message/rfc822 part; MIME applies to any numbered part.
 */
import type { BodyPart, MessageStructure } from '../../../shared/mime/structure-types.ts';
import type { BodySection } from './command-types.ts';

export interface ByteRange {
  start: number;
  end: number;
}

/** The part a section number path names, or undefined when the message has no such part. */
export function findBodyPart(structure: MessageStructure, path: readonly number[]): BodyPart | undefined {
  let part: BodyPart | undefined;
  for (const number of path) {
    // What the number indexes: the message's body first, then a multipart, or an encapsulated message's body.
    const body = part === undefined ? structure.body : part.parts ? part : part.message?.body;
    if (!body) return undefined;
    part = body.parts ? body.parts[number - 1] : number === 1 ? body : undefined;
    if (!part) return undefined;
  }
  return part;
}

/**
 * The byte range of a BODY[section] (without the partial range, which the session applies), or
 * undefined when the section does not exist in this message.
 */
export function bodySectionRange(structure: MessageStructure, section: BodySection): ByteRange | undefined {
  let header: ByteRange;
  let text: ByteRange;
  if (section.part.length === 0) {
    if (section.text === 'MIME') return undefined;
    if (section.text === undefined) return { start: 0, end: structure.size };
    header = { start: 0, end: structure.body.bodyOffset };
    text = { start: structure.body.bodyOffset, end: structure.body.bodyEnd };
  } else {
    const part = findBodyPart(structure, section.part);
    if (!part) return undefined;
    if (section.text === undefined) return { start: part.bodyOffset, end: part.bodyEnd };
    if (section.text === 'MIME') return { start: part.headerOffset, end: part.bodyOffset };
    // HEADER and TEXT of a numbered part need an encapsulated message (RFC 9051 §6.4.5).
    const inner = part.message?.body;
    if (!inner) return undefined;
    header = { start: inner.headerOffset, end: inner.bodyOffset };
    text = { start: inner.bodyOffset, end: inner.bodyEnd };
  }
  return section.text === 'TEXT' ? text : header;
}

/**
 * The part BINARY[part] decodes (RFC 3516), with its transfer encoding for
 * shared/mime/transfer-encoding.ts; undefined for no such part or a multipart.
 */
export function binaryPart(
  structure: MessageStructure,
  path: readonly number[],
): (ByteRange & { encoding: string }) | undefined {
  const part = path.length === 0 ? structure.body : findBodyPart(structure, path);
  if (!part || part.parts) return undefined;
  return { start: part.bodyOffset, end: part.bodyEnd, encoding: part.encoding.toLowerCase() };
}

/**
 * HEADER.FIELDS / HEADER.FIELDS.NOT (RFC 9051 §6.4.5): the header fields whose names are (or are not) in
 * `names`, compared case-insensitively, in their original form and order, followed by the blank line.
 * `header` is the header section as stored (as bodySectionRange gives it for HEADER).
 */
export function filterHeaderFields(header: Buffer, names: readonly string[], exclude: boolean): Buffer {
  const wanted = new Set(names.map((name) => name.toLowerCase()));
  const kept: Buffer[] = [];
  let keeping = false;
  let start = 0;
  while (start < header.length) {
    const lf = header.indexOf(0x0a, start);
    const end = lf === -1 ? header.length : lf + 1;
    const line = header.subarray(start, end);
    start = end;
    const first = line[0];
    if (first === 0x0d || first === 0x0a) break; // the blank line ending the header
    if (first !== 0x20 && first !== 0x09) {
      const colon = line.indexOf(0x3a);
      const name = colon === -1 ? '' : line.toString('latin1', 0, colon).trim().toLowerCase();
      keeping = colon !== -1 && wanted.has(name) !== exclude;
    }
    if (keeping) kept.push(line);
  }
  kept.push(Buffer.from('\r\n'));
  return Buffer.concat(kept);
}
