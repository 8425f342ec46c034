/**
 * The KMS adapter against a stand-in for KMS's JSON API (Encrypt and Decrypt only, AES-GCM with the
 * EncryptionContext as additional data, InvalidCiphertextException on mismatch), reached through the
 * real AWS SDK over HTTP. This checks the adapter's requests, envelope and error mapping; it says
 * nothing about real KMS, which is not tested here.
 */
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { KMSClient } from '@aws-sdk/client-kms';
import { EnvelopeError } from '../../../shared/keyvault/key-vault.ts';
import { KmsKeyVault, MAX_KMS_PLAINTEXT_BYTES } from '../../../shared/keyvault/kms-key-vault.ts';

const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

function startKmsStandIn(): Promise<{ server: Server; endpoint: string; targets: string[] }> {
  const key = randomBytes(32);
  const targets: string[] = [];
  const aad = (keyId: string, context: Record<string, string> = {}) =>
    Buffer.from(JSON.stringify([keyId, Object.entries(context).sort()]));
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString());
    const target = String(request.headers['x-amz-target']);
    targets.push(target);
    const reply = (status: number, json: unknown) => {
      response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(JSON.stringify(json));
    };
    if (target === 'TrentService.Encrypt') {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(aad(body.KeyId, body.EncryptionContext));
      const sealed = Buffer.concat([
        cipher.update(Buffer.from(body.Plaintext, 'base64')),
        cipher.final(),
        cipher.getAuthTag(),
      ]);
      const keyId = Buffer.from(body.KeyId);
      const blob = Buffer.concat([Buffer.from([keyId.length]), keyId, iv, sealed]);
      return reply(200, { CiphertextBlob: blob.toString('base64'), KeyId: body.KeyId });
    }
    if (target === 'TrentService.Decrypt') {
      const blob = Buffer.from(body.CiphertextBlob, 'base64');
      const keyId = blob.subarray(1, 1 + (blob[0] ?? 0)).toString();
      try {
        if (body.KeyId !== undefined && body.KeyId !== keyId) throw new Error('key mismatch');
        const rest = blob.subarray(1 + keyId.length);
        const decipher = createDecipheriv('aes-256-gcm', key, rest.subarray(0, 12));
        decipher.setAAD(aad(keyId, body.EncryptionContext));
        decipher.setAuthTag(rest.subarray(rest.length - 16));
        const plaintext = Buffer.concat([decipher.update(rest.subarray(12, rest.length - 16)), decipher.final()]);
        return reply(200, { Plaintext: plaintext.toString('base64'), KeyId: keyId });
      } catch {
        return reply(400, { __type: 'InvalidCiphertextException', message: 'invalid ciphertext' });
      }
    }
    reply(400, { __type: 'UnsupportedOperationException', message: target });
  });
  server.listen(0, '127.0.0.1');
  return once(server, 'listening').then(() => ({
    server,
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    targets,
  }));
}

describe('KmsKeyVault (against a KMS stand-in)', () => {
  let standIn: Awaited<ReturnType<typeof startKmsStandIn>>;
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
