/**
 * The local key vault: AES-256-GCM under a master key kept in a file in the data directory.
 *
 * The key file is created on first start, mode 0600, and never replaced. Creation is safe against two
 * processes starting at once: each writes a complete candidate key to its own temporary file (opened
 * with O_EXCL), fsyncs it, then hard-links it to the final name. link(2) fails if the name exists, so
 * exactly one candidate wins, and the winner's file is already complete when the name appears (an
 * O_EXCL create of the final name itself would let the loser read a half-written key).
 *
 * Envelope: `v1.local.<key id>.<iv>.<ciphertext||tag>` (base64url). The key id is the first 8 bytes of
 * SHA-256(key), so opening an envelope with another data directory's key says so instead of failing
 * as "tampered". The additional data binds the version, the key id and the canonical context.
 *
 * SECURITY: trusts the key file's contents and refuses a key file that group or others can read.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { canonicalContext, type EncryptionContext, EnvelopeError, type KeyVault } from './key-vault.ts';

export const MASTER_KEY_FILE = 'master.key';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_BYTES = 8;
const ENVELOPE_PREFIX = 'v1.local';
/** Envelopes larger than this are not ours (the vault holds keys and verifiers, not mail). */
export const MAX_LOCAL_ENVELOPE_CHARS = 64 * 1024;

export class MasterKeyFileError extends Error {
  override name = 'MasterKeyFileError';
}

export class LocalKeyVault implements KeyVault {
  private readonly keyId: string;

  private constructor(private readonly key: Buffer) {
    this.keyId = createHash('sha256').update(key).digest().subarray(0, KEY_ID_BYTES).toString('base64url');
  }

  /** Opens the vault of a data directory, creating its master key file on first start. */
  static async open(dataDir: string): Promise<LocalKeyVault> {
    const path = join(dataDir, MASTER_KEY_FILE);
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await createKeyFileIfAbsent(path);
    return new LocalKeyVault(await readKeyFile(path));
  }

  async encrypt(plaintext: Buffer, context: EncryptionContext): Promise<string> {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(this.additionalData(context));
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return `${ENVELOPE_PREFIX}.${this.keyId}.${iv.toString('base64url')}.${sealed.toString('base64url')}`;
  }

  async decrypt(envelope: string, context: EncryptionContext): Promise<Buffer> {
    if (envelope.length > MAX_LOCAL_ENVELOPE_CHARS) throw new EnvelopeError('envelope too large');
    const parts = envelope.split('.');
    if (parts.length !== 5 || `${parts[0]}.${parts[1]}` !== ENVELOPE_PREFIX) {
      throw new EnvelopeError('not a local key-vault envelope');
    }
    const [, , keyId, ivText, sealedText] = parts as [string, string, string, string, string];
    if (keyId !== this.keyId) throw new EnvelopeError(`envelope was made with another master key (${keyId})`);
    const iv = strictBase64url(ivText);
    const sealed = strictBase64url(sealedText);
    if (iv?.length !== IV_BYTES || sealed === undefined || sealed.length < TAG_BYTES) {
      throw new EnvelopeError('malformed envelope');
    }
    const decipher = createDecipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(this.additionalData(context));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new EnvelopeError('envelope does not authenticate: tampered with, or another context');
    }
  }

  private additionalData(context: EncryptionContext): Buffer {
    return Buffer.concat([Buffer.from(`${ENVELOPE_PREFIX}.${this.keyId}\0`, 'utf8'), canonicalContext(context)]);
  }
}

async function createKeyFileIfAbsent(path: string): Promise<void> {
  try {
    await stat(path);
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const candidate = `${path}.${process.pid}.${randomBytes(8).toString('hex')}.tmp`;
  const handle = await open(candidate, 'wx', 0o600);
  try {
    await handle.writeFile(randomBytes(KEY_BYTES));
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(candidate, path);
    await syncDirectory(dirname(path));
  } catch (error) {
    // Another process won the race; its key is the key.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await unlink(candidate);
  }
}

async function readKeyFile(path: string): Promise<Buffer> {
  const info = await stat(path);
  if ((info.mode & 0o077) !== 0) {
    throw new MasterKeyFileError(`${path} is readable by group or others (mode ${(info.mode & 0o777).toString(8)})`);
  }
  const key = await readFile(path);
  if (key.length !== KEY_BYTES) throw new MasterKeyFileError(`${path} must hold exactly ${KEY_BYTES} bytes`);
  return key;
}

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function strictBase64url(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}
