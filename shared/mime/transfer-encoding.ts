/**
 * Decodes a part's body from its Content-Transfer-Encoding (RFC 2045 §6), for IMAP BINARY[] and
 * BINARY.SIZE (RFC 3516) and for anything that needs a part's content. Lenient like mail readers:
 * characters outside the base64 alphabet are skipped, and a quoted-printable `=` that starts no valid
 * escape stays as it is. Never throws.
 */

/** The identity encodings: the body is the content. */
const IDENTITY = new Set(['7bit', '8bit', 'binary']);

function decodeQuotedPrintable(data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(data.length);
  let length = 0;
  let i = 0;
  while (i < data.length) {
    const byte = data[i]!;
    if (byte === 0x20 || byte === 0x09) {
      // RFC 2045 §6.7 rule 3: blanks at the end of a line were added in transport.
      let j = i;
      while (data[j] === 0x20 || data[j] === 0x09) j++;
      if (j === data.length || data[j] === 0x0a || (data[j] === 0x0d && data[j + 1] === 0x0a)) {
        i = j;
        continue;
      }
      out[length++] = byte;
      i++;
    } else if (byte === 0x3d) {
      const rest = data.subarray(i + 1, i + 3).toString('latin1');
      if (/^[0-9A-Fa-f]{2}$/.test(rest)) {
        out[length++] = Number.parseInt(rest, 16);
        i += 3;
        continue;
      }
      // A soft line break: "=" and blanks before the line end (RFC 2045 §6.7 rule 5).
      let j = i + 1;
      while (data[j] === 0x20 || data[j] === 0x09) j++;
      if (data[j] === 0x0a) {
        i = j + 1;
      } else if (data[j] === 0x0d && data[j + 1] === 0x0a) {
        i = j + 2;
      } else if (j === data.length) {
        i = j;
      } else {
        out[length++] = byte;
        i++;
      }
    } else {
      out[length++] = byte;
      i++;
    }
  }
  return out.subarray(0, length);
}

/**
 * The content of a body in `encoding` (as BODYSTRUCTURE reports it, any case), or undefined for an
 * encoding we do not know (RFC 3516 §4.3: the server answers NO [UNKNOWN-CTE]).
 */
export function decodeTransferEncoding(data: Buffer, encoding: string): Buffer | undefined {
  const name = encoding.toLowerCase();
  if (IDENTITY.has(name)) return data;
  if (name === 'base64') return Buffer.from(data.toString('latin1').replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
  if (name === 'quoted-printable') return decodeQuotedPrintable(data);
  return undefined;
}
