/**
 * The contract of the dkim-sign step (`functions/dkim-sign/`), which the outbound worker invokes through
 * the invoker port: the request (a queued message's blob and the domain to sign for) and the result (the
 * DKIM-Signature field, or why the message goes out unsigned). Both cross the invoker as JSON; each side
 * trusts nothing in what it receives beyond these checks.
 */
import { normalizeDomain } from '../address/address.ts';
import { assertBlobKey } from '../store/blob.ts';
import { DKIM_ALGORITHMS, type DkimAlgorithm } from './key-generation.ts';

export const DKIM_SIGN_FUNCTION = 'dkim-sign';
/** Only queued outbound messages are signed: the step never reads mailboxes or the spool. */
export const SIGNABLE_BLOB_PREFIX = 'outbound/';
/** A DKIM-Signature field is well under 2 KB (a 4096-bit RSA signature is 684 base64 characters). */
const MAX_SIGNATURE_FIELD_BYTES = 8192;
const MAX_TEXT = 1024;

export interface DkimSignRequest {
  blobKey: string;
  /** The domain whose active key signs (the envelope sender's). */
  domain: string;
}

export type UnsignedReason =
  /** The domain has no active key. */
  | 'no-key'
  /** The message cannot be signed (no From field, ...). */
  | 'unsignable';

export type DkimSignResult =
  | { signed: true; header: string; domain: string; selector: string; algorithm: DkimAlgorithm }
  | { signed: false; reason: UnsignedReason; detail: string };

export class SignStepContractError extends Error {
  override name = 'SignStepContractError';
}

export function parseDkimSignRequest(value: unknown): DkimSignRequest {
  const object = record(value, 'dkim-sign request');
  const blobKey = text(object.blobKey, 'blobKey');
  try {
    assertBlobKey(blobKey);
  } catch {
    throw new SignStepContractError('blobKey is not a blob key');
  }
  if (!blobKey.startsWith(SIGNABLE_BLOB_PREFIX)) {
    throw new SignStepContractError(`only blobs under ${SIGNABLE_BLOB_PREFIX} are signed`);
  }
  let domain: string;
  try {
    domain = normalizeDomain(text(object.domain, 'domain'));
  } catch {
    throw new SignStepContractError('domain is not a domain name');
  }
  return { blobKey, domain };
}

export function parseDkimSignResult(value: unknown): DkimSignResult {
  const object = record(value, 'dkim-sign result');
  if (object.signed === false) {
    if (object.reason !== 'no-key' && object.reason !== 'unsignable') {
      throw new SignStepContractError('unknown reason for an unsigned message');
    }
    return { signed: false, reason: object.reason, detail: text(object.detail, 'detail') };
  }
  if (object.signed !== true) throw new SignStepContractError('signed is not a boolean');
  const header = object.header;
  // One header field: `DKIM-Signature:`, folded lines only, ending in CRLF, nothing that could end the
  // header section or smuggle another field in.
  if (
    typeof header !== 'string' ||
    Buffer.byteLength(header) > MAX_SIGNATURE_FIELD_BYTES ||
    !/^DKIM-Signature: [\x21-\x7e][\x20-\x7e]*(\r\n[ \t][\x20-\x7e]*)*\r\n$/.test(header)
  ) {
    throw new SignStepContractError('header is not one DKIM-Signature field');
  }
  const algorithm = object.algorithm;
  if (!(DKIM_ALGORITHMS as readonly unknown[]).includes(algorithm))
    throw new SignStepContractError('unknown algorithm');
  return {
    signed: true,
    header,
    domain: text(object.domain, 'domain'),
    selector: text(object.selector, 'selector'),
    algorithm: algorithm as DkimAlgorithm,
  };
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SignStepContractError(`${what} is not an object`);
  }
  return value as Record<string, unknown>;
}

function text(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '' || value.length > MAX_TEXT) {
    throw new SignStepContractError(`${what} is not a string of 1 to ${MAX_TEXT} characters`);
  }
  return value;
}
