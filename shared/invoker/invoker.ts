/**
 * The invoker port: how a listener runs a step that is a Lambda in AWS (scan, filter, and later
 * dkim-sign and expire). Adapters: the same middy handler called in the listener's process
 * (in-process-invoker.ts) and Lambda `Invoke` (lambda-invoker.ts).
 *
 * Payloads and results are JSON, as they are on the wire to Lambda; both adapters copy them through
 * JSON so code cannot come to depend on sharing objects with a step. A result is untrusted data: the
 * caller validates its shape. Every call has a deadline; a step that misses it, throws, or returns a
 * function error rejects with an InvocationError, and the caller decides what that means (the SMTP
 * pipeline answers 451 and stores nothing).
 */

export interface InvokeOptions {
  /** The caller stops waiting after this long (InvocationTimeoutError). */
  timeoutMs: number;
}

export interface Invoker {
  invoke(functionName: string, payload: unknown, options: InvokeOptions): Promise<unknown>;
  close(): Promise<void>;
}

/** The step did not produce a result: it threw, crashed, or is not known to the adapter. */
export class InvocationError extends Error {
  override name = 'InvocationError';
  constructor(
    readonly functionName: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${functionName}: ${message}`, options);
  }
}

/** The step did not answer within its deadline (it may still be running; its result is ignored). */
export class InvocationTimeoutError extends InvocationError {
  override name = 'InvocationTimeoutError';
  constructor(
    functionName: string,
    readonly timeoutMs: number,
  ) {
    super(functionName, `no answer within ${timeoutMs} ms`);
  }
}

/** Copies a value as the Lambda wire would: JSON in, JSON out (undefined becomes null). */
export function throughJson(value: unknown): unknown {
  const text = JSON.stringify(value);
  return text === undefined ? null : JSON.parse(text);
}
