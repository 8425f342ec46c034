/**
 * The real mail system process (`fargate/main.ts`, with its outbound delivery hook) killed with SIGKILL
 * while it sends a queued message to the test's SMTP sink, then started again:
 *   - killed mid-DATA (the sink never answered): the entry survives, and after the restart the message
 *     is delivered exactly once;
 *   - killed after the sink took the message but before the 250 reached the sender: the restart sends it
 *     again, the one duplicate SMTP's at-least-once allows, byte for byte the same (same DKIM signature).
 * Either way the queue ends empty: nothing lost, nothing stuck.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../../shared/config/config.ts';
import { Directory } from '../../../shared/directory/directory.ts';
import { DkimKeys } from '../../../shared/dkim/dkim-keys.ts';
import { dkimRecordName, splitTxtStrings } from '../../../shared/dkim/dns-record.ts';
import { LocalKeyVault } from '../../../shared/keyvault/local-key-vault.ts';
import { type OutboundMessage, OutboundQueue } from '../../../shared/outbound-queue/outbound-queue.ts';
import { openStores } from '../../../shared/store/open-stores.ts';
import { type TxtRecords, verifyWithDkimpy } from '../dkim/independent-verifiers.ts';
import { type SmtpSink, startSmtpSink } from '../outbound-transport/smtp-sink.ts';
import { eventually, message } from './outbound-fixture.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const PORT_VARIABLES = [
  'MARMOT_SMTP_PORT',
  'MARMOT_SUBMISSION_PORT',
  'MARMOT_SUBMISSION_TLS_PORT',
  'MARMOT_IMAP_PORT',
  'MARMOT_IMAPS_PORT',
  'MARMOT_MANAGESIEVE_PORT',
];

let dataDir: string;
let sink: SmtpSink;
const records: TxtRecords = {};

function environment(): Record<string, string> {
  const { MARMOT_STORE: _store, ...inherited } = process.env;
  return {
    ...(inherited as Record<string, string>),
    MARMOT_DATA_DIR: dataDir,
    MARMOT_LISTEN_HOST: '127.0.0.1',
    MARMOT_HOSTNAME: 'mx.test.example',
    MARMOT_LOG_LEVEL: 'error',
    ...Object.fromEntries(PORT_VARIABLES.map((name) => [name, '0'])),
    MARMOT_OUTBOUND_TRANSPORT: 'smarthost',
    MARMOT_SMARTHOST: `127.0.0.1:${sink.port}`,
    MARMOT_SMARTHOST_TLS: 'none',
    MARMOT_OUTBOUND_POLL: '20ms',
    MARMOT_OUTBOUND_LEASE: '1s',
  };
}

function startSystem(): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'fargate', 'main.ts')], {
    cwd: ROOT,
    env: environment(),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return { child, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
}

/** Reads the queue through a store of its own (SQLite allows a second process). */
async function queueEntries(): Promise<OutboundMessage[]> {
  const stores = await openStores(loadConfig({ MARMOT_DATA_DIR: dataDir }).store);
  try {
    return (await new OutboundQueue(stores.metadata, stores.blobs).list()).messages;
  } finally {
    await stores.close();
  }
}

async function enqueue(subject: string): Promise<string> {
  const stores = await openStores(loadConfig({ MARMOT_DATA_DIR: dataDir }).store);
  try {
    const id = randomBytes(16).toString('hex');
    await new OutboundQueue(stores.metadata, stores.blobs).enqueue({
      id,
      mailFrom: 'sender@example.org',
      recipients: ['bob@remote.example'],
      body: message('sender@example.org', 'bob@remote.example', subject),
      submittedBy: 'sender@example.org',
    });
    return id;
  } finally {
    await stores.close();
  }
}

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'marmot-crash-'));
  sink = await startSmtpSink();
  const stores = await openStores(loadConfig({ MARMOT_DATA_DIR: dataDir }).store);
  try {
    await new Directory(stores.metadata).addDomain('example.org');
    // The same master key file the system process opens.
    const keys = new DkimKeys(stores.metadata, await LocalKeyVault.open(dataDir));
    const key = await keys.create('example.org', { selector: 'crash', algorithm: 'ed25519' });
    await keys.activate('example.org', 'crash');
    records[dkimRecordName('crash', 'example.org')] = splitTxtStrings(`v=DKIM1; k=ed25519; p=${key.publicKey}`);
  } finally {
    await stores.close();
  }
});

after(async () => {
  await sink.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('outbound delivery across a crash of the mail system process', () => {
  test('killed mid-DATA: the entry survives the crash and is delivered exactly once after the restart', async () => {
    sink.received.length = 0;
    sink.dataAttempts.length = 0;
    const id = await enqueue('killed mid-data');
    sink.script = { data: () => 'hang' };
    const first = startSystem();
    await eventually('the message to be mid-DATA', () => sink.dataAttempts.length === 1, 15_000);
    first.child.kill('SIGKILL');
    await first.exited;

    const [held] = await queueEntries();
    assert.equal(held?.id, id, 'nothing lost');
    assert.equal(held?.state, 'sending');
    assert.ok(held?.dkimSignature, 'the signature was kept before sending');

    sink.script = {};
    const second = startSystem();
    try {
      await sink.waitForMessages(1, 15_000);
      await eventually('the queue to empty', async () => (await queueEntries()).length === 0, 15_000);
    } finally {
      second.child.kill('SIGTERM');
      assert.equal(await second.exited, 0, 'a clean stop');
    }
    assert.equal(sink.received.length, 1, 'delivered once');
    assert.ok(sink.dataAttempts[0]!.data.equals(sink.received[0]!.data), 'the retry sent the same bytes');
    assert.deepEqual(
      (await verifyWithDkimpy(sink.received[0]!.data, records)).map((r) => r.ok),
      [true],
    );
  });

  test('killed after the sink took the message, before the 250 arrived: sent again, identical; queue empty', async () => {
    sink.received.length = 0;
    sink.dataAttempts.length = 0;
    await enqueue('killed after acceptance');
    const first = startSystem();
    sink.script = {
      data: () => {
        // The sink has the message; the sender dies before it can hear the 250.
        first.child.kill('SIGKILL');
        sink.script = {};
        return 'accept';
      },
    };
    await first.exited;
    const second = startSystem();
    try {
      await sink.waitForMessages(2, 15_000);
      await eventually('the queue to empty', async () => (await queueEntries()).length === 0, 15_000);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
    assert.equal(sink.received.length, 2, 'one duplicate, as at-least-once allows');
    assert.ok(sink.received[0]!.data.equals(sink.received[1]!.data), 'byte for byte the same message');
  });
});
