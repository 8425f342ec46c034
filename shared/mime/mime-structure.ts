/**
 * Computes a message's MIME structure in one streaming pass, at delivery or APPEND: the ENVELOPE, the
 * BODYSTRUCTURE tree with the byte offsets of every entity's header and body, and the decoded fields
 * SEARCH/SORT/THREAD use (structure-types.ts). FETCH then needs no further pass over the body:
 * BODY[1.2.MIME], BODY[2.HEADER], BODY[1.TEXT] ... are ranged reads of the stored blob.
 *
 *   const scanner = new MimeStructureScanner();
 *   for await (const chunk of stream) scanner.write(chunk);
 *   const structure = scanner.end();          // or parseMessageStructure(buffer)
 *
 * It reads arbitrary mail from the internet and never fails. The rules follow RFC 2045/2046 and, where
 * mail breaks them, what Dovecot answers (test/shared/mime/README.md lists where we differ on purpose):
 *   - a boundary line is `--boundary` at the start of a line, whatever follows it (prefix match, as
 *     Dovecot); when several open boundaries match, the longest wins, then the innermost;
 *   - the line break before a boundary line belongs to the boundary (RFC 2046 §5.1.1), so a part's body
 *     ends before it;
 *   - an outer boundary closes every inner entity still open; the end of the message closes everything
 *     (a missing final boundary is not an error);
 *   - a multipart with no parts gets one empty text/plain part, since IMAP requires at least one;
 *   - bare LF line ends are handled like CRLF. Offsets and sizes are always of the bytes as stored
 *     (Dovecot reports sizes as if every line ended in CRLF; they differ only for bare-LF messages);
 *   - lines are counted as LF bytes in the body.
 *
 * SECURITY: memory is bounded by MAX_HEADER_SECTION_BYTES (the header being read) plus a boundary-length
 * prefix of the current line, whatever the line lengths; nesting and part counts are bounded (limits.ts).
 */
import { parseContentDisposition, parseContentLanguage, parseContentType } from './content-fields.ts';
import { buildEnvelope } from './envelope.ts';
import { type HeaderField, lastField, parseHeaderLines } from './header-section.ts';
import { MAX_BOUNDARY_BYTES, MAX_HEADER_SECTION_BYTES, MAX_MIME_NESTING, MAX_MIME_PARTS } from './limits.ts';
import { computeSearchFields } from './search-fields.ts';
import { type BodyPart, type Envelope, MESSAGE_STRUCTURE_VERSION, type MessageStructure } from './structure-types.ts';

const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;

/** Bytes of a body line we keep: enough to recognise `--boundary--`. */
const BOUNDARY_LINE_PREFIX_BYTES = MAX_BOUNDARY_BYTES + 4;

type EntityState = 'header' | 'body' | 'preamble' | 'parts' | 'epilogue';

interface OpenEntity {
  headerOffset: number;
  bodyOffset: number;
  /** LF bytes before bodyOffset. */
  bodyLf: number;
  state: EntityState;
  depth: number;
  /** Inside multipart/digest, parts without Content-Type are message/rfc822 (RFC 2046 §5.1.5). */
  digestChild: boolean;
  headerLines: Buffer[];
  headerBytes: number;
  /** Set when the header ends. */
  part?: BodyPart;
  fields?: HeaderField[];
  /** `--boundary` of a multipart whose parts we follow. */
  delimiter?: Buffer;
  /** Where the epilogue starts, after the close delimiter line. */
  epilogueOffset?: number;
  children: BodyPart[];
  /** The message itself, or the message inside a message/rfc822 part: it has an envelope. */
  isMessage: boolean;
  /** For a message/rfc822 part: the encapsulated message once it is closed. */
  message?: { envelope: Envelope; body: BodyPart };
}

function isMultipart(part: BodyPart): boolean {
  return part.type.toLowerCase() === 'multipart';
}

/** RFC 9051 §7.5.2 body-type-msg covers message/rfc822 and message/global (RFC 6532 §3.5). */
function isEncapsulatedMessage(part: BodyPart): boolean {
  const subtype = part.subtype.toLowerCase();
  return part.type.toLowerCase() === 'message' && (subtype === 'rfc822' || subtype === 'global');
}

