/**
 * Decoding what a client sends in a SASL exchange, for the listeners: a base64 line (strict), the
 * cancel line `*` (RFC 4422 §3.5), and `=` for an empty initial response (RFC 4954 §4, RFC 4959 §3).
 * Also the strict UTF-8 decoding the mechanisms use. Trusts nothing: every input may be hostile.
 */
import { MAX_SASL_RESPONSE_BASE64_CHARS } from './limits.ts';
import type { SaslFailure } from './mechanism.ts';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Strict RFC 4648 base64: no whitespace, no missing or extra padding, zero pad bits (so one text has
 * one meaning). Returns undefined for anything else. Node's own decoder skips invalid characters.
 */
export function decodeBase64Strict(text: string): Buffer | undefined {
  if (!BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/**
 * One client line of an exchange. `initial` is true for the initial response given with the command
 * (SASL-IR), where `=` means "empty"; in a continuation an empty line is the empty response.
 */
export function parseClientResponse(
  line: string,
  options: { initial: boolean },
): { response: Buffer } | { failure: SaslFailure } {
  if (line === '*') return { failure: { kind: 'aborted', detail: 'client cancelled the exchange' } };
  if (line.length > MAX_SASL_RESPONSE_BASE64_CHARS) {
    return { failure: { kind: 'malformed', detail: 'response too long' } };
  }
  if (options.initial && line === '=') return { response: Buffer.alloc(0) };
  const bytes = decodeBase64Strict(line);
  if (bytes === undefined) return { failure: { kind: 'malformed', detail: 'response is not base64' } };
  return { response: bytes };
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** UTF-8 without replacement: malformed sequences give undefined. */
export function decodeUtf8Strict(bytes: Uint8Array): string | undefined {
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}
