/**
 * The one typed configuration object, read once at start from the environment (AWS: set by the CDK
 * stack on the task and the Lambdas; locally: defaults, overridable by MARMOT_* variables).
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { KeyVaultConfig } from '../keyvault/open-key-vault.ts';
import type { SmtpTlsMode } from '../outbound-transport/smtp-transport.ts';
import { DEFAULT_ACCOUNT_POLICY, DEFAULT_ADDRESS_POLICY } from '../sasl/auth-throttle.ts';

/** Beyond this a failed-login limit would no longer limit anything. */
const MAX_AUTH_FAILURES_SETTING = 100_000;

export type ListenerName = 'smtp' | 'submission' | 'submissionTls' | 'imap' | 'imaps' | 'managesieve';

const LISTENER_NAMES: readonly ListenerName[] = ['smtp', 'submission', 'submissionTls', 'imap', 'imaps', 'managesieve'];

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
  /**
   * The listeners this process runs (MARMOT_LISTENERS, comma-separated names of `listeners`; default
   * all). In AWS the SMTP and the IMAP task each run their own group; the outbound worker runs where
   * submission does.
   */
  enabledListeners: ListenerName[];
  imap: ImapConfig;
  tls: {
    /** PEM files; when absent, a self-signed certificate is created in the data directory. */
    certFile?: string;
    keyFile?: string;
    /** AWS: the Secrets Manager secret holding the certificate, re-read every refreshSeconds. */
    secret?: { arn: string; region: string; refreshSeconds: number; endpoint?: string };
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
  /**
   * Where DKIM private keys (and legacy SASL verifiers) are sealed: the master key file in the data
   * directory, or KMS (MARMOT_KEY_ID). Absent in AWS without MARMOT_KEY_ID; what needs it then says so.
   */
  keyVault?: KeyVaultConfig;
  /** DNS servers for MX and DKIM lookups (MARMOT_DNS_SERVERS, `host[:port]`, comma-separated); default the system's. */
  dnsServers?: string[];
  outbound: OutboundConfig;
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
  /** The dkim-sign step the outbound worker invokes (MARMOT_FN_DKIM_SIGN; with lambda, needed to send mail). */
  dkimSign?: string;
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

/**
 * How queued remote mail leaves (MARMOT_OUTBOUND_TRANSPORT):
 *   ses        SESv2 (the default in AWS), MARMOT_SES_CONFIGURATION_SET, MARMOT_SES_ENDPOINT
 *   smarthost  one relay, MARMOT_SMARTHOST=host[:port] (587), MARMOT_SMARTHOST_TLS=starttls|implicit|opportunistic|none,
 *              MARMOT_SMARTHOST_USER, MARMOT_SMARTHOST_PASSWORD
 *   mx         direct delivery to each domain's MX hosts (MARMOT_MX_PORT, default 25)
 *   none       the delivery worker does not run; remote mail waits in the queue (the local default, since
 *              most machines cannot send on port 25: choose smarthost or mx explicitly)
 */
export type OutboundTransportConfig =
  | { kind: 'none' }
  | { kind: 'mx'; port: number }
  | { kind: 'smarthost'; host: string; port: number; tls: SmtpTlsMode; user?: string; password?: string }
  | { kind: 'ses'; region: string; configurationSet?: string; endpoint?: string };

export interface OutboundConfig {
  transport: OutboundTransportConfig;
  /** How long a message is retried before it bounces (MARMOT_OUTBOUND_LIFETIME, default 5d). */
  lifetimeMs: number;
  /** First retry delay, doubled per attempt up to retryMaxMs (MARMOT_OUTBOUND_RETRY_MIN 5m, _MAX 1h). */
  retryMinMs: number;
  retryMaxMs: number;
  /** A delay DSN is sent once a message has waited this long (MARMOT_OUTBOUND_DELAY_WARNING; default off). */
  delayWarningMs?: number;
  /** How often an idle worker looks at the queue (MARMOT_OUTBOUND_POLL, default 5s). */
  pollMs: number;
  /** How long a claimed message is the claimer's alone; a crashed worker's messages are retried after it (MARMOT_OUTBOUND_LEASE, default 15m). */
  leaseMs: number;
  /** Messages sent at once by one worker (MARMOT_OUTBOUND_CONCURRENCY, default 4). */
  concurrency: number;
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
  /**
   * Overrides of the session timeouts (fargate/imap/limits.ts), e.g. short ones for tests:
   * MARMOT_IMAP_UNAUTHENTICATED_IDLE_TIMEOUT, MARMOT_IMAP_AUTHENTICATED_IDLE_TIMEOUT (RFC 9051 §5.4 asks
   * for at least 30 minutes in production), MARMOT_IMAP_IDLE_COMMAND_TIMEOUT, MARMOT_IMAP_WRITE_STALL_TIMEOUT,
   * MARMOT_IMAP_TLS_HANDSHAKE_TIMEOUT; durations such as 500ms, 30s or 31m.
   */
  unauthenticatedIdleTimeoutMs?: number;
  authenticatedIdleTimeoutMs?: number;
  idleCommandTimeoutMs?: number;
  writeStallTimeoutMs?: number;
  tlsHandshakeTimeoutMs?: number;
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
    enabledListeners: enabledListenersFrom(env.MARMOT_LISTENERS),
    imap: {
      plaintextAuth: booleanFrom(env, 'MARMOT_IMAP_PLAINTEXT_AUTH'),
      maxConnectionsPerIp: optionalIntFrom(env, 'MARMOT_IMAP_MAX_CONNECTIONS_PER_IP', 1, 1_000_000),
      maxConnectionsPerAccount: optionalIntFrom(env, 'MARMOT_IMAP_MAX_CONNECTIONS_PER_ACCOUNT', 1, 1_000_000),
      unauthenticatedIdleTimeoutMs: optionalDurationFrom(env, 'MARMOT_IMAP_UNAUTHENTICATED_IDLE_TIMEOUT', 10, DAY),
      authenticatedIdleTimeoutMs: optionalDurationFrom(env, 'MARMOT_IMAP_AUTHENTICATED_IDLE_TIMEOUT', 10, DAY),
      idleCommandTimeoutMs: optionalDurationFrom(env, 'MARMOT_IMAP_IDLE_COMMAND_TIMEOUT', 10, DAY),
      writeStallTimeoutMs: optionalDurationFrom(env, 'MARMOT_IMAP_WRITE_STALL_TIMEOUT', 10, DAY),
      tlsHandshakeTimeoutMs: optionalDurationFrom(env, 'MARMOT_IMAP_TLS_HANDSHAKE_TIMEOUT', 10, HOUR),
    },
    tls: { certFile: env.MARMOT_TLS_CERT, keyFile: env.MARMOT_TLS_KEY, secret: tlsSecretFrom(env) },
    retentionDays: intFrom(env, 'MARMOT_RETENTION_DAYS', 30, 1, 3650),
    logLevel: logLevelFrom(env.MARMOT_LOG_LEVEL),
    proxyProtocol: proxyProtocolFrom(env.MARMOT_PROXY_PROTOCOL),
    smtpMaxMessageBytes: intFrom(env, 'MARMOT_SMTP_MAX_MESSAGE_BYTES', DEFAULT_SMTP_MAX_MESSAGE_BYTES, 1024, 2 ** 31),
    functions: functionsFrom(env),
    testHooks: { exitBeforeDataReply: env.MARMOT_TEST_EXIT_BEFORE_DATA_REPLY === '1' },
    ...keyVaultFrom(env, dataDir),
    ...(env.MARMOT_DNS_SERVERS ? { dnsServers: listFrom(env.MARMOT_DNS_SERVERS) } : {}),
    outbound: outboundFrom(env),
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
  const dkimSign = env.MARMOT_FN_DKIM_SIGN || undefined;
  if (invoker === 'in-process') return { invoker, scan, filter, dkimSign, timeoutMs };
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!scan || !filter || !region) {
    throw new ConfigError('MARMOT_INVOKER=lambda needs MARMOT_FN_SCAN, MARMOT_FN_FILTER and AWS_REGION');
  }
  return {
    invoker,
    scan,
    filter,
    dkimSign,
    timeoutMs,
    region,
    lambdaEndpoint: env.MARMOT_LAMBDA_ENDPOINT || undefined,
  };
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const DURATION_UNITS: Record<string, number> = { ms: 1, s: SECOND, m: MINUTE, h: HOUR, d: DAY };
const SMARTHOST_DEFAULT_PORT = 587;
const SMARTHOST_TLS_MODES: readonly SmtpTlsMode[] = ['starttls', 'implicit', 'opportunistic', 'none'];

function keyVaultFrom(env: Env, dataDir: string): { keyVault?: KeyVaultConfig } {
  if ((env.MARMOT_STORE ?? 'local') === 'local') return { keyVault: { kind: 'local', dataDir } };
  const keyId = env.MARMOT_KEY_ID;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!keyId || !region) return {};
  return {
    keyVault: { kind: 'aws', region, keyId, ...(env.MARMOT_KMS_ENDPOINT ? { endpoint: env.MARMOT_KMS_ENDPOINT } : {}) },
  };
}

