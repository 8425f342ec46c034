/** What the process entry point needs from each protocol listener (SMTP, submission, IMAP, ManageSieve). */
import type { Config } from '../shared/config/config.ts';
import { Directory } from '../shared/directory/directory.ts';
import type { KeyVault } from '../shared/keyvault/key-vault.ts';
import { openConfiguredKeyVault } from '../shared/keyvault/open-key-vault.ts';
import type { Logger } from '../shared/log/logger.ts';
import { AuthThrottle, DEFAULT_ACCOUNT_POLICY, DEFAULT_ADDRESS_POLICY } from '../shared/sasl/auth-throttle.ts';
import { SaslServer } from '../shared/sasl/sasl-server.ts';
import type { Stores } from '../shared/store/open-stores.ts';
import type { CertificateSource } from './tls/certificate-source.ts';

export interface RunningListener {
  name: string;
  host: string;
  /** The bound port (differs from the configured one when that was 0). */
  port: number;
  /** Stops accepting connections, lets in-flight work finish (within its own bound), then resolves. */
  close(): Promise<void>;
}

export interface ListenerContext extends ListenerAuthentication {
  config: Config;
  logger: Logger;
  stores: Stores;
  /** Read at each use: a rotated certificate shows up here (and through onChange) without a restart. */
  tls: CertificateSource;
}

/** What every listener of a process authenticates with: one key vault, one SASL state (one throttle). */
export interface ListenerAuthentication {
  keyVault: KeyVault;
  sasl: SaslServer;
}

/** Opens the key vault and makes the process's SASL state (its decoy, throttle, advertisement cache). */
export async function openListenerAuthentication(config: Config, stores: Stores): Promise<ListenerAuthentication> {
  const keyVault = await openConfiguredKeyVault(config.keyVault, 'authentication (the legacy SASL verifiers)');
  const { maxFailuresPerAddress, maxFailuresPerAccount } = config.authThrottle;
  const sasl = await SaslServer.open({
    directory: new Directory(stores.metadata, { keyVault }),
    vault: keyVault,
    hostname: config.hostname,
    alternateHostnames: config.hostnameAliases,
    throttle: new AuthThrottle({
      address: { ...DEFAULT_ADDRESS_POLICY, refuseAt: maxFailuresPerAddress },
      account: { ...DEFAULT_ACCOUNT_POLICY, refuseAt: maxFailuresPerAccount },
    }),
  });
  return { keyVault, sasl };
}

export type StartListener = (context: ListenerContext) => Promise<RunningListener>;
