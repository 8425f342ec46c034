/**
 * A second IMAP server process on the data directory of a running test server, as another Fargate task
 * would be on the same tables: it starts the IMAP listener on port 0, prints `{"port": n}` on stdout and
 * runs until killed. argv: the data directory.
 */
import { startImapListener } from '../../../fargate/imap/imap-listener.ts';
import { openListenerAuthentication } from '../../../fargate/listener.ts';
import { openCertificateSource } from '../../../fargate/tls/certificate-source.ts';
import { loadConfig } from '../../../shared/config/config.ts';
import { Logger } from '../../../shared/log/logger.ts';
import { openStores } from '../../../shared/store/open-stores.ts';

const dataDir = process.argv[2]!;
const config = loadConfig({
  MARMOT_DATA_DIR: dataDir,
  MARMOT_LISTEN_HOST: '127.0.0.1',
  MARMOT_IMAP_PORT: '0',
  MARMOT_IMAP_PLAINTEXT_AUTH: '1',
  MARMOT_LOG_LEVEL: 'error',
});
const stores = await openStores(config.store);
const logger = new Logger(config.logLevel, { component: 'second-imap' }, process.stderr);
const tls = await openCertificateSource(config, logger);
const authentication = await openListenerAuthentication(config, stores);
const listener = await startImapListener({ config, logger, stores, tls, ...authentication });
process.stdout.write(`${JSON.stringify({ port: listener.port })}\n`);
process.on('SIGTERM', () => {
  void listener
    .close()
    .then(() => stores.close())
    .then(() => process.exit(0));
});
