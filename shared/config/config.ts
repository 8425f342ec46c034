/**
 * The one typed configuration object, read once at start from the environment (AWS: set by the CDK
 * stack on the task and the Lambdas; locally: defaults, overridable by MARMOT_* variables).
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { KeyVaultConfig } from '../keyvault/open-key-vault.ts';
import { DEFAULT_ACCOUNT_POLICY, DEFAULT_ADDRESS_POLICY } from '../sasl/auth-throttle.ts';

/** Beyond this a failed-login limit would no longer limit anything. */
const MAX_AUTH_FAILURES_SETTING = 100_000;

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
  /**
   * Further names clients reach this server by (MARMOT_HOSTNAME_ALIASES, comma-separated): DIGEST-MD5
   * accepts them, besides the hostname, as the host in a client's digest-uri (RFC 2831 §2.1.2).
   */
  hostnameAliases: string[];
  store: StoreConfig;
  /**
   * Where secrets at rest are sealed (legacy SASL verifiers, DKIM keys): the master key file in the
   * data directory, or AWS KMS (MARMOT_KEY_ID). Follows MARMOT_STORE unless MARMOT_KEY_VAULT says otherwise.
   */
  keyVault: KeyVaultConfig;
  /**
   * Failed logins per client address (MARMOT_AUTH_MAX_FAILURES_PER_ADDRESS) and per account
   * (MARMOT_AUTH_MAX_FAILURES_PER_ACCOUNT), counted with decay, after which a listener process refuses
   * attempts for a while with the protocol's temporary failure (shared/sasl/auth-throttle.ts).
   */
  authThrottle: { maxFailuresPerAddress: number; maxFailuresPerAccount: number };
  listeners: {
    smtp: ListenerConfig;
    submission: ListenerConfig;
    submissionTls: ListenerConfig;
    imap: ListenerConfig;
    imaps: ListenerConfig;
    managesieve: ListenerConfig;
  };
  tls: {
    /** PEM files; when absent, a self-signed certificate is created in the data directory. */
    certFile?: string;
    keyFile?: string;
  };
  /** Days expunged mail and deleted folders are kept before the expire job purges them. */
  retentionDays: number;
  logLevel: LogLevel;
  /**
   * Whether every listener expects a PROXY protocol v2 header before the protocol starts (the AWS NLB
   * sends one; MARMOT_PROXY_PROTOCOL=v2). Never enable it on a port clients reach directly: the header
   * decides the client address that relay and connection policy trust.
   */
  proxyProtocol: boolean;
  /** Largest message the SMTP listeners accept, in bytes (MARMOT_SMTP_MAX_MESSAGE_BYTES). */
  smtpMaxMessageBytes: number;
  /** How the listeners reach the scan and filter steps. */
  functions: FunctionsConfig;
  /** Hooks that only tests turn on; each one is named for what it does and is off unless set. */
  testHooks: TestHooks;
}

/**
 * The scan and filter steps (MARMOT_INVOKER). With `lambda` (set by the CDK stack), the names are Lambda
 * function names (MARMOT_FN_SCAN, MARMOT_FN_FILTER); with `in-process` (the default), the steps run in
 * the listener's process, and a name, when set, is the path of a module whose `handler` export replaces
 * the built-in one (tests inject failing steps so).
 */
export interface FunctionsConfig {
  invoker: 'in-process' | 'lambda';
  scan?: string;
  filter?: string;
  /** How long the listener waits for one step before answering 451 (MARMOT_FN_TIMEOUT_MS). */
  timeoutMs: number;
  /** AWS region and an optional endpoint override (emulators) for the Lambda invoker. */
  region?: string;
  lambdaEndpoint?: string;
}

