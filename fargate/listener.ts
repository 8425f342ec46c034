/** What the process entry point needs from each protocol listener (SMTP, submission, IMAP, ManageSieve). */
import type { Config } from '../shared/config/config.ts';
import type { Logger } from '../shared/log/logger.ts';
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

export interface ListenerContext {
  config: Config;
  logger: Logger;
  stores: Stores;
  /** Read at each use: a rotated certificate shows up here (and through onChange) without a restart. */
  tls: CertificateSource;
}

export type StartListener = (context: ListenerContext) => Promise<RunningListener>;
