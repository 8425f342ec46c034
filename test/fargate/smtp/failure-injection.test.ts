/**
 * Failure injection: scan steps that fail, hang, misbehave or refuse (configured through MARMOT_FN_SCAN,
 * the same setting that names the Lambda in AWS), and the real process killed mid-DATA and after its
 * writes but before its 250 (MARMOT_TEST_EXIT_BEFORE_DATA_REPLY, the one test hook in the pipeline).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../../shared/config/config.ts';
import { Directory } from '../../../shared/directory/directory.ts';
import { openConfiguredKeyVault } from '../../../shared/keyvault/open-key-vault.ts';
import { openMailStore } from '../../../shared/mailbox/index.ts';
import { OutboundQueue } from '../../../shared/outbound-queue/outbound-queue.ts';
import { openStores } from '../../../shared/store/open-stores.ts';
import { startTestMailSystem, type TestMailSystem, testEnvironment } from '../../support/mail-system.ts';
import { headerOf, messagesIn } from './mailbox-contents.ts';
import { openTransaction } from './raw-smtp.ts';

const REPOSITORY = fileURLToPath(new URL('../../../', import.meta.url));
const injected = (name: string) => fileURLToPath(new URL(`./injected-steps/${name}.ts`, import.meta.url));
const PASSWORD = 'correct horse battery';

async function seed(directory: Directory): Promise<void> {
  await directory.addDomain('example.com');
  await directory.addAccount('alice@example.com', { password: PASSWORD });
  await directory.addAccount('bob@example.com', { password: PASSWORD });
}

/** Sends one message over a raw connection; the DATA reply, or undefined if the connection died first. */
async function sendRaw(port: number, to: string[], content: string) {
  const { client, replies } = await openTransaction(port, 'sender@remote.example', to);
  assert.ok(
    replies.slice(3).every((reply) => reply?.code === 250),
    JSON.stringify(replies),
  );
  assert.equal((await client.command('DATA'))?.code, 354);
  client.write(`${content}.\r\n`);
  const reply = await client.read();
  client.close();
  return reply;
}

async function nothingStored(system: TestMailSystem): Promise<void> {
  assert.deepEqual(await messagesIn(system, 'alice@example.com'), []);
  assert.deepEqual((await system.stores.blobs.list('msg/')).blobs, []);
  assert.deepEqual((await new OutboundQueue(system.stores.metadata, system.stores.blobs).list()).messages, []);
}

describe('failing pipeline steps', () => {
  for (const [step, env, expected] of [
    ['a scan step that throws: 451 4.3.0', { MARMOT_FN_SCAN: injected('failing-scan') }, /^451 4\.3\.0 /],
    [
      'a scan step that misses its deadline: 451 4.3.0',
      { MARMOT_FN_SCAN: injected('hanging-scan'), MARMOT_FN_TIMEOUT_MS: '300' },
      /^451 4\.3\.0 /,
    ],
    ['a scan step that answers nonsense: 451 4.3.0', { MARMOT_FN_SCAN: injected('malformed-scan') }, /^451 4\.3\.0 /],
    [
      'a scan step that refuses the message: 554 5.7.1',
      { MARMOT_FN_SCAN: injected('rejecting-scan') },
      /^554 5\.7\.1 /,
    ],
  ] as const) {
    it(`${step}, and nothing stored`, async () => {
      const system = await startTestMailSystem(env);
      try {
        await seed(system.directory);
        const started = Date.now();
        const reply = await sendRaw(system.ports.smtp!, ['alice@example.com'], 'Subject: x\r\n\r\nbody\r\n');
        assert.match(`${reply?.code} ${reply?.text}`, expected);
        assert.ok(Date.now() - started < 5000);
        await nothingStored(system);
      } finally {
        await system.stop();
      }
    });
  }
});

/** The real process (`fargate/main.ts`), as `npm start` runs it, in a given data directory. */
class MarmotProcess {
  readonly ports: Record<string, number> = {};
  private constructor(readonly child: ChildProcess) {}

