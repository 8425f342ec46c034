/**
 * Builds the invoker the configuration names. Lambda: the configured function names. In-process: the
 * built-in handlers the caller passes, each replaceable by a module the configuration names (its
 * `handler` export); that is how tests run the real system with a scan step that fails or hangs.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, type FunctionsConfig } from '../config/config.ts';
import { FILTER_FUNCTION, SCAN_FUNCTION } from '../delivery/steps.ts';
import { DKIM_SIGN_FUNCTION } from '../dkim/sign-step.ts';
import { InProcessInvoker, type StepHandler } from './in-process-invoker.ts';
import type { Invoker } from './invoker.ts';
import { LambdaInvoker } from './lambda-invoker.ts';

export async function openInvoker(config: FunctionsConfig, builtIn: Record<string, StepHandler>): Promise<Invoker> {
  const named: Record<string, string | undefined> = {
    [SCAN_FUNCTION]: config.scan,
    [FILTER_FUNCTION]: config.filter,
    [DKIM_SIGN_FUNCTION]: config.dkimSign,
  };
  if (config.invoker === 'lambda') {
    const functions: Record<string, string> = {};
    for (const [step, name] of Object.entries(named)) if (name) functions[step] = name;
    return new LambdaInvoker({
      region: config.region ?? '',
      functions,
      ...(config.lambdaEndpoint ? { endpoint: config.lambdaEndpoint } : {}),
    });
  }
  const handlers: Record<string, StepHandler> = { ...builtIn };
  for (const [step, path] of Object.entries(named)) if (path) handlers[step] = await handlerFrom(step, path);
  return new InProcessInvoker(handlers);
}

async function handlerFrom(step: string, path: string): Promise<StepHandler> {
  const url = pathToFileURL(isAbsolute(path) ? path : resolve(path)).href;
  let module: { handler?: unknown };
  try {
    module = (await import(url)) as { handler?: unknown };
  } catch (error) {
    throw new ConfigError(`cannot load the ${step} step from ${path}: ${(error as Error).message}`);
  }
  if (typeof module.handler !== 'function') throw new ConfigError(`${path} has no handler export for the ${step} step`);
  return module.handler as StepHandler;
}
