import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig } from '../../../shared/config/config.ts';
import { openConfiguredKeyVault } from '../../../shared/keyvault/open-key-vault.ts';

const AWS_STORE = { MARMOT_STORE: 'aws', MARMOT_TABLE: 't', MARMOT_BUCKET: 'b', AWS_REGION: 'eu-west-1' };

describe('key-vault configuration', () => {
  test('locally: the master key file in the data directory', () => {
    assert.deepEqual(loadConfig({ MARMOT_DATA_DIR: '/srv/marmot' }).keyVault, {
      kind: 'local',
      dataDir: resolve('/srv/marmot'),
    });
  });

  test('on AWS: KMS with MARMOT_KEY_ID; without it, only what needs the vault fails, saying so', async () => {
    const key = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    assert.deepEqual(loadConfig({ ...AWS_STORE, MARMOT_KEY_ID: key }).keyVault, {
      kind: 'aws',
      region: 'eu-west-1',
      keyId: key,
    });
    assert.deepEqual(
      loadConfig({ ...AWS_STORE, MARMOT_KEY_ID: key, MARMOT_KMS_ENDPOINT: 'http://127.0.0.1:4599' }).keyVault,
      { kind: 'aws', region: 'eu-west-1', keyId: key, endpoint: 'http://127.0.0.1:4599' },
    );
    const missing = loadConfig(AWS_STORE).keyVault;
    assert.equal(missing, undefined);
    await assert.rejects(openConfiguredKeyVault(missing, 'authentication'), {
      name: 'ConfigError',
      message: /^authentication needs the key vault: set MARMOT_KEY_ID/,
    });
  });

  test('hostname aliases and failed-login limits', () => {
    const config = loadConfig({
      MARMOT_HOSTNAME_ALIASES: ' mail.example.com, smtp.example.org ,,',
      MARMOT_AUTH_MAX_FAILURES_PER_ADDRESS: '5',
    });
    assert.deepEqual(config.hostnameAliases, ['mail.example.com', 'smtp.example.org']);
    assert.deepEqual(config.authThrottle, { maxFailuresPerAddress: 5, maxFailuresPerAccount: 30 });
    assert.throws(() => loadConfig({ MARMOT_AUTH_MAX_FAILURES_PER_ACCOUNT: '0' }), { name: 'ConfigError' });
  });
});