  static async start(dataDir: string, env: Record<string, string> = {}): Promise<MarmotProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'fargate/main.ts'], {
      cwd: REPOSITORY,
      env: { ...process.env, ...(await testEnvironment(dataDir, { MARMOT_LOG_LEVEL: 'info', ...env })) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const marmot = new MarmotProcess(child);
    const lines = createInterface({ input: child.stdout! });
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`marmot exited with ${code} while starting`)));
      lines.on('line', (line) => {
        if (!line.startsWith('{')) return;
        const entry = JSON.parse(line) as { message?: string; listener?: string; port?: number };
        if (entry.message === 'listening' && entry.listener && entry.port) marmot.ports[entry.listener] = entry.port;
        if (entry.message === 'mail system started') resolve();
      });
    });
    child.removeAllListeners('exit');
    return marmot;
  }

  exited(): Promise<NodeJS.Signals | number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      return Promise.resolve(this.child.signalCode ?? this.child.exitCode);
    }
    return new Promise((resolve) => this.child.once('exit', (code, signal) => resolve(signal ?? code)));
  }

  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited();
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await this.exited();
  }
}

describe('process death', () => {
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'marmot-crash-'));
    const config = loadConfig(await testEnvironment(dataDir));
    const stores = await openStores(config.store);
    // The data directory's own master key, which the process opens too.
    const keyVault = await openConfiguredKeyVault(config.keyVault, 'seeding');
    await seed(new Directory(stores.metadata, { keyVault }));
    await stores.close();
  });

  after(() => rm(dataDir, { recursive: true, force: true }));

  /** What the data directory holds, read with the process stopped. */
  const inspect = async () => {
    const stores = await openStores(loadConfig(await testEnvironment(dataDir)).store);
    try {
      const view = { directory: new Directory(stores.metadata), mailStore: openMailStore(stores.metadata), stores };
      return {
        alice: await messagesIn(view, 'alice@example.com'),
        bob: await messagesIn(view, 'bob@example.com'),
        blobs: (await stores.blobs.list('msg/')).blobs.map((blob) => blob.key),
      };
    } finally {
      await stores.close();
    }
  };

  it('killed mid-DATA: nothing is half-delivered, and the restarted system works', async () => {
    const marmot = await MarmotProcess.start(dataDir);
    const { client } = await openTransaction(marmot.ports.smtp!, 'sender@remote.example', ['alice@example.com']);
    assert.equal((await client.command('DATA'))?.code, 354);
    client.write(`Subject: interrupted\r\n\r\n${'half a message\r\n'.repeat(2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await marmot.kill();
    client.close();

    const restarted = await MarmotProcess.start(dataDir);
    const reply = await sendRaw(restarted.ports.smtp!, ['alice@example.com'], 'Subject: after restart\r\n\r\nok\r\n');
    assert.equal(reply?.code, 250);
    await restarted.stop();

    const state = await inspect();
    assert.equal(state.alice.length, 1);
    assert.match(headerOf(state.alice[0]!), /Subject: after restart/);
    assert.equal(state.blobs.length, 1, state.blobs.join(', '));
  });

  it('killed after the writes but before the 250: the retried transaction gives exactly one copy per mailbox', async () => {
    const content = 'Subject: exactly once\r\nMessage-ID: <once@remote.example>\r\n\r\nretry me\r\n';
    const before = await inspect();

    const dying = await MarmotProcess.start(dataDir, { MARMOT_TEST_EXIT_BEFORE_DATA_REPLY: '1' });
    const lost = await sendRaw(dying.ports.smtp!, ['alice@example.com', 'bob@example.com'], content);
    assert.equal(lost, undefined, 'the sender never hears a reply');
    assert.equal(await dying.exited(), 'SIGKILL');
    const afterCrash = await inspect();
    assert.equal(afterCrash.alice.length, before.alice.length + 1, 'the first attempt did write');

    const healthy = await MarmotProcess.start(dataDir);
    const retried = await sendRaw(healthy.ports.smtp!, ['bob@example.com', 'alice@example.com'], content);
    assert.equal(retried?.code, 250);
    await healthy.stop();

    const final = await inspect();
    for (const name of ['alice', 'bob'] as const) {
      const copies = final[name].filter((stored) => headerOf(stored).includes('Subject: exactly once'));
      assert.equal(copies.length, 1, `${name} has ${copies.length} copies`);
    }
    // The retry's own spool blob was referenced by nothing, so it is gone.
    assert.equal(final.blobs.length, before.blobs.length + 1, final.blobs.join(', '));
  });
});
