/**
 * `marmot queue` as a subprocess against a temporary data directory whose queue the test fills (and
 * claims, as a worker would) through shared/outbound-queue on the same SQLite file.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { OutboundQueue } from '../../shared/outbound-queue/outbound-queue.ts';
import { FileBlobStore } from '../../shared/store/files/file-blob-store.ts';
import { SqliteMetadataStore } from '../../shared/store/sqlite/sqlite-metadata-store.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = ['--import', 'tsx', join(ROOT, 'cli', 'marmot.ts')];
const WAITING = 'w'.repeat(32);
const BUSY = 'b'.repeat(32);

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

let dataDir: string;
let metadata: SqliteMetadataStore;
let blobs: FileBlobStore;
let queue: OutboundQueue;

function marmot(args: string[]): Promise<Outcome> {
  const { MARMOT_STORE: _store, ...env } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, env: { ...env, MARMOT_DATA_DIR: dataDir } });
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
    child.stdin.end();
  });
}

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'marmot-cli-queue-'));
  metadata = new SqliteMetadataStore(join(dataDir, 'metadata.sqlite'));
  blobs = await FileBlobStore.open(join(dataDir, 'blobs'));
  queue = new OutboundQueue(metadata, blobs);
  for (const id of [WAITING, BUSY]) {
    await queue.enqueue({
      id,
      mailFrom: 'alice@example.org',
      recipients: ['bob@remote.example', 'carol@remote.example'],
      body: Buffer.from('Subject: queued\r\n\r\nbody\r\n'),
      submittedBy: 'alice@example.org',
    });
  }
  // The waiting one had an attempt: one recipient delivered, one deferred for an hour.
  const [waiting] = (await queue.due(new Date(), 10)).due.filter((m) => m.id === WAITING);
  const claim = await queue.claim(waiting!, new Date(), 60_000);
  await queue.recordAttempt(claim!, {
    recipientStates: [
      { address: 'bob@remote.example', status: 'sent', reply: '250 ok', enhancedStatus: '2.0.0', at: new Date() },
      { address: 'carol@remote.example', status: 'pending', reply: '451 4.7.1 greylisted', enhancedStatus: '4.7.1' },
    ],
    nextAttemptAt: new Date(Date.now() + 3_600_000),
  });
  // The busy one is being sent by a worker right now.
  const [busy] = (await queue.due(new Date(), 10)).due.filter((m) => m.id === BUSY);
  assert.ok(await queue.claim(busy!, new Date(), 3_600_000));
});

after(async () => {
  await metadata.close();
  await blobs.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('marmot queue', () => {
  test('list and show: state, pending recipients, the last reply', async () => {
    let outcome = await marmot(['queue', 'list']);
    assert.equal(outcome.code, 0, outcome.stderr);
    const lines = outcome.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID +FROM +PENDING +STATE +ATTEMPTS +QUEUED +NEXT-ATTEMPT +LAST-REPLY$/);
    assert.match(
      outcome.stdout,
      new RegExp(`\\n${WAITING} +alice@example\\.org +1/2 +queued +1 +\\S+ +\\S+ +451 4\\.7\\.1 greylisted\\n`),
    );
    assert.match(outcome.stdout, new RegExp(`\\n${BUSY} +alice@example\\.org +2/2 +sending +1 +\\S+ +now`));

    outcome = await marmot(['queue', 'list', '--json']);
    const listed = JSON.parse(outcome.stdout) as { id: string; recipientStates: { status: string }[] }[];
    assert.deepEqual(
      listed.map((m) => [m.id, m.recipientStates.map((s) => s.status)]),
      [
        [WAITING, ['sent', 'pending']],
        [BUSY, ['pending', 'pending']],
      ],
    );

    outcome = await marmot(['queue', 'show', WAITING]);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(outcome.stdout, /\nrecipient: +bob@remote\.example +sent +2\.0\.0 250 ok\n/);
    assert.match(outcome.stdout, /\nrecipient: +carol@remote\.example +pending +4\.7\.1 451 4\.7\.1 greylisted\n$/);
    outcome = await marmot(['queue', 'show', 'n'.repeat(20)]);
    assert.deepEqual([outcome.code, outcome.stderr], [1, `marmot: no outbound message ${'n'.repeat(20)}\n`]);
    outcome = await marmot(['queue', 'show', '../etc']);
    assert.equal(outcome.code, 2);
    assert.match(outcome.stderr, /invalid outbound queue id/);
  });

  test('retry moves the next attempt to now; a message being sent is left alone', async () => {
    let outcome = await marmot(['queue', 'retry', WAITING]);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.equal(outcome.stderr, '1 message(s) will be attempted now\n');
    assert.ok((await queue.get(WAITING))!.nextAttemptAt.getTime() <= Date.now());
    outcome = await marmot(['queue', 'retry', BUSY]);
    assert.equal(outcome.code, 1);
    assert.match(outcome.stderr, /is being sent \(claimed until /);
    outcome = await marmot(['queue', 'retry']);
    assert.deepEqual([outcome.code, outcome.stderr], [2, 'marmot: give queue ids or --all, not both or neither\n']);
    outcome = await marmot(['queue', 'retry', '--all']);
    assert.equal(outcome.stderr, '1 message(s) will be attempted now\n');
  });

  test('delete drops the entry and its blob; not while a worker sends it', async () => {
    const blobKey = (await queue.get(WAITING))!.blobKey;
    let outcome = await marmot(['queue', 'delete', WAITING]);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.equal(outcome.stderr, `deleted ${WAITING} (from alice@example.org, 1 recipient(s) never delivered)\n`);
    assert.equal(await queue.get(WAITING), undefined);
    assert.equal(await blobs.head(blobKey), undefined);
    outcome = await marmot(['queue', 'delete', BUSY]);
    assert.equal(outcome.code, 1);
    assert.ok(await queue.get(BUSY));
  });
});
