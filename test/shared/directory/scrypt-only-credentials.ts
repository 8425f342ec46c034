/**
 * The `credentials` attribute exactly as the directory wrote it before the SASL verifiers (the first
 * release of shared/directory/password.ts): scrypt N=2^14, r=8, p=1, a 16-byte salt and a 32-byte key
 * over the prepared password. Tests store it to prove such accounts keep working and get upgraded.
 */
import { randomBytes, scryptSync } from 'node:crypto';
import { preparePassword, type ScryptOnlyVerifier } from '../../../shared/directory/password.ts';

export async function scryptOnlyCredentials(password: string): Promise<{ scrypt: ScryptOnlyVerifier }> {
  const salt = randomBytes(16);
  const cost = { N: 2 ** 14, r: 8, p: 1 };
  const key = scryptSync(preparePassword(password), salt, 32, { ...cost, maxmem: 256 * cost.N * cost.r });
  return { scrypt: { v: 1, salt: salt.toString('base64'), ...cost, key: key.toString('base64') } };
}
