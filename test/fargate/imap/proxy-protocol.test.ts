/** IMAP behind the NLB: the PROXY v2 header comes first, and a connection without one is dropped. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { encodeProxyV2 } from '../../../fargate/proxy-protocol/proxy-v2.ts';
import { type ImapTestServer, startImapTestServer } from './imap-test-server.ts';

function readUntil(socket: Socket, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (pattern.test(text)) {
        socket.off('data', onData);
        resolve(text);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed after ${JSON.stringify(text)}`)));
  });
}

describe('IMAP with PROXY protocol v2', () => {
  let server: ImapTestServer;
  before(async () => {
    server = await startImapTestServer({ MARMOT_PROXY_PROTOCOL: 'v2' });
  });
  after(() => server.stop());

  test('greets after the header and serves commands sent with it in one packet', async () => {
    const socket = connect(server.port, server.host);
    await once(socket, 'connect');
    const header = encodeProxyV2({
      source: { address: '198.51.100.23', port: 40001 },
      destination: { address: '10.0.1.9', port: 143 },
    });
    socket.write(Buffer.concat([header, Buffer.from('a1 CAPABILITY\r\n')]));
    const text = await readUntil(socket, /a1 OK/);
    assert.match(text, /^\* OK/);
    assert.match(text, /\* CAPABILITY IMAP4rev1/);
    socket.destroy();
  });

  test('drops a client that speaks IMAP without the header', async () => {
    const socket = connect(server.port, server.host);
    await once(socket, 'connect');
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk;
    });
    socket.write('a1 CAPABILITY\r\n');
    const closed = once(socket, 'close').then(() => true);
    const stillOpen = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3_000));
    assert.equal(await Promise.race([closed, stillOpen]), true, 'the connection is closed');
    assert.equal(received, '', 'not a byte of IMAP before a valid header');
    socket.destroy();
  });
});
