import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync, randomBytes, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import { generate } from 'selfsigned';
import { channelBindingsOf, serverEndPoint } from '../../../shared/sasl/channel-binding.ts';
import { createMechanism } from '../../../shared/sasl/sasl.ts';
import { ALICE, outcome, PASSWORD, saslFixture } from './sasl-fixture.ts';

interface Connection {
  server: TLSSocket;
  client: TLSSocket;
}

async function connectPair(
  pems: { private: string; cert: string },
  maxVersion: 'TLSv1.2' | 'TLSv1.3',
): Promise<Connection & { close(): Promise<void> }> {
  let accepted: (socket: TLSSocket) => void = () => {};
  const serverSide = new Promise<TLSSocket>((resolve) => {
    accepted = resolve;
  });
  const server: Server = createServer({ key: pems.private, cert: pems.cert, maxVersion }, (socket) => accepted(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect({
    port: (server.address() as AddressInfo).port,
    host: '127.0.0.1',
    rejectUnauthorized: false,
  });
  await once(client, 'secureConnect');
  const socket = await serverSide;
  return {
    server: socket,
    client,
    async close() {
      client.destroy();
      socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

describe('TLS channel bindings', () => {
  let sha256Cert: { private: string; cert: string };
  let sha384Cert: { private: string; cert: string };
  before(async () => {
    [sha256Cert, sha384Cert] = await Promise.all([
      generate([{ name: 'commonName', value: 'localhost' }], { algorithm: 'sha256' }),
      generate([{ name: 'commonName', value: 'localhost' }], { algorithm: 'sha384' }),
    ]);
  });
  const open: { close(): Promise<void> }[] = [];
  after(async () => {
    await Promise.all(open.map((connection) => connection.close()));
  });

  it('agree with what the client computes on TLS 1.3 (tls-exporter, tls-server-end-point)', async () => {
    const connection = await connectPair(sha256Cert, 'TLSv1.3');
    open.push(connection);
    const bindings = channelBindingsOf(connection.server);
    const clientExporter = connection.client.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
    assert.deepEqual(bindings['tls-exporter'], clientExporter);
    const peer = connection.client.getPeerX509Certificate();
    assert.ok(peer);
    assert.deepEqual(bindings['tls-server-end-point'], createHash('sha256').update(peer.raw).digest());
  });

  it('give no tls-exporter on TLS 1.2, but still tls-server-end-point', async () => {
    const connection = await connectPair(sha256Cert, 'TLSv1.2');
    open.push(connection);
    const bindings = channelBindingsOf(connection.server);
    assert.equal(bindings['tls-exporter'], undefined);
    assert.equal(bindings['tls-server-end-point']?.length, 32);
  });

  it("hash the certificate with its signature's hash (RFC 5929 §4.1)", () => {
    const certificate = new X509Certificate(sha384Cert.cert);
    assert.deepEqual(serverEndPoint(certificate), createHash('sha384').update(certificate.raw).digest());
  });

  it('carry a SCRAM-SHA-256-PLUS login over a real TLS connection, and fail it on another connection', async () => {
    const fixture = await saslFixture();
    const first = await connectPair(sha256Cert, 'TLSv1.3');
    const second = await connectPair(sha256Cert, 'TLSv1.3');
    open.push(first, second);
    const clientBinding = first.client.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
    const login = async (serverSocket: TLSSocket) => {
      const mechanism = createMechanism(
        'SCRAM-SHA-256-PLUS',
        fixture.context({ channelBindings: channelBindingsOf(serverSocket) }),
      )!;
      const gs2 = 'p=tls-exporter,,';
      const bare = `n=${ALICE},r=${randomBytes(9).toString('base64')}`;
      const serverFirst = await mechanism.step(Buffer.from(gs2 + bare));
      assert.ok('challenge' in serverFirst);
      const text = serverFirst.challenge.toString();
      const fields = Object.fromEntries(text.split(',').map((part) => [part[0], part.slice(2)]));
      const salted = pbkdf2Sync(PASSWORD, Buffer.from(fields.s!, 'base64'), Number(fields.i), 32, 'sha256');
      const withoutProof = `c=${Buffer.concat([Buffer.from(gs2), clientBinding]).toString('base64')},r=${fields.r}`;
      const clientKey = createHmac('sha256', salted).update('Client Key').digest();
      const signature = createHmac('sha256', createHash('sha256').update(clientKey).digest())
        .update(`${bare},${text},${withoutProof}`)
        .digest();
      const proof = Buffer.from(clientKey.map((byte, i) => byte ^ signature[i]!)).toString('base64');
      return mechanism.step(Buffer.from(`${withoutProof},p=${proof}`));
    };
    assert.equal(outcome(await login(first.server)), 'success');
    // The same client binding presented on another connection (a relaying attacker) fails.
    assert.equal(outcome(await login(second.server)), 'bad-credentials');
  });
});
