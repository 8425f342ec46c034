/**
 * The one typed configuration object, read once at start from the environment (AWS: set by the CDK
 * stack on the task and the Lambdas; locally: defaults, overridable by MARMOT_* variables).
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';

export interface ListenerConfig {
  host: string;
  port: number;
}

export type StoreConfig =
  | { kind: 'local'; dataDir: string }
  | {
      kind: 'aws';
      region: string;
      table: string;
      bucket: string;
      /** Emulator or VPC endpoint overrides (tests use dynalite and s3rver). */
      dynamodbEndpoint?: string;
      s3Endpoint?: string;
      s3ForcePathStyle?: boolean;
    };

export interface Config {
  /** Where the local system keeps its store, certificate, master key and lock. */
  dataDir: string;
  /** Name this server gives itself in greetings and trace headers. */
  hostname: string;
  store: StoreConfig;
  listeners: {
    smtp: ListenerConfig;
    submission: ListenerConfig;
    submissionTls: ListenerConfig;
    imap: ListenerConfig;
    imaps: ListenerConfig;
    managesieve: ListenerConfig;
  };
  imap: ImapConfig;
  tls: {
    /** PEM files; when absent, a self-signed certificate is created in the data directory. */
    certFile?: string;
    keyFile?: string;
  };
  /** Days expunged mail and deleted folders are kept before the expire job purges them. */
  retentionDays: number;
  logLevel: LogLevel;
}

export interface ImapConfig {
  /**
   * Allow LOGIN and AUTHENTICATE PLAIN without TLS on the STARTTLS listener (MARMOT_IMAP_PLAINTEXT_AUTH=1):
   * for tests and a loopback-only listener, never for one clients reach over a network.
   */
  plaintextAuth: boolean;
  /** Overrides of the per-process connection limits (fargate/imap/limits.ts), e.g. for benchmarks. */
  maxConnectionsPerIp?: number;
  maxConnectionsPerAccount?: number;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): Config {
  const dataDir = resolve(env.MARMOT_DATA_DIR ?? '.data');
  const host = env.MARMOT_LISTEN_HOST ?? '0.0.0.0';
  const listener = (name: string, port: number): ListenerConfig => ({
    host,
    port: intFrom(env, `MARMOT_${name}_PORT`, port, 0, 65535),
  });
  return {
    dataDir,
    hostname: env.MARMOT_HOSTNAME ?? hostname(),
    store: storeFrom(env, dataDir),
    listeners: {
      smtp: listener('SMTP', 2525),
      submission: listener('SUBMISSION', 2587),
      submissionTls: listener('SUBMISSION_TLS', 2465),
      imap: listener('IMAP', 1143),
      imaps: listener('IMAPS', 1993),
      managesieve: listener('MANAGESIEVE', 4190),
    },
    imap: {
      plaintextAuth: booleanFrom(env, 'MARMOT_IMAP_PLAINTEXT_AUTH'),
      maxConnectionsPerIp: optionalIntFrom(env, 'MARMOT_IMAP_MAX_CONNECTIONS_PER_IP', 1, 1_000_000),
      maxConnectionsPerAccount: optionalIntFrom(env, 'MARMOT_IMAP_MAX_CONNECTIONS_PER_ACCOUNT', 1, 1_000_000),
    },
    tls: { certFile: env.MARMOT_TLS_CERT, keyFile: env.MARMOT_TLS_KEY },
    retentionDays: intFrom(env, 'MARMOT_RETENTION_DAYS', 30, 1, 3650),
    logLevel: logLevelFrom(env.MARMOT_LOG_LEVEL),
  };
}

function storeFrom(env: Env, dataDir: string): StoreConfig {
  const kind = env.MARMOT_STORE ?? 'local';
  if (kind === 'local') return { kind, dataDir };
  if (kind !== 'aws') throw new ConfigError(`MARMOT_STORE must be "local" or "aws", not ${JSON.stringify(kind)}`);
  const table = env.MARMOT_TABLE;
  const bucket = env.MARMOT_BUCKET;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!table || !bucket || !region) {
    throw new ConfigError('MARMOT_STORE=aws needs MARMOT_TABLE, MARMOT_BUCKET and AWS_REGION');
  }
  return {
    kind,
    region,
    table,
    bucket,
    dynamodbEndpoint: env.MARMOT_DYNAMODB_ENDPOINT,
    s3Endpoint: env.MARMOT_S3_ENDPOINT,
    s3ForcePathStyle: env.MARMOT_S3_ENDPOINT !== undefined,
  };
}

function intFrom(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, not ${JSON.stringify(raw)}`);
  }
  return value;
}

function optionalIntFrom(env: Env, name: string, min: number, max: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  return intFrom(env, name, min, min, max);
}

function booleanFrom(env: Env, name: string): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '' || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw new ConfigError(`${name} must be 1/true or 0/false, not ${JSON.stringify(raw)}`);
}

function logLevelFrom(raw: string | undefined): LogLevel {
  if (raw === undefined || raw === '') return 'info';
  if (raw === 'debug' || raw === 'info' || raw === 'warn' || raw === 'error') return raw;
  throw new ConfigError(`MARMOT_LOG_LEVEL must be debug, info, warn or error, not ${JSON.stringify(raw)}`);
}
