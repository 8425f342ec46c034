/**
 * Starts the real mail system for a test: `startMailSystem` with every port 0 on 127.0.0.1, in a fresh
 * temporary data directory with the local stores, and hands back the bound ports (by listener name),
 * the stores the system uses, and directory and mail-store handles on them for seeding and checking.
 * `stop()` stops the system and removes the directory.
 *
 * For a listener with non-default limits (short timeouts), `openListenerContext` gives a ListenerContext
 * on its own stores, to pass to a listener's start function directly.
 *
 * The TLS certificate is made once per test process with the openssl command line (Debian: openssl) and
 * configured as an operator would (MARMOT_TLS_CERT/KEY): the built-in self-signed path depends on the
 * `selfsigned` package, which tests do not need to exercise.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type ListenerContext, openListenerAuthentication } from '../../fargate/listener.ts';
import { startMailSystem } from '../../fargate/mail-system.ts';
import { openCertificateSource } from '../../fargate/tls/certificate-source.ts';
import { type Config, loadConfig } from '../../shared/config/config.ts';
import { Directory } from '../../shared/directory/directory.ts';
import { Logger } from '../../shared/log/logger.ts';
import { type MailStore, openMailStore } from '../../shared/mailbox/mail-store.ts';
import type { SaslServer } from '../../shared/sasl/sasl-server.ts';
import { openStores, type Stores } from '../../shared/store/open-stores.ts';

export const TEST_HOSTNAME = 'mx.test.example';

const PORT_VARIABLES = [
  'MARMOT_SMTP_PORT',
  'MARMOT_SUBMISSION_PORT',
  'MARMOT_SUBMISSION_TLS_PORT',
  'MARMOT_IMAP_PORT',
  'MARMOT_IMAPS_PORT',
  'MARMOT_MANAGESIEVE_PORT',
];

export interface TestMailSystem {
  dataDir: string;
  config: Config;
  /** Bound ports by listener name: `smtp`, `submission`, `submission-tls`, ... */
  ports: Record<string, number>;
  stores: Stores;
  directory: Directory;
  mailStore: MailStore;
  /** The system's SASL state: `sasl.refresh()` after adding domains makes EHLO and CAPABILITY current. */
  sasl: SaslServer;
  stop(): Promise<void>;
}

let certificate: Promise<{ certFile: string; keyFile: string }> | undefined;

/** A certificate for TEST_HOSTNAME, localhost and 127.0.0.1, made once per test process. */
export function testCertificate(): Promise<{ certFile: string; keyFile: string }> {
  certificate ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'marmot-test-tls-'));
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    await promisify(execFile)('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${TEST_HOSTNAME}`,
      '-addext',
      `subjectAltName=DNS:${TEST_HOSTNAME},DNS:localhost,IP:127.0.0.1`,
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ]);
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return { certFile, keyFile };
  })();
  return certificate;
}

/**
 * The environment of a test system in `dataDir` (also for running `fargate/main.ts` as a child).
 * Await testCertificate() first: the environment names its files.
 */
export async function testEnvironment(
  dataDir: string,
  env: Record<string, string> = {},
): Promise<Record<string, string>> {
  const ports = Object.fromEntries(PORT_VARIABLES.map((name) => [name, '0']));
  const tls = await testCertificate();
  return {
    MARMOT_TLS_CERT: tls.certFile,
    MARMOT_TLS_KEY: tls.keyFile,
    MARMOT_DATA_DIR: dataDir,
    MARMOT_LISTEN_HOST: '127.0.0.1',
    MARMOT_HOSTNAME: TEST_HOSTNAME,
    MARMOT_LOG_LEVEL: process.env.MARMOT_TEST_LOG_LEVEL ?? 'error',
    ...ports,
    ...env,
  };
}

export async function startTestMailSystem(env: Record<string, string> = {}): Promise<TestMailSystem> {
  const dataDir = await mkdtemp(join(tmpdir(), 'marmot-system-'));
  const config = loadConfig(await testEnvironment(dataDir, env));
  const logger = new Logger(config.logLevel, { component: 'test-system' }, process.stderr);
  let system: Awaited<ReturnType<typeof startMailSystem>>;
  try {
    system = await startMailSystem(config, logger);
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const ports = Object.fromEntries(system.listeners.map((listener) => [listener.name, listener.port]));
  return {
    dataDir,
    config,
    ports,
    stores: system.stores,
    directory: new Directory(system.stores.metadata, { keyVault: system.keyVault }),
    mailStore: openMailStore(system.stores.metadata),
    sasl: system.sasl,
    async stop() {
      await system.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface TestListenerContext {
  context: ListenerContext;
  directory: Directory;
  mailStore: MailStore;
  close(): Promise<void>;
}

export async function openListenerContext(env: Record<string, string> = {}): Promise<TestListenerContext> {
  const dataDir = await mkdtemp(join(tmpdir(), 'marmot-listener-'));
  const config = loadConfig(await testEnvironment(dataDir, env));
  const stores = await openStores(config.store);
  const logger = new Logger(config.logLevel, { component: 'test-listener' }, process.stderr);
  const tls = await openCertificateSource(config, logger);
  const authentication = await openListenerAuthentication(config, stores);
  return {
    context: { config, logger, stores, tls, ...authentication },
    directory: new Directory(stores.metadata, { keyVault: authentication.keyVault }),
    mailStore: openMailStore(stores.metadata),
    async close() {
      tls.close();
      await stores.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
