/**
 * Lambda entry of the expire job (shared/expire): a thin middy wrapper with Powertools logging and
 * metrics. The nightly EventBridge schedule invokes it with `{ "source": "schedule", "job": "expire" }`;
 * an operator may invoke it with `{ "mode": "now" }` to start a run regardless of the last one. Each
 * invocation works until shortly before its timeout, saves the run's cursor, and the next invocation
 * continues the run; a second runner at the same time finds the lease taken and returns `busy`.
 *
 * SECURITY: trusts its configuration (environment) and the store; the event only chooses the mode. It is
 * the one code that deletes mail, and deletes only what is past retention or referenced by nothing.
 * On AWS the bucket's lifecycle rules expire `quarantine/` blobs, so the job leaves them alone there.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { type Config, loadConfig } from '../../shared/config/config.ts';
import { type ExpireOutcome, runExpire } from '../../shared/expire/expire-job.ts';
import { QUARANTINE_RETENTION_DAYS } from '../../shared/expire/expire-timer.ts';
import { emptyTotals, readRunState } from '../../shared/expire/run-state.ts';
import { METRICS_NAMESPACE, Metric, MetricService } from '../../shared/metrics/metric-names.ts';
import { openStores, type Stores } from '../../shared/store/open-stores.ts';

/** Time left for saving the cursor and returning after the last unit of work starts. */
export const SAFETY_MARGIN_MS = 60_000;

export interface ExpireEvent {
  mode?: 'scheduled' | 'now';
}

/** What the handler needs of the Lambda context. */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

const logger = new Logger({ serviceName: MetricService.Expire });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: MetricService.Expire });
let environment: Promise<{ config: Config; stores: Stores }> | undefined;

/** The stores stay open across invocations of one Lambda container. */
function openEnvironment(): Promise<{ config: Config; stores: Stores }> {
  environment ??= (async () => {
    const config = loadConfig();
    return { config, stores: await openStores(config.store) };
  })();
  return environment;
}

function modeOf(event: unknown): 'scheduled' | 'now' {
  const mode = typeof event === 'object' && event !== null ? (event as ExpireEvent).mode : undefined;
  return mode === 'now' ? 'now' : 'scheduled';
}

async function expire(event: unknown, context: InvocationContext): Promise<ExpireOutcome> {
  const { config, stores } = await openEnvironment();
  const before = (await readRunState(stores.metadata)).cursor?.totals ?? emptyTotals();
  const outcome = await runExpire(stores, {
    mode: modeOf(event),
    deadline: Date.now() + context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS,
    defaultRetentionDays: config.retentionDays,
    quarantineRetentionDays: QUARANTINE_RETENTION_DAYS,
    deleteQuarantineBlobs: config.store.kind === 'local',
  });
  // Totals are the run's (one run per invocation at most); this invocation's share is the difference.
  const purged = (totals: typeof before) => totals.messagesPurged + totals.mailboxesPurged + totals.blobsDeleted;
  const worked = outcome.status === 'complete' || outcome.status === 'incomplete';
  const expired = worked ? purged(outcome.totals) - purged(before) : 0;
  metrics.addMetric(Metric.ExpiredItems.name, MetricUnit.Count, Math.max(0, expired));
  logger.info('expire invocation', { status: outcome.status, runId: outcome.runId, ...outcome.totals });
  return outcome;
}

export const handler = middy<unknown, ExpireOutcome>(expire).use(injectLambdaContext(logger)).use(logMetrics(metrics));
