/**
 * The same `marmot` CLI configured for the AWS adapters by environment, as an operator runs it against
 * a deployed system; here DynamoDB and S3 are the in-process emulators.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { awsStoreEnvironment } from '../support/stores.ts';

const ROOT = join(import.meta.dirname, '..', '..');

let aws: Awaited<ReturnType<typeof awsStoreEnvironment>>;

function marmot(args: string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'cli', 'marmot.ts'), ...args], {
      cwd: ROOT,
      // No data directory: if the CLI fell back to the local store, it would write under /nonexistent and fail.
      env: { ...process.env, ...aws.env, MARMOT_DATA_DIR: '/nonexistent/marmot' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

describe('marmot against DynamoDB and S3', () => {
  before(async () => {
    aws = await awsStoreEnvironment();
  });
  after(async () => {
    await aws.cleanup();
  });

  test('round-trips a domain, an account, an alias and a relay network', async () => {
    assert.equal((await marmot(['domain', 'add', 'Cloud.Example'])).code, 0);
    const added = await marmot(['account', 'add', 'ops@cloud.example', '--password-stdin'], 'correct horse battery');
    assert.equal(added.code, 0, added.stderr);
    assert.equal((await marmot(['alias', 'add', 'root@cloud.example', 'ops@cloud.example', '--bulk'])).code, 0);
    assert.equal((await marmot(['relay', 'add', '2001:db8::/32'])).code, 0);

    const accounts = JSON.parse((await marmot(['account', 'list', '--json'])).stdout) as { address: string }[];
    assert.deepEqual(
      accounts.map((account) => account.address),
      ['ops@cloud.example'],
    );
    const aliases = JSON.parse((await marmot(['alias', 'list', '--json'])).stdout) as { bulk: boolean }[];
    assert.equal(aliases[0]?.bulk, true);
    const relays = await marmot(['relay', 'list', '--json']);
    assert.match(relays.stdout, /2001:db8::\/32/);
  });

  test('reports a missing domain with exit code 1', async () => {
    const outcome = await marmot(['account', 'add', 'x@nowhere.example', '--generate']);
    assert.equal(outcome.code, 1);
    assert.match(outcome.stderr, /nowhere\.example/);
  });
});
