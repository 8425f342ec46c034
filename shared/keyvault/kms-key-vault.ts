/**
 * The AWS key vault: KMS `Encrypt`/`Decrypt` under one symmetric KMS key, with the caller's context
 * passed as KMS's EncryptionContext.
 *
 * Why direct Encrypt rather than GenerateDataKey plus local AES-GCM: what the vault holds is small (SASL
 * verifiers are under 200 bytes, a PEM DKIM key under 4 KB, KMS's limit for Encrypt), so an envelope
 * scheme buys nothing but local crypto code to get wrong. Both cost one KMS call per decrypt unless data
 * keys are cached, and caching would keep plaintext keys in the task's memory. With Encrypt the key never
 * leaves KMS, every decrypt is in CloudTrail with its context, and a key policy can require the context.
 *
 * Envelope: `v1.kms.<CiphertextBlob base64url>`. Decrypt pins the KeyId, so an envelope made under another
 * key is refused rather than decrypted with whatever key the blob names.
 *
 * Not tested against real KMS (there is no emulator here). Its test drives it through the real SDK
 * against a stand-in for KMS's JSON API, which checks the requests, the envelope and the error mapping.
 * SECURITY: trusts KMS; the IAM role needs kms:Encrypt and kms:Decrypt on this key only.
 */
import { DecryptCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { canonicalContext, type EncryptionContext, EnvelopeError, type KeyVault } from './key-vault.ts';

const ENVELOPE_PREFIX = 'v1.kms.';
/** KMS Encrypt accepts at most 4096 bytes of plaintext. */
export const MAX_KMS_PLAINTEXT_BYTES = 4096;
/** A CiphertextBlob for 4 KB of plaintext is a little over 4 KB; anything much larger is not ours. */
const MAX_KMS_ENVELOPE_CHARS = 16 * 1024;

export class KmsKeyVault implements KeyVault {
  constructor(
    private readonly client: KMSClient,
    /** Key ARN (preferred: Decrypt pins it) or alias ARN. */
    private readonly keyId: string,
  ) {}

  async encrypt(plaintext: Buffer, context: EncryptionContext): Promise<string> {
    if (plaintext.length > MAX_KMS_PLAINTEXT_BYTES) {
      throw new RangeError(`KMS encrypts at most ${MAX_KMS_PLAINTEXT_BYTES} bytes, not ${plaintext.length}`);
    }
    canonicalContext(context); // the same limits as the local vault
    const result = await this.client.send(
      new EncryptCommand({ KeyId: this.keyId, Plaintext: plaintext, EncryptionContext: { ...context } }),
    );
    if (!result.CiphertextBlob) throw new Error('KMS Encrypt returned no CiphertextBlob');
    return ENVELOPE_PREFIX + Buffer.from(result.CiphertextBlob).toString('base64url');
  }

  async decrypt(envelope: string, context: EncryptionContext): Promise<Buffer> {
    if (!envelope.startsWith(ENVELOPE_PREFIX) || envelope.length > MAX_KMS_ENVELOPE_CHARS) {
      throw new EnvelopeError('not a KMS key-vault envelope');
    }
    const blobText = envelope.slice(ENVELOPE_PREFIX.length);
    const blob = Buffer.from(blobText, 'base64url');
    if (blob.length === 0 || blob.toString('base64url') !== blobText) throw new EnvelopeError('malformed envelope');
    try {
      const result = await this.client.send(
        new DecryptCommand({ KeyId: this.keyId, CiphertextBlob: blob, EncryptionContext: { ...context } }),
      );
      if (!result.Plaintext) throw new EnvelopeError('KMS Decrypt returned no plaintext');
      return Buffer.from(result.Plaintext);
    } catch (error) {
      // KMS says InvalidCiphertextException for tampering and for a context that differs alike.
      if ((error as { name?: string }).name === 'InvalidCiphertextException') {
        throw new EnvelopeError('KMS refused the envelope: tampered with, another key, or another context');
      }
      throw error;
    }
  }
}
