/**
 * Synthesises the real Marmot app for the infra tests: the feature flags from cdk.json, context
 * overrides per test, the cdk-nag checks, and a temporary functions directory holding small real
 * handlers (so the function wiring is tested before the real handlers exist). The directory lives
 * under the repository's git-ignored tmp/, because NodejsFunction bundles only entries below the
 * project root.
 *
 * Synthesis takes seconds: each test file synthesises once per configuration and shares the result.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, type CfnResource, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { FUNCTION_CATALOG, type FunctionName } from '../../infra/function-catalog.ts';
import { HANDLER_FILE } from '../../infra/functions.ts';
import { CONTAINER_NAME, type ListenerGroupName, type ListenerService } from '../../infra/listeners.ts';
import { defineMarmotApp, REPO_ROOT } from '../../infra/marmot-app.ts';
import type { MarmotStack } from '../../infra/marmot-stack.ts';

export const ALL_FUNCTIONS: FunctionName[] = FUNCTION_CATALOG.map((spec) => spec.name);

/** A deployment with every optional part switched on. */
export const FULL_CONTEXT = {
  hostname: 'mail.example.net',
  domains: ['example.net', 'example.org'],
  sesReceiving: true,
  certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012',
  alarmEmail: 'ops@example.net',
};

/** Part of a synthesised template: walked as untyped JSON, the assertions check its shape. */
// biome-ignore lint/suspicious/noExplicitAny: templates are plain JSON whose shape each assertion checks
export type TemplateJson = any;

export interface MarmotSynthesis {
  app: App;
  stack: MarmotStack;
  template: Template;
  /** The synthesised template as plain JSON. */
  json: {
    Resources: Record<string, { Type: string; Properties?: TemplateJson; DeletionPolicy?: string }>;
    Outputs?: TemplateJson;
  };
  outdir: string;
  functionsRoot: string;
  cleanup(): void;
}

export function cdkJsonContext(): Record<string, unknown> {
  return JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')).context;
}

/** Writes `functions/<name>/handler.ts` for each name: a real handler that echoes its event. */
export function writeHandlers(functionsRoot: string, names: readonly string[]): void {
  for (const name of names) {
    mkdirSync(join(functionsRoot, name), { recursive: true });
    writeFileSync(
      join(functionsRoot, name, HANDLER_FILE),
      `/** Written by test/infra so the stack deploys this function. */\n` +
        `export const handler = async (event: unknown) => ({ function: ${JSON.stringify(name)}, event });\n`,
    );
  }
}

export function temporaryDirectory(prefix: string): string {
  const parent = join(REPO_ROOT, 'tmp');
  mkdirSync(parent, { recursive: true });
  return mkdtempSync(join(parent, prefix));
}

export interface SynthesisOptions {
  context?: Record<string, unknown>;
  /** Handler folders to write (default: every catalog entry). */
  handlers?: readonly string[];
  /** Run esbuild on the handlers; off by default, since only the bundle tests look at the code. */
  bundle?: boolean;
}

export function synthesizeMarmot(options: SynthesisOptions = {}): MarmotSynthesis {
  const dir = temporaryDirectory('infra-test-');
  const functionsRoot = join(dir, 'functions');
  mkdirSync(functionsRoot);
  writeHandlers(functionsRoot, options.handlers ?? ALL_FUNCTIONS);
  const outdir = join(dir, 'cdk.out');
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    const skipBundling = options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] };
    const app = new App({ context: { ...cdkJsonContext(), ...skipBundling, ...options.context }, outdir });
    const stack = defineMarmotApp(app, { functionsRoot });
    const assembly = app.synth();
    const json = assembly.getStackByName(stack.stackName).template;
    return { app, stack, template: Template.fromJSON(json), json, outdir, functionsRoot, cleanup };
  } catch (error) {
    cleanup();
    throw error;
  }
}

/** The logical id of a construct's CloudFormation resource, for `{ Ref }` and `Fn::GetAtt` matching. */
export function logicalId(construct: IConstruct): string {
  const resource = (construct.node.defaultChild ?? construct) as CfnResource;
  return Stack.of(construct).getLogicalId(resource);
}

export function ref(construct: IConstruct): { Ref: string } {
  return { Ref: logicalId(construct) };
}

export function arnOf(construct: IConstruct): { 'Fn::GetAtt': [string, string] } {
  return { 'Fn::GetAtt': [logicalId(construct), 'Arn'] };
}

/** The statements of every inline policy attached to a role (by the role's logical id). */
export function roleStatements(json: MarmotSynthesis['json'], roleLogicalId: string): TemplateJson[] {
  const statements: TemplateJson[] = [];
  for (const resource of Object.values(json.Resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    const roles: unknown[] = resource.Properties.Roles ?? [];
    if (!roles.some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleLogicalId }))) continue;
    statements.push(...resource.Properties.PolicyDocument.Statement);
  }
  return statements;
}

export function asList<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}

/** Actions a set of statements allows on a resource (compared as synthesised JSON). */
export function actionsOn(statements: TemplateJson[], resource: unknown): string[] {
  const wanted = JSON.stringify(resource);
  return statements
    .filter((s) => s.Effect === 'Allow' && asList(s.Resource).some((r) => JSON.stringify(r) === wanted))
    .flatMap((s) => asList<string>(s.Action))
    .sort();
}

/** `arn:...:bucket/prefix*` as the template writes it. */
export function objectArn(bucket: IConstruct, prefix: string): unknown {
  return { 'Fn::Join': ['', [arnOf(bucket), `/${prefix}*`]] };
}

/** A listener service of the stack ("transfer": SMTP, "access": IMAP and ManageSieve). */
export function listenerService(synthesis: MarmotSynthesis, group: ListenerGroupName): ListenerService {
  const service = synthesis.stack.listeners.services.get(group);
  assert.ok(service, `service ${group}`);
  return service;
}

export function taskRoleId(synthesis: MarmotSynthesis, group: ListenerGroupName): string {
  return logicalId(listenerService(synthesis, group).taskDefinition.taskRole);
}

/** The listener container definition of a service's task definition. */
export function listenerContainer(synthesis: MarmotSynthesis, group: ListenerGroupName): TemplateJson {
  const task = synthesis.json.Resources[logicalId(listenerService(synthesis, group).taskDefinition)]!;
  return task.Properties.ContainerDefinitions.find((c: { Name: string }) => c.Name === CONTAINER_NAME);
}

export function taskEnvironment(synthesis: MarmotSynthesis, group: ListenerGroupName): Record<string, unknown> {
  return Object.fromEntries(
    listenerContainer(synthesis, group).Environment.map((e: { Name: string; Value: unknown }) => [e.Name, e.Value]),
  );
}
