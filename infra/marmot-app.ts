/**
 * Defines the Marmot stack in a CDK app: reads the settings from context, registers the cdk-nag
 * AWS Solutions checks (synthesis fails on any unacknowledged finding) and creates the stack with a
 * region-only environment, so `cdk synth` needs no credentials and makes no AWS calls.
 */
import { join, resolve } from 'node:path';
import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { MarmotStack } from './marmot-stack.ts';
import { readSettings } from './settings.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '..');

export interface MarmotAppOptions {
  /** Where the handler folders are; the repository's `functions/` unless a test points elsewhere. */
  functionsRoot?: string;
}

export function defineMarmotApp(app: App, options: MarmotAppOptions = {}): MarmotStack {
  const settings = readSettings((key) => app.node.tryGetContext(key));
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return new MarmotStack(app, settings.stackName, {
    env: { region: settings.region },
    description: 'Marmot Mail: multi-domain mail service (SMTP, IMAP, ManageSieve)',
    settings,
    repoRoot: REPO_ROOT,
    functionsRoot: options.functionsRoot ?? join(REPO_ROOT, 'functions'),
  });
}
