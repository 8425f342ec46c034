/**
 * The client side of SCRAM (RFC 5802), computed from the password as a client does, for tests that
 * speak a protocol themselves (channel binding included: no packaged client does tls-exporter).
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

export interface ScramClientFirst {
  /** The whole client-first message: gs2 header and bare part. */
  message: string;
  gs2Header: string;
  bare: string;
}

/** `cbind`: `n` (no binding), `y` (could bind, server cannot), or `p=<type>`. */
export function scramClientFirst(user: string, cbind: string, authzid = ''): ScramClientFirst {
  const gs2Header = `${cbind},${authzid ? `a=${authzid}` : ''},`;
  const bare = `n=${user.replaceAll('=', '=3D').replaceAll(',', '=2C')},r=${randomBytes(18).toString('base64')}`;
  return { message: `${gs2Header}${bare}`, gs2Header, bare };
}

/** The client-final message, and the server-final the server must answer with. */
export function scramClientFinal(
  first: ScramClientFirst,
  serverFirst: string,
  password: string,
  channelBinding: Buffer = Buffer.alloc(0),
  hash: 'sha1' | 'sha256' = 'sha256',
): { message: string; expectedServerFinal: string; salt: string; iterations: number } {
  const fields = new Map(serverFirst.split(',').map((field) => [field[0], field.slice(2)]));
  const salt = fields.get('s') ?? '';
  const iterations = Number(fields.get('i'));
  const salted = pbkdf2Sync(password, Buffer.from(salt, 'base64'), iterations, hash === 'sha1' ? 20 : 32, hash);
  const clientKey = createHmac(hash, salted).update('Client Key').digest();
  const storedKey = createHash(hash).update(clientKey).digest();
  const channel = Buffer.concat([Buffer.from(first.gs2Header), channelBinding]).toString('base64');
  const withoutProof = `c=${channel},r=${fields.get('r')}`;
  const authMessage = `${first.bare},${serverFirst},${withoutProof}`;
  const signature = createHmac(hash, storedKey).update(authMessage).digest();
  const proof = Buffer.from(clientKey.map((byte, i) => byte ^ signature[i]!)).toString('base64');
  const serverKey = createHmac(hash, salted).update('Server Key').digest();
  return {
    message: `${withoutProof},p=${proof}`,
    expectedServerFinal: `v=${createHmac(hash, serverKey).update(authMessage).digest('base64')}`,
    salt,
    iterations,
  };
}
