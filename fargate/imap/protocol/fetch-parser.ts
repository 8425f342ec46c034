/**
 * The FETCH attribute grammar (RFC 9051 §6.4.5 and §9 fetch-att, section, partial), RFC 3516 BINARY,
 * RFC 7162 MODSEQ and the CHANGEDSINCE/VANISHED modifiers, RFC 8514 SAVEDATE.
 *
 * SECURITY: untrusted input; lists go through the cursor's nesting limit, part numbers are 32-bit.
 */
import type { CommandCursor } from './command-cursor.ts';
import type { BodySection, FetchItem, PartialRange, SimpleFetchItem } from './command-types.ts';

export const FETCH_MACROS = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
} as const satisfies Record<string, readonly SimpleFetchItem[]>;

const SIMPLE_ITEMS = new Set<string>([
  'ENVELOPE',
  'FLAGS',
  'INTERNALDATE',
  'RFC822',
  'RFC822.HEADER',
  'RFC822.SIZE',
  'RFC822.TEXT',
  'BODY',
  'BODYSTRUCTURE',
  'UID',
  'MODSEQ',
  'SAVEDATE',
] satisfies SimpleFetchItem[]);

const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const DOT = 0x2e;

/** What follows `FETCH sequence-set SP`: a macro, one attribute, or a list of attributes. */
export function parseFetchItems(cursor: CommandCursor): { items: FetchItem[]; macro?: 'ALL' | 'FAST' | 'FULL' } {
  if (cursor.peek() === 0x28) return { items: cursor.list(() => parseFetchAtt(cursor), false) };
  const macro = cursor.peekKeyword();
  if (macro === 'ALL' || macro === 'FAST' || macro === 'FULL') {
    cursor.takeKeyword(macro);
    return { items: FETCH_MACROS[macro].map((kind) => ({ kind })), macro };
  }
  return { items: [parseFetchAtt(cursor)] };
}

function parseFetchAtt(cursor: CommandCursor): FetchItem {
  const name = cursor.run(isAlphanumeric, 'a fetch attribute').toUpperCase().concat(readDottedSuffix(cursor));
  if (cursor.peek() !== OPEN_BRACKET) {
    if (SIMPLE_ITEMS.has(name)) return { kind: name as SimpleFetchItem };
    throw cursor.error(`Unknown fetch attribute ${name}`);
  }
  switch (name) {
    case 'BODY':
    case 'BODY.PEEK': {
      const section = parseSection(cursor);
      const partial = parsePartial(cursor);
      return { kind: 'BODY[]', section, peek: name === 'BODY.PEEK', ...(partial ? { partial } : {}) };
    }
    case 'BINARY':
    case 'BINARY.PEEK': {
      const part = parseBinarySection(cursor);
      const partial = parsePartial(cursor);
      return { kind: 'BINARY[]', part, peek: name === 'BINARY.PEEK', ...(partial ? { partial } : {}) };
    }
    case 'BINARY.SIZE':
      return { kind: 'BINARY.SIZE', part: parseBinarySection(cursor) };
    default:
      throw cursor.error(`Unknown fetch attribute ${name}`);
  }
}

/** `.HEADER`, `.PEEK`, `.SIZE`... after an attribute name: letters and digits joined by dots. */
function readDottedSuffix(cursor: CommandCursor): string {
  let suffix = '';
  while (cursor.take(DOT)) {
    suffix += `.${cursor.run(isAlphanumeric, 'an attribute name').toUpperCase()}`;
  }
  return suffix;
}

function isAlphanumeric(byte: number): boolean {
  return ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7a) || (byte >= 0x30 && byte <= 0x39);
}

/**
 * section = "[" [section-spec] "]"; section-spec = section-msgtext / (section-part ["." section-text]);
 * section-text = section-msgtext / "MIME" (RFC 9051 §9).
 */
export function parseSection(cursor: CommandCursor): BodySection {
  cursor.expect(OPEN_BRACKET, '[');
  const part: number[] = [];
  const section: BodySection = { part };
  if (cursor.take(CLOSE_BRACKET)) return section;
  if (cursor.atDigit()) {
    part.push(cursor.nzNumber());
    while (cursor.take(DOT)) {
      if (!cursor.atDigit()) {
        parseSectionText(cursor, section, true);
        break;
      }
      part.push(cursor.nzNumber());
    }
  } else {
    parseSectionText(cursor, section, false);
  }
  cursor.expect(CLOSE_BRACKET, ']');
  return section;
}

function parseSectionText(cursor: CommandCursor, section: BodySection, afterPart: boolean): void {
  const text = cursor.run((byte) => byte === DOT || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7a), 'a section');
  switch (text.toUpperCase()) {
    case 'HEADER':
      section.text = 'HEADER';
      return;
    case 'TEXT':
      section.text = 'TEXT';
      return;
    case 'MIME':
      if (!afterPart) throw cursor.error('MIME needs a part number');
      section.text = 'MIME';
      return;
    case 'HEADER.FIELDS':
    case 'HEADER.FIELDS.NOT':
      section.text = text.toUpperCase() as 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT';
      cursor.sp();
      // header-list = "(" header-fld-name *(SP header-fld-name) ")"
      section.fields = cursor.list(() => cursor.astring(), false);
      return;
    default:
      throw cursor.error(`Unknown section ${text}`);
  }
}

/** section-binary = "[" [section-part] "]" (RFC 3516 §4.1). */
function parseBinarySection(cursor: CommandCursor): number[] {
  cursor.expect(OPEN_BRACKET, '[');
  const part: number[] = [];
  if (!cursor.take(CLOSE_BRACKET)) {
    do part.push(cursor.nzNumber());
    while (cursor.take(DOT));
    cursor.expect(CLOSE_BRACKET, ']');
  }
  return part;
}

/** partial = "<" number64 "." nz-number64 ">" (RFC 9051 §9). */
function parsePartial(cursor: CommandCursor): PartialRange | undefined {
  if (!cursor.take(0x3c)) return undefined;
  const offset = cursor.number64();
  cursor.expect(DOT, '.');
  const length = cursor.number64();
  if (length === 0) throw cursor.error('Partial length must not be zero');
  cursor.expect(0x3e, '>');
  return { offset, length };
}

/**
 * fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")" with CHANGEDSINCE and VANISHED
 * (RFC 7162 §3.1.4, §3.2.6). Call with the cursor on `(`.
 */
export function parseFetchModifiers(cursor: CommandCursor): { changedSince?: number; vanished: boolean } {
  const result: { changedSince?: number; vanished: boolean } = { vanished: false };
  cursor.list(() => {
    const name = cursor.keyword('a fetch modifier');
    if (name === 'CHANGEDSINCE' && result.changedSince === undefined) {
      cursor.sp();
      result.changedSince = cursor.number64();
    } else if (name === 'VANISHED' && !result.vanished) {
      result.vanished = true;
    } else {
      throw cursor.error(`Unknown or repeated fetch modifier ${name}`);
    }
  }, false);
  return result;
}
