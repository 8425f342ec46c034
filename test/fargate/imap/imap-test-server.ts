/**
 * Starts the real IMAP listeners (plaintext with STARTTLS, and implicit TLS) on port 0 over fresh local
 * stores in a temporary directory, with one domain and a few accounts, for the end-to-end tests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startImapListener, startImapsListener } from '../../../fargate/imap/imap-listener.ts';
import { type ListenerContext, openListenerAuthentication, type RunningListener } from '../../../fargate/listener.ts';
import { openCertificateSource } from '../../../fargate/tls/certificate-source.ts';
import { loadConfig } from '../../../shared/config/config.ts';
import { Directory } from '../../../shared/directory/directory.ts';
import { Logger } from '../../../shared/log/logger.ts';
import { type MailStore, openMailStore } from '../../../shared/mailbox/mail-store.ts';
import { openStores, type Stores } from '../../../shared/store/open-stores.ts';

export const DOMAIN = 'example.test';
export const USERS = {
  alice: { user: `alice@${DOMAIN}`, pass: 'alice secret 1' },
  bob: { user: `bob@${DOMAIN}`, pass: 'bob secret 2' },
} as const;

export interface ImapTestServer {
  host: string;
  port: number;
  tlsPort: number;
  context: ListenerContext;
  stores: Stores;
  directory: Directory;
  mail: MailStore;
  /** The self-signed certificate the listeners present (clients pin it). */
  certificate: string;
  stop(): Promise<void>;
}

export async function startImapTestServer(env: Record<string, string> = {}): Promise<ImapTestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'marmot-imap-'));
  const config = loadConfig({
    MARMOT_DATA_DIR: dataDir,
    MARMOT_LISTEN_HOST: '127.0.0.1',
    MARMOT_HOSTNAME: 'imap.example.test',
    MARMOT_IMAP_PORT: '0',
    MARMOT_IMAPS_PORT: '0',
    MARMOT_IMAP_PLAINTEXT_AUTH: '1',
    MARMOT_LOG_LEVEL: process.env.MARMOT_TEST_LOG_LEVEL ?? 'error',
    ...env,
  });
  const stores = await openStores(config.store);
  const logger = new Logger(config.logLevel, { component: 'imap-test' }, process.stderr);
  const tls = await openCertificateSource(config, logger);
  const authentication = await openListenerAuthentication(config, stores);
  const context: ListenerContext = { config, logger, stores, tls, ...authentication };
  const directory = new Directory(stores.metadata, { keyVault: authentication.keyVault });
  await directory.addDomain(DOMAIN);
  for (const { user, pass } of Object.values(USERS)) await directory.addAccount(user, { password: pass });
  // The listeners read which domains allow the legacy mechanisms every 30 s; now, for the tests.
  await authentication.sasl.refresh();
  const listeners: RunningListener[] = [await startImapListener(context), await startImapsListener(context)];
  return {
    host: '127.0.0.1',
    port: listeners[0]!.port,
    tlsPort: listeners[1]!.port,
    context,
    stores,
    directory,
    mail: openMailStore(stores.metadata),
    certificate: tls.cert,
    async stop() {
      await Promise.allSettled(listeners.map((listener) => listener.close()));
      await stores.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
