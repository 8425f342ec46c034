/**
 * The TLS certificate of the local system: the configured PEM files, or a self-signed certificate
 * created in the data directory on first start (key file 0600), so STARTTLS and implicit TLS work out of
 * the box. Clients must be told to accept it; operators configure a real one with MARMOT_TLS_CERT/KEY.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export interface CertificatePair {
  cert: string;
  key: string;
}

const SELF_SIGNED_DAYS = 825;

export async function loadLocalCertificate(options: {
  dataDir: string;
  hostname: string;
  certFile?: string;
  keyFile?: string;
}): Promise<CertificatePair & { selfSigned: boolean }> {
  if (options.certFile || options.keyFile) {
    if (!options.certFile || !options.keyFile) throw new Error('MARMOT_TLS_CERT and MARMOT_TLS_KEY go together');
    return {
      cert: await readFile(options.certFile, 'utf8'),
      key: await readFile(options.keyFile, 'utf8'),
      selfSigned: false,
    };
  }
  const dir = join(options.dataDir, 'tls');
  const certPath = join(dir, 'self-signed.crt');
  const keyPath = join(dir, 'self-signed.key');
  const existing = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]).catch(() => undefined);
  if (existing) return { cert: existing[0], key: existing[1], selfSigned: true };

  const notAfterDate = new Date(Date.now() + SELF_SIGNED_DAYS * 86_400_000);
  const pems = await generate([{ name: 'commonName', value: options.hostname }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: options.hostname },
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(keyPath, pems.private, { mode: 0o600 });
  await writeFile(certPath, pems.cert, { mode: 0o644 });
  return { cert: pems.cert, key: pems.private, selfSigned: true };
}
