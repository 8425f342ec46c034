/**
 * Password verifiers: derived from a password when it is set (`marmot account add` / `passwd`), stored
 * as one versioned JSON record per account, and loaded back for the SASL mechanisms. The plaintext
 * password is never stored.
 *
 * Per mechanism (as Mox does), the verifier it needs:
 * - PLAIN, LOGIN: scrypt of the SASLprep'd password.
 * - SCRAM-SHA-1, SCRAM-SHA-256 (RFC 5802 §3): salt, iteration count, StoredKey, ServerKey.
 * - CRAM-MD5: the HMAC-MD5 inner and outer states after the key block (Dovecot's CRAM-MD5 scheme).
 * - DIGEST-MD5: H(username:realm:password) (RFC 2831 §2.1.2.1) for each username/realm form clients send.
 * - NTLM: the NT hash, MD4(UTF-16LE(password)) (MS-NLMP §3.3.1).
 * The last three are plaintext-equivalent for their mechanism (whoever holds them can log in with it),
 * so the record keeps them sealed by the key vault, bound to the account name, and they are only
 * decrypted when a legacy mechanism asks for them.
 *
 * SECURITY: records come from our own store; they are still validated field by field when loaded.
 */
import { createHash, createHmac, pbkdf2, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { KeyVault } from '../keyvault/key-vault.ts';
import { MAX_PASSWORD_BYTES } from './limits.ts';
import { md4 } from './md4.ts';
import { hmacMd5States, MD5_STATE_BYTES, type Md5State } from './md5-state.ts';
import { SaslprepError, saslprep } from './saslprep.ts';

const pbkdf2Async = promisify(pbkdf2);
const scryptAsync = promisify(scrypt) as (
  password: Buffer,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

/** scrypt cost for PLAIN/LOGIN: 32 MiB and roughly 50-100 ms per check; libuv's 4 threads bound concurrency. */
export const SCRYPT_COST = { N: 2 ** 15, r: 8, p: 1 } as const;
export const SCRYPT_HASH_BYTES = 32;
/** Allowed scrypt memory when checking stored records (their N and r may differ from today's). */
const SCRYPT_MAX_MEMORY = 256 * 1024 * 1024;
/**
 * PBKDF2 iterations for SCRAM: RFC 7677 §4 asks for at least 4096. Clients pay this on every login (the
 * server pays nothing at verify time), so 4x the minimum rather than the 600k one would use server-side.
 */
export const SCRAM_ITERATIONS = 16_384;
/** Stored records outside this range are refused, and so never handed to clients. */
const SCRAM_ITERATIONS_RANGE = { min: 4096, max: 1_000_000 } as const;
export const SALT_BYTES = 16;

export type ScramHash = 'SHA-1' | 'SHA-256';
const NODE_HASH: Record<ScramHash, string> = { 'SHA-1': 'sha1', 'SHA-256': 'sha256' };
export const SCRAM_HASH_BYTES: Record<ScramHash, number> = { 'SHA-1': 20, 'SHA-256': 32 };

export interface ScryptVerifier {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

export interface ScramVerifier {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** H(username:realm:password) for one username/realm form (RFC 2831 §2.1.2.1). */
export interface DigestMd5Verifier {
  username: string;
  realm: string;
  secret: Buffer;
}

export interface LegacyVerifiers {
  cramMd5: { inner: Md5State; outer: Md5State };
  digestMd5: DigestMd5Verifier[];
  ntHash: Buffer;
}

export interface DerivedCredentials {
  /** The login the legacy verifiers are bound to (`local@domain`). */
  username: string;
  scrypt: ScryptVerifier;
  scram: Record<ScramHash, ScramVerifier>;
  legacy: LegacyVerifiers;
}

/**
 * What the mechanisms verify against: an account's record as loaded, legacy verifiers decrypted on
 * demand. The directory also hands out accounts whose record predates SCRAM and the legacy verifiers
 * (a scrypt hash only): `scram` and the legacy verifiers are then absent, and those mechanisms fail
 * for the account as a wrong password would.
 */
export interface StoredCredentials {
  /** Checks a password given in the clear (PLAIN, LOGIN). Always does the full hashing work. */
  verifyPassword(password: string): Promise<boolean>;
  scram: Record<ScramHash, ScramVerifier> | undefined;
  /** Decrypts the legacy verifiers (a key-vault call); undefined when the record has none. */
  legacyVerifiers(): Promise<LegacyVerifiers | undefined>;
}

/** A record made by `sealCredentials`, loaded: every verifier is there. */
export interface OpenedCredentials extends StoredCredentials {
  scrypt: ScryptVerifier;
  scram: Record<ScramHash, ScramVerifier>;
}

/** The password cannot be used: empty, too long, or refused by SASLprep (RFC 4013). */
export class PasswordRejectedError extends Error {
  override name = 'PasswordRejectedError';
}

export class CredentialRecordError extends Error {
  override name = 'CredentialRecordError';
}

/**
 * Computes every verifier for a new password. `username` is the full login as clients send it
 * (`local@domain`), `realm` its domain: DIGEST-MD5 hashes them into its verifier.
 */
export async function deriveCredentials(
  password: string,
  identity: { username: string; realm: string },
): Promise<DerivedCredentials> {
  const prepared = preparePassword(password);
  const scryptSalt = randomBytes(SALT_BYTES);
  const [hash, sha1, sha256] = await Promise.all([
    scryptHash(prepared, scryptSalt, SCRYPT_COST),
    deriveScramVerifier(prepared, 'SHA-1', { salt: randomBytes(SALT_BYTES), iterations: SCRAM_ITERATIONS }),
    deriveScramVerifier(prepared, 'SHA-256', { salt: randomBytes(SALT_BYTES), iterations: SCRAM_ITERATIONS }),
  ]);
  return {
    username: identity.username,
    scrypt: { ...SCRYPT_COST, salt: scryptSalt, hash },
    scram: { 'SHA-1': sha1, 'SHA-256': sha256 },
    legacy: deriveLegacyVerifiers(password, identity),
  };
}

function preparePassword(password: string): string {
  if (password.length === 0) throw new PasswordRejectedError('the password is empty');
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
    throw new PasswordRejectedError(`the password is longer than ${MAX_PASSWORD_BYTES} bytes`);
  }
  try {
    const prepared = saslprep(password, { allowUnassigned: false });
    if (prepared.length === 0) throw new PasswordRejectedError('the password is empty after SASLprep');
    return prepared;
  } catch (error) {
    if (error instanceof SaslprepError) throw new PasswordRejectedError(`the password ${error.message}`);
    throw error;
  }
}

/** RFC 5802 §3: SaltedPassword = Hi(password, salt, i); StoredKey = H(HMAC(SaltedPassword, "Client Key")). */
export async function deriveScramVerifier(
  preparedPassword: string,
  hash: ScramHash,
  params: { salt: Buffer; iterations: number },
): Promise<ScramVerifier> {
  const algorithm = NODE_HASH[hash];
  const salted = await pbkdf2Async(
    Buffer.from(preparedPassword, 'utf8'),
    params.salt,
    params.iterations,
    SCRAM_HASH_BYTES[hash],
    algorithm,
  );
  const clientKey = createHmac(algorithm, salted).update('Client Key').digest();
  return {
    iterations: params.iterations,
    salt: params.salt,
    storedKey: createHash(algorithm).update(clientKey).digest(),
    serverKey: createHmac(algorithm, salted).update('Server Key').digest(),
  };
}

function deriveLegacyVerifiers(password: string, identity: { username: string; realm: string }): LegacyVerifiers {
  const realm = identity.realm.toLowerCase();
  const forms: [string, string][] = [[identity.username, realm]];
  const suffix = `@${realm}`;
  if (identity.username.toLowerCase().endsWith(suffix) && identity.username.length > suffix.length) {
    forms.push([identity.username.slice(0, -suffix.length), realm]);
  }
  forms.push([identity.username, '']);
  return {
    cramMd5: hmacMd5States(Buffer.from(password, 'utf8')),
    digestMd5: forms.map(([username, realmForm]) => ({
      username,
      realm: realmForm,
      secret: digestMd5Secret(username, realmForm, password),
    })),
    ntHash: md4(Buffer.from(password, 'utf16le')),
  };
}

/**
 * H({username, ":", realm, ":", password}) with RFC 2831 §2.1.2.1's charset rule as Cyrus applies it:
 * each string goes in ISO 8859-1 when all its characters fit, in UTF-8 otherwise.
 */
export function digestMd5Secret(username: string, realm: string, password: string): Buffer {
  return createHash('md5')
    .update(digestMd5Bytes(username))
    .update(':')
    .update(digestMd5Bytes(realm))
    .update(':')
    .update(digestMd5Bytes(password))
    .digest();
}

function digestMd5Bytes(text: string): Buffer {
  return /^[\u0000-\u00ff]*$/u.test(text) ? Buffer.from(text, 'latin1') : Buffer.from(text, 'utf8');
}

/** Checks a PLAIN/LOGIN password against the scrypt verifier. Always does the full scrypt work. */
export async function verifyScryptPassword(verifier: ScryptVerifier, password: string): Promise<boolean> {
  let prepared: string | undefined;
  try {
    prepared = saslprep(password, { allowUnassigned: true });
  } catch {
    prepared = undefined;
  }
  const computed = await scryptHash(prepared ?? password, verifier.salt, verifier);
  return timingSafeEqual(computed, verifier.hash) && prepared !== undefined && prepared.length > 0;
}

async function scryptHash(password: string, salt: Buffer, cost: { N: number; r: number; p: number }): Promise<Buffer> {
  return scryptAsync(Buffer.from(password, 'utf8'), salt, SCRYPT_HASH_BYTES, { ...cost, maxmem: SCRYPT_MAX_MEMORY });
}

// --- The storable record -------------------------------------------------------------------------

const RECORD_VERSION = 1;
const LEGACY_PURPOSE = 'sasl-legacy-verifiers';

interface ScramRecord {
  i: number;
  salt: string;
  storedKey: string;
  serverKey: string;
}

interface CredentialRecordV1 {
  v: 1;
  scrypt: { N: number; r: number; p: number; salt: string; hash: string };
  scram: Record<ScramHash, ScramRecord>;
  /** Key-vault envelope of the legacy verifiers (JSON), bound to the username. */
  legacy?: string;
}

interface LegacyRecord {
  cramMd5: string;
  digestMd5: { username: string; realm: string; secret: string }[];
  nt: string;
}

/** The JSON record to store for an account; the legacy verifiers are sealed with the key vault. */
export async function sealCredentials(derived: DerivedCredentials, vault: KeyVault): Promise<string> {
  const legacy: LegacyRecord = {
    cramMd5: Buffer.concat([derived.legacy.cramMd5.outer, derived.legacy.cramMd5.inner]).toString('hex'),
    digestMd5: derived.legacy.digestMd5.map((form) => ({
      username: form.username,
      realm: form.realm,
      secret: form.secret.toString('hex'),
    })),
    nt: derived.legacy.ntHash.toString('hex'),
  };
  const record: CredentialRecordV1 = {
    v: RECORD_VERSION,
    scrypt: {
      N: derived.scrypt.N,
      r: derived.scrypt.r,
      p: derived.scrypt.p,
      salt: derived.scrypt.salt.toString('base64'),
      hash: derived.scrypt.hash.toString('base64'),
    },
    scram: {
      'SHA-1': scramRecord(derived.scram['SHA-1']),
      'SHA-256': scramRecord(derived.scram['SHA-256']),
    },
    legacy: await vault.encrypt(Buffer.from(JSON.stringify(legacy), 'utf8'), legacyContext(derived.username)),
  };
  return JSON.stringify(record);
}

/** A stored record's verifiers, validated; the legacy ones still sealed. Needs no key vault. */
export interface ParsedCredentialRecord {
  scrypt: ScryptVerifier;
  scram: Record<ScramHash, ScramVerifier>;
  /** The key-vault envelope of the legacy verifiers, when the record has them. */
  legacyEnvelope: string | undefined;
}

/** Parses a stored record. Throws `CredentialRecordError` on a malformed one. */
export function parseCredentialRecord(record: string): ParsedCredentialRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(record);
  } catch {
    throw new CredentialRecordError('credential record is not JSON');
  }
  const root = objectAt(parsed, 'record');
  if (root.v !== RECORD_VERSION) throw new CredentialRecordError(`unknown credential record version ${root.v}`);
  const scryptRecord = objectAt(root.scrypt, 'scrypt');
  const scramRecords = objectAt(root.scram, 'scram');
  const scrypt: ScryptVerifier = {
    N: integerAt(scryptRecord.N, 'scrypt.N', 2, 2 ** 20),
    r: integerAt(scryptRecord.r, 'scrypt.r', 1, 32),
    p: integerAt(scryptRecord.p, 'scrypt.p', 1, 16),
    salt: bytesAt(scryptRecord.salt, 'scrypt.salt', 'base64'),
    hash: bytesAt(scryptRecord.hash, 'scrypt.hash', 'base64', SCRYPT_HASH_BYTES),
  };
  // scrypt's memory is 128 * N * r bytes; N must be a power of two.
  if ((scrypt.N & (scrypt.N - 1)) !== 0 || 128 * scrypt.N * scrypt.r > SCRYPT_MAX_MEMORY) {
    throw new CredentialRecordError('scrypt cost out of range');
  }
  const scram = {
    'SHA-1': scramFrom(scramRecords['SHA-1'], 'SHA-1'),
    'SHA-256': scramFrom(scramRecords['SHA-256'], 'SHA-256'),
  };
  const envelope = root.legacy;
  if (envelope !== undefined && typeof envelope !== 'string') throw new CredentialRecordError('legacy is not a string');
  return { scrypt, scram, legacyEnvelope: envelope };
}

/**
 * Loads a stored record. `username` must be the login it was sealed for; the legacy verifiers decrypt
 * only then. Throws `CredentialRecordError` on a malformed record.
 */
export function openCredentials(record: string, vault: KeyVault, username: string): OpenedCredentials {
  const { scrypt, scram, legacyEnvelope } = parseCredentialRecord(record);
  return {
    scrypt,
    scram,
    verifyPassword: (password) => verifyScryptPassword(scrypt, password),
    async legacyVerifiers() {
      if (legacyEnvelope === undefined) return undefined;
      const plaintext = await vault.decrypt(legacyEnvelope, legacyContext(username));
      return legacyFrom(plaintext);
    },
  };
}

function legacyContext(username: string): Record<string, string> {
  return { purpose: LEGACY_PURPOSE, account: username };
}

function scramRecord(verifier: ScramVerifier): ScramRecord {
  return {
    i: verifier.iterations,
    salt: verifier.salt.toString('base64'),
    storedKey: verifier.storedKey.toString('base64'),
    serverKey: verifier.serverKey.toString('base64'),
  };
}

function scramFrom(value: unknown, hash: ScramHash): ScramVerifier {
  const record = objectAt(value, `scram.${hash}`);
  const size = SCRAM_HASH_BYTES[hash];
  return {
    iterations: integerAt(record.i, `scram.${hash}.i`, SCRAM_ITERATIONS_RANGE.min, SCRAM_ITERATIONS_RANGE.max),
    salt: bytesAt(record.salt, `scram.${hash}.salt`, 'base64'),
    storedKey: bytesAt(record.storedKey, `scram.${hash}.storedKey`, 'base64', size),
    serverKey: bytesAt(record.serverKey, `scram.${hash}.serverKey`, 'base64', size),
  };
}

function legacyFrom(plaintext: Buffer): LegacyVerifiers {
  let parsed: unknown;
  try {
    parsed = JSON.parse(plaintext.toString('utf8'));
  } catch {
    throw new CredentialRecordError('legacy verifiers are not JSON');
  }
  const record = objectAt(parsed, 'legacy');
  const cram = bytesAt(record.cramMd5, 'legacy.cramMd5', 'hex', 2 * MD5_STATE_BYTES);
  if (!Array.isArray(record.digestMd5)) throw new CredentialRecordError('legacy.digestMd5 is not a list');
  return {
    cramMd5: { outer: cram.subarray(0, MD5_STATE_BYTES), inner: cram.subarray(MD5_STATE_BYTES) },
    digestMd5: record.digestMd5.map((value: unknown) => {
      const form = objectAt(value, 'legacy.digestMd5[]');
      if (typeof form.username !== 'string' || typeof form.realm !== 'string') {
        throw new CredentialRecordError('legacy.digestMd5[] needs username and realm');
      }
      return {
        username: form.username,
        realm: form.realm,
        secret: bytesAt(form.secret, 'legacy.digestMd5[].secret', 'hex', 16),
      };
    }),
    ntHash: bytesAt(record.nt, 'legacy.nt', 'hex', 16),
  };
}

function objectAt(value: unknown, name: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CredentialRecordError(`${name} is not an object`);
  }
  return value as Record<string, unknown>;
}

