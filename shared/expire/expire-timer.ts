/**
 * The expire job in the local process (`npm start`), where no scheduler invokes the Lambda: a timer that
 * checks every few minutes and runs the job to its end at the nightly hour (UTC), or at once when the
 * last run completed too long ago (the machine was off at night) or a run was left unfinished. The job's
 * own `scheduled` mode skips a run that completed less than 20 hours ago, so the hour's several checks
 * start one run.
 *
 * stop() aborts a run in progress at its next unit of work and waits for it; the run's cursor is saved,
 * so the next start continues it.
 */
import type { Config } from '../config/config.ts';
import type { Logger } from '../log/logger.ts';
import { type ExpireOutcome, type ExpireStores, runExpireToEnd } from './expire-job.ts';
import { readRunState } from './run-state.ts';

export const EXPIRE_CHECK_INTERVAL_MS = 10 * 60_000;
/** The local nightly hour (UTC); the AWS deployment has its own setting (infra `expireHourUtc`). */
export const LOCAL_EXPIRE_HOUR_UTC = 3;
/** A run is started outside the hour when the last one completed longer ago than this. */
export const OVERDUE_MS = 36 * 3_600_000;
/** Quarantine copies are kept this long (the same default as the AWS bucket's lifecycle rule). */
export const QUARANTINE_RETENTION_DAYS = 30;

export interface ExpireTimer {
  stop(): Promise<void>;
}

export interface ExpireTimerOptions {
  hourUtc?: number;
  intervalMs?: number;
  clock?: () => number;
}

/** Starts the timer over the process's stores, with the configured default retention. */
export function startExpireTimer(
  stores: ExpireStores,
  config: Pick<Config, 'retentionDays'>,
  logger: Logger,
  options: ExpireTimerOptions = {},
): ExpireTimer {
  const clock = options.clock ?? Date.now;
  const hourUtc = options.hourUtc ?? LOCAL_EXPIRE_HOUR_UTC;
  const log = logger.child({ component: 'expire' });
  const abort = new AbortController();
  let running: Promise<unknown> | undefined;

  const due = async (): Promise<boolean> => {
    if (new Date(clock()).getUTCHours() === hourUtc) return true;
    const state = await readRunState(stores.metadata);
    return (
      state.cursor !== undefined || state.lastCompletedAt === undefined || clock() - state.lastCompletedAt > OVERDUE_MS
    );
  };
  const tick = async () => {
    if (!(await due())) return;
    const outcome: ExpireOutcome = await runExpireToEnd(stores, {
      mode: 'scheduled',
      clock,
      signal: abort.signal,
      defaultRetentionDays: config.retentionDays,
      quarantineRetentionDays: QUARANTINE_RETENTION_DAYS,
      deleteQuarantineBlobs: true,
      onProgress: (progress) => log.debug('expire progress', { ...progress }),
    });
    if (outcome.status === 'complete' || outcome.status === 'incomplete') {
      log.info('expire run', { status: outcome.status, runId: outcome.runId, ...outcome.totals });
    }
  };
  const timer = setInterval(() => {
    if (running) return;
    running = tick()
      .catch((error: unknown) => log.error('expire run failed', { error }))
      .finally(() => {
        running = undefined;
      });
  }, options.intervalMs ?? EXPIRE_CHECK_INTERVAL_MS);
  timer.unref();

  return {
    async stop() {
      clearInterval(timer);
      abort.abort();
      await running;
    },
  };
}
