/** A real local key vault in a temporary directory, removed when the test process exits. */
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalKeyVault } from '../../../shared/keyvault/local-key-vault.ts';

export async function temporaryKeyVault(): Promise<LocalKeyVault> {
  const dir = await mkdtemp(join(tmpdir(), 'marmot-vault-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return LocalKeyVault.open(dir);
}
