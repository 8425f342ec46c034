/** The process entry point as an operator runs it: start, refuse a second start, stop cleanly, recover from a kill. */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

const ENTRY = join(import.meta.dirname, '../../fargate/main.ts');
const PORT_VARIABLES = [
  'MARMOT_SMTP_PORT',
  'MARMOT_SUBMISSION_PORT',
  'MARMOT_SUBMISSION_TLS_PORT',
  'MARMOT_IMAP_PORT',
  'MARMOT_IMAPS_PORT',
  'MARMOT_MANAGESIEVE_PORT',
];

interface Started {
  child: ChildProcess;
  lines: Record<string, unknown>[];
}

function run(dataDir: string): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, MARMOT_DATA_DIR: dataDir, MARMOT_LISTEN_HOST: '127.0.0.1' };
  for (const name of PORT_VARIABLES) env[name] = '0';
  return spawn(process.execPath, ['--import', 'tsx', ENTRY], { env, stdio: ['ignore', 'pipe', 'pipe'] });
}

async function start(dataDir: string): Promise<Started> {
  const child = run(dataDir);
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  await new Promise<void>((resolve, reject) => {
    let buffered = '';
    child.stdout?.on('data', (chunk) => {
      buffered += chunk;
      for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
        const line = JSON.parse(buffered.slice(0, newline)) as Record<string, unknown>;
        buffered = buffered.slice(newline + 1);
        lines.push(line);
        if (line.message === 'mail system started') resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before starting: ${stderr}`)));
  });
  return { child, lines };
}

describe('npm start (fargate/main.ts)', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'marmot-main-'));
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('starts, says what listens where, and creates a self-signed certificate', async () => {
    const { child, lines } = await start(dataDir);
    try {
      const listening = lines.filter((line) => line.message === 'listening');
      assert.ok(listening.length > 0, 'at least one listener');
      for (const line of listening) assert.ok(Number(line.port) > 0, `${line.listener} has a port`);
      assert.equal((await stat(join(dataDir, 'tls', 'self-signed.key'))).mode & 0o777, 0o600);
      assert.ok(existsSync(join(dataDir, 'marmot.lock')));

      const second = run(dataDir);
      let stderr = '';
      second.stderr?.on('data', (chunk) => {
        stderr += chunk;
      });
      const [code] = await once(second, 'exit');
      assert.equal(code, 2);
      assert.match(stderr, /in use by another Marmot process \(pid \d+\)/);
    } finally {
      child.kill('SIGTERM');
    }
    const [code, signal] = await once(child, 'exit');
    assert.equal(code, 0, `a clean stop exits 0 (exit code ${code}, signal ${signal})`);
    assert.ok(!existsSync(join(dataDir, 'marmot.lock')), 'the lock is released');
  });

  it('starts again after being killed, taking over the stale lock', async () => {
    const first = await start(dataDir);
    first.child.kill('SIGKILL');
    await once(first.child, 'exit');
    assert.ok(existsSync(join(dataDir, 'marmot.lock')), 'a killed process leaves its lock');
    const second = await start(dataDir);
    second.child.kill('SIGINT');
    const [code, signal] = await once(second.child, 'exit');
    assert.equal(code, 0, `exit code ${code}, signal ${signal}`);
  });

  it('refuses a bad configuration with a clear message', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', ENTRY], {
      env: { ...process.env, MARMOT_DATA_DIR: dataDir, MARMOT_SMTP_PORT: 'seventy' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
    });
    const [code] = await once(child, 'exit');
    assert.equal(code, 2);
    assert.match(stderr, /MARMOT_SMTP_PORT must be an integer/);
  });
});
