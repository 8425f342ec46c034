/**
 * PROXY protocol version 2 (haproxy's proxy-protocol.txt §2.2), as the AWS NLB sends it before the
 * first byte of each connection. The header carries the real client address, which SMTP policy, the
 * Received: trace and the IMAP connection limits must use instead of the NLB's.
 *
 * SECURITY: only listeners configured for it read this header (the NLB is the only peer that can reach
 * them in AWS); the header is bounded, and anything that is not a well-formed v2 header closes the
 * connection before a single protocol byte is read.
 */

import type { Socket } from 'node:net';
import { isIPv4 } from 'node:net';

/** \r\n\r\n\0\r\nQUIT\n */
const SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const FIXED_LENGTH = 16;
/** The NLB adds a few TLVs (VPC endpoint id); far less than this. */
export const MAX_PROXY_HEADER_BYTES = 536;
export const PROXY_HEADER_TIMEOUT_MS = 5_000;

export interface ProxiedAddresses {
  source: { address: string; port: number };
  destination: { address: string; port: number };
}

/** `local` is a connection the proxy made itself (health checks): use the socket's own addresses. */
export type ProxyHeader = { command: 'local' } | ({ command: 'proxy' } & ProxiedAddresses);

export class ProxyProtocolError extends Error {
  override name = 'ProxyProtocolError';
}

/**
 * Parses a v2 header at the start of `bytes`. Returns undefined while more bytes are needed,
 * or the header and how many bytes it took.
 */
export function parseProxyV2(bytes: Buffer): { header: ProxyHeader; length: number } | undefined {
  const prefix = Math.min(bytes.length, SIGNATURE.length);
  if (!bytes.subarray(0, prefix).equals(SIGNATURE.subarray(0, prefix))) {
    throw new ProxyProtocolError('not a PROXY protocol v2 header');
  }
  if (bytes.length < FIXED_LENGTH) return undefined;
  const versionCommand = bytes[12]!;
  const family = bytes[13]!;
  const bodyLength = bytes.readUInt16BE(14);
  const length = FIXED_LENGTH + bodyLength;
  if (versionCommand >> 4 !== 2)
    throw new ProxyProtocolError(`unsupported PROXY protocol version ${versionCommand >> 4}`);
  if (length > MAX_PROXY_HEADER_BYTES) throw new ProxyProtocolError('PROXY header too long');
  if (bytes.length < length) return undefined;
  const command = versionCommand & 0x0f;
  if (command === 0x0) return { header: { command: 'local' }, length };
  if (command !== 0x1) throw new ProxyProtocolError(`unknown PROXY command ${command}`);
  const body = bytes.subarray(FIXED_LENGTH, length);
  // Only TCP over IPv4 (0x11) or IPv6 (0x21) can carry a mail client's connection.
  if (family === 0x11) {
    if (body.length < 12) throw new ProxyProtocolError('PROXY IPv4 address block too short');
    return {
      header: {
        command: 'proxy',
        source: { address: ipv4(body.subarray(0, 4)), port: body.readUInt16BE(8) },
        destination: { address: ipv4(body.subarray(4, 8)), port: body.readUInt16BE(10) },
      },
      length,
    };
  }
  if (family === 0x21) {
    if (body.length < 36) throw new ProxyProtocolError('PROXY IPv6 address block too short');
    return {
      header: {
        command: 'proxy',
        source: { address: ipv6(body.subarray(0, 16)), port: body.readUInt16BE(32) },
        destination: { address: ipv6(body.subarray(16, 32)), port: body.readUInt16BE(34) },
      },
      length,
    };
  }
  throw new ProxyProtocolError(`unsupported PROXY address family 0x${family.toString(16)}`);
}

/** Builds a v2 PROXY header (for tests and for tools that front a listener). */
export function encodeProxyV2(addresses: ProxiedAddresses): Buffer {
  const v4 = isIPv4(addresses.source.address) && isIPv4(addresses.destination.address);
  const pack = v4 ? packIpv4 : packIpv6;
  const body = Buffer.concat([
    pack(addresses.source.address),
    pack(addresses.destination.address),
    port(addresses.source.port),
    port(addresses.destination.port),
  ]);
  const fixed = Buffer.from([0x21, v4 ? 0x11 : 0x21, 0, 0]);
  fixed.writeUInt16BE(body.length, 2);
  return Buffer.concat([SIGNATURE, fixed, body]);
}

/**
 * Reads the header off a fresh socket and puts back whatever followed it, so the protocol session
 * sees the stream as if the header had never been there. Rejects (the caller destroys the socket) on
 * a malformed header, a close, or a timeout.
 */
export function readProxyHeader(socket: Socket, timeoutMs = PROXY_HEADER_TIMEOUT_MS): Promise<ProxyHeader> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const finish = (error: Error | undefined, header?: ProxyHeader) => {
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('close', onClose);
      socket.off('error', onError);
      if (error) reject(error);
      else resolve(header!);
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      // biome-ignore lint/suspicious/noAssignInExpressions: the standard stream read loop
      while ((chunk = socket.read() as Buffer | null) !== null) {
        buffered = Buffer.concat([buffered, chunk]);
        let parsed: ReturnType<typeof parseProxyV2>;
        try {
          parsed = parseProxyV2(buffered);
        } catch (error) {
          return finish(error as Error);
        }
        if (parsed) {
          const rest = buffered.subarray(parsed.length);
          if (rest.length > 0) socket.unshift(rest);
          return finish(undefined, parsed.header);
        }
        if (buffered.length >= MAX_PROXY_HEADER_BYTES) return finish(new ProxyProtocolError('PROXY header too long'));
      }
    };
    const onClose = () => finish(new ProxyProtocolError('connection closed before the PROXY header'));
    const onError = (error: Error) => finish(error);
    const timer = setTimeout(() => finish(new ProxyProtocolError('timed out waiting for the PROXY header')), timeoutMs);
    socket.on('readable', onReadable);
    socket.once('close', onClose);
    socket.once('error', onError);
  });
}

function ipv4(bytes: Buffer): string {
  return Array.from(bytes).join('.');
}

function ipv6(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  const text = groups.join(':');
  // An IPv4-mapped address is the IPv4 client behind a dual-stack NLB.
  if (text.startsWith('0:0:0:0:0:ffff:')) return ipv4(bytes.subarray(12));
  // The URL parser prints the canonical compressed form (RFC 5952).
  return new URL(`http://[${text}]/`).hostname.slice(1, -1);
}

function packIpv4(address: string): Buffer {
  return Buffer.from(address.split('.').map(Number));
}

function packIpv6(address: string): Buffer {
  const [head = '', tail = ''] = address.includes('::') ? address.split('::') : [address, ''];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  const out = Buffer.alloc(16);
  for (const [index, group] of groups.entries()) out.writeUInt16BE(Number.parseInt(group, 16), index * 2);
  return out;
}

function port(value: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeUInt16BE(value);
  return out;
}
