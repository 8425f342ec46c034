/**
 * The local process's expire timer: it runs the job when a run is overdue (never ran), not again within
 * the day outside the nightly hour, and stop() aborts a run in progress and waits for it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startExpireTimer } from '../../../shared/expire/expire-timer.ts';
import { readRunState } from '../../../shared/expire/run-state.ts';
import { Logger } from '../../../shared/log/logger.ts';
import { localAdapters } from '../../support/stores.ts';

const quietLogger = new Logger('error', {}, { write: () => {} });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(10);
  }
}

describe('expire timer', () => {
  it('runs an overdue job once, and not again the same day outside its hour', async (t) => {
    const stores = await localAdapters.open();
    t.after(() => stores.cleanup());
    const now = Date.UTC(2030, 0, 10, 12);
    const timer = startExpireTimer(stores, { retentionDays: 30 }, quietLogger, {
      hourUtc: 3,
      intervalMs: 10,
      clock: () => now,
    });
    t.after(() => timer.stop());
    await until(async () => (await readRunState(stores.metadata)).lastCompletedAt !== undefined);
    const first = await readRunState(stores.metadata);
    assert.equal(first.lastCompletedAt, now);
    await sleep(100);
    assert.equal((await readRunState(stores.metadata)).lastRunId, first.lastRunId, 'no second run');
    await timer.stop();
  });

  it('at the nightly hour a scheduled run starts once the last is 20 hours old; stop() waits for it', async (t) => {
    const stores = await localAdapters.open();
    t.after(() => stores.cleanup());
    let now = Date.UTC(2030, 0, 10, 3, 5);
    const timer = startExpireTimer(stores, { retentionDays: 30 }, quietLogger, {
      hourUtc: 3,
      intervalMs: 10,
      clock: () => now,
    });
    await until(async () => (await readRunState(stores.metadata)).lastCompletedAt === now);
    const first = (await readRunState(stores.metadata)).lastRunId;
    now += 86_400_000;
    await until(async () => (await readRunState(stores.metadata)).lastCompletedAt === now);
    assert.notEqual((await readRunState(stores.metadata)).lastRunId, first);
    await timer.stop();
    const stopped = await readRunState(stores.metadata);
    now += 86_400_000;
    await sleep(60);
    assert.deepEqual(await readRunState(stores.metadata), stopped, 'nothing runs after stop()');
  });
});