/** The BODYSTRUCTURE fields of an entity, from its header (offsets and sizes are filled in later). */
function describePart(fields: HeaderField[], digestChild: boolean, offset: number): BodyPart {
  const contentType = lastField(fields, 'content-type');
  let type: string;
  let subtype: string;
  let params: Array<[string, string]>;
  if (contentType === undefined) {
    [type, subtype, params] = digestChild ? ['message', 'rfc822', []] : ['text', 'plain', []];
  } else {
    ({ type, subtype, params } = parseContentType(contentType));
  }
  // Dovecot reports the default charset of text when the header names none.
  if (type.toLowerCase() === 'text' && !params.some(([name]) => name.toLowerCase() === 'charset')) {
    params.push(['charset', 'us-ascii']);
  }
  const encoding = lastField(fields, 'content-transfer-encoding');
  const encodingToken = encoding?.trim().split(/[\s;(]/, 1)[0] ?? '';
  const disposition = lastField(fields, 'content-disposition');
  const language = lastField(fields, 'content-language');
  const languages = language === undefined ? [] : parseContentLanguage(language);
  const parsedDisposition = disposition === undefined ? undefined : parseContentDisposition(disposition);
  return {
    type,
    subtype,
    params: params.length > 0 ? params : null,
    id: lastField(fields, 'content-id')?.trim() ?? null,
    description: lastField(fields, 'content-description') ?? null,
    encoding: encodingToken || '7bit',
    size: 0,
    lines: 0,
    md5: lastField(fields, 'content-md5')?.trim() ?? null,
    disposition: parsedDisposition
      ? {
          type: parsedDisposition.type,
          params: parsedDisposition.params.length > 0 ? parsedDisposition.params : null,
        }
      : null,
    language: languages.length > 0 ? languages : null,
    location: lastField(fields, 'content-location')?.trim() ?? null,
    headerOffset: offset,
    bodyOffset: offset,
    bodyEnd: offset,
  };
}

/** An empty text/plain part standing in for a multipart that has none. */
function emptyTextPart(offset: number): BodyPart {
  return {
    type: 'text',
    subtype: 'plain',
    params: [['charset', 'us-ascii']],
    id: null,
    description: null,
    encoding: '7bit',
    size: 0,
    lines: 0,
    md5: null,
    disposition: null,
    language: null,
    location: null,
    headerOffset: offset,
    bodyOffset: offset,
    bodyEnd: offset,
  };
}

export class MimeStructureScanner {
  /** Offset of the next byte to scan. */
  private offset = 0;
  /** LF bytes before `offset`. */
  private lf = 0;
  /** The line being read: where it starts, what we keep of it, its length so far. */
  private lineStart = 0;
  private lineLf = 0;
  private lineKept: Buffer[] = [];
  private lineKeptBytes = 0;
  private lineKeepLimit = 0;
  private lastByte = -1;
  /** Length of the line break ending the previous line (0 at the start). */
  private previousEol = 0;
  private readonly stack: OpenEntity[] = [];
  private partCount = 1;
  private rootFields: HeaderField[] = [];
  private root?: { envelope: Envelope; body: BodyPart };
  private ended = false;

  constructor() {
    const root = this.openEntity(0, 0, false);
    root.isMessage = true;
    this.stack.push(root);
    this.lineKeepLimit = this.keepLimit();
  }

  write(chunk: Buffer): void {
    if (this.ended) throw new Error('MimeStructureScanner: write after end');
    let pos = 0;
    while (pos < chunk.length) {
      const lf = chunk.indexOf(LF, pos);
      const end = lf === -1 ? chunk.length : lf + 1;
      // A line going on into the next chunk is copied: the caller may reuse this chunk's memory.
      this.keep(chunk, pos, end, lf === -1);
      if (lf === -1) {
        this.lastByte = chunk[chunk.length - 1]!;
        this.offset += end - pos;
        break;
      }
      const crBefore = lf > pos ? chunk[lf - 1] === CR : this.lastByte === CR;
      this.offset += end - pos;
      this.lf++;
      this.lastByte = LF;
      this.finishLine(crBefore ? 2 : 1);
      pos = end;
    }
  }

  end(): MessageStructure {
    if (this.ended) throw new Error('MimeStructureScanner: end called twice');
    if (this.offset > this.lineStart) this.finishLine(0);
    this.ended = true;
    while (this.stack.length > 0) this.closeTop(this.offset, this.lf);
    const root = this.root!;
    return {
      version: MESSAGE_STRUCTURE_VERSION,
      size: this.offset,
      envelope: root.envelope,
      body: root.body,
      search: computeSearchFields(this.rootFields),
    };
  }

  private openEntity(headerOffset: number, depth: number, digestChild: boolean): OpenEntity {
    return {
      headerOffset,
      bodyOffset: headerOffset,
      bodyLf: this.lf,
      state: 'header',
      depth,
      digestChild,
      headerLines: [],
      headerBytes: 0,
      children: [],
      isMessage: false,
    };
  }

  private get top(): OpenEntity {
    return this.stack[this.stack.length - 1]!;
  }

  /** How much of the next line to keep: all of a header line (within budget), a prefix otherwise. */
  private keepLimit(): number {
    const top = this.top;
    if (top.state === 'header') {
      return Math.max(BOUNDARY_LINE_PREFIX_BYTES, MAX_HEADER_SECTION_BYTES - top.headerBytes);
    }
    return BOUNDARY_LINE_PREFIX_BYTES;
  }

  private keep(chunk: Buffer, start: number, end: number, copy: boolean): void {
    const room = this.lineKeepLimit - this.lineKeptBytes;
    if (room <= 0) return;
    const slice = chunk.subarray(start, Math.min(end, start + room));
    this.lineKept.push(copy ? Buffer.from(slice) : slice);
    this.lineKeptBytes += slice.length;
  }

  private finishLine(eol: number): void {
    const start = this.lineStart;
    const length = this.offset - start;
    const kept = this.lineKept.length === 1 ? this.lineKept[0]! : Buffer.concat(this.lineKept, this.lineKeptBytes);
    const contentLength = length - eol;
    const lfAtStart = this.lineLf;
    this.lineKept = [];
    this.lineKeptBytes = 0;
    this.lineStart = this.offset;
    this.lineLf = this.lf;

    if (!this.handleBoundary(kept, start, lfAtStart)) {
      const top = this.top;
      if (top.state === 'header') {
        if (contentLength === 0) {
          this.endHeader(top, this.offset, this.lf, false);
        } else if (top.headerBytes < MAX_HEADER_SECTION_BYTES) {
          // Copied: the kept slice may point into a chunk the caller reuses.
          const line = Buffer.from(kept.subarray(0, Math.min(kept.length, contentLength)));
          top.headerLines.push(line);
          top.headerBytes += length;
        }
      }
    }
    this.previousEol = eol;
    this.lineKeepLimit = this.keepLimit();
  }

  /** Handles a boundary line of an open multipart; false when the line is not one. */
  private handleBoundary(line: Buffer, lineStart: number, lfAtStart: number): boolean {
    if (line.length < 2 || line[0] !== DASH || line[1] !== DASH || this.partCount >= MAX_MIME_PARTS) return false;
    let match = -1;
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const entity = this.stack[i]!;
      const delimiter = entity.delimiter;
      if (!delimiter || (entity.state !== 'preamble' && entity.state !== 'parts')) continue;
      if (line.length < delimiter.length || line.compare(delimiter, 0, delimiter.length, 0, delimiter.length) !== 0) {
        continue;
      }
      if (match === -1 || delimiter.length > this.stack[match]!.delimiter!.length) match = i;
    }
    if (match === -1) return false;
    const multipart = this.stack[match]!;
    // The line break before the boundary line belongs to it (RFC 2046 §5.1.1), except right after an
    // inner close delimiter, whose line break Dovecot keeps with it.
    const afterCloseDelimiter = this.top.epilogueOffset === lineStart;
    const eol = afterCloseDelimiter ? 0 : this.previousEol;
    const end = lineStart - eol;
    const lfAtEnd = lfAtStart - (eol > 0 ? 1 : 0);
    while (this.stack.length - 1 > match) this.closeTop(end, lfAtEnd);
    const delimiterLength = multipart.delimiter!.length;
    const closing = line[delimiterLength] === DASH && line[delimiterLength + 1] === DASH;
    if (closing) {
      multipart.state = 'epilogue';
      multipart.epilogueOffset = this.offset;
    } else {
      multipart.state = 'parts';
      this.partCount++;
      const digest = multipart.part!.subtype.toLowerCase() === 'digest';
      this.stack.push(this.openEntity(this.offset, multipart.depth + 1, digest));
    }
    return true;
  }

  /**
   * Reads the header an entity has just finished (at a blank line, or cut short by a boundary or the end
   * of the message when `closing`) and decides how its body is followed.
   */
  private endHeader(entity: OpenEntity, bodyOffset: number, bodyLf: number, closing: boolean): void {
    entity.bodyOffset = bodyOffset;
    entity.bodyLf = bodyLf;
    const fields = parseHeaderLines(entity.headerLines);
    entity.headerLines = [];
    entity.fields = fields;
    const part = describePart(fields, entity.digestChild, entity.headerOffset);
    entity.part = part;
    entity.state = 'body';
    const multipart = isMultipart(part);
    const encapsulated = isEncapsulatedMessage(part);
    if (!multipart && !encapsulated) return;
    // Too deep (or too many parts) to follow: report it as opaque data, as Dovecot does.
    if (entity.depth + 1 >= MAX_MIME_NESTING || (encapsulated && !closing && this.partCount >= MAX_MIME_PARTS)) {
      part.type = 'application';
      part.subtype = 'octet-stream';
      return;
    }
    if (closing) return;
    if (multipart) {
      const boundary = part.params?.find(([name]) => name.toLowerCase() === 'boundary')?.[1];
      if (boundary && Buffer.byteLength(boundary) <= MAX_BOUNDARY_BYTES) {
        entity.delimiter = Buffer.from(`--${boundary}`, 'utf8');
        entity.state = 'preamble';
      }
      return;
    }
    this.partCount++;
    const message = this.openEntity(bodyOffset, entity.depth + 1, false);
    message.isMessage = true;
    this.stack.push(message);
  }

  /** Closes the innermost open entity at `end` and hands its part to its parent. */
  private closeTop(end: number, lfAtEnd: number): void {
    const entity = this.stack.pop()!;
    if (entity.state === 'header') this.endHeader(entity, Math.max(entity.headerOffset, end), lfAtEnd, true);
    const part = entity.part!;
    part.headerOffset = entity.headerOffset;
    part.bodyOffset = entity.bodyOffset;
    part.bodyEnd = Math.max(entity.bodyOffset, end);
    part.size = part.bodyEnd - part.bodyOffset;
    part.lines = part.size > 0 ? Math.max(0, lfAtEnd - entity.bodyLf) : 0;
    if (isMultipart(part)) {
      part.parts = entity.children.length > 0 ? entity.children : [emptyTextPart(part.bodyEnd)];
    } else if (isEncapsulatedMessage(part)) {
      // A message/rfc822 part that ended inside its own header encapsulates an empty message.
      part.message = entity.message ?? { envelope: buildEnvelope([]), body: emptyTextPart(part.bodyEnd) };
    }

    const parent = this.stack[this.stack.length - 1];
    if (!parent) {
      this.rootFields = entity.fields!;
      this.root = { envelope: buildEnvelope(entity.fields!), body: part };
    } else if (entity.isMessage) {
      parent.message = { envelope: buildEnvelope(entity.fields!), body: part };
    } else {
      parent.children.push(part);
    }
  }
}

/** The structure of a whole message held in memory. */
export function parseMessageStructure(message: Buffer): MessageStructure {
  const scanner = new MimeStructureScanner();
  scanner.write(message);
  return scanner.end();
}
