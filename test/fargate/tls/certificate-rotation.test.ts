/**
 * The AWS certificate path: the listeners serve the certificate held in a Secrets Manager secret and
 * pick up a new version without a restart. The secret lives in a small stand-in for Secrets Manager's
 * JSON API, reached through the real AWS SDK client.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { connect } from 'node:tls';
import { generate } from 'selfsigned';
import { parseCertificateSecret } from '../../../fargate/tls/certificate-source.ts';
import { startTestMailSystem, type TestMailSystem } from '../../support/mail-system.ts';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:marmot-tls-AbCdEf';

async function certificateFor(commonName: string): Promise<{ certificate: string; privateKey: string }> {
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
  });
  return { certificate: pems.cert, privateKey: pems.private };
}

/** Answers GetSecretValue with whatever `secret` holds at the time. */
function secretsManagerStandIn(state: { secret: string; reads: number }): Server {
  return createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      const target = request.headers['x-amz-target'];
      const { SecretId } = JSON.parse(body) as { SecretId: string };
      if (target !== 'secretsmanager.GetSecretValue' || SecretId !== SECRET_ARN) {
        response.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(JSON.stringify({ __type: 'ResourceNotFoundException', message: 'no such secret' }));
        return;
      }
      state.reads++;
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(
        JSON.stringify({
          ARN: SECRET_ARN,
          Name: 'marmot-tls',
          SecretString: state.secret,
          VersionId: `v${state.reads}`,
        }),
      );
    });
  });
}

/** The subject CN the listener presents in a TLS handshake. */
async function presentedName(port: number): Promise<string> {
  const socket = connect({ port, host: '127.0.0.1', rejectUnauthorized: false });
  await once(socket, 'secureConnect');
  const name = String(socket.getPeerCertificate().subject.CN);
  socket.destroy();
  return name;
}

describe('TLS certificate from Secrets Manager', () => {
  const state = { secret: JSON.stringify({ certificate: '', privateKey: '' }), reads: 0 };
  let standIn: Server;
  let system: TestMailSystem;

  before(async () => {
    // The SDK in this process reads credentials from its own environment, not from the system's config.
    process.env.AWS_ACCESS_KEY_ID = 'test';
    process.env.AWS_SECRET_ACCESS_KEY = 'test';
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    standIn = secretsManagerStandIn(state);
    standIn.listen(0, '127.0.0.1');
    await once(standIn, 'listening');
    const { port } = standIn.address() as { port: number };
    system = await startTestMailSystem({
      MARMOT_TLS_SECRET_ARN: SECRET_ARN,
      MARMOT_TLS_REFRESH_SECONDS: '1',
      MARMOT_SECRETSMANAGER_ENDPOINT: `http://127.0.0.1:${port}`,
      AWS_REGION: 'eu-west-1',
    });
  });

  after(async () => {
    await system.stop();
    standIn.close();
  });

  test('serves the fallback while the secret is empty, then each new version, without a restart', async () => {
    const port = system.ports['submission-tls']!;
    assert.equal(await presentedName(port), 'mx.test.example', 'the local fallback while the secret is empty');

    state.secret = JSON.stringify(await certificateFor('mail-a.example'));
    await waitFor(async () => (await presentedName(port)) === 'mail-a.example');

    state.secret = JSON.stringify(await certificateFor('mail-b.example'));
    await waitFor(async () => (await presentedName(port)) === 'mail-b.example');

    const readsBefore = state.reads;
    state.secret = '{"certificate": "not a certificate"';
    await waitFor(async () => state.reads > readsBefore + 1);
    assert.equal(await presentedName(port), 'mail-b.example', 'a broken secret leaves the last good pair in use');
  });
});

describe('parseCertificateSecret', () => {
  test('accepts a matching pair, treats the empty placeholder as nothing yet, refuses the rest', async () => {
    const a = await certificateFor('a.example');
    const b = await certificateFor('b.example');
    assert.deepEqual(parseCertificateSecret(JSON.stringify(a)), { cert: a.certificate, key: a.privateKey });
    assert.equal(parseCertificateSecret(''), undefined);
    assert.equal(parseCertificateSecret('{"certificate":"","privateKey":""}'), undefined);
    assert.throws(() => parseCertificateSecret('PEM?'), /not JSON/);
    assert.throws(() => parseCertificateSecret('{"certificate":"x"}'), /needs "certificate" and "privateKey"/);
    assert.throws(
      () => parseCertificateSecret(JSON.stringify({ certificate: a.certificate, privateKey: b.privateKey })),
      /does not match/,
    );
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
