/**
 * Opens the key vault a deployment uses: the local master key file, or AWS KMS. The KMS SDK is loaded
 * only when asked for, so the local system never loads it.
 */
import { ConfigError } from '../config/config.ts';
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

/**
 * The deployment's key vault (`config.keyVault`), or a ConfigError saying what is missing when none is
 * configured (AWS without MARMOT_KEY_ID). `purpose`: what needs it, for the message.
 */
export async function openConfiguredKeyVault(config: KeyVaultConfig | undefined, purpose: string): Promise<KeyVault> {
  if (!config) throw new ConfigError(`${purpose} needs the key vault: set MARMOT_KEY_ID (the KMS key ARN)`);
  return openKeyVault(config);
}
