/**
 * Opens the key vault a deployment uses: the local master key file, or AWS KMS. The KMS SDK is loaded
 * only when asked for, so the local system never loads it.
 */
import { ConfigError } from '../config/config.ts';
import type { KeyVault } from './key-vault.ts';
import { LocalKeyVault } from './local-key-vault.ts';

export type KeyVaultConfig =
  | { kind: 'local'; dataDir: string }
  | { kind: 'aws'; region: string; keyId: string; endpoint?: string }
  /** A deployment that names no key: processes that seal nothing run; opening the vault says what is missing. */
  | { kind: 'unconfigured'; missing: string };

export async function openKeyVault(config: KeyVaultConfig): Promise<KeyVault> {
  if (config.kind === 'unconfigured') throw new ConfigError(config.missing);
  if (config.kind === 'local') return LocalKeyVault.open(config.dataDir);
  const [{ KMSClient }, { KmsKeyVault }] = await Promise.all([
    import('@aws-sdk/client-kms'),
    import('./kms-key-vault.ts'),
  ]);
  return new KmsKeyVault(new KMSClient({ region: config.region, endpoint: config.endpoint }), config.keyId);
}
