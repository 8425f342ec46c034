/**
 * The whole mail system in one process: opens the stores, loads the TLS certificate, starts every
 * listener, and stops them all in order. `fargate/main.ts` runs it from the command line and in the
 * Fargate task; tests start it on port 0 in a temporary data directory.
 */
import { mkdir } from 'node:fs/promises';
import type { Config, ListenerName } from '../shared/config/config.ts';
import { type ExpireTimer, startExpireTimer } from '../shared/expire/expire-timer.ts';
import type { KeyVault } from '../shared/keyvault/key-vault.ts';
import type { Logger } from '../shared/log/logger.ts';
import type { SaslServer } from '../shared/sasl/sasl-server.ts';
import { openStores, type Stores } from '../shared/store/open-stores.ts';
import { type DataDirLock, lockDataDir } from './data-dir-lock.ts';
import { startImapListener, startImapsListener } from './imap/imap-listener.ts';
import {
  type ListenerContext,
  openListenerAuthentication,
  type RunningListener,
  type StartListener,
} from './listener.ts';
import { type RunningOutboundDelivery, startOutboundDelivery } from './outbound/outbound-delivery.ts';
import { startSmtpListener, startSubmissionListener, startSubmissionTlsListener } from './smtp/smtp-listener.ts';
import { type CertificateSource, openCertificateSource } from './tls/certificate-source.ts';

/** The listeners this build has, in start order. */
const LISTENERS: [ListenerName, StartListener][] = [
  ['smtp', startSmtpListener],
  ['submission', startSubmissionListener],
  ['submissionTls', startSubmissionTlsListener],
  ['imap', startImapListener],
  ['imaps', startImapsListener],
];

export interface MailSystem {
  listeners: RunningListener[];
  /** The stores the listeners use (tests read and seed them; nothing else may open a second set). */
  stores: Stores;
  /** The key vault the listeners use (a directory that sets passwords needs it). */
  keyVault: KeyVault;
  /** The process's SASL state (tests refresh its cached legacy-domain list after adding domains). */
  sasl: SaslServer;
  /** Stop accepting, finish in-flight work, close the stores, release the data directory. */
  stop(): Promise<void>;
}

export async function startMailSystem(config: Config, logger: Logger): Promise<MailSystem> {
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const lock: DataDirLock | undefined = config.store.kind === 'local' ? await lockDataDir(config.dataDir) : undefined;
  const listeners: RunningListener[] = [];
  let stores: Stores | undefined;
  let tls: CertificateSource | undefined;
  let outbound: RunningOutboundDelivery | undefined;
  let expireTimer: ExpireTimer | undefined;
  const stop = async () => {
    await Promise.allSettled(listeners.map((listener) => listener.close()));
    await outbound?.stop();
    await expireTimer?.stop();
    tls?.close();
    await stores?.close();
    await lock?.release();
  };
  try {
    stores = await openStores(config.store);
    tls = await openCertificateSource(config, logger);
    const authentication = await openListenerAuthentication(config, stores);
    const context: ListenerContext = { config, logger, stores, tls, ...authentication };
    for (const [name, start] of LISTENERS) {
      if (config.enabledListeners.includes(name)) listeners.push(await start(context));
    }
    // Mail leaves from where it is submitted: one worker group, not one per IMAP task as well.
    if (config.enabledListeners.includes('submission')) {
      outbound = await startOutboundDelivery(config, stores, logger.child({ component: 'outbound' }));
    }
    // On AWS the scheduled Lambda runs the expire job; locally this process does, nightly.
    if (config.store.kind === 'local') expireTimer = startExpireTimer(stores, config, logger);
    return { listeners, stores, ...authentication, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
