/**
 * IPv4 and IPv6 addresses and CIDR networks, for the relay-host allow-list: strict parsing, a canonical
 * text form (RFC 5952 for IPv6), and prefix matching.
 *
 * Trusts nothing: operators type networks, peers' addresses come from sockets. Parsing is strict (no
 * leading zeros in IPv4 octets, which some parsers read as octal; no zone ids); host bits set in a
 * network are cleared (`192.0.2.7/24` is `192.0.2.0/24`), and the canonical form shows what was stored.
 * IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, what a dual-stack socket reports for an IPv4 peer) are
 * treated as the IPv4 address they map.
 */
import { InvalidNetworkError } from './errors.ts';

const IPV4_BYTES = 4;
const IPV6_BYTES = 16;
const IPV6_GROUPS = 8;
/** Longer input is not an address; refuse it before looking. */
const MAX_INPUT_LENGTH = 64;
/** ::ffff:0:0/96, RFC 4291 §2.5.5.2. */
const IPV4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
const IPV4_MAPPED_PREFIX_BITS = IPV4_MAPPED_PREFIX.length * 8;

export interface IpNetwork {
  /** 4 bytes for IPv4, 16 for IPv6, host bits zero. */
  readonly bytes: Uint8Array;
  readonly prefixLength: number;
}

/** `address/prefix`, or a bare address (a single host). Throws InvalidNetworkError. */
export function parseNetwork(input: string): IpNetwork {
  const fail = (reason: string) => new InvalidNetworkError(`invalid network ${JSON.stringify(input)}: ${reason}`);
  if (typeof input !== 'string' || input.length > MAX_INPUT_LENGTH) throw fail('not an IP address or CIDR network');
  const slash = input.indexOf('/');
  const addressText = slash < 0 ? input : input.slice(0, slash);
  let bytes = parseIp(addressText);
  if (!bytes) throw fail('not an IPv4 or IPv6 address');
  const maxPrefix = bytes.length * 8;
  let prefixLength = maxPrefix;
  if (slash >= 0) {
    const prefixText = input.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > maxPrefix) {
      throw fail(`the prefix length must be a number from 0 to ${maxPrefix}`);
    }
    prefixLength = Number(prefixText);
  }
  if (isIpv4Mapped(bytes) && prefixLength >= IPV4_MAPPED_PREFIX_BITS) {
    bytes = bytes.slice(IPV4_MAPPED_PREFIX.length);
    prefixLength -= IPV4_MAPPED_PREFIX_BITS;
  }
  return { bytes: masked(bytes, prefixLength), prefixLength };
}

/** The canonical text: `192.0.2.0/24`, `2001:db8::/32`. */
export function formatNetwork(network: IpNetwork): string {
  return `${formatIp(network.bytes)}/${network.prefixLength}`;
}

/** Whether the address (as a socket reports it) lies in the network; false for anything unparsable. */
export function networkContains(network: IpNetwork, address: string): boolean {
  let bytes = parseIp(address);
  if (!bytes) return false;
  if (isIpv4Mapped(bytes)) bytes = bytes.slice(IPV4_MAPPED_PREFIX.length);
  if (bytes.length !== network.bytes.length) return false;
  const host = masked(bytes, network.prefixLength);
  return host.every((byte, i) => byte === network.bytes[i]);
}

/** The address's bytes (4 or 16), or undefined if it is not a plain IPv4 or IPv6 address. */
export function parseIp(text: string): Uint8Array | undefined {
  if (typeof text !== 'string' || text.length > MAX_INPUT_LENGTH) return undefined;
  return text.includes(':') ? parseIpv6(text) : parseIpv4(text);
}

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== IPV4_BYTES) return undefined;
  const bytes = new Uint8Array(IPV4_BYTES);
  for (const [i, part] of parts.entries()) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part) || Number(part) > 255) return undefined;
    bytes[i] = Number(part);
  }
  return bytes;
}

function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const compressed = halves.length === 2;
  const head = groupsOf(halves[0]!, !compressed);
  const tail = compressed ? groupsOf(halves[1]!, true) : [];
  if (!head || !tail) return undefined;
  const present = head.length + tail.length;
  if (compressed ? present > IPV6_GROUPS - 1 : present !== IPV6_GROUPS) return undefined;
  const groups = [...head, ...new Array<number>(IPV6_GROUPS - present).fill(0), ...tail];
  const bytes = new Uint8Array(IPV6_BYTES);
  for (const [i, group] of groups.entries()) {
    bytes[i * 2] = group >> 8;
    bytes[i * 2 + 1] = group & 0xff;
  }
  return bytes;
}

/** 16-bit groups of one side of `::`; a dotted IPv4 at the very end counts as two groups (RFC 4291 §2.2). */
function groupsOf(text: string, endsAddress: boolean): number[] | undefined {
  if (text === '') return [];
  const parts = text.split(':');
  const groups: number[] = [];
  for (const [i, part] of parts.entries()) {
    if (endsAddress && i === parts.length - 1 && part.includes('.')) {
      const ipv4 = parseIpv4(part);
      if (!ipv4) return undefined;
      groups.push((ipv4[0]! << 8) | ipv4[1]!, (ipv4[2]! << 8) | ipv4[3]!);
    } else {
      if (!/^[0-9A-Fa-f]{1,4}$/.test(part)) return undefined;
      groups.push(Number.parseInt(part, 16));
    }
  }
  return groups;
}

function formatIp(bytes: Uint8Array): string {
  if (bytes.length === IPV4_BYTES) return bytes.join('.');
  if (isIpv4Mapped(bytes)) return `::ffff:${bytes.slice(IPV4_MAPPED_PREFIX.length).join('.')}`;
  const groups = Array.from({ length: IPV6_GROUPS }, (_, i) => (bytes[i * 2]! << 8) | bytes[i * 2 + 1]!);
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < IPV6_GROUPS; start++) {
    let length = 0;
    while (start + length < IPV6_GROUPS && groups[start + length] === 0) length++;
    if (length > bestLength) {
      bestStart = start;
      bestLength = length;
    }
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

function isIpv4Mapped(bytes: Uint8Array): boolean {
  return bytes.length === IPV6_BYTES && IPV4_MAPPED_PREFIX.every((byte, i) => bytes[i] === byte);
}

function masked(bytes: Uint8Array, prefixLength: number): Uint8Array {
  const result = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bits = Math.min(8, Math.max(0, prefixLength - i * 8));
    result[i] = bytes[i]! & ((0xff << (8 - bits)) & 0xff);
  }
  return result;
}
