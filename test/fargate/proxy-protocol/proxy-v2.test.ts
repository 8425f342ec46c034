import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import {
  encodeProxyV2,
  MAX_PROXY_HEADER_BYTES,
  ProxyProtocolError,
  parseProxyV2,
  readProxyHeader,
} from '../../../fargate/proxy-protocol/proxy-v2.ts';

const v4 = {
  source: { address: '203.0.113.7', port: 51234 },
  destination: { address: '10.0.0.5', port: 25 },
};
const v6 = {
  source: { address: '2001:db8::7', port: 40000 },
  destination: { address: '2001:db8::1:5', port: 993 },
};

describe('parseProxyV2', () => {
  it('reads TCP over IPv4', () => {
    const bytes = encodeProxyV2(v4);
    assert.deepEqual(parseProxyV2(bytes), { header: { command: 'proxy', ...v4 }, length: 28 });
  });

  it('reads TCP over IPv6 in canonical form', () => {
    const parsed = parseProxyV2(encodeProxyV2(v6));
    assert.deepEqual(parsed?.header, { command: 'proxy', ...v6 });
    assert.equal(parsed?.length, 52);
  });

  it('needs more bytes until the whole header is there', () => {
    const bytes = encodeProxyV2(v4);
    for (let cut = 0; cut < bytes.length; cut++) assert.equal(parseProxyV2(bytes.subarray(0, cut)), undefined);
  });

  it('skips TLVs after the addresses', () => {
    const bytes = encodeProxyV2(v4);
    const tlv = Buffer.from([0xea, 0x00, 0x03, 0x01, 0x02, 0x03]);
    const withTlv = Buffer.concat([bytes, tlv, Buffer.from('EHLO x\r\n')]);
    withTlv.writeUInt16BE(12 + tlv.length, 14);
    assert.equal(parseProxyV2(withTlv)?.length, bytes.length + tlv.length);
  });

  it('treats LOCAL as a connection of the proxy itself', () => {
    const bytes = encodeProxyV2(v4);
    bytes[12] = 0x20;
    assert.deepEqual(parseProxyV2(bytes)?.header, { command: 'local' });
  });

  it('rejects anything else', () => {
    assert.throws(() => parseProxyV2(Buffer.from('EHLO example.org\r\n')), ProxyProtocolError);
    assert.throws(() => parseProxyV2(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n')), ProxyProtocolError);
    const badVersion = encodeProxyV2(v4);
    badVersion[12] = 0x11;
    assert.throws(() => parseProxyV2(badVersion), /version/);
    const udp = encodeProxyV2(v4);
    udp[13] = 0x12;
    assert.throws(() => parseProxyV2(udp), /family/);
    const huge = encodeProxyV2(v4);
    huge.writeUInt16BE(MAX_PROXY_HEADER_BYTES, 14);
    assert.throws(() => parseProxyV2(huge), /too long/);
    const short = encodeProxyV2(v4);
    short.writeUInt16BE(4, 14);
    assert.throws(() => parseProxyV2(short), /too short/);
  });
});

describe('readProxyHeader over a socket', () => {
  async function exchange(send: (client: Socket) => void, timeoutMs?: number) {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const client = connect(port, '127.0.0.1');
    await once(client, 'connect');
    send(client);
    const [socket] = await accepted;
    try {
      const header = await readProxyHeader(socket, timeoutMs);
      const rest = await new Promise<string>((resolve) => {
        let text = '';
        socket.on('data', (chunk) => {
          text += chunk;
          if (text.endsWith('\r\n')) resolve(text);
        });
      });
      return { header, rest };
    } finally {
      client.destroy();
      socket.destroy();
      server.close();
    }
  }

  it('hands on the bytes after the header, even when they arrive in the same packet', async () => {
    const { header, rest } = await exchange((client) =>
      client.write(Buffer.concat([encodeProxyV2(v4), Buffer.from('EHLO client.example\r\n')])),
    );
    assert.deepEqual(header, { command: 'proxy', ...v4 });
    assert.equal(rest, 'EHLO client.example\r\n');
  });

  it('reassembles a header split over several packets', async () => {
    const bytes = encodeProxyV2(v6);
    const { header, rest } = await exchange((client) => {
      client.write(bytes.subarray(0, 5));
      setTimeout(() => client.write(bytes.subarray(5, 20)), 20);
      setTimeout(() => client.write(Buffer.concat([bytes.subarray(20), Buffer.from('a1 CAPABILITY\r\n')])), 40);
    });
    assert.deepEqual(header, { command: 'proxy', ...v6 });
    assert.equal(rest, 'a1 CAPABILITY\r\n');
  });

  it('fails on a client that speaks first without a header, and on silence', async () => {
    await assert.rejects(
      exchange((client) => client.write('EHLO x\r\n')),
      ProxyProtocolError,
    );
    await assert.rejects(
      exchange(() => {}, 50),
      /timed out/,
    );
  });
});
