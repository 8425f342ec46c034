/**
 * Password policy (what a new password must be), and the scrypt-only verifier accounts were given
 * before the SASL verifiers existed: `credentials: { scrypt: {v: 1, N, r, p, salt, key} }`, an scrypt
 * hash (RFC 7914) of the password after the preparation below. That form is read and checked, and
 * upgraded on the first successful login (account-credentials.ts); it is never written any more.
 *
 * Trusts nothing about the password: it is bounded before it is hashed, and a stored verifier's cost
 * is bounded too, so a corrupted item cannot make a login burn gigabytes.
 */
import { scrypt, timingSafeEqual } from 'node:crypto';
import { InvalidPasswordError } from './errors.ts';

export const SCRYPT_ONLY_VERIFIER_VERSION = 1;
const KEY_BYTES = 32;
/** Room for scrypt's 128·N·r working set with headroom (node's default limit is exactly 32 MiB). */
const SCRYPT_MEMORY_FACTOR = 256;
const MAX_SCRYPT_N = 2 ** 20;
const MAX_SCRYPT_R = 32;
const MAX_SCRYPT_P = 16;

/** Longer passwords are refused: a bound on the work one login attempt can cause. */
export const MAX_PASSWORD_OCTETS = 1024;
/** Enforced when a password is set, not when one is checked. */
export const MIN_PASSWORD_LENGTH = 8;

/** The verifier of the scrypt-only credential form. */
export interface ScryptOnlyVerifier {
  v: number;
  N: number;
  r: number;
  p: number;
  /** base64 */
  salt: string;
  /** base64 of the derived key */
  key: string;
}

const CONTROL_CHARACTERS = /[\x00-\x1f\x7f-\x9f]/;
const NON_ASCII_SPACE = /[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/g;

/**
 * RFC 8265 §4.2 OpaqueString, as far as it matters for comparing passwords: non-ASCII spaces become
 * U+0020, then NFC, and no control characters (which also keeps the NUL separator of SASL PLAIN out).
 * The scrypt-only verifiers hashed this form.
 */
export function preparePassword(password: string): string {
  if (typeof password !== 'string') throw new InvalidPasswordError('the password must be a string');
  if (password.length > MAX_PASSWORD_OCTETS) {
    throw new InvalidPasswordError(`the password is longer than ${MAX_PASSWORD_OCTETS} octets`);
  }
  const prepared = password.replace(NON_ASCII_SPACE, ' ').normalize('NFC');
  if (prepared === '') throw new InvalidPasswordError('the password is empty');
  if (CONTROL_CHARACTERS.test(prepared)) throw new InvalidPasswordError('the password contains control characters');
  if (Buffer.byteLength(prepared) > MAX_PASSWORD_OCTETS) {
    throw new InvalidPasswordError(`the password is longer than ${MAX_PASSWORD_OCTETS} octets`);
  }
  return prepared;
}

/** Throws InvalidPasswordError for a password we will not set: too short, too long, control characters. */
export function checkNewPassword(password: string): void {
  const prepared = preparePassword(password);
  if ([...prepared].length < MIN_PASSWORD_LENGTH) {
    throw new InvalidPasswordError(`the password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  }
}

/** Whether a stored value is a scrypt-only verifier this program can check within its bounds. */
export function isUsableScryptOnlyVerifier(value: unknown): value is ScryptOnlyVerifier {
  if (typeof value !== 'object' || value === null) return false;
  const { v, N, r, p, salt, key } = value as Record<string, unknown>;
  return (
    v === SCRYPT_ONLY_VERIFIER_VERSION &&
    Number.isInteger(N) &&
    (N as number) > 1 &&
    (N as number) <= MAX_SCRYPT_N &&
    ((N as number) & ((N as number) - 1)) === 0 &&
    Number.isInteger(r) &&
    (r as number) >= 1 &&
    (r as number) <= MAX_SCRYPT_R &&
    Number.isInteger(p) &&
    (p as number) >= 1 &&
    (p as number) <= MAX_SCRYPT_P &&
    typeof salt === 'string' &&
    typeof key === 'string' &&
    Buffer.from(key, 'base64').length === KEY_BYTES
  );
}

/** Whether the password matches a scrypt-only verifier. Hashes even a password it cannot prepare. */
export async function verifyScryptOnly(verifier: ScryptOnlyVerifier, password: string): Promise<boolean> {
  let prepared: string | undefined;
  try {
    prepared = preparePassword(password);
  } catch {
    prepared = undefined;
  }
  const candidate = prepared ?? password.slice(0, MAX_PASSWORD_OCTETS);
  const actual = await scryptKey(candidate, Buffer.from(verifier.salt, 'base64'), verifier);
  return timingSafeEqual(actual, Buffer.from(verifier.key, 'base64')) && prepared !== undefined;
}

function scryptKey(password: string, salt: Buffer, cost: { N: number; r: number; p: number }): Promise<Buffer> {
  const { N, r, p } = cost;
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_BYTES, { N, r, p, maxmem: SCRYPT_MEMORY_FACTOR * N * r }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}
