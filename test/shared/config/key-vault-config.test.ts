import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../../shared/config/config.ts';
import { openKeyVault } from '../../../shared/keyvault/open-key-vault.ts';

const AWS_STORE = { MARMOT_STORE: 'aws', MARMOT_TABLE: 't', MARMOT_BUCKET: 'b', AWS_REGION: 'eu-west-1' };

describe('key-vault configuration', () => {
  test('locally: the master key file in the data directory', () => {
    assert.deepEqual(loadConfig({ MARMOT_DATA_DIR: '/srv/marmot' }).keyVault, {
      kind: 'local',
      dataDir: resolve('/srv/marmot'),
    });
  });

  test('on AWS: KMS with MARMOT_KEY_ID, required rather than falling back to a key on an ephemeral disk', async () => {
    const key = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    assert.deepEqual(loadConfig({ ...AWS_STORE, MARMOT_KEY_ID: key }).keyVault, {
      kind: 'aws',
      region: 'eu-west-1',
      keyId: key,
      endpoint: undefined,
    });
    assert.equal(
      loadConfig({ ...AWS_STORE, MARMOT_KEY_ID: key, MARMOT_KMS_ENDPOINT: 'http://127.0.0.1:4599' }).keyVault.kind,
      'aws',
    );
    // Without it, processes that seal nothing still start; opening the vault fails and says why.
    const unconfigured = loadConfig(AWS_STORE).keyVault;
    assert.equal(unconfigured.kind, 'unconfigured');
    await assert.rejects(openKeyVault(unconfigured), { name: 'ConfigError', message: /MARMOT_KEY_ID/ });
  });

  test('MARMOT_KEY_VAULT overrides the default, and only takes local or aws', () => {
    assert.equal(loadConfig({ ...AWS_STORE, MARMOT_KEY_VAULT: 'local' }).keyVault.kind, 'local');
    assert.equal(loadConfig({ MARMOT_KEY_VAULT: 'aws' }).keyVault.kind, 'unconfigured');
    assert.throws(() => loadConfig({ MARMOT_KEY_VAULT: 'vault' }), ConfigError);
  });
});
