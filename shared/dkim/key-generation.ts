/**
 * DKIM key pairs: generation with node:crypto, and the public key as a DNS record's `k=` and `p=`.
 *
 * RSA 2048 is the default: RFC 8301 §3.2 requires verifiers to handle 1024 to 4096 bits and says signers
 * SHOULD use at least 2048. RSA 1024 is offered for DNS hosts that cannot publish a record longer than one
 * 255-byte string. Ed25519 follows RFC 8463: `k=ed25519`, and `p=` is the raw 32-byte public key in base64
 * (§4.2), not a SubjectPublicKeyInfo as for RSA. Many receivers still ignore Ed25519 signatures, so a domain
 * signing with Ed25519 alone may look unsigned to them.
 *
 * Private keys are PKCS#8 PEM (what mailauth signs with); they leave this module only to be sealed by the
 * key vault.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { InvalidAlgorithmError } from './errors.ts';

export const DKIM_ALGORITHMS = ['rsa-2048', 'rsa-1024', 'ed25519'] as const;
export type DkimAlgorithm = (typeof DKIM_ALGORITHMS)[number];
export const DEFAULT_DKIM_ALGORITHM: DkimAlgorithm = 'rsa-2048';

/** The `k=` tag of the DNS record (RFC 6376 §3.6.1, RFC 8463 §4.1). */
export type DkimKeyType = 'rsa' | 'ed25519';

/** The public exponent every DKIM implementation expects (F4). */
const RSA_PUBLIC_EXPONENT = 0x10001;
/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it (RFC 8410 §4). */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
/** DER prefix of an Ed25519 PKCS#8 private key; the 32-byte seed follows it (RFC 8410 §7). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const ED25519_KEY_BYTES = 32;

export interface DkimKeyPair {
  algorithm: DkimAlgorithm;
  keyType: DkimKeyType;
  /** PKCS#8 PEM. */
  privateKeyPem: string;
  /** The `p=` value: base64 of the SubjectPublicKeyInfo (RSA) or of the raw key (Ed25519). */
  publicKey: string;
}

export function parseDkimAlgorithm(input: string): DkimAlgorithm {
  const value = input.trim().toLowerCase();
  if ((DKIM_ALGORITHMS as readonly string[]).includes(value)) return value as DkimAlgorithm;
  throw new InvalidAlgorithmError(
    `unknown DKIM algorithm ${JSON.stringify(input.slice(0, 40))}: use ${DKIM_ALGORITHMS.join(', ')}`,
  );
}

export function keyTypeOf(algorithm: DkimAlgorithm): DkimKeyType {
  return algorithm === 'ed25519' ? 'ed25519' : 'rsa';
}

export function generateDkimKeyPair(algorithm: DkimAlgorithm = DEFAULT_DKIM_ALGORITHM): DkimKeyPair {
  const { privateKey } =
    algorithm === 'ed25519'
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('rsa', {
          modulusLength: algorithm === 'rsa-1024' ? 1024 : 2048,
          publicExponent: RSA_PUBLIC_EXPONENT,
        });
  return keyPairFrom(algorithm, privateKey);
}

/** The Ed25519 key pair of a raw 32-byte seed (the form RFC 8463's example key is given in). */
export function ed25519KeyPairFromSeed(seed: Buffer): DkimKeyPair {
  if (seed.length !== ED25519_KEY_BYTES) throw new RangeError(`an Ed25519 seed is ${ED25519_KEY_BYTES} bytes`);
  const der = Buffer.concat([ED25519_PKCS8_PREFIX, seed]);
  return keyPairFrom('ed25519', createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
}

/** The `p=` value of a private key's public half, as the DNS record carries it. */
export function publicKeyRecordValue(privateKey: KeyObject): string {
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  if (privateKey.asymmetricKeyType === 'ed25519') {
    if (
      spki.length !== ED25519_SPKI_PREFIX.length + ED25519_KEY_BYTES ||
      !spki.subarray(0, 12).equals(ED25519_SPKI_PREFIX)
    ) {
      throw new Error('unexpected Ed25519 public key encoding');
    }
    return spki.subarray(ED25519_SPKI_PREFIX.length).toString('base64');
  }
  return spki.toString('base64');
}

function keyPairFrom(algorithm: DkimAlgorithm, privateKey: KeyObject): DkimKeyPair {
  const expected = keyTypeOf(algorithm);
  if (privateKey.asymmetricKeyType !== expected) {
    throw new InvalidAlgorithmError(`the key is ${privateKey.asymmetricKeyType}, not ${expected}`);
  }
  if (expected === 'rsa') {
    const bits = privateKey.asymmetricKeyDetails?.modulusLength;
    if (bits !== (algorithm === 'rsa-1024' ? 1024 : 2048)) throw new InvalidAlgorithmError(`the key has ${bits} bits`);
  }
  return {
    algorithm,
    keyType: expected,
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKey: publicKeyRecordValue(privateKey),
  };
}
