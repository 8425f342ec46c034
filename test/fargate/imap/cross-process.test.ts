/**
 * IDLE across processes: a session idling in one server process learns, within a few seconds, of a
 * message appended and of flags changed through a second server process on the same store (as two
 * Fargate tasks share DynamoDB). Nothing but the shared change notifier's polling connects them.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { type ImapTestServer, startImapTestServer, USERS } from './imap-test-server.ts';

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
});