function integerAt(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new CredentialRecordError(`${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

function bytesAt(value: unknown, name: string, encoding: 'base64' | 'hex', length?: number): Buffer {
  if (typeof value !== 'string') throw new CredentialRecordError(`${name} is not a string`);
  const bytes = Buffer.from(value, encoding);
  if (bytes.toString(encoding) !== value || bytes.length === 0 || (length !== undefined && bytes.length !== length)) {
    throw new CredentialRecordError(`${name} is not ${length ?? 'some'} bytes of ${encoding}`);
  }
  return bytes;
}

// --- Decoy credentials ---------------------------------------------------------------------------

/**
 * What an unknown user is checked against, so that an unknown user and a wrong password cost the same
 * work and answer the same way. Made once per process; sealed and opened through the same key vault
 * as real records, so a legacy mechanism pays the same vault call for both.
 */
export interface DecoyCredentials {
  credentials: OpenedCredentials;
  /**
   * A SCRAM salt for an unknown user that stays the same across attempts (a fresh random salt per
   * attempt would tell an observer the user does not exist).
   */
  scramSalt(authcid: string, hash: ScramHash): Buffer;
}

const DECOY_USERNAME = 'decoy@decoy.invalid';
export const DECOY_SALT_SECRET_BYTES = 32;

/**
 * `saltSecret` keeps decoy salts the same across processes and restarts: give every listener process
 * the same secret (kept sealed in the store). Without it each process makes its own, and someone who
 * reaches two processes (two Fargate tasks behind the load balancer) sees an unknown user's salt change.
 */
export async function createDecoyCredentials(
  vault: KeyVault,
  options: { saltSecret?: Buffer } = {},
): Promise<DecoyCredentials> {
  const password = randomBytes(24).toString('base64');
  const derived = await deriveCredentials(password, { username: DECOY_USERNAME, realm: 'decoy.invalid' });
  const credentials = openCredentials(await sealCredentials(derived, vault), vault, DECOY_USERNAME);
  const saltKey = options.saltSecret ?? randomBytes(DECOY_SALT_SECRET_BYTES);
  if (saltKey.length < DECOY_SALT_SECRET_BYTES)
    throw new RangeError(`saltSecret needs ${DECOY_SALT_SECRET_BYTES} bytes`);
  return {
    credentials,
    scramSalt(authcid, hash) {
      return createHmac('sha256', saltKey).update(`${hash}\0${authcid.toLowerCase()}`).digest().subarray(0, SALT_BYTES);
    },
  };
}
