/**
 * The Lambda adapter against a small emulator of Lambda's Invoke API (POST
 * /2015-03-31/functions/<name>/invocations) that runs the real handlers, as Lambda would: a thrown error
 * comes back as a 200 with X-Amz-Function-Error and Lambda's error object.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { handler as scanHandler } from '../../../functions/scan/handler.ts';
import type { StepHandler } from '../../../shared/invoker/in-process-invoker.ts';
import { InvocationError, InvocationTimeoutError } from '../../../shared/invoker/invoker.ts';
import { LambdaInvoker } from '../../../shared/invoker/lambda-invoker.ts';

const functions: Record<string, StepHandler> = {
  'marmot-scan': scanHandler,
  'marmot-broken': async () => {
    throw new TypeError('cannot read the spool');
  },
  'marmot-stuck': () => new Promise(() => {}),
};

describe('Lambda invoker', () => {
  let server: Server;
  let endpoint: string;
  const requests: Array<{ name: string; body: unknown }> = [];

  before(async () => {
    process.env.AWS_ACCESS_KEY_ID ??= 'test';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
    server = createServer(async (request, response) => {
      const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(request.url ?? '');
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const name = decodeURIComponent(match?.[1] ?? '');
      const handler = functions[name];
      if (request.method !== 'POST' || !handler) {
        response.writeHead(404, {
          'content-type': 'application/json',
          'x-amzn-errortype': 'ResourceNotFoundException',
        });
        response.end(JSON.stringify({ message: `Function not found: ${name}` }));
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      requests.push({ name, body });
      const context = { functionName: name, awsRequestId: 'r', getRemainingTimeInMillis: () => 30_000 };
      try {
        const result = await handler(body, context);
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify(result));
      } catch (error) {
        response.writeHead(200, { 'content-type': 'application/json', 'x-amz-function-error': 'Unhandled' });
        response.end(JSON.stringify({ errorType: (error as Error).name, errorMessage: (error as Error).message }));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const invokerFor = () =>
    new LambdaInvoker({
      region: 'eu-west-1',
      endpoint,
      functions: { scan: 'marmot-scan', broken: 'marmot-broken', stuck: 'marmot-stuck', missing: 'marmot-missing' },
    });

  it('invokes the configured function with the JSON payload and returns its JSON result', async () => {
    const invoker = invokerFor();
    const payload = {
      blobKey: 'msg/1/x',
      size: 3,
      mailFrom: '',
      recipients: ['a@example.com'],
      client: { address: '192.0.2.9', helo: 'h' },
    };
    assert.deepEqual(await invoker.invoke('scan', payload, { timeoutMs: 5000 }), { verdict: 'clean' });
    assert.deepEqual(requests.at(-1), { name: 'marmot-scan', body: payload });
    await invoker.close();
  });

  it("maps a function error to an InvocationError with Lambda's error message", async () => {
    const invoker = invokerFor();
    await assert.rejects(invoker.invoke('broken', {}, { timeoutMs: 5000 }), (error: unknown) => {
      assert.ok(error instanceof InvocationError);
      assert.match(error.message, /Unhandled.*cannot read the spool/);
      return true;
    });
    await invoker.close();
  });

  it('gives up at the deadline with an InvocationTimeoutError', async () => {
    const invoker = invokerFor();
    const started = Date.now();
    await assert.rejects(invoker.invoke('stuck', {}, { timeoutMs: 300 }), InvocationTimeoutError);
    assert.ok(Date.now() - started < 3000);
    await invoker.close();
  });

  it('fails cleanly for a function Lambda does not have, and for one the configuration does not name', async () => {
    const invoker = invokerFor();
    await assert.rejects(invoker.invoke('missing', {}, { timeoutMs: 5000 }), InvocationError);
    await assert.rejects(invoker.invoke('unnamed', {}, { timeoutMs: 5000 }), /no Lambda function configured/);
    await invoker.close();
  });
});