function outboundFrom(env: Env): OutboundConfig {
  const retryMinMs = durationFrom(env, 'MARMOT_OUTBOUND_RETRY_MIN', 5 * MINUTE, 10, DAY);
  const retryMaxMs = durationFrom(env, 'MARMOT_OUTBOUND_RETRY_MAX', HOUR, retryMinMs, 7 * DAY);
  const delayWarning = env.MARMOT_OUTBOUND_DELAY_WARNING;
  return {
    transport: outboundTransportFrom(env),
    lifetimeMs: durationFrom(env, 'MARMOT_OUTBOUND_LIFETIME', 5 * DAY, SECOND, 30 * DAY),
    retryMinMs,
    retryMaxMs,
    ...(delayWarning && delayWarning !== 'off'
      ? { delayWarningMs: durationFrom(env, 'MARMOT_OUTBOUND_DELAY_WARNING', 0, 10, 30 * DAY) }
      : {}),
    pollMs: durationFrom(env, 'MARMOT_OUTBOUND_POLL', 5 * SECOND, 10, 10 * MINUTE),
    leaseMs: durationFrom(env, 'MARMOT_OUTBOUND_LEASE', 15 * MINUTE, 100, DAY),
    concurrency: intFrom(env, 'MARMOT_OUTBOUND_CONCURRENCY', 4, 1, 64),
  };
}

