/**
 * The local invoker adapter: runs a step's middy handler in this process, as Lambda would run it, with a
 * real deadline. The handler gets a context whose getRemainingTimeInMillis counts down to the deadline
 * (so middy's early-timeout abort works as in Lambda), and the caller stops waiting at the deadline even
 * if the handler never settles.
 */
import { randomUUID } from 'node:crypto';
import { InvocationError, InvocationTimeoutError, type InvokeOptions, type Invoker, throughJson } from './invoker.ts';

/** The part of the Lambda context our handlers and middy use. */
export interface StepContext {
  functionName: string;
  awsRequestId: string;
  getRemainingTimeInMillis(): number;
}

/** A step's handler: what `functions/<step>/handler.ts` exports (a middy handler) or a test's own. */
export type StepHandler = (event: unknown, context: StepContext) => Promise<unknown>;

export class InProcessInvoker implements Invoker {
  private readonly handlers = new Map<string, StepHandler>();

  constructor(handlers: Record<string, StepHandler> = {}) {
    for (const [name, handler] of Object.entries(handlers)) this.handlers.set(name, handler);
  }

  async invoke(functionName: string, payload: unknown, options: InvokeOptions): Promise<unknown> {
    const handler = this.handlers.get(functionName);
    if (!handler) throw new InvocationError(functionName, 'no such function');
    const deadline = Date.now() + options.timeoutMs;
    const context: StepContext = {
      functionName,
      awsRequestId: randomUUID(),
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new InvocationTimeoutError(functionName, options.timeoutMs)), options.timeoutMs);
    });
    const running = Promise.resolve()
      .then(() => handler(throughJson(payload), context))
      .then(throughJson, (error: unknown) => {
        throw new InvocationError(functionName, error instanceof Error ? error.message : String(error), {
          cause: error,
        });
      });
    // A step that finishes after its deadline has nobody waiting for it; its failure is not an error here.
    running.catch(() => {});
    try {
      return await Promise.race([running, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {}
}
