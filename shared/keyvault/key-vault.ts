/**
 * The key-vault port: encrypts small secrets at rest (DKIM private keys, the plaintext-equivalent SASL
 * verifiers) so a copy of the metadata store alone does not reveal them.
 *
 * An envelope is a self-describing string `<version>.<adapter>.<...>`; the context is authenticated but
 * not stored, so an envelope only decrypts with the same context it was made with. Callers put in the
 * context what the secret belongs to (its purpose and owner), which stops someone who can write the
 * store from moving one account's envelope onto another account.
 *
 * Adapters: `LocalKeyVault` (a master key file in the data directory) and `KmsKeyVault` (AWS KMS).
 */

export type EncryptionContext = Readonly<Record<string, string>>;

export interface KeyVault {
  encrypt(plaintext: Buffer, context: EncryptionContext): Promise<string>;
  /** Throws `EnvelopeError` when the envelope is malformed, was tampered with, or the context differs. */
  decrypt(envelope: string, context: EncryptionContext): Promise<Buffer>;
}

/** The envelope cannot be opened: malformed, not ours, tampered with, or opened with another context. */
export class EnvelopeError extends Error {
  override name = 'EnvelopeError';
}

/** Context keys and values are limited so the AAD and KMS's EncryptionContext stay small and printable. */
export const MAX_CONTEXT_ENTRIES = 8;
export const MAX_CONTEXT_TEXT = 256;

/**
 * The context as canonical bytes (sorted keys, JSON), used as AES-GCM additional data. Sorting makes
 * `{a, b}` and `{b, a}` the same context, as KMS treats them.
 */
export function canonicalContext(context: EncryptionContext): Buffer {
  const entries = Object.entries(context).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length > MAX_CONTEXT_ENTRIES) throw new RangeError(`at most ${MAX_CONTEXT_ENTRIES} context entries`);
  for (const [key, value] of entries) {
    if (key.length === 0 || key.length > MAX_CONTEXT_TEXT || value.length > MAX_CONTEXT_TEXT) {
      throw new RangeError(
        `context keys must be 1 to ${MAX_CONTEXT_TEXT} characters, values at most ${MAX_CONTEXT_TEXT}`,
      );
    }
  }
  return Buffer.from(JSON.stringify(entries), 'utf8');
}
