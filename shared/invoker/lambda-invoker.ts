/**
 * The AWS invoker adapter: Lambda `Invoke` (RequestResponse) with the function names from the
 * configuration. A function error (the handler threw: `FunctionError` is set and the payload is the
 * error object) and a missed deadline become InvocationErrors, as with the in-process adapter.
 */
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { InvocationError, InvocationTimeoutError, type InvokeOptions, type Invoker } from './invoker.ts';

export interface LambdaInvokerOptions {
  region: string;
  /** Logical step name (scan, filter) → Lambda function name or ARN. */
  functions: Record<string, string>;
  /** An emulator or VPC endpoint. */
  endpoint?: string;
}

export class LambdaInvoker implements Invoker {
  private readonly client: LambdaClient;

  constructor(private readonly options: LambdaInvokerOptions) {
    this.client = new LambdaClient({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      // The SDK's own retries would run past the caller's deadline; the SMTP sender retries instead.
      maxAttempts: 1,
    });
  }

  async invoke(functionName: string, payload: unknown, options: InvokeOptions): Promise<unknown> {
    const lambdaName = this.options.functions[functionName];
    if (!lambdaName) throw new InvocationError(functionName, 'no Lambda function configured');
    const signal = AbortSignal.timeout(options.timeoutMs);
    let response: InvokeCommandOutput;
    try {
      response = await this.client.send(
        new InvokeCommand({
          FunctionName: lambdaName,
          InvocationType: 'RequestResponse',
          Payload: Buffer.from(JSON.stringify(payload ?? null)),
        }),
        { abortSignal: signal },
      );
    } catch (error) {
      if (signal.aborted) throw new InvocationTimeoutError(functionName, options.timeoutMs);
      throw new InvocationError(functionName, `Invoke failed: ${(error as Error).message}`, { cause: error });
    }
    const text = response.Payload ? Buffer.from(response.Payload).toString('utf8') : '';
    if (response.FunctionError) {
      throw new InvocationError(functionName, `function error (${response.FunctionError}): ${errorMessageOf(text)}`);
    }
    if (text === '') return null;
    try {
      return JSON.parse(text);
    } catch {
      throw new InvocationError(functionName, 'the function returned a payload that is not JSON');
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

/** Lambda's error payload is `{ errorType, errorMessage, trace }`; anything else is quoted as is. */
function errorMessageOf(text: string): string {
  try {
    const parsed = JSON.parse(text) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // not JSON: fall through
  }
  return text.slice(0, 200);
}
