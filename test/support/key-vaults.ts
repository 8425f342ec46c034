/**
 * Real key vaults for tests: the local adapter on a temporary master key, and the KMS adapter against
 * the emulators' KMS stand-in, so the AWS adapter set seals with the AWS vault.
 */
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import type { KeyVault } from '../../shared/keyvault/key-vault.ts';
import { KmsKeyVault } from '../../shared/keyvault/kms-key-vault.ts';
import { LocalKeyVault } from '../../shared/keyvault/local-key-vault.ts';
import { type AdapterSet, awsAdapters, startAwsEmulators } from './stores.ts';

const STAND_IN_KEY = 'arn:aws:kms:us-east-1:111122223333:key/11111111-1111-4111-8111-111111111111';

export async function temporaryKeyVault(): Promise<LocalKeyVault> {
  const dir = await mkdtemp(join(tmpdir(), 'marmot-vault-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return LocalKeyVault.open(dir);
}

/** The vault that goes with an adapter set: KMS (stand-in) for AWS, a local master key otherwise. */
export async function keyVaultFor(adapters: AdapterSet): Promise<KeyVault> {
  if (adapters !== awsAdapters) return temporaryKeyVault();
  const { kmsEndpoint } = await startAwsEmulators();
  const client = new KMSClient({
    region: 'us-east-1',
    endpoint: kmsEndpoint,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  process.once('exit', () => client.destroy());
  return new KmsKeyVault(client, STAND_IN_KEY);
}
