/**
 * A stand-in for AWS KMS's JSON API, Encrypt and Decrypt only: AES-256-GCM under one random key, the
 * KeyId and the EncryptionContext as additional data, InvalidCiphertextException on any mismatch (a
 * tampered blob, another context, another KeyId). Enough for the KMS key-vault adapter and for
 * processes configured with MARMOT_KEY_ID to run against the emulators; it says nothing about real
 * KMS. Plain JavaScript apart from type annotations, so Node runs it without tsx (aws-emulators.ts).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface KmsStandIn {
  server: Server;
  endpoint: string;
  /** The X-Amz-Target of every request, in order. */
  targets: string[];
}

export async function startKmsStandIn(host = '127.0.0.1'): Promise<KmsStandIn> {
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
  server.listen(0, host);
  await once(server, 'listening');
  return { server, endpoint: `http://${host}:${(server.address() as AddressInfo).port}`, targets };
}
