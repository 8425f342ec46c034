/** Deployment parameters from CDK context: defaults, both value forms, and clear errors. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../../infra/marmot-app.ts';
import { DEFAULT_SETTINGS, readSettings, SettingsError } from '../../infra/settings.ts';

const from = (values: Record<string, unknown>) => readSettings((key) => values[key]);

function rejects(values: Record<string, unknown>, message: RegExp): void {
  assert.throws(
    () => from(values),
    (error: unknown) => error instanceof SettingsError && message.test(error.message),
  );
}

describe('readSettings', () => {
  it('uses the documented defaults when nothing is set', () => {
    assert.deepEqual(from({}), {
      ...DEFAULT_SETTINGS,
      certificateArn: undefined,
      tlsSecretArn: undefined,
      alarmEmail: undefined,
    });
    assert.equal(DEFAULT_SETTINGS.retentionDays, 30);
    assert.equal(DEFAULT_SETTINGS.region, 'eu-west-1');
    assert.equal(DEFAULT_SETTINGS.sesReceiving, false);
  });

  it('reads command-line strings (-c key=value) and JSON values (cdk.json) alike', () => {
    const cli = from({
      domains: 'Example.com, example.org,example.com',
      retentionDays: '60',
      sesReceiving: 'true',
      minTasks: '2',
      hostname: 'MX.Example.com',
    });
    const json = from({
      domains: ['example.com', 'example.org'],
      retentionDays: 60,
      sesReceiving: true,
      minTasks: 2,
      hostname: 'mx.example.com',
    });
    assert.deepEqual(cli, json);
    assert.deepEqual(cli.domains, ['example.com', 'example.org']);
    assert.equal(cli.hostname, 'mx.example.com');
  });

  it('treats an empty value as unset', () => {
    assert.equal(from({ certificateArn: '', retentionDays: '' }).certificateArn, undefined);
    assert.equal(from({ retentionDays: '' }).retentionDays, 30);
  });

  it('rejects numbers out of range or not integers, naming the key', () => {
    rejects({ retentionDays: '0' }, /retentionDays must be an integer from 1 to 3650/);
    rejects({ retentionDays: 'thirty' }, /retentionDays/);
    rejects({ minTasks: 1.5 }, /minTasks/);
    rejects({ expireHourUtc: 24 }, /expireHourUtc/);
    rejects({ natGateways: 3 }, /natGateways must be an integer from 1 to 2/);
  });

  it('rejects log retentions CloudWatch does not offer', () => {
    rejects({ logRetentionDays: 100 }, /logRetentionDays must be one of 1, 3, 5/);
    assert.equal(from({ logRetentionDays: 365 }).logRetentionDays, 365);
  });

  it('accepts only Fargate task sizes', () => {
    assert.equal(from({ taskCpu: 1024, taskMemoryMiB: 3072 }).taskMemoryMiB, 3072);
    assert.equal(from({ taskCpu: 256, taskMemoryMiB: 512 }).taskCpu, 256);
    rejects({ taskCpu: 256, taskMemoryMiB: 1536 }, /taskMemoryMiB for taskCpu 256 must be one of 512, 1024, 2048/);
    rejects({ taskCpu: 300 }, /taskCpu must be one of/);
  });

  it('rejects malformed names and ARNs', () => {
    rejects({ hostname: 'localhost' }, /hostname must be a fully qualified domain name/);
    rejects({ domains: 'example.com,-bad-.org' }, /"-bad-.org" is not a domain name/);
    rejects({ domains: 42 }, /domains must be a list/);
    rejects({ certificateArn: 'arn:aws:iam::123456789012:role/x' }, /certificateArn is malformed/);
    // A partial secret ARN (no random suffix) cannot be granted precisely.
    rejects({ tlsSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:marmot/tls' }, /tlsSecretArn/);
    rejects({ region: 'Europe' }, /region is malformed/);
    rejects({ alarmEmail: 'ops' }, /alarmEmail is malformed/);
    rejects({ sesReceiving: 'yes' }, /sesReceiving must be true or false/);
  });

  it('rejects combinations that cannot work', () => {
    rejects({ minTasks: 5, maxTasks: 2 }, /minTasks \(5\) must not exceed maxTasks \(2\)/);
    rejects({ sesReceiving: true }, /sesReceiving needs at least one entry in domains/);
  });
});

describe('README "Deploy to AWS" settings table', () => {
  it('documents exactly the settings the stack reads', () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Settings'), readme.indexOf('### Deploy\n'));
    const documented = section
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .flatMap((line) => [...(line.split('|')[1] ?? '').matchAll(/`(\w+)`/g)].map((m) => m[1]));
    assert.deepEqual(documented.sort(), Object.keys(from({})).sort());
  });
});
