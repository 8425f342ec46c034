/**
 * Password verifiers. The plaintext is never stored: an account keeps a `credentials` map keyed by
 * mechanism family, each entry versioned on its own. For now the only family is `scrypt` (RFC 7914),
 * which checks passwords given in the clear (SASL PLAIN and LOGIN, IMAP LOGIN). SASL mechanisms that
 * need other verifiers (SCRAM's StoredKey/ServerKey, legacy CRAM-MD5/DIGEST-MD5 secrets) add their
 * families to deriveCredentials, so every verifier is derived from the same password at the same time,
 * and a new password replaces them all.
 *
 * Trusts nothing about the password: it is bounded before it is hashed. Verification compares with
 * timingSafeEqual, and a caller checking an unknown account hashes against a dummy verifier of the same
 * cost (verifyAgainstDummy), so timing does not tell which accounts exist.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { InvalidPasswordError } from './errors.ts';

export const SCRYPT_VERIFIER_VERSION = 1;
/**
 * N = 2^14, r = 8, p = 1: 16 MiB and about 40 ms on one core here, libsodium's "interactive" level. Each
 * verifier records its own cost, so raising this later needs no migration (rehash on the next login).
 */
export const DEFAULT_SCRYPT_COST: ScryptCost = { N: 2 ** 14, r: 8, p: 1 };
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Room for scrypt's 128·N·r working set with headroom (node's default limit is exactly 32 MiB). */
const SCRYPT_MEMORY_FACTOR = 256;
/** Stored costs are bounded too, so a corrupted or hostile item cannot make a login burn gigabytes. */
const MAX_SCRYPT_N = 2 ** 20;
const MAX_SCRYPT_R = 32;
const MAX_SCRYPT_P = 16;

/** Longer passwords are refused: a bound on the work one login attempt can cause. */
export const MAX_PASSWORD_OCTETS = 1024;
/** Enforced when a password is set, not when one is checked. */
export const MIN_PASSWORD_LENGTH = 8;

export interface ScryptCost {
  N: number;
  r: number;
  p: number;
}

export interface ScryptVerifier extends ScryptCost {
  v: number;
  /** base64 */
  salt: string;
  /** base64 of the derived key */
  key: string;
}

export interface Credentials {
  scrypt?: ScryptVerifier;
}

const CONTROL_CHARACTERS = /[\x00-\x1f\x7f-\x9f]/;
const NON_ASCII_SPACE = /[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/g;

/**
 * RFC 8265 §4.2 OpaqueString, as far as it matters for comparing passwords: non-ASCII spaces become
 * U+0020, then NFC, and no control characters (which also keeps the NUL separator of SASL PLAIN out).
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

/** Every verifier for a new password. Throws InvalidPasswordError for a password we will not store. */
export async function deriveCredentials(password: string): Promise<Credentials> {
  const prepared = preparePassword(password);
  if ([...prepared].length < MIN_PASSWORD_LENGTH) {
    throw new InvalidPasswordError(`the password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  return { scrypt: await scryptVerifier(prepared, randomBytes(SALT_BYTES), DEFAULT_SCRYPT_COST) };
}

/** Whether the password matches the account's scrypt verifier; false for anything malformed. */
export async function verifyCredentials(credentials: Credentials, password: string): Promise<boolean> {
  const verifier = credentials.scrypt;
  let prepared: string | undefined;
  try {
    prepared = preparePassword(password);
  } catch {
    prepared = undefined;
  }
  if (!verifier || !isUsableVerifier(verifier) || prepared === undefined) {
    await verifyAgainstDummy(password);
    return false;
  }
  const expected = Buffer.from(verifier.key, 'base64');
  const actual = await scryptKey(prepared, Buffer.from(verifier.salt, 'base64'), verifier, KEY_BYTES);
  return timingSafeEqual(actual, expected);
}

/** What an unknown account's password is compared against: random, so nothing ever matches it. */
const DUMMY_SALT = randomBytes(SALT_BYTES);
const DUMMY_KEY = randomBytes(KEY_BYTES);

/** The same work as checking a real account's password, for an account that does not exist. */
export async function verifyAgainstDummy(password: string): Promise<void> {
  const candidate = typeof password === 'string' ? password.slice(0, MAX_PASSWORD_OCTETS) : '';
  timingSafeEqual(await scryptKey(candidate, DUMMY_SALT, DEFAULT_SCRYPT_COST, KEY_BYTES), DUMMY_KEY);
}

async function scryptVerifier(prepared: string, salt: Buffer, cost: ScryptCost): Promise<ScryptVerifier> {
  const key = await scryptKey(prepared, salt, cost, KEY_BYTES);
  return {
    v: SCRYPT_VERIFIER_VERSION,
    salt: salt.toString('base64'),
    N: cost.N,
    r: cost.r,
    p: cost.p,
    key: key.toString('base64'),
  };
}

function scryptKey(password: string, salt: Buffer, cost: ScryptCost, length: number): Promise<Buffer> {
  const { N, r, p } = cost;
  return new Promise((resolve, reject) => {
    scrypt(password, salt, length, { N, r, p, maxmem: SCRYPT_MEMORY_FACTOR * N * r }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

function isUsableVerifier(verifier: ScryptVerifier): boolean {
  const { v, N, r, p, salt, key } = verifier;
  return (
    v === SCRYPT_VERIFIER_VERSION &&
    Number.isInteger(N) &&
    N > 1 &&
    N <= MAX_SCRYPT_N &&
    (N & (N - 1)) === 0 &&
    Number.isInteger(r) &&
    r >= 1 &&
    r <= MAX_SCRYPT_R &&
    Number.isInteger(p) &&
    p >= 1 &&
    p <= MAX_SCRYPT_P &&
    typeof salt === 'string' &&
    typeof key === 'string' &&
    Buffer.from(key, 'base64').length === KEY_BYTES
  );
}
