/**
 * Where a BODY[section] (RFC 9051 §6.4.5) lies in the stored message, from the part offsets the index
 * keeps: part numbers, HEADER, HEADER.FIELDS[.NOT], TEXT and MIME, and partial ranges `<o.n>`. Pure
 * arithmetic on our own index data; no message bytes are read here.
 */
import type { BodyPart } from '../../../shared/mime/structure-types.ts';
import type { BodySection, PartialRange } from '../protocol/command-types.ts';

export interface ByteSpan {
  offset: number;
  length: number;
}

export type SectionLocation =
  /** The section is exactly these bytes of the message. */
  | { kind: 'bytes'; span: ByteSpan }
  /** These header bytes, filtered to (or without) the named fields. */
  | { kind: 'header-fields'; span: ByteSpan; fields: string[]; exclude: boolean }
  /** The section names no part of this message: the response carries an empty string. */
  | { kind: 'missing' };

function span(start: number, end: number): ByteSpan {
  return { offset: start, length: Math.max(0, end - start) };
}

/**
 * The entity a part number names (RFC 9051 §6.4.5): in a multipart, part n is its n-th child; in a
 * message/rfc822, numbering continues in the encapsulated message (its parts, or its body as part 1); a
 * message that is not multipart has one part, its body.
 */
export function findPart(root: BodyPart, path: readonly number[]): BodyPart | undefined {
  let current: BodyPart | undefined;
  for (const number of path) {
    let candidates: readonly BodyPart[];
    if (current === undefined) candidates = root.parts ?? [root];
    else if (current.parts) candidates = current.parts;
    else if (current.message) candidates = current.message.body.parts ?? [current.message.body];
    else return undefined;
    current = candidates[number - 1];
    if (!current) return undefined;
  }
  return current;
}

/** Where the section is; `size` is the whole message's (BODY[] is all of it). */
export function locateSection(root: BodyPart, section: BodySection, size: number): SectionLocation {
  const isTop = section.part.length === 0;
  const part = isTop ? root : findPart(root, section.part);
  if (!part) return { kind: 'missing' };
  // HEADER, HEADER.FIELDS and TEXT of a part apply to the message it encapsulates (message/rfc822).
  const message = isTop ? root : part.message?.body;
  switch (section.text) {
    case undefined:
      if (isTop) return { kind: 'bytes', span: span(0, size) };
      return { kind: 'bytes', span: span(part.bodyOffset, part.bodyEnd) };
    case 'MIME':
      if (isTop) return { kind: 'missing' };
      return { kind: 'bytes', span: span(part.headerOffset, part.bodyOffset) };
    case 'HEADER':
      if (!message) return { kind: 'missing' };
      return { kind: 'bytes', span: span(message.headerOffset, message.bodyOffset) };
    case 'TEXT':
      if (!message) return { kind: 'missing' };
      return { kind: 'bytes', span: span(message.bodyOffset, message.bodyEnd) };
    case 'HEADER.FIELDS':
    case 'HEADER.FIELDS.NOT':
      if (!message) return { kind: 'missing' };
      return {
        kind: 'header-fields',
        span: span(message.headerOffset, message.bodyOffset),
        fields: section.fields ?? [],
        exclude: section.text === 'HEADER.FIELDS.NOT',
      };
  }
}

/** The bytes of a partial fetch `<offset.length>` within a section of `total` bytes. */
export function partialSpan(total: number, partial: PartialRange | undefined): ByteSpan {
  if (!partial) return { offset: 0, length: total };
  const offset = Math.min(partial.offset, total);
  return { offset, length: Math.min(partial.length, total - offset) };
}

/**
 * The header lines whose field names are (or, with `exclude`, are not) in `fields`, with their
 * continuation lines, followed by the empty line that ends a header (RFC 9051 §6.4.5).
 */
export function filterHeaderFields(header: Buffer, fields: readonly string[], exclude: boolean): Buffer {
  const wanted = new Set(fields.map((field) => field.toLowerCase()));
  const kept: Buffer[] = [];
  let keeping = false;
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(0x0a, start);
    end = end === -1 ? header.length : end + 1;
    const line = header.subarray(start, end);
    start = end;
    const first = line[0];
    if (first === 0x0d || first === 0x0a) break;
    if (first === 0x20 || first === 0x09) {
      if (keeping) kept.push(line);
      continue;
    }
    const colon = line.indexOf(0x3a);
    const name = (colon === -1 ? '' : line.subarray(0, colon).toString('latin1')).trim().toLowerCase();
    keeping = colon !== -1 && wanted.has(name) !== exclude;
    if (keeping) kept.push(line);
  }
  kept.push(Buffer.from('\r\n'));
  return Buffer.concat(kept);
}
