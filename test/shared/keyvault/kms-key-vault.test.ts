/**
 * The KMS adapter against a stand-in for KMS's JSON API (test/support/kms-stand-in.ts), reached
 * through the real AWS SDK over HTTP. This checks the adapter's requests, envelope and error mapping; it says
 * nothing about real KMS, which is not tested here.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { KMSClient } from '@aws-sdk/client-kms';
import { EnvelopeError } from '../../../shared/keyvault/key-vault.ts';
import { KmsKeyVault, MAX_KMS_PLAINTEXT_BYTES } from '../../../shared/keyvault/kms-key-vault.ts';
import { type KmsStandIn, startKmsStandIn } from '../../support/kms-stand-in.ts';

const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

describe('KmsKeyVault (against a KMS stand-in)', () => {
  let standIn: KmsStandIn;
  let vault: KmsKeyVault;
  let client: KMSClient;
  const context = { purpose: 'sasl-legacy-verifiers', account: 'alice@example.com' };
  before(async () => {
    standIn = await startKmsStandIn();
    client = new KMSClient({
      region: 'us-east-1',
      endpoint: standIn.endpoint,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    vault = new KmsKeyVault(client, KEY_ARN);
  });
  after(async () => {
    client.destroy();
    standIn.server.close();
    await once(standIn.server, 'close');
  });

  it('round-trips through Encrypt and Decrypt with the EncryptionContext', async () => {
    const envelope = await vault.encrypt(Buffer.from('nt hash bytes'), context);
    assert.match(envelope, /^v1\.kms\.[A-Za-z0-9_-]+$/);
    assert.equal((await vault.decrypt(envelope, context)).toString(), 'nt hash bytes');
    assert.deepEqual(standIn.targets.slice(-2), ['TrentService.Encrypt', 'TrentService.Decrypt']);
  });

  it('maps a wrong context, tampering and another key to EnvelopeError', async () => {
    const envelope = await vault.encrypt(Buffer.from('secret'), context);
    await assert.rejects(vault.decrypt(envelope, { ...context, account: 'mallory@example.com' }), EnvelopeError);
    const blob = Buffer.from(envelope.slice('v1.kms.'.length), 'base64url');
    blob[blob.length - 1]! ^= 1;
    await assert.rejects(vault.decrypt(`v1.kms.${blob.toString('base64url')}`, context), EnvelopeError);
    const otherKey = new KmsKeyVault(client, `${KEY_ARN}-other`);
    await assert.rejects(otherKey.decrypt(envelope, context), EnvelopeError);
  });

  it('refuses what is not a KMS envelope without calling KMS, and plaintext over 4 KB', async () => {
    const calls = standIn.targets.length;
    for (const junk of ['', 'v1.local.a.b.c', 'v1.kms.', 'v1.kms.not base64!']) {
      await assert.rejects(vault.decrypt(junk, context), EnvelopeError, junk);
    }
    assert.equal(standIn.targets.length, calls);
    await assert.rejects(vault.encrypt(Buffer.alloc(MAX_KMS_PLAINTEXT_BYTES + 1), context), RangeError);
  });
});
