/**
 * Lambda entry of the dkim-sign step, and the handler the outbound worker's in-process invoker calls
 * locally: a thin middy wrapper (Powertools logger and metrics) that validates the request and runs
 * dkim-sign.ts. A malformed request throws, which the caller sees as a failed step and retries later.
 *
 * In Lambda the stores and the key vault are opened from the environment on the first call; locally the
 * worker builds its handler with createDkimSignHandler around its own stores and vault.
 *
 * SECURITY: see dkim-sign.ts. Needs read access to the table and to `outbound/` in the bucket, and
 * kms:Decrypt on the vault key; nothing else.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { ConfigError, loadConfig } from '../../shared/config/config.ts';
import { DkimKeys } from '../../shared/dkim/dkim-keys.ts';
import { type DkimSignResult, parseDkimSignRequest } from '../../shared/dkim/sign-step.ts';
import { openKeyVault } from '../../shared/keyvault/open-key-vault.ts';
import { METRICS_NAMESPACE, MetricService } from '../../shared/metrics/metric-names.ts';
import type { BlobStore } from '../../shared/store/blob.ts';
import { openStores } from '../../shared/store/open-stores.ts';
import { type DkimSignDependencies, signQueuedMessage } from './dkim-sign.ts';

const logger = new Logger({ serviceName: MetricService.DkimSign });

/** The handler around given stores and keys (the local system's, or a test's). */
export function createDkimSignHandler(keys: DkimKeys, blobs: BlobStore, metrics: Metrics = newMetrics()) {
  return wrap(async () => ({ keys, blobs, metrics }), metrics);
}

let lambdaDependencies: Promise<DkimSignDependencies> | undefined;
const lambdaMetrics = newMetrics();

export const handler = wrap(() => {
  lambdaDependencies ??= openFromEnvironment().catch((error: unknown) => {
    lambdaDependencies = undefined;
    throw error;
  });
  return lambdaDependencies;
}, lambdaMetrics);

function wrap(dependencies: () => Promise<DkimSignDependencies>, metrics: Metrics) {
  return middy<unknown, DkimSignResult>(async (event: unknown) => {
    const request = parseDkimSignRequest(event);
    const result = await signQueuedMessage(request, await dependencies());
    logger.info(result.signed ? 'signed' : 'not signed', {
      blobKey: request.blobKey,
      domain: request.domain,
      ...(result.signed ? { selector: result.selector } : { reason: result.reason }),
    });
    return result;
  })
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics));
}

function newMetrics(): Metrics {
  return new Metrics({ namespace: METRICS_NAMESPACE, serviceName: MetricService.DkimSign });
}

async function openFromEnvironment(): Promise<DkimSignDependencies> {
  const config = loadConfig();
  if (!config.keyVault) throw new ConfigError('dkim-sign needs MARMOT_KEY_ID (the vault key)');
  const [stores, vault] = await Promise.all([openStores(config.store), openKeyVault(config.keyVault)]);
  return { keys: new DkimKeys(stores.metadata, vault), blobs: stores.blobs, metrics: lambdaMetrics };
}
