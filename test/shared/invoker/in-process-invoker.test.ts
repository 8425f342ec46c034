import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import middy from '@middy/core';
import { handler as scanHandler } from '../../../functions/scan/handler.ts';
import { InProcessInvoker, type StepContext } from '../../../shared/invoker/in-process-invoker.ts';
import { InvocationError, InvocationTimeoutError } from '../../../shared/invoker/invoker.ts';

const scanRequest = {
  blobKey: 'msg/20260101/abc',
  size: 10,
  mailFrom: 'a@example.org',
  recipients: ['b@example.com'],
  client: { address: '192.0.2.1', helo: 'mx.example.org' },
};

describe('in-process invoker', () => {
  it('runs the real scan handler and returns its verdict', async () => {
    const invoker = new InProcessInvoker({ scan: scanHandler });
    assert.deepEqual(await invoker.invoke('scan', scanRequest, { timeoutMs: 1000 }), { verdict: 'clean' });
  });

  it('turns a malformed request that the handler refuses into an InvocationError', async () => {
    const invoker = new InProcessInvoker({ scan: scanHandler });
    await assert.rejects(invoker.invoke('scan', { blobKey: 7 }, { timeoutMs: 1000 }), InvocationError);
  });

  it('copies payloads and results through JSON, as the Lambda wire does', async () => {
    const seen: unknown[] = [];
    const invoker = new InProcessInvoker({
      echo: async (event) => {
        seen.push(event);
        (event as { list: number[] }).list.push(99);
        return { at: new Date(0), missing: undefined };
      },
    });
    const payload = { list: [1, 2] };
    const result = await invoker.invoke('echo', payload, { timeoutMs: 1000 });
    assert.deepEqual(payload.list, [1, 2]);
    assert.deepEqual(result, { at: '1970-01-01T00:00:00.000Z' });
    assert.notEqual(seen[0], payload);
  });

  it('reports a throwing handler as an InvocationError carrying its message', async () => {
    const invoker = new InProcessInvoker({
      broken: async () => {
        throw new Error('disk on fire');
      },
    });
    await assert.rejects(invoker.invoke('broken', {}, { timeoutMs: 1000 }), (error: unknown) => {
      assert.ok(error instanceof InvocationError);
      assert.ok(!(error instanceof InvocationTimeoutError));
      assert.match(error.message, /broken: disk on fire/);
      return true;
    });
  });

  it('stops waiting at the deadline even if the handler never settles', async () => {
    const invoker = new InProcessInvoker({ stuck: () => new Promise(() => {}) });
    const started = Date.now();
    await assert.rejects(invoker.invoke('stuck', {}, { timeoutMs: 150 }), InvocationTimeoutError);
    const waited = Date.now() - started;
    assert.ok(waited >= 140 && waited < 1000, `waited ${waited} ms`);
  });

  it("gives a middy handler Lambda's remaining time, so its early-timeout abort fires before the deadline", async () => {
    let aborted = false;
    let remaining = -1;
    const slow = middy<unknown, string>(
      async (_event: unknown, context: StepContext, { signal }: { signal: AbortSignal }) => {
        remaining = context.getRemainingTimeInMillis();
        signal.addEventListener('abort', () => {
          aborted = true;
        });
        await new Promise((resolve) => setTimeout(resolve, 500));
        return 'late';
      },
      { timeoutEarlyInMillis: 50 },
    );
    const invoker = new InProcessInvoker({ slow });
    await assert.rejects(invoker.invoke('slow', {}, { timeoutMs: 200 }), InvocationError);
    assert.ok(remaining > 100 && remaining <= 200, `remaining ${remaining}`);
    assert.equal(aborted, true);
  });

  it('refuses a function it does not know', async () => {
    await assert.rejects(new InProcessInvoker().invoke('nope', {}, { timeoutMs: 100 }), /nope: no such function/);
  });
});
