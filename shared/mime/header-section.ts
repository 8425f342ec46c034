/**
 * Splits a header section (RFC 5322 §2.2) into fields with unfolded raw values.
 *
 * Lenient like Dovecot's header parser, because it reads whatever arrives: the field name is everything
 * before the first colon (trailing blanks trimmed); a line starting with a blank continues the previous
 * field; a line with no colon that continues nothing is skipped. Unfolding removes the line breaks and
 * keeps the blanks after them (RFC 5322 §2.2.3). Values are decoded as UTF-8 when they are valid UTF-8
 * (RFC 6532) and as Latin-1 otherwise, so no byte is lost and nothing throws.
 */

export interface HeaderField {
  /** As written, e.g. `Content-Type`. */
  name: string;
  /** Lower-cased name, for lookups. */
  key: string;
  /** Unfolded value without the leading blanks after the colon. */
  value: string;
}

import { TextDecoder } from 'node:util';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes header bytes: UTF-8 when valid, Latin-1 otherwise. */
export function decodeHeaderBytes(bytes: Buffer): string {
  for (const byte of bytes) {
    if (byte > 0x7f) {
      try {
        return utf8.decode(bytes);
      } catch {
        return bytes.toString('latin1');
      }
    }
  }
  return bytes.toString('latin1');
}

function isBlank(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09;
}

/** Parses header lines (each without its line end). */
export function parseHeaderLines(lines: readonly Buffer[]): HeaderField[] {
  const fields: HeaderField[] = [];
  let current: { name: string; parts: Buffer[] } | undefined;
  const finish = () => {
    if (!current) return;
    const name = current.name;
    fields.push({ name, key: name.toLowerCase(), value: decodeHeaderBytes(Buffer.concat(current.parts)) });
    current = undefined;
  };
  for (const line of lines) {
    if (isBlank(line[0])) {
      if (current) current.parts.push(line);
      continue;
    }
    finish();
    const colon = line.indexOf(0x3a);
    if (colon <= 0) continue;
    let nameEnd = colon;
    while (nameEnd > 0 && isBlank(line[nameEnd - 1])) nameEnd--;
    if (nameEnd === 0) continue;
    let valueStart = colon + 1;
    while (isBlank(line[valueStart])) valueStart++;
    current = { name: line.toString('latin1', 0, nameEnd), parts: [line.subarray(valueStart)] };
  }
  finish();
  return fields;
}

/** The value of the last field named `key` (lower case), or undefined. */
export function lastField(fields: readonly HeaderField[], key: string): string | undefined {
  for (let i = fields.length - 1; i >= 0; i--) if (fields[i]!.key === key) return fields[i]!.value;
  return undefined;
}

/** The values of every field named `key`, in order. */
export function allFields(fields: readonly HeaderField[], key: string): string[] {
  return fields.filter((field) => field.key === key).map((field) => field.value);
}
