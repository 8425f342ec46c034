/**
 * An account's `credentials` attribute: the one place that writes and reads it. The plaintext
 * password is never stored. Two forms:
 *
 * - `{ sasl: <record> }` (every account whose password was set by this version): the record from
 *   shared/sasl/credentials.ts, every mechanism's verifier derived from the same password at the same
 *   time (scrypt for PLAIN/LOGIN, SCRAM-SHA-1/256 keys, and the CRAM-MD5, DIGEST-MD5 and NT verifiers
 *   sealed with the key vault and bound to the account's address). Setting a password replaces the
 *   whole attribute, so no verifier of an old password survives.
 * - `{ scrypt: {...} }` (accounts made before the SASL verifiers, see password.ts): checks passwords
 *   given in the clear only. The directory replaces it with the full record on the account's first
 *   successful PLAIN/LOGIN, when the password is at hand, so stored accounts keep working and gain the
 *   other mechanisms without every password being reset. Until then SCRAM and the legacy mechanisms
 *   fail for the account as a wrong password would.
 *
 * Anything else (an attribute this program cannot read) verifies nothing.
 */
import { randomBytes } from 'node:crypto';
import type { KeyVault } from '../keyvault/key-vault.ts';
import {
  deriveCredentials,
  openCredentials,
  PasswordRejectedError,
  parseCredentialRecord,
  SALT_BYTES,
  SCRYPT_COST,
  SCRYPT_HASH_BYTES,
  type ScryptVerifier,
  type StoredCredentials,
  sealCredentials,
  verifyScryptPassword,
} from '../sasl/credentials.ts';
import { InvalidPasswordError } from './errors.ts';
import { checkNewPassword, isUsableScryptOnlyVerifier, MAX_PASSWORD_OCTETS, verifyScryptOnly } from './password.ts';

/** The attribute as this version writes it. */
export interface SaslCredentials {
  sasl: string;
}

export type CredentialForm =
  | { form: 'sasl'; record: string }
  | { form: 'scrypt-only'; verify(password: string): Promise<boolean> }
  | { form: 'unusable' };

/** Every verifier for a new password. Throws InvalidPasswordError for a password we will not set. */
export async function credentialsForPassword(
  password: string,
  address: { address: string; domain: string },
  vault: KeyVault,
): Promise<SaslCredentials> {
  checkNewPassword(password);
  try {
    const derived = await deriveCredentials(password, { username: address.address, realm: address.domain });
    return { sasl: await sealCredentials(derived, vault) };
  } catch (error) {
    if (error instanceof PasswordRejectedError) throw new InvalidPasswordError(error.message);
    throw error;
  }
}

export function credentialFormOf(value: unknown): CredentialForm {
  if (typeof value !== 'object' || value === null) return { form: 'unusable' };
  const { sasl, scrypt } = value as Record<string, unknown>;
  if (typeof sasl === 'string') return { form: 'sasl', record: sasl };
  if (isUsableScryptOnlyVerifier(scrypt)) {
    return { form: 'scrypt-only', verify: (password) => verifyScryptOnly(scrypt, password) };
  }
  return { form: 'unusable' };
}

/**
 * Whether the password matches the attribute. A malformed `sasl` record throws CredentialRecordError
 * (it is our own data gone wrong, not a wrong password).
 */
export async function verifyCredentialsPassword(form: CredentialForm, password: string): Promise<boolean> {
  if (Buffer.byteLength(password) > MAX_PASSWORD_OCTETS) {
    await verifyAgainstDecoy(password.slice(0, MAX_PASSWORD_OCTETS));
    return false;
  }
  switch (form.form) {
    case 'sasl':
      return verifyScryptPassword(parseCredentialRecord(form.record).scrypt, password);
    case 'scrypt-only':
      return form.verify(password);
    case 'unusable':
      await verifyAgainstDecoy(password);
      return false;
  }
}

/** What an unknown account's password is hashed against: the current cost, a key nothing matches. */
const DECOY_VERIFIER: ScryptVerifier = {
  ...SCRYPT_COST,
  salt: randomBytes(SALT_BYTES),
  hash: randomBytes(SCRYPT_HASH_BYTES),
};

/** The work of checking a real account's password, for an account that does not exist. */
export async function verifyAgainstDecoy(password: string): Promise<void> {
  await verifyScryptPassword(DECOY_VERIFIER, password.slice(0, MAX_PASSWORD_OCTETS));
}

/**
 * The attribute as the SASL mechanisms see it; undefined when it verifies nothing. `onUpgrade` is
 * called with the password after it matched a scrypt-only verifier.
 */
export function storedCredentialsOf(
  form: CredentialForm,
  address: string,
  vault: KeyVault,
  onUpgrade: (password: string) => Promise<void>,
): StoredCredentials | undefined {
  switch (form.form) {
    case 'sasl':
      return openCredentials(form.record, vault, address);
    case 'scrypt-only':
      return {
        scram: undefined,
        async legacyVerifiers() {
          return undefined;
        },
        async verifyPassword(password) {
          const verified = await form.verify(password);
          if (verified) await onUpgrade(password);
          return verified;
        },
      };
    case 'unusable':
      return undefined;
  }
}
