/**
 * `npx cdk synth` as CI runs it: the real CLI and cdk.json, context from the command line, no AWS
 * credentials or configuration, no Docker daemon.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../infra/marmot-app.ts';
import { temporaryDirectory } from './synthesize-marmot.ts';

const run = promisify(execFile);
const CDK_CLI = join(REPO_ROOT, 'node_modules', 'aws-cdk', 'bin', 'cdk');
const SYNTH_TIMEOUT_MS = 120_000;

const dir = temporaryDirectory('infra-cli-');
after(() => rmSync(dir, { recursive: true, force: true }));

/** The environment without anything that could lead to AWS credentials. */
function credentialFreeEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('AWS_') && !name.startsWith('CDK_')) env[name] = value;
  }
  const home = join(dir, 'home');
  mkdirSync(home, { recursive: true });
  return {
    ...env,
    HOME: home,
    AWS_EC2_METADATA_DISABLED: 'true',
    // The app command in cdk.json runs `node`: the project's Node 24, as npm scripts would find it.
    PATH: `${dirname(process.execPath)}:${env.PATH ?? ''}`,
  };
}

describe('cdk synth', () => {
  it('synthesises the stack offline with context from the command line', async () => {
    const output = join(dir, 'cdk.out');
    const { stderr } = await run(
      process.execPath,
      [CDK_CLI, 'synth', '--quiet', '--output', output, '-c', 'domains=example.com', '-c', 'hostname=mx.example.com'],
      { cwd: REPO_ROOT, env: credentialFreeEnvironment(), timeout: SYNTH_TIMEOUT_MS },
    );
    const templateFile = join(output, 'Marmot.template.json');
    assert.ok(existsSync(templateFile), stderr);
    const template = JSON.parse(readFileSync(templateFile, 'utf8'));
    const identities = Object.values(
      template.Resources as Record<string, { Type: string; Properties: { EmailIdentity?: string } }>,
    ).filter((r) => r.Type === 'AWS::SES::EmailIdentity');
    assert.deepEqual(
      identities.map((r) => r.Properties.EmailIdentity),
      ['example.com'],
    );
    assert.ok(JSON.stringify(template.Outputs.DnsDomain1).includes('example.com MX 10 mx.example.com'));
  });
});