function outboundTransportFrom(env: Env): OutboundTransportConfig {
  const aws = env.MARMOT_STORE === 'aws';
  const kind = env.MARMOT_OUTBOUND_TRANSPORT || (aws ? 'ses' : 'none');
  switch (kind) {
    case 'none':
      return { kind };
    case 'mx':
      return { kind, port: intFrom(env, 'MARMOT_MX_PORT', 25, 1, 65535) };
    case 'smarthost': {
      const target = env.MARMOT_SMARTHOST ?? '';
      const match = /^(\[[^\]]+\]|[^:\s]+)(?::(\d{1,5}))?$/.exec(target);
      const port = Number(match?.[2] ?? SMARTHOST_DEFAULT_PORT);
      if (!match || port < 1 || port > 65535) {
        throw new ConfigError(`MARMOT_SMARTHOST must be host[:port], not ${JSON.stringify(target)}`);
      }
      const tls = (env.MARMOT_SMARTHOST_TLS || 'starttls') as SmtpTlsMode;
      if (!SMARTHOST_TLS_MODES.includes(tls)) {
        throw new ConfigError(`MARMOT_SMARTHOST_TLS must be one of ${SMARTHOST_TLS_MODES.join(', ')}`);
      }
      const user = env.MARMOT_SMARTHOST_USER;
      const password = env.MARMOT_SMARTHOST_PASSWORD;
      if ((user === undefined) !== (password === undefined)) {
        throw new ConfigError('MARMOT_SMARTHOST_USER and MARMOT_SMARTHOST_PASSWORD go together');
      }
      return { kind, host: match[1]!.replace(/^\[|\]$/g, ''), port, tls, ...(user ? { user, password } : {}) };
    }
    case 'ses': {
      const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
      if (!region) throw new ConfigError('MARMOT_OUTBOUND_TRANSPORT=ses needs AWS_REGION');
      return {
        kind,
        region,
        ...(env.MARMOT_SES_CONFIGURATION_SET ? { configurationSet: env.MARMOT_SES_CONFIGURATION_SET } : {}),
        ...(env.MARMOT_SES_ENDPOINT ? { endpoint: env.MARMOT_SES_ENDPOINT } : {}),
      };
    }
    default:
      throw new ConfigError(
        `MARMOT_OUTBOUND_TRANSPORT must be ses, smarthost, mx or none, not ${JSON.stringify(kind)}`,
      );
  }
}

/** `250ms`, `30s`, `5m`, `1h`, `5d`. */
function durationFrom(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const match = /^(\d{1,9})(ms|s|m|h|d)$/.exec(raw.trim());
  const value = match ? Number(match[1]) * DURATION_UNITS[match[2]!]! : Number.NaN;
  if (!(value >= min && value <= max)) {
    throw new ConfigError(
      `${name} must be a duration such as 30s, 5m, 1h or 5d, from ${min} ms to ${max} ms, not ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

function optionalDurationFrom(env: Env, name: string, min: number, max: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  return durationFrom(env, name, min, min, max);
}

function listFrom(raw: string): string[] {
  return raw
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
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

function enabledListenersFrom(raw: string | undefined): ListenerName[] {
  if (raw === undefined || raw.trim() === '') return [...LISTENER_NAMES];
  const names = raw.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(LISTENER_NAMES as readonly string[]).includes(name)) {
      throw new ConfigError(
        `MARMOT_LISTENERS: unknown listener ${JSON.stringify(name)} (${LISTENER_NAMES.join(', ')})`,
      );
    }
  }
  return names as ListenerName[];
}

function tlsSecretFrom(env: Env): Config['tls']['secret'] {
  const arn = env.MARMOT_TLS_SECRET_ARN;
  if (!arn) return undefined;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) throw new ConfigError('MARMOT_TLS_SECRET_ARN needs AWS_REGION');
  return {
    arn,
    region,
    refreshSeconds: intFrom(env, 'MARMOT_TLS_REFRESH_SECONDS', 300, 1, 86_400),
    endpoint: env.MARMOT_SECRETSMANAGER_ENDPOINT,
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
