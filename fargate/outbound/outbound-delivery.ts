/**
 * Runs the outbound delivery worker inside the mail system's process: the transport the configuration
 * names, the dkim-sign step (in this process around the key vault, or with MARMOT_INVOKER=lambda the
 * Lambda named by MARMOT_FN_DKIM_SIGN), DSNs into local mailboxes, and the worker over the process's
 * stores. Not started
 * when no transport is configured (MARMOT_OUTBOUND_TRANSPORT=none): remote mail then waits in the queue.
 *
 * In AWS only the transfer service (the SMTP listeners) should run it: it needs the SES send grant and
 * the invoke grant on dkim-sign, which the access service does not have.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createDkimSignHandler } from '../../functions/dkim-sign/handler.ts';
import { type Config, ConfigError } from '../../shared/config/config.ts';
import { Directory } from '../../shared/directory/directory.ts';
import { DkimKeys } from '../../shared/dkim/dkim-keys.ts';
import { DKIM_SIGN_FUNCTION } from '../../shared/dkim/sign-step.ts';
import type { StepHandler } from '../../shared/invoker/in-process-invoker.ts';
import type { Invoker } from '../../shared/invoker/invoker.ts';
import { openInvoker } from '../../shared/invoker/open-invoker.ts';
import { openKeyVault } from '../../shared/keyvault/open-key-vault.ts';
import type { Logger } from '../../shared/log/logger.ts';
import { openMailStore } from '../../shared/mailbox/mail-store.ts';
import { METRICS_NAMESPACE, MetricService } from '../../shared/metrics/metric-names.ts';
import { deliverDsn } from '../../shared/outbound/dsn-delivery.ts';
import { OutboundWorker } from '../../shared/outbound/outbound-worker.ts';
import { OutboundQueue } from '../../shared/outbound-queue/outbound-queue.ts';
import { openOutboundTransport } from '../../shared/outbound-transport/open-transport.ts';
import type { Stores } from '../../shared/store/open-stores.ts';

export interface RunningOutboundDelivery {
  stop(): Promise<void>;
}

export async function startOutboundDelivery(
  config: Config,
  stores: Stores,
  logger: Logger,
): Promise<RunningOutboundDelivery | undefined> {
  const transport = openOutboundTransport(config.outbound.transport, {
    hostname: config.hostname,
    ...(config.dnsServers ? { dnsServers: config.dnsServers } : {}),
  });
  if (!transport) {
    logger.warn('no outbound transport configured (MARMOT_OUTBOUND_TRANSPORT): remote mail stays queued', {});
    return undefined;
  }
  const invoker = await openSigningInvoker(config, stores);
  const queue = new OutboundQueue(stores.metadata, stores.blobs);
  const directory = new Directory(stores.metadata);
  const mailStore = openMailStore(stores.metadata);
  const worker = new OutboundWorker({
    queue,
    blobs: stores.blobs,
    transport,
    invoker,
    deliverDsn: (letter) => deliverDsn({ directory, mailStore, blobs: stores.blobs, queue }, letter),
    logger,
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: MetricService.Outbound }),
    settings: {
      hostname: config.hostname,
      signTimeoutMs: config.functions.timeoutMs,
      lifetimeMs: config.outbound.lifetimeMs,
      retryMinMs: config.outbound.retryMinMs,
      retryMaxMs: config.outbound.retryMaxMs,
      ...(config.outbound.delayWarningMs !== undefined ? { delayWarningMs: config.outbound.delayWarningMs } : {}),
      pollMs: config.outbound.pollMs,
      leaseMs: config.outbound.leaseMs,
      concurrency: config.outbound.concurrency,
    },
  });
  worker.start();
  logger.info('outbound delivery started', { transport: transport.description });
  return {
    async stop() {
      await worker.stop();
      await Promise.allSettled([transport.close(), invoker.close()]);
    },
  };
}

/** The dkim-sign step: the Lambda in AWS (MARMOT_INVOKER=lambda), else in this process around the key vault. */
async function openSigningInvoker(config: Config, stores: Stores): Promise<Invoker> {
  if (config.functions.invoker === 'lambda') {
    if (!config.functions.dkimSign)
      throw new ConfigError('MARMOT_INVOKER=lambda needs MARMOT_FN_DKIM_SIGN to send mail');
    return openInvoker(config.functions, {});
  }
  if (!config.keyVault) throw new ConfigError('signing in this process needs the key vault: set MARMOT_KEY_ID');
  const keys = new DkimKeys(stores.metadata, await openKeyVault(config.keyVault));
  const handler = createDkimSignHandler(keys, stores.blobs) as unknown as StepHandler;
  return openInvoker(config.functions, { [DKIM_SIGN_FUNCTION]: handler });
}
