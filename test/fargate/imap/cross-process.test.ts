/**
 * IDLE across processes: a session idling in one server process learns, within a few seconds, of a
 * message appended and of flags changed through a second server process on the same store (as two
 * Fargate tasks share DynamoDB). Nothing but the shared change notifier's polling connects them.
 * \Recent holds across processes too: a message is recent in one session only, whichever process it
 * runs in.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { type ImapTestServer, startImapTestServer, USERS } from './imap-test-server.ts';
import { RawImapClient } from './raw-imap-client.ts';

const SECOND_PROCESS = join(import.meta.dirname, 'second-imap-process.ts');
/** The notifier polls every 1.5 s; allow for a loaded machine. */
const DELIVERY_DEADLINE_MS = 6_000;

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what} not seen within ${ms} ms`)), ms).unref(),
    ),
  ]);
}

describe('IMAP updates across processes', () => {
  let server: ImapTestServer;
  let child: ChildProcess;
  let secondPort: number;
  const clients: ImapFlow[] = [];
  const rawClients: RawImapClient[] = [];

  async function rawClient(port: number): Promise<RawImapClient> {
    const created = await RawImapClient.connect(port);
    rawClients.push(created);
    await created.readLine();
    await created.login(USERS.alice.user, USERS.alice.pass);
    return created;
  }

  async function client(port: number): Promise<ImapFlow> {
    const created = new ImapFlow({
      host: '127.0.0.1',
      port,
      secure: false,
      doSTARTTLS: false,
      auth: USERS.alice,
      logger: false,
    });
    clients.push(created);
    await created.connect();
    return created;
  }

  before(async () => {
    server = await startImapTestServer();
    child = spawn(process.execPath, ['--import', 'tsx', SECOND_PROCESS, server.context.config.dataDir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [data] = (await once(child.stdout!, 'data')) as [Buffer];
    secondPort = (JSON.parse(data.toString()) as { port: number }).port;
  });

  after(async () => {
    await Promise.allSettled(clients.map((each) => each.logout()));
    for (const each of rawClients) each.close();
    child.kill('SIGTERM');
    await once(child, 'exit');
    await server.stop();
  });

  it('delivers EXISTS and flag changes made in another process to an idling session', async () => {
    const watcher = await client(server.port);
    const writer = await client(secondPort);
    await watcher.mailboxOpen('INBOX');
    const existsEvent = once(watcher, 'exists');
    const idling = watcher.idle();
    const started = Date.now();
    await writer.append('INBOX', 'From: bob@example.test\r\nSubject: from afar\r\n\r\nhello\r\n');
    const [exists] = (await withDeadline(existsEvent, DELIVERY_DEADLINE_MS, 'EXISTS')) as [{ count: number }];
    assert.equal(exists.count, 1);
    const existsLatency = Date.now() - started;

    const flagsEvent = once(watcher, 'flags');
    await writer.mailboxOpen('INBOX');
    await writer.messageFlagsAdd('1', ['\\Flagged']);
    const [flags] = (await withDeadline(flagsEvent, DELIVERY_DEADLINE_MS, 'FETCH FLAGS')) as [{ flags: Set<string> }];
    assert.ok(flags.flags.has('\\Flagged'));
    await watcher.noop();
    await idling;
    assert.ok(existsLatency < DELIVERY_DEADLINE_MS);
  });

  it('gives each message \\Recent in one session only, across processes', async () => {
    const writer = await rawClient(secondPort);
    await writer.command('CREATE Across');
    const text = 'From: bob@example.test\r\nSubject: first\r\n\r\nhello\r\n';
    await writer.command(`APPEND Across {${text.length}+}\r\n${text}`);
    const here = await rawClient(server.port);
    const there = await rawClient(secondPort);
    assert.ok((await here.command('SELECT Across')).untagged.includes('* 1 RECENT'));
    assert.ok((await there.command('SELECT Across')).untagged.includes('* 0 RECENT'));

    // Delivered through the second process while a session of the first idles: the idler takes it.
    here.write('i1 IDLE\r\n');
    assert.match((await here.readLine())!, /^\+ /);
    await writer.command(`APPEND Across {${text.length}+}\r\n${text}`);
    assert.equal(await here.readLine(DELIVERY_DEADLINE_MS), '* 2 EXISTS');
    assert.equal(await here.readLine(), '* 2 RECENT');
    here.write('DONE\r\n');
    assert.equal((await here.untilTagged('i1')).status, 'OK');
    const late = await there.command('NOOP');
    assert.ok(late.untagged.includes('* 2 EXISTS'), late.untagged.join('|'));
    assert.ok(late.untagged.includes('* 0 RECENT'), late.untagged.join('|'));
    assert.match((await there.command('UID SEARCH RECENT')).untagged.join('|'), /^\* SEARCH$/);
    assert.match((await here.command('UID SEARCH RECENT')).untagged.join('|'), /^\* SEARCH 1 2$/);
  });
});
