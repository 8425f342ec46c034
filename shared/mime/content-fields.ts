/**
 * Parses the MIME header fields BODYSTRUCTURE reports: Content-Type and Content-Disposition with their
 * parameters (RFC 2045 §5.1, RFC 2183), RFC 2231 parameter continuations, and Content-Language
 * (RFC 3282).
 *
 * Values come from arbitrary mail, so parsing never fails: it keeps what it could read, the way Dovecot
 * does (type and subtype as written, parameters in order, duplicates kept, a parameter it cannot read
 * skipped up to the next `;`). One deliberate leniency beyond Dovecot: an unquoted parameter value runs to
 * the next blank or `;`, so the common unquoted `boundary=----=_Part_1` keeps its `=` (RFC 2045 would
 * need quotes; Dovecot cuts it at the `=`).
 */
import type { MimeParameters } from './structure-types.ts';

/** RFC 2045 §5.1 tspecials, plus blanks and controls: what ends a token. */
function isTokenChar(char: string): boolean {
  const code = char.charCodeAt(0);
  return code > 0x20 && code !== 0x7f && !'()<>@,;:\\"/[]?='.includes(char);
}

class FieldCursor {
  pos = 0;
  constructor(readonly text: string) {}

  get atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string {
    return this.text[this.pos] ?? '';
  }

  /** Skips blanks, line breaks and (nested) comments. */
  skipCfws(): void {
    while (!this.atEnd) {
      const char = this.peek();
      if (char === ' ' || char === '\t' || char === '\r' || char === '\n') {
        this.pos++;
      } else if (char === '(') {
        let depth = 0;
        while (!this.atEnd) {
          const c = this.text[this.pos++];
          if (c === '\\') this.pos++;
          else if (c === '(') depth++;
          else if (c === ')' && --depth === 0) break;
        }
      } else {
        return;
      }
    }
  }

  token(): string {
    const start = this.pos;
    while (!this.atEnd && isTokenChar(this.peek())) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /** A quoted string's content (escapes removed), or undefined if it is not terminated. */
  quoted(): string | undefined {
    let value = '';
    this.pos++;
    while (!this.atEnd) {
      const char = this.text[this.pos++]!;
      if (char === '"') return value;
      if (char === '\\' && !this.atEnd) value += this.text[this.pos++];
      else value += char;
    }
    return undefined;
  }

  /** An unquoted parameter value: up to a blank, `;` or `"`. */
  looseValue(): string {
    const start = this.pos;
    while (!this.atEnd && !' \t\r\n;"'.includes(this.peek())) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /** Skips to just before the next `;` outside quotes. */
  skipToSemicolon(): void {
    let quoted = false;
    while (!this.atEnd) {
      const char = this.peek();
      if (char === '"') quoted = !quoted;
      else if (char === '\\') this.pos++;
      else if (char === ';' && !quoted) return;
      this.pos++;
    }
  }
}

/** `; name=value` pairs after the value (RFC 2045 §5.1), with RFC 2231 continuations joined. */
function parseParameters(cursor: FieldCursor): MimeParameters {
  const params: MimeParameters = [];
  for (;;) {
    cursor.skipCfws();
    if (cursor.atEnd) break;
    if (cursor.peek() !== ';') {
      cursor.skipToSemicolon();
      continue;
    }
    cursor.pos++;
    cursor.skipCfws();
    const name = cursor.token();
    cursor.skipCfws();
    if (!name || cursor.peek() !== '=') {
      cursor.skipToSemicolon();
      continue;
    }
    cursor.pos++;
    cursor.skipCfws();
    if (cursor.peek() === '"') {
      const value = cursor.quoted();
      if (value === undefined) break;
      params.push([name, value]);
    } else {
      const value = cursor.looseValue();
      if (value) params.push([name, value]);
    }
  }
  return joinContinuations(params);
}

const CONTINUATION = /^(.+)\*(\d+)(\*?)$/;

/**
 * RFC 2231 §3: `name*0`, `name*1*`, ... become one parameter in the place of the first section, named
 * `name*` when any section is extended (charset'language'%-encoded) and `name` otherwise. Values are
 * joined as written, as Dovecot does; decoding is for the reader (IMAP sends them raw).
 */
function joinContinuations(params: MimeParameters): MimeParameters {
  if (!params.some(([name]) => CONTINUATION.test(name))) return params;
  const groups = new Map<string, { index: number; extended: boolean; sections: Array<[number, string]> }>();
  const result: Array<[string, string] | string> = [];
  for (const [name, value] of params) {
    const match = CONTINUATION.exec(name);
    if (!match) {
      result.push([name, value]);
      continue;
    }
    const base = match[1]!.toLowerCase();
    let group = groups.get(base);
    if (!group) {
      group = { index: result.length, extended: false, sections: [] };
      groups.set(base, group);
      result.push(match[1]!);
    }
    group.extended ||= match[3] === '*';
    group.sections.push([Number(match[2]), value]);
  }
  return result.map((entry) => {
    if (typeof entry !== 'string') return entry;
    const group = groups.get(entry.toLowerCase())!;
    const value = group.sections
      .sort((a, b) => a[0] - b[0])
      .map(([, section]) => section)
      .join('');
    return [group.extended ? `${entry}*` : entry, value];
  });
}

export interface ContentType {
  /** As written; '' when missing or unreadable. */
  type: string;
  subtype: string;
  params: MimeParameters;
}

/** Content-Type: type "/" subtype *(";" parameter) (RFC 2045 §5.1). */
export function parseContentType(value: string): ContentType {
  const cursor = new FieldCursor(value);
  cursor.skipCfws();
  const type = cursor.token();
  cursor.skipCfws();
  let subtype = '';
  if (cursor.peek() === '/') {
    cursor.pos++;
    cursor.skipCfws();
    subtype = cursor.token();
  }
  // Without a type nothing after it can be trusted to mean anything (Dovecot drops it too).
  return { type, subtype, params: type ? parseParameters(cursor) : [] };
}

export interface ContentDisposition {
  type: string;
  params: MimeParameters;
}

/** Content-Disposition: type *(";" parameter) (RFC 2183 §2). */
export function parseContentDisposition(value: string): ContentDisposition {
  const cursor = new FieldCursor(value);
  cursor.skipCfws();
  const type = cursor.token();
  return { type, params: parseParameters(cursor) };
}

/** Content-Language: a comma-separated list of language tags (RFC 3282 §2). */
export function parseContentLanguage(value: string): string[] {
  const cursor = new FieldCursor(value);
  const tags: string[] = [];
  for (;;) {
    cursor.skipCfws();
    if (cursor.atEnd) break;
    const tag = cursor.token();
    if (tag) tags.push(tag);
    cursor.skipCfws();
    if (cursor.peek() === ',') cursor.pos++;
    else if (!tag) cursor.pos++;
  }
  return tags;
}
