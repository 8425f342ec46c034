import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../../../shared/config/config.ts';
import { InProcessInvoker } from '../../../shared/invoker/in-process-invoker.ts';
import { InvocationError } from '../../../shared/invoker/invoker.ts';
import { LambdaInvoker } from '../../../shared/invoker/lambda-invoker.ts';
import { openInvoker } from '../../../shared/invoker/open-invoker.ts';

const injected = (name: string) =>
  fileURLToPath(new URL(`../../fargate/smtp/injected-steps/${name}.ts`, import.meta.url));
const builtIn = { scan: async () => ({ verdict: 'clean' }), filter: async () => ({ placements: [] }) };

describe('opening the invoker from the configuration', () => {
  it('runs the built-in steps in process by default', async () => {
    const config = loadConfig({});
    assert.equal(config.functions.invoker, 'in-process');
    const invoker = await openInvoker(config.functions, builtIn);
    assert.ok(invoker instanceof InProcessInvoker);
    assert.deepEqual(await invoker.invoke('scan', {}, { timeoutMs: 1000 }), { verdict: 'clean' });
  });

  it('replaces a step with the module MARMOT_FN_SCAN names', async () => {
    const config = loadConfig({ MARMOT_FN_SCAN: injected('rejecting-scan') });
    const invoker = await openInvoker(config.functions, builtIn);
    assert.deepEqual(await invoker.invoke('scan', {}, { timeoutMs: 1000 }), {
      verdict: 'reject',
      reason: 'test verdict: infected',
    });
    assert.deepEqual(await invoker.invoke('filter', {}, { timeoutMs: 1000 }), { placements: [] });
    const failing = await openInvoker(loadConfig({ MARMOT_FN_SCAN: injected('failing-scan') }).functions, builtIn);
    await assert.rejects(failing.invoke('scan', {}, { timeoutMs: 1000 }), InvocationError);
  });

  it('refuses a module that cannot be loaded or has no handler', async () => {
    await assert.rejects(
      openInvoker(loadConfig({ MARMOT_FN_SCAN: '/nonexistent/step.ts' }).functions, builtIn),
      ConfigError,
    );
    const notAStep = fileURLToPath(new URL('./open-invoker.test.ts', import.meta.url));
    await assert.rejects(
      openInvoker(loadConfig({ MARMOT_FN_FILTER: notAStep }).functions, builtIn),
      /no handler export for the filter step/,
    );
  });

  it('uses Lambda when MARMOT_INVOKER=lambda, which needs both function names and a region', async () => {
    const env = {
      MARMOT_INVOKER: 'lambda',
      MARMOT_FN_SCAN: 'scan-fn',
      MARMOT_FN_FILTER: 'filter-fn',
      AWS_REGION: 'eu-west-1',
    };
    const invoker = await openInvoker(loadConfig(env).functions, builtIn);
    assert.ok(invoker instanceof LambdaInvoker);
    await invoker.close();
    assert.throws(() => loadConfig({ ...env, MARMOT_FN_FILTER: '' }), ConfigError);
    assert.throws(() => loadConfig({ MARMOT_INVOKER: 'carrier-pigeon' }), ConfigError);
    assert.throws(() => loadConfig({ MARMOT_FN_TIMEOUT_MS: '0' }), ConfigError);
  });

  it('reads the PROXY protocol flag strictly', () => {
    assert.equal(loadConfig({}).proxyProtocol, false);
    assert.equal(loadConfig({ MARMOT_PROXY_PROTOCOL: 'v2' }).proxyProtocol, true);
    assert.throws(() => loadConfig({ MARMOT_PROXY_PROTOCOL: 'v1' }), ConfigError);
  });
});
