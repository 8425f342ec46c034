/**
 * Signs a message with a domain's key through mailauth: relaxed/relaxed canonicalization (RFC 6376
 * §3.4, the choice that survives the whitespace and folding changes relays make), the usual header
 * fields, no `l=` (a body length limit lets anyone append content under the signature, RFC 6376 §8.2),
 * and mailauth's strict mode, which refuses anything RFC 6376 and RFC 8301 forbid.
 *
 * Returns the `DKIM-Signature:` field (folded, ending in CRLF) to put on top of the message; the message
 * itself is not changed. Trusts the key; the message is arbitrary mail and only read.
 */
import type { Readable } from 'node:stream';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import type { SigningKey } from './dkim-keys.ts';

/**
 * The header fields signed when present: what identifies and describes the message to its reader, the
 * MIME framing, and the list fields (RFC 6376 §5.4.1). Trace and transport fields (Received,
 * Return-Path) change in transit and are left out.
 */
export const SIGNED_HEADER_FIELDS = [
  'From',
  'Sender',
  'Reply-To',
  'Subject',
  'Date',
  'Message-ID',
  'To',
  'Cc',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
  'Content-ID',
  'Content-Description',
  'Resent-Date',
  'Resent-From',
  'Resent-Sender',
  'Resent-To',
  'Resent-Cc',
  'Resent-Message-ID',
  'In-Reply-To',
  'References',
  'List-Id',
  'List-Help',
  'List-Unsubscribe',
  'List-Unsubscribe-Post',
  'List-Subscribe',
  'List-Post',
  'List-Owner',
  'List-Archive',
] as const;

export class DkimSigningError extends Error {
  override name = 'DkimSigningError';
  constructor(
    message: string,
    /** mailauth's code, e.g. ENOFROM for a message without a From field. */
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export interface SignOptions {
  /** The `t=` time (default now). */
  signTime?: Date;
}

export async function signMessage(
  message: Buffer | Readable,
  key: SigningKey,
  options: SignOptions = {},
): Promise<string> {
  const signature = { signingDomain: key.domain, selector: key.selector, privateKey: key.privateKeyPem };
  const result = await dkimSign(message, {
    // mailauth signs with the entries of signatureData; its typings also want them at the top level.
    ...signature,
    signatureData: [signature],
    canonicalization: 'relaxed/relaxed',
    headerList: [...SIGNED_HEADER_FIELDS],
    strict: true,
    ...(options.signTime ? { signTime: options.signTime } : {}),
  });
  const failure = result.errors?.[0];
  if (failure || !result.signatures) {
    const error = failure?.err as { message?: string; code?: string } | undefined;
    throw new DkimSigningError(`cannot sign: ${error?.message ?? 'no signature was made'}`, error?.code);
  }
  return result.signatures;
}
