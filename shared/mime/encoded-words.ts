/**
 * Decodes RFC 2047 encoded words (`=?charset?B|Q?text?=`) in header text to a JS string, for SEARCH,
 * SORT and THREAD (ENVELOPE keeps them raw). Adjacent encoded words in one charset are joined before
 * decoding, since mailers split multi-byte characters across them; blanks between encoded words are
 * dropped (RFC 2047 §6.2). An encoded word in an unknown charset, or malformed, is left as it is.
 */

import { TextDecoder } from 'node:util';

const ENCODED_WORD = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;

function decodeQ(text: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char === '_') {
      bytes.push(0x20);
    } else if (char === '=' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(char.charCodeAt(0) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

function decoderFor(charset: string): TextDecoder | undefined {
  // RFC 2231 §5: charset*language.
  const name = charset.split('*')[0]!;
  try {
    return new TextDecoder(name);
  } catch {
    return undefined;
  }
}

interface EncodedWord {
  start: number;
  end: number;
  charset: string;
  bytes: Buffer;
}

export function decodeEncodedWords(text: string): string {
  if (!text.includes('=?')) return text;
  const words: EncodedWord[] = [];
  for (const match of text.matchAll(ENCODED_WORD)) {
    const [whole, charset, encoding, payload] = match;
    const bytes = encoding!.toUpperCase() === 'B' ? Buffer.from(payload!, 'base64') : decodeQ(payload!);
    words.push({ start: match.index, end: match.index + whole.length, charset: charset!.toLowerCase(), bytes });
  }
  let out = '';
  let position = 0;
  for (let i = 0; i < words.length; ) {
    const first = words[i]!;
    // Join the run of encoded words separated only by blanks and sharing the charset.
    let j = i;
    const parts = [first.bytes];
    while (
      j + 1 < words.length &&
      words[j + 1]!.charset === first.charset &&
      /^[ \t\r\n]*$/.test(text.slice(words[j]!.end, words[j + 1]!.start))
    ) {
      j++;
      parts.push(words[j]!.bytes);
    }
    const decoder = decoderFor(first.charset);
    const gapBefore = text.slice(position, first.start);
    // Blanks between two encoded words (of any charsets) are not part of the text.
    out += i > 0 && /^[ \t\r\n]*$/.test(gapBefore) ? '' : gapBefore;
    out += decoder ? decoder.decode(Buffer.concat(parts)) : text.slice(first.start, words[j]!.end);
    position = words[j]!.end;
    i = j + 1;
  }
  return out + text.slice(position);
}
