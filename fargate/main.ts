/**
 * marmot: the mail system's process. Locally (`npm start`) it runs everything on one machine with the
 * embedded store in the data directory; in the Fargate task the same code runs with the AWS adapters.
 *
 * SECURITY: it trusts its configuration (environment) and its data directory; everything arriving on a
 * socket is untrusted and handled by the listeners. It must never start twice on one data directory.
 */
import { ConfigError, loadConfig } from '../shared/config/config.ts';
import { Logger } from '../shared/log/logger.ts';
import { DataDirLockedError } from './data-dir-lock.ts';
import { type MailSystem, startMailSystem } from './mail-system.ts';

const SHUTDOWN_GRACE_MS = 30_000;

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = new Logger(config.logLevel, { component: 'marmot' });

  // Handlers first: a signal that arrived with none installed would kill the process outright, skipping
  // the clean stop (and one can come the instant "started" is printed).
  let system: MailSystem | undefined;
  let stopRequested: string | undefined;
  const shutdown = (signal: string) => {
    if (stopRequested) return;
    stopRequested = signal;
    if (system) stop(system, signal);
  };
  const stop = (running: MailSystem, signal: string) => {
    logger.info('shutting down', { signal });
    const forced = setTimeout(() => {
      logger.error('shutdown took too long; exiting', { graceMs: SHUTDOWN_GRACE_MS });
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    forced.unref();
    running.stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error('error while stopping', { error });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));

  system = await startMailSystem(config, logger);
  for (const listener of system.listeners) {
    logger.info('listening', { listener: listener.name, host: listener.host, port: listener.port });
  }
  logger.info('mail system started', {
    dataDir: config.store.kind === 'local' ? config.dataDir : undefined,
    store: config.store.kind,
    listeners: system.listeners.length,
  });
  if (stopRequested) stop(system, stopRequested);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof DataDirLockedError) {
    process.stderr.write(`marmot: ${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(
    `marmot: failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
