/**
 * Opens the key vault a deployment uses: the local master key file, or AWS KMS. The KMS SDK is loaded
 * only when asked for, so the local system never loads it.
 */
import type { KeyVault } from './key-vault.ts';
import { LocalKeyVault } from './local-key-vault.ts';

export type KeyVaultConfig =
  | { kind: 'local'; dataDir: string }
  | { kind: 'aws'; region: string; keyId: string; endpoint?: string };

export async function openKeyVault(config: KeyVaultConfig): Promise<KeyVault> {
  if (config.kind === 'local') return LocalKeyVault.open(config.dataDir);
  const [{ KMSClient }, { KmsKeyVault }] = await Promise.all([
    import('@aws-sdk/client-kms'),
    import('./kms-key-vault.ts'),
  ]);
  return new KmsKeyVault(new KMSClient({ region: config.region, endpoint: config.endpoint }), config.keyId);
}
