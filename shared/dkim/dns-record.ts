/**
 * The DKIM key record in DNS (RFC 6376 §3.6): its name, its text, the zone-file line an operator pastes,
 * and the parser `marmot dkim check` reads a published record with.
 *
 * A TXT record is a sequence of character-strings of at most 255 bytes each (RFC 1035 §3.3.14); a 2048-bit
 * RSA key does not fit in one, so the text is split and verifiers join the strings again (RFC 6376
 * §3.6.2.2). The parser reads text from DNS, which anyone controls: it is bounded and never throws.
 */
import { InvalidSelectorError } from './errors.ts';
import type { DkimKeyType } from './key-generation.ts';

/** RFC 1035 §3.3: a character-string holds at most 255 bytes. */
export const TXT_STRING_MAX_BYTES = 255;
/** Longer records are not DKIM keys we would publish (a 4096-bit RSA record is under 800 bytes). */
export const MAX_DKIM_RECORD_BYTES = 4096;
/** One selector label (RFC 1035 §2.3.4), and the whole selector (dotted sub-selectors allowed, RFC 6376 §3.1). */
const MAX_LABEL_LENGTH = 63;
export const MAX_SELECTOR_LENGTH = 128;
const LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
/** Tags a record may carry; more is not a DKIM key record. */
const MAX_RECORD_TAGS = 32;

/** Lower-cases and checks a selector: DNS labels of letters, digits and inner hyphens, dot-separated. */
export function normalizeSelector(input: string): string {
  const selector = input.trim().toLowerCase();
  if (selector.length === 0 || selector.length > MAX_SELECTOR_LENGTH) {
    throw new InvalidSelectorError(`a selector has 1 to ${MAX_SELECTOR_LENGTH} characters`);
  }
  for (const label of selector.split('.')) {
    if (label.length > MAX_LABEL_LENGTH || !LABEL.test(label)) {
      throw new InvalidSelectorError(
        `invalid selector ${JSON.stringify(input.slice(0, MAX_SELECTOR_LENGTH))}: use letters, digits and inner hyphens`,
      );
    }
  }
  return selector;
}

/** The record's owner name (RFC 6376 §3.6.2.1), without the trailing dot. */
export function dkimRecordName(selector: string, domain: string): string {
  return `${selector}._domainkey.${domain}`;
}

/** The record's text, before splitting. */
export function dkimRecordText(keyType: DkimKeyType, publicKey: string): string {
  return `v=DKIM1; k=${keyType}; p=${publicKey}`;
}

/** The text as TXT character-strings of at most 255 bytes (the text is ASCII). */
export function splitTxtStrings(text: string): string[] {
  const strings: string[] = [];
  for (let at = 0; at < text.length; at += TXT_STRING_MAX_BYTES)
    strings.push(text.slice(at, at + TXT_STRING_MAX_BYTES));
  return strings.length > 0 ? strings : [''];
}

/** The zone-file line, relative to the domain's zone: `NAME._domainkey IN TXT "..." "..."`. */
export function dkimZoneLine(selector: string, keyType: DkimKeyType, publicKey: string): string {
  const strings = splitTxtStrings(dkimRecordText(keyType, publicKey)).map((part) => `"${part}"`);
  return `${selector}._domainkey IN TXT ${strings.join(' ')}`;
}

export type ParsedDkimRecord =
  | { ok: true; keyType: string; publicKey: string; tags: Record<string, string> }
  | { ok: false; reason: string };

/**
 * Reads a key record's text (its strings already joined). RFC 6376 §3.6.1: `v=`, when present, must be
 * first and be DKIM1; `k=` defaults to rsa; `p=` is required, and empty means the key was revoked.
 * Whitespace inside `p=` is folding and is dropped (§3.2).
 */
export function parseDkimRecord(text: string): ParsedDkimRecord {
  if (Buffer.byteLength(text) > MAX_DKIM_RECORD_BYTES) return { ok: false, reason: 'record too long' };
  const tags: Record<string, string> = {};
  const parts = text.split(';');
  if (parts.length > MAX_RECORD_TAGS + 1) return { ok: false, reason: 'too many tags' };
  for (const [index, part] of parts.entries()) {
    const trimmed = part.trim();
    if (trimmed === '') {
      if (index === parts.length - 1) continue; // a trailing ';' is allowed (§3.2)
      return { ok: false, reason: 'empty tag' };
    }
    const equals = trimmed.indexOf('=');
    if (equals <= 0) return { ok: false, reason: `malformed tag ${JSON.stringify(trimmed.slice(0, 20))}` };
    const name = trimmed.slice(0, equals).trim();
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) return { ok: false, reason: `malformed tag name` };
    if (Object.hasOwn(tags, name)) return { ok: false, reason: `duplicate tag ${name}` }; // §3.2: invalid
    if (name === 'v' && index !== 0) return { ok: false, reason: 'v= is not the first tag' };
    tags[name] = trimmed.slice(equals + 1).trim();
  }
  if (tags.v !== undefined && tags.v !== 'DKIM1') return { ok: false, reason: `unknown version ${tags.v}` };
  if (tags.p === undefined) return { ok: false, reason: 'no p= tag' };
  return { ok: true, keyType: (tags.k ?? 'rsa').toLowerCase(), publicKey: tags.p.replace(/\s+/g, ''), tags };
}