export interface TestHooks {
  /**
   * MARMOT_TEST_EXIT_BEFORE_DATA_REPLY=1: the SMTP listener kills its own process after every durable
   * write of a message and before the reply to DATA, so a test can prove a retried transaction is
   * delivered exactly once. Never set it anywhere else.
   */
  exitBeforeDataReply: boolean;
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
    hostnameAliases: (env.MARMOT_HOSTNAME_ALIASES ?? '')
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name !== ''),
    store: storeFrom(env, dataDir),
    keyVault: keyVaultFrom(env, dataDir),
    authThrottle: {
      maxFailuresPerAddress: intFrom(
        env,
        'MARMOT_AUTH_MAX_FAILURES_PER_ADDRESS',
        DEFAULT_ADDRESS_POLICY.refuseAt,
        1,
        MAX_AUTH_FAILURES_SETTING,
      ),
      maxFailuresPerAccount: intFrom(
        env,
        'MARMOT_AUTH_MAX_FAILURES_PER_ACCOUNT',
        DEFAULT_ACCOUNT_POLICY.refuseAt,
        1,
        MAX_AUTH_FAILURES_SETTING,
      ),
    },
    listeners: {
      smtp: listener('SMTP', 2525),
      submission: listener('SUBMISSION', 2587),
      submissionTls: listener('SUBMISSION_TLS', 2465),
      imap: listener('IMAP', 1143),
      imaps: listener('IMAPS', 1993),
      managesieve: listener('MANAGESIEVE', 4190),
    },
    tls: { certFile: env.MARMOT_TLS_CERT, keyFile: env.MARMOT_TLS_KEY },
    retentionDays: intFrom(env, 'MARMOT_RETENTION_DAYS', 30, 1, 3650),
    logLevel: logLevelFrom(env.MARMOT_LOG_LEVEL),
    proxyProtocol: proxyProtocolFrom(env.MARMOT_PROXY_PROTOCOL),
    smtpMaxMessageBytes: intFrom(env, 'MARMOT_SMTP_MAX_MESSAGE_BYTES', DEFAULT_SMTP_MAX_MESSAGE_BYTES, 1024, 2 ** 31),
    functions: functionsFrom(env),
    testHooks: { exitBeforeDataReply: env.MARMOT_TEST_EXIT_BEFORE_DATA_REPLY === '1' },
  };
}

/** 35 MiB: room for a 25 MB attachment after base64 (4/3) and the rest of the message. */
const DEFAULT_SMTP_MAX_MESSAGE_BYTES = 35 * 1024 * 1024;
const DEFAULT_FUNCTION_TIMEOUT_MS = 30_000;

function proxyProtocolFrom(raw: string | undefined): boolean {
  if (raw === undefined || raw === '' || raw === 'off') return false;
  if (raw === 'v2') return true;
  throw new ConfigError(`MARMOT_PROXY_PROTOCOL must be "v2" or "off", not ${JSON.stringify(raw)}`);
}

function functionsFrom(env: Env): FunctionsConfig {
  const invoker = env.MARMOT_INVOKER || 'in-process';
  if (invoker !== 'in-process' && invoker !== 'lambda') {
    throw new ConfigError(`MARMOT_INVOKER must be "in-process" or "lambda", not ${JSON.stringify(invoker)}`);
  }
  const timeoutMs = intFrom(env, 'MARMOT_FN_TIMEOUT_MS', DEFAULT_FUNCTION_TIMEOUT_MS, 10, 900_000);
  const scan = env.MARMOT_FN_SCAN || undefined;
  const filter = env.MARMOT_FN_FILTER || undefined;
  if (invoker === 'in-process') return { invoker, scan, filter, timeoutMs };
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!scan || !filter || !region) {
    throw new ConfigError('MARMOT_INVOKER=lambda needs MARMOT_FN_SCAN, MARMOT_FN_FILTER and AWS_REGION');
  }
  return { invoker, scan, filter, timeoutMs, region, lambdaEndpoint: env.MARMOT_LAMBDA_ENDPOINT || undefined };
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

/**
 * A local master key on an AWS store is allowed (tests against the emulators use it) but never the
 * default there: a Fargate task's disk is ephemeral, so its key, and everything sealed with it, would
 * be lost on the next deployment. Without MARMOT_KEY_ID the vault is `unconfigured`: a process that
 * needs it (the listeners, the CLI) fails when it opens it, with this message; the others run.
 */
function keyVaultFrom(env: Env, dataDir: string): KeyVaultConfig {
  const kind = env.MARMOT_KEY_VAULT || (env.MARMOT_STORE === 'aws' ? 'aws' : 'local');
  if (kind === 'local') return { kind, dataDir };
  if (kind !== 'aws') {
    throw new ConfigError(`MARMOT_KEY_VAULT must be "local" or "aws", not ${JSON.stringify(kind)}`);
  }
  const keyId = env.MARMOT_KEY_ID;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!keyId || !region) {
    return { kind: 'unconfigured', missing: 'the AWS key vault needs MARMOT_KEY_ID (a KMS key ARN) and AWS_REGION' };
  }
  return { kind, region, keyId, endpoint: env.MARMOT_KMS_ENDPOINT || undefined };
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

function logLevelFrom(raw: string | undefined): LogLevel {
  if (raw === undefined || raw === '') return 'info';
  if (raw === 'debug' || raw === 'info' || raw === 'warn' || raw === 'error') return raw;
  throw new ConfigError(`MARMOT_LOG_LEVEL must be debug, info, warn or error, not ${JSON.stringify(raw)}`);
}
