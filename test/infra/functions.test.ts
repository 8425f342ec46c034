/**
 * The Lambdas: deployed from the catalog when their handler exists, bundled into runnable ESM, each with
 * its own least-privilege role, wired to the store and to the listener task, and expire on a schedule.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { FUNCTION_CATALOG, type FunctionName, functionSpec } from '../../infra/function-catalog.ts';
import { undeclaredFunctionFolders } from '../../infra/functions.ts';
import { LISTENER_GROUPS } from '../../infra/listeners.ts';
import { REPO_ROOT } from '../../infra/marmot-app.ts';
import { SettingsError } from '../../infra/settings.ts';
import {
  ALL_FUNCTIONS,
  actionsOn,
  arnOf,
  FULL_CONTEXT,
  logicalId,
  type MarmotSynthesis,
  objectArn,
  ref,
  roleStatements,
  synthesizeMarmot,
  type TemplateJson,
  taskEnvironment,
  taskRoleId,
  temporaryDirectory,
  writeHandlers,
} from './synthesize-marmot.ts';

const full: MarmotSynthesis = synthesizeMarmot({ context: FULL_CONTEXT, bundle: true });
const onlyScan: MarmotSynthesis = synthesizeMarmot({ handlers: ['scan', 'ses-inbound'] });
after(() => {
  full.cleanup();
  onlyScan.cleanup();
});

const { stack, json } = full;
const { table, bucket, bucketKey, vaultKey } = stack.storage;

function deployed(synthesis: MarmotSynthesis, name: FunctionName) {
  const fn = synthesis.stack.functions.byName.get(name);
  assert.ok(fn, `${name} is deployed`);
  return fn;
}

function lambdaProperties(name: FunctionName): TemplateJson {
  return json.Resources[logicalId(deployed(full, name))]!.Properties;
}

function grantsOf(name: FunctionName): TemplateJson[] {
  return roleStatements(json, logicalId(deployed(full, name).role!));
}

const TABLE_READ = ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan'];
const TABLE_READ_WRITE = [
  ...TABLE_READ,
  'dynamodb:BatchWriteItem',
  'dynamodb:DeleteItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
].sort();

describe('deployed functions', () => {
  it('are one Node 24 arm64 function per handler, with the catalog size', () => {
    const functions = Object.values(json.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    assert.equal(functions.length, ALL_FUNCTIONS.length);
    for (const spec of FUNCTION_CATALOG) {
      const properties = lambdaProperties(spec.name);
      assert.equal(properties.Runtime, 'nodejs24.x');
      assert.deepEqual(properties.Architectures, ['arm64']);
      assert.equal(properties.MemorySize, spec.memoryMiB);
      assert.equal(properties.Timeout, spec.timeoutSeconds);
    }
  });

  it('each have a role of their own and a log group of their own', () => {
    const roles = new Set(ALL_FUNCTIONS.map((name) => JSON.stringify(lambdaProperties(name).Role)));
    assert.equal(roles.size, ALL_FUNCTIONS.length);
    const logGroups = new Set(
      ALL_FUNCTIONS.map((name) => JSON.stringify(lambdaProperties(name).LoggingConfig.LogGroup)),
    );
    assert.equal(logGroups.size, ALL_FUNCTIONS.length);
    for (const name of ALL_FUNCTIONS) {
      const logGroup = lambdaProperties(name).LoggingConfig.LogGroup;
      const logGroupArn = { 'Fn::GetAtt': [logGroup.Ref, 'Arn'] };
      assert.deepEqual(actionsOn(grantsOf(name), logGroupArn), ['logs:CreateLogStream', 'logs:PutLogEvents']);
    }
  });

  it('find the store through their environment', () => {
    for (const name of ALL_FUNCTIONS) {
      const env = lambdaProperties(name).Environment.Variables;
      assert.equal(env.MARMOT_STORE, 'aws');
      assert.deepEqual(env.MARMOT_TABLE, ref(table));
      assert.deepEqual(env.MARMOT_BUCKET, ref(bucket));
      assert.deepEqual(env.MARMOT_KEY_ID, arnOf(vaultKey));
      assert.equal(env.MARMOT_DATA_DIR, '/tmp/marmot');
      assert.equal(env.MARMOT_HOSTNAME, FULL_CONTEXT.hostname);
      assert.equal(env.MARMOT_RETENTION_DAYS, '30');
      assert.equal(env.POWERTOOLS_SERVICE_NAME, name);
      assert.equal(env.POWERTOOLS_METRICS_NAMESPACE, 'Marmot');
    }
  });

  it('are bundled into ESM that loads and runs', async () => {
    const manifest = JSON.parse(readFileSync(join(full.outdir, `${stack.stackName}.assets.json`), 'utf8'));
    for (const name of ALL_FUNCTIONS) {
      const hash = String(lambdaProperties(name).Code.S3Key).replace(/\.zip$/, '');
      const bundle = join(full.outdir, manifest.files[hash].source.path, 'index.mjs');
      const module = await import(pathToFileURL(bundle).href);
      assert.deepEqual(await module.handler({ probe: 1 }), { function: name, event: { probe: 1 } });
    }
  });
});

describe('function grants (least privilege, from the catalog)', () => {
  it('scan reads and updates the table and only reads messages', () => {
    const grants = grantsOf('scan');
    assert.deepEqual(actionsOn(grants, arnOf(table)), TABLE_READ_WRITE);
    assert.deepEqual(actionsOn(grants, objectArn(bucket, 'msg/')), ['s3:GetObject']);
    assert.deepEqual(actionsOn(grants, objectArn(bucket, 'outbound/')), []);
    assert.deepEqual(actionsOn(grants, arnOf(bucketKey)), ['kms:Decrypt']);
    assert.deepEqual(actionsOn(grants, arnOf(vaultKey)), []);
  });

  it('dkim-sign reads only queued outbound messages and never writes', () => {
    const grants = grantsOf('dkim-sign');
    assert.deepEqual(actionsOn(grants, objectArn(bucket, 'outbound/')), ['s3:GetObject']);
    assert.deepEqual(actionsOn(grants, objectArn(bucket, 'msg/')), []);
    assert.deepEqual(actionsOn(grants, arnOf(vaultKey)), ['kms:Decrypt']);
    assert.ok(!grants.flatMap((s) => s.Action).some((a: string) => a === 's3:PutObject' || a === 's3:DeleteObject'));
  });

  it('filter reads messages and writes nothing to the bucket', () => {
    const grants = grantsOf('filter');
    assert.deepEqual(actionsOn(grants, objectArn(bucket, 'msg/')), ['s3:GetObject']);
    assert.ok(!grants.flatMap((s) => s.Action).some((a: string) => a === 's3:PutObject' || a === 's3:DeleteObject'));
  });

  it('dkim-sign only reads the table and may unwrap keys with the vault key, not wrap them', () => {
    const grants = grantsOf('dkim-sign');
    assert.deepEqual(actionsOn(grants, arnOf(table)), TABLE_READ);
    assert.deepEqual(actionsOn(grants, arnOf(vaultKey)), ['kms:Decrypt']);
  });

  it('expire is the one that deletes message blobs', () => {
    assert.deepEqual(actionsOn(grantsOf('expire'), objectArn(bucket, 'msg/')), ['s3:DeleteObject', 's3:GetObject']);
    for (const name of ALL_FUNCTIONS.filter((n) => n !== 'expire')) {
      assert.deepEqual(
        actionsOn(grantsOf(name), objectArn(bucket, 'msg/')).filter((a) => a === 's3:DeleteObject'),
        [],
        `${name} must not delete messages`,
      );
    }
  });

  it('ses-inbound stores messages, clears its own spool prefix and invokes scan and filter only', () => {
    const grants = grantsOf('ses-inbound');
    assert.deepEqual(actionsOn(grants, objectArn(bucket, 'msg/')), ['s3:AbortMultipartUpload', 's3:PutObject']);
    assert.deepEqual(actionsOn(grants, objectArn(bucket, 'spool/ses-inbound/')), ['s3:DeleteObject']);
    assert.deepEqual(actionsOn(grants, arnOf(bucketKey)), ['kms:Decrypt', 'kms:GenerateDataKey']);
    const invoked = grants.filter((s) => s.Action === 'lambda:InvokeFunction').flatMap((s) => s.Resource);
    assert.deepEqual(
      invoked.map((r: unknown) => JSON.stringify(r)).sort(),
      [arnOf(deployed(full, 'filter')), arnOf(deployed(full, 'scan'))].map((r) => JSON.stringify(r)).sort(),
    );
    const env = lambdaProperties('ses-inbound').Environment.Variables;
    assert.deepEqual(env.MARMOT_FN_SCAN, ref(deployed(full, 'scan')));
    assert.deepEqual(env.MARMOT_FN_FILTER, ref(deployed(full, 'filter')));
  });
});

describe('wiring to the listener services', () => {
  it('gives both services every deployed function name and the store', () => {
    for (const group of LISTENER_GROUPS) {
      const env = taskEnvironment(full, group.name);
      for (const spec of FUNCTION_CATALOG) assert.deepEqual(env[spec.envVar], ref(deployed(full, spec.name)));
      assert.equal(env.MARMOT_STORE, 'aws');
      assert.deepEqual(env.MARMOT_TABLE, ref(table));
      assert.deepEqual(env.MARMOT_BUCKET, ref(bucket));
      assert.deepEqual(env.MARMOT_KEY_ID, arnOf(vaultKey));
    }
  });

  it('lets the SMTP service invoke exactly the functions it calls, and the IMAP service none', () => {
    const transfer = roleStatements(json, taskRoleId(full, 'transfer'));
    const access = roleStatements(json, taskRoleId(full, 'access'));
    for (const spec of FUNCTION_CATALOG) {
      const fn = arnOf(deployed(full, spec.name));
      assert.deepEqual(actionsOn(transfer, fn), spec.invokedByTransfer ? ['lambda:InvokeFunction'] : [], spec.name);
      assert.deepEqual(actionsOn(access, fn), [], spec.name);
    }
  });

  it('lets only the SMTP service write quarantine copies', () => {
    const quarantine = objectArn(bucket, 'quarantine/');
    assert.deepEqual(actionsOn(roleStatements(json, taskRoleId(full, 'transfer')), quarantine), [
      's3:AbortMultipartUpload',
      's3:PutObject',
    ]);
    assert.deepEqual(actionsOn(roleStatements(json, taskRoleId(full, 'access')), quarantine), []);
  });
});

describe('expire schedule', () => {
  const expire = deployed(full, 'expire');
  const schedules = Object.values(json.Resources).filter((r) => r.Type === 'AWS::Scheduler::Schedule');
  assert.equal(schedules.length, 1);
  const schedule = schedules[0]!;

  it('runs the expire function nightly at the configured hour (UTC)', () => {
    assert.equal(schedule.Properties.ScheduleExpression, 'cron(17 3 * * ? *)');
    assert.equal(schedule.Properties.ScheduleExpressionTimezone, 'Etc/UTC');
    assert.deepEqual(schedule.Properties.Target.Arn, arnOf(expire));
    assert.equal(schedule.Properties.State, 'ENABLED');
  });

  it('uses a role that may invoke the expire function and nothing else', () => {
    const roleId = schedule.Properties.Target.RoleArn['Fn::GetAtt'][0];
    const grants = roleStatements(json, roleId);
    assert.ok(grants.every((s) => s.Action === 'lambda:InvokeFunction'));
    const resources = grants.flatMap((s) => s.Resource).map((r: unknown) => JSON.stringify(r));
    assert.ok(resources.every((r: string) => r.includes(logicalId(expire))));
  });
});

describe('functions without a handler', () => {
  it('are not deployed, and the task is not told about them', () => {
    assert.deepEqual([...onlyScan.stack.functions.byName.keys()], ['scan']);
    const env = taskEnvironment(onlyScan, 'transfer');
    assert.deepEqual(env.MARMOT_FN_SCAN, ref(deployed(onlyScan, 'scan')));
    assert.equal(env.MARMOT_FN_EXPIRE, undefined);
    assert.equal(
      Object.values(onlyScan.json.Resources).filter((r) => r.Type === 'AWS::Scheduler::Schedule').length,
      0,
      'no expire schedule without the expire function',
    );
  });

  it('ses-inbound is deployed only with SES receiving switched on', () => {
    assert.equal(onlyScan.stack.functions.byName.has('ses-inbound'), false);
    assert.equal(functionSpec('ses-inbound').onlyWithSesReceiving, true);
  });

  it('SES receiving without the ses-inbound handler is refused', () => {
    assert.throws(
      () => synthesizeMarmot({ context: FULL_CONTEXT, handlers: ['scan'] }),
      (error: unknown) => error instanceof SettingsError && /ses-inbound/.test(error.message),
    );
  });
});

describe('function catalog', () => {
  it('declares every folder in functions/', () => {
    assert.deepEqual(undeclaredFunctionFolders(join(REPO_ROOT, 'functions')), []);
  });

  it('catches a folder it does not declare, and the stack refuses it', () => {
    const dir = temporaryDirectory('infra-catalog-');
    try {
      writeHandlers(dir, ['scan', 'mystery']);
      mkdirSync(join(dir, 'another'));
      assert.deepEqual(undeclaredFunctionFolders(dir), ['another', 'mystery']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.throws(
      () => synthesizeMarmot({ handlers: ['scan', 'mystery'] }),
      /functions\/mystery: not in infra\/function-catalog\.ts/,
    );
  });
});
