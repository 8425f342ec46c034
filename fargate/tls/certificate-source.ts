/**
 * Where the listeners get their TLS certificate, and how a new one reaches them without a restart.
 *
 * Locally it is the configured PEM files or the self-signed pair (fargate/tls/local-certificate.ts),
 * which never change while running. In AWS it is a Secrets Manager secret holding
 * `{ "certificate": PEM, "privateKey": PEM }`, re-read every few minutes: when an operator (or a rotation
 * Lambda) puts a new version, new connections get it; open connections keep theirs. Until the operator
 * has filled the secret (the stack creates it empty), the self-signed pair is served, with a warning.
 *
 * SECURITY: the private key only ever lives in memory and in the secret; a secret that does not hold a
 * matching certificate and key is refused and the previous pair stays in use.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Config } from '../../shared/config/config.ts';
import type { Logger } from '../../shared/log/logger.ts';
import { type CertificatePair, loadLocalCertificate } from './local-certificate.ts';

export const CERTIFICATE_REFRESH_MS = 5 * 60_000;

/** The current pair (read at each use, so it is always the newest) and a way to hear of changes. */
export interface CertificateSource extends CertificatePair {
  /** Calls back with the new pair after each change; returns the unsubscribe function. */
  onChange(listener: (pair: CertificatePair) => void): () => void;
  close(): void;
}

class RotatingCertificate implements CertificateSource {
  private readonly listeners = new Set<(pair: CertificatePair) => void>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private pair: CertificatePair) {}

  get cert(): string {
    return this.pair.cert;
  }
  get key(): string {
    return this.pair.key;
  }

  onChange(listener: (pair: CertificatePair) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  replace(pair: CertificatePair): void {
    if (pair.cert === this.pair.cert && pair.key === this.pair.key) return;
    this.pair = pair;
    for (const listener of this.listeners) listener(pair);
  }

  every(intervalMs: number, refresh: () => Promise<void>): void {
    this.timer = setInterval(() => void refresh(), intervalMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.listeners.clear();
  }
}

/** The certificate the configuration names: the secret in AWS, otherwise the local files or self-signed pair. */
export async function openCertificateSource(config: Config, logger: Logger): Promise<CertificateSource> {
  const local = await loadLocalCertificate({
    dataDir: config.dataDir,
    hostname: config.hostname,
    certFile: config.tls.certFile,
    keyFile: config.tls.keyFile,
  });
  const { secret } = config.tls;
  if (secret) {
    return secretsManagerCertificate({
      secretArn: secret.arn,
      region: secret.region,
      endpoint: secret.endpoint,
      refreshMs: secret.refreshSeconds * 1000,
      fallback: local,
      logger,
    });
  }
  if (local.selfSigned) logger.warn('using a self-signed TLS certificate', { dataDir: config.dataDir });
  return new RotatingCertificate(local);
}

export interface SecretCertificateOptions {
  secretArn: string;
  region: string;
  /** Served while the secret is still empty (a new deployment). */
  fallback: CertificatePair;
  logger: Logger;
  refreshMs?: number;
  /** Emulator endpoint for tests. */
  endpoint?: string;
}

export async function secretsManagerCertificate(options: SecretCertificateOptions): Promise<CertificateSource> {
  const client = new SecretsManagerClient({ region: options.region, endpoint: options.endpoint });
  const logger = options.logger.child({ component: 'tls-certificate', secret: options.secretArn });
  const read = async (): Promise<CertificatePair | undefined> => {
    const response = await client.send(new GetSecretValueCommand({ SecretId: options.secretArn }));
    return parseCertificateSecret(response.SecretString ?? '');
  };
  const initial = await read();
  if (!initial) logger.warn('the certificate secret is empty; serving a self-signed certificate until it is filled');
  const source = new RotatingCertificate(initial ?? options.fallback);
  source.every(options.refreshMs ?? CERTIFICATE_REFRESH_MS, async () => {
    try {
      const pair = await read();
      if (!pair) return;
      if (pair.cert !== source.cert) logger.info('new TLS certificate from the secret', { subject: subjectOf(pair) });
      source.replace(pair);
    } catch (error) {
      // The old pair stays in use; the next refresh tries again.
      logger.error('could not refresh the TLS certificate', { error });
    }
  });
  return source;
}

/** The secret's pair, undefined while it is empty; throws when it holds something unusable. */
export function parseCertificateSecret(secret: string): CertificatePair | undefined {
  if (secret.trim() === '') return undefined;
  let parsed: { certificate?: unknown; privateKey?: unknown };
  try {
    parsed = JSON.parse(secret) as typeof parsed;
  } catch {
    throw new Error('the certificate secret is not JSON of the form {"certificate": PEM, "privateKey": PEM}');
  }
  const { certificate, privateKey } = parsed;
  if (certificate === '' && privateKey === '') return undefined;
  if (typeof certificate !== 'string' || typeof privateKey !== 'string') {
    throw new Error('the certificate secret needs "certificate" and "privateKey" PEM strings');
  }
  const x509 = new X509Certificate(certificate);
  if (!x509.checkPrivateKey(createPrivateKey(privateKey))) {
    throw new Error('the private key in the certificate secret does not match its certificate');
  }
  return { cert: certificate, key: privateKey };
}

function subjectOf(pair: CertificatePair): string {
  return new X509Certificate(pair.cert).subject;
}
