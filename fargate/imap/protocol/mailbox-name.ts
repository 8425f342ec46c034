/**
 * Modified UTF-7 for mailbox names (RFC 3501 §5.1.3), used on the wire by IMAP4rev1 clients that have
 * not enabled UTF8=ACCEPT (RFC 6855).
 *
 * Decoding is strict, so that every name has exactly one wire form and two different wire names can
 * never reach the same mailbox: it rejects raw 8-bit bytes, printable ASCII (and `&`) encoded in base64,
 * non-zero or over-long padding bits, empty or adjacent `&...-` runs, unpaired UTF-16 surrogates and
 * unterminated runs. `encodeMailboxName(decodeMailboxName(w)) === w` holds for every accepted `w`.
 */

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,';
const BASE64_VALUE = new Map([...BASE64_ALPHABET].map((char, index) => [char, index]));

export class MailboxNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MailboxNameError';
  }
}

/** Printable US-ASCII (0x20-0x7e) represents itself; everything else is base64-encoded UTF-16. */
function isDirect(code: number): boolean {
  return code >= 0x20 && code <= 0x7e;
}

/** Encodes a mailbox name; throws MailboxNameError for a string with unpaired UTF-16 surrogates. */
export function encodeMailboxName(name: string): string {
  if (!name.isWellFormed()) throw new MailboxNameError('Mailbox name is not well-formed Unicode');
  let out = '';
  let pending: number[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const bytes: number[] = [];
    for (const unit of pending) bytes.push(unit >> 8, unit & 0xff);
    let bits = 0;
    let value = 0;
    out += '&';
    for (const byte of bytes) {
      value = (value << 8) | byte;
      bits += 8;
      while (bits >= 6) {
        bits -= 6;
        out += BASE64_ALPHABET[(value >> bits) & 0x3f];
      }
      value &= (1 << bits) - 1;
    }
    if (bits > 0) out += BASE64_ALPHABET[(value << (6 - bits)) & 0x3f];
    out += '-';
    pending = [];
  };
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (isDirect(code)) {
      flush();
      out += code === 0x26 ? '&-' : name[i];
    } else {
      pending.push(code);
    }
  }
  flush();
  return out;
}

/** Decodes a wire mailbox name; throws MailboxNameError on anything but the canonical encoding. */
export function decodeMailboxName(wire: string): string {
  let out = '';
  let i = 0;
  let previousWasEncoded = false;
  while (i < wire.length) {
    const code = wire.charCodeAt(i);
    if (!isDirect(code)) throw new MailboxNameError('Mailbox name has a character that must be encoded');
    if (code !== 0x26) {
      out += wire[i];
      i++;
      previousWasEncoded = false;
      continue;
    }
    const end = wire.indexOf('-', i + 1);
    if (end === -1) throw new MailboxNameError('Unterminated &-sequence in mailbox name');
    if (end === i + 1) {
      out += '&';
      i = end + 1;
      previousWasEncoded = false;
      continue;
    }
    // Two encoded runs in a row could have been one: not the canonical form.
    if (previousWasEncoded) throw new MailboxNameError('Adjacent encoded runs in mailbox name');
    out += decodeRun(wire.slice(i + 1, end));
    i = end + 1;
    previousWasEncoded = true;
  }
  return out;
}

function decodeRun(run: string): string {
  let bits = 0;
  let value = 0;
  const bytes: number[] = [];
  for (const char of run) {
    const digit = BASE64_VALUE.get(char);
    if (digit === undefined) throw new MailboxNameError('Bad character in encoded mailbox name');
    value = ((value << 6) | digit) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((value >> bits) & 0xff);
    }
  }
  // What is left must be under a byte, all zero bits, and the bytes must make whole UTF-16 units.
  if (bits >= 6 || (value & ((1 << bits) - 1)) !== 0 || bytes.length % 2 !== 0) {
    throw new MailboxNameError('Bad padding in encoded mailbox name');
  }
  let out = '';
  for (let j = 0; j < bytes.length; j += 2) {
    const unit = (bytes[j]! << 8) | bytes[j + 1]!;
    if (isDirect(unit)) throw new MailboxNameError('Printable ASCII encoded in mailbox name');
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const low = j + 3 < bytes.length ? (bytes[j + 2]! << 8) | bytes[j + 3]! : -1;
      if (low < 0xdc00 || low > 0xdfff) throw new MailboxNameError('Unpaired surrogate in mailbox name');
      out += String.fromCharCode(unit, low);
      j += 2;
      continue;
    }
    if (unit >= 0xdc00 && unit <= 0xdfff) throw new MailboxNameError('Unpaired surrogate in mailbox name');
    out += String.fromCharCode(unit);
  }
  return out;
}
