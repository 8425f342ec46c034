/**
 * A tiny authoritative DNS server over UDP on 127.0.0.1 for tests (RFC 1035 §4): answers TXT and MX
 * questions from a table the test edits, NXDOMAIN for names it does not hold, an empty answer for other
 * types. Enough for node:dns (c-ares) pointed at it with MARMOT_DNS_SERVERS=127.0.0.1:<port>.
 */
import { createSocket, type Socket } from 'node:dgram';

const TYPE_MX = 15;
const TYPE_TXT = 16;
const CLASS_IN = 1;
const RCODE_NXDOMAIN = 3;
const TTL_SECONDS = 1;

export interface DnsZone {
  txt?: string[][];
  mx?: { exchange: string; priority: number }[];
}

export interface TestDnsServer {
  /** `127.0.0.1:<port>`, for MARMOT_DNS_SERVERS or Resolver.setServers. */
  address: string;
  /** Owner names (lower case, no trailing dot) and their records. */
  zones: Map<string, DnsZone>;
  close(): Promise<void>;
}

export async function startDnsServer(): Promise<TestDnsServer> {
  const zones = new Map<string, DnsZone>();
  const socket: Socket = createSocket('udp4');
  socket.on('message', (query, peer) => {
    const response = answer(query, zones);
    if (response) socket.send(response, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    zones,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

function answer(query: Buffer, zones: Map<string, DnsZone>): Buffer | undefined {
  if (query.length < 12 || query.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let at = 12;
  while (at < query.length && query[at] !== 0) {
    const length = query[at]!;
    labels.push(query.subarray(at + 1, at + 1 + length).toString('ascii'));
    at += 1 + length;
  }
  at += 1;
  if (at + 4 > query.length) return undefined;
  const type = query.readUInt16BE(at);
  const question = query.subarray(12, at + 4);
  const zone = zones.get(labels.join('.').toLowerCase());
  const records: Buffer[] = [];
  if (zone && type === TYPE_TXT) {
    for (const strings of zone.txt ?? []) {
      records.push(
        Buffer.concat(strings.map((text) => Buffer.concat([Buffer.from([text.length]), Buffer.from(text)]))),
      );
    }
  }
  if (zone && type === TYPE_MX) {
    for (const mx of zone.mx ?? []) {
      const preference = Buffer.alloc(2);
      preference.writeUInt16BE(mx.priority);
      records.push(Buffer.concat([preference, encodeName(mx.exchange)]));
    }
  }
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  // QR, AA, RD copied, RA; NXDOMAIN for names we do not hold.
  header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | (zone ? 0 : RCODE_NXDOMAIN), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(records.length, 6);
  const answers = records.map((rdata) => {
    const fixed = Buffer.alloc(12);
    fixed.writeUInt16BE(0xc00c, 0); // the question's name
    fixed.writeUInt16BE(type, 2);
    fixed.writeUInt16BE(CLASS_IN, 4);
    fixed.writeUInt32BE(TTL_SECONDS, 6);
    fixed.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([fixed, rdata]);
  });
  return Buffer.concat([header, question, ...answers]);
}

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([
    ...labels.map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label)])),
    Buffer.from([0]),
  ]);
}
