/**
 * MD5 (RFC 1321) with an exportable intermediate state, for CRAM-MD5 verifiers.
 *
 * HMAC-MD5(key, m) = MD5((key ^ opad) || MD5((key ^ ipad) || m)). The state after compressing the one
 * 64-byte block `key ^ ipad` (and likewise `key ^ opad`) is all a server needs to check a CRAM-MD5
 * response without keeping the password; Dovecot's CRAM-MD5 scheme stores exactly these two states.
 * Node's crypto cannot export or import MD5 state, so the compression function is implemented here.
 */
import { createHash } from 'node:crypto';

export const MD5_BLOCK_BYTES = 64;
export const MD5_STATE_BYTES = 16;

const INITIAL_STATE = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476] as const;
const SHIFTS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
const SINES = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 0x100000000) | 0);

/** The four state words A, B, C, D, serialized little-endian (16 bytes). */
export type Md5State = Buffer;

/** The state after compressing exactly one 64-byte block from the initial state. */
export function md5StateAfterBlock(block: Uint8Array): Md5State {
  if (block.length !== MD5_BLOCK_BYTES) throw new RangeError('an MD5 block is 64 bytes');
  const state = [...INITIAL_STATE] as number[];
  compress(state, block);
  return writeState(state);
}

/**
 * Finishes an MD5 computation that had already compressed `processedBytes` (a multiple of 64) into
 * `state`, over the remaining `data`.
 */
export function md5ResumeFrom(state: Md5State, processedBytes: number, data: Uint8Array): Buffer {
  if (state.length !== MD5_STATE_BYTES || processedBytes % MD5_BLOCK_BYTES !== 0) {
    throw new RangeError('bad MD5 state');
  }
  const words = [state.readInt32LE(0), state.readInt32LE(4), state.readInt32LE(8), state.readInt32LE(12)];
  const totalBits = (processedBytes + data.length) * 8;
  const padded = Buffer.alloc((((data.length + 8) >> 6) + 1) * MD5_BLOCK_BYTES);
  padded.set(data);
  padded[data.length] = 0x80;
  padded.writeUInt32LE(totalBits >>> 0, padded.length - 8);
  padded.writeUInt32LE(Math.floor(totalBits / 0x100000000), padded.length - 4);
  for (let offset = 0; offset < padded.length; offset += MD5_BLOCK_BYTES) {
    compress(words, padded.subarray(offset, offset + MD5_BLOCK_BYTES));
  }
  return writeState(words);
}

/** The inner and outer HMAC-MD5 states for a key (RFC 2104 §2: keys over 64 bytes are hashed first). */
export function hmacMd5States(key: Uint8Array): { inner: Md5State; outer: Md5State } {
  const block = Buffer.alloc(MD5_BLOCK_BYTES);
  block.set(key.length > MD5_BLOCK_BYTES ? createHash('md5').update(key).digest() : key);
  const inner = Buffer.from(block.map((byte) => byte ^ 0x36));
  const outer = Buffer.from(block.map((byte) => byte ^ 0x5c));
  return { inner: md5StateAfterBlock(inner), outer: md5StateAfterBlock(outer) };
}

/** HMAC-MD5 of a message, continuing from precomputed states. */
export function hmacMd5FromStates(states: { inner: Md5State; outer: Md5State }, message: Uint8Array): Buffer {
  const innerDigest = md5ResumeFrom(states.inner, MD5_BLOCK_BYTES, message);
  return md5ResumeFrom(states.outer, MD5_BLOCK_BYTES, innerDigest);
}

function compress(state: number[], block: Uint8Array): void {
  const view = new DataView(block.buffer, block.byteOffset, MD5_BLOCK_BYTES);
  const m = Array.from({ length: 16 }, (_, i) => view.getInt32(i * 4, true));
  let [a, b, c, d] = state as [number, number, number, number];
  for (let i = 0; i < 64; i++) {
    let f: number;
    let g: number;
    if (i < 16) {
      f = (b & c) | (~b & d);
      g = i;
    } else if (i < 32) {
      f = (d & b) | (~d & c);
      g = (5 * i + 1) % 16;
    } else if (i < 48) {
      f = b ^ c ^ d;
      g = (3 * i + 5) % 16;
    } else {
      f = c ^ (b | ~d);
      g = (7 * i) % 16;
    }
    const shift = SHIFTS[(i >> 4) * 4 + (i % 4)]!;
    const sum = (a + f + SINES[i]! + m[g]!) | 0;
    [a, b, c, d] = [d, (b + ((sum << shift) | (sum >>> (32 - shift)))) | 0, b, c];
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
}

function writeState(words: number[]): Md5State {
  const out = Buffer.alloc(MD5_STATE_BYTES);
  for (let i = 0; i < 4; i++) out.writeInt32LE(words[i]! | 0, i * 4);
  return out;
}
