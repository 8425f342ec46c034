/**
 * Unexpunge, undelete and expire round trips seen by a real IMAP client (imapflow): messages expunged
 * over IMAP come back with `marmot unexpunge` as new UIDs (a connected client is told of them), a folder
 * deleted over IMAP comes back with `marmot undelete` with its UIDs and UIDVALIDITY, and once `marmot
 * expire` runs past the retention (the clock is mocked) nothing is left to restore.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { marmotInProcess } from '../../support/marmot-in-process.ts';
import { type ImapTestServer, startImapTestServer, USERS } from './imap-test-server.ts';

const ACCOUNT_ROOT = `user/${USERS.alice.user}`;
const DAY = 86_400_000;

function plain(subject: string): string {
  return `From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: ${subject}\r\n\r\n${subject} body\r\n`;
}

describe('unexpunge and undelete with a real IMAP client', () => {
  let server: ImapTestServer;
  let imap: ImapFlow;

  async function marmot(...args: string[]): Promise<{ stdout: string; stderr: string }> {
    const { code, stdout, stderr } = await marmotInProcess(server.context.config.dataDir, args);
    assert.equal(code, 0, `marmot ${args.join(' ')}: ${stderr}`);
    return { stdout, stderr };
  }

  async function subjects(): Promise<Map<number, { subject: string; flags: string[] }>> {
    const found = new Map<number, { subject: string; flags: string[] }>();
    for await (const message of imap.fetch('1:*', { uid: true, envelope: true, flags: true })) {
      found.set(message.uid, { subject: message.envelope?.subject ?? '', flags: [...(message.flags ?? [])] });
    }
    return found;
  }

  async function status(path: string) {
    const found = await imap.status(path, { uidValidity: true, uidNext: true, messages: true });
    assert.ok(found, `no STATUS for ${path}`);
    return found;
  }

  before(async () => {
    server = await startImapTestServer();
    imap = new ImapFlow({
      host: server.host,
      port: server.port,
      secure: false,
      doSTARTTLS: true,
      tls: { ca: server.certificate, servername: 'localhost' },
      auth: USERS.alice,
      logger: false,
    });
    await imap.connect();
  });

  after(async () => {
    await imap.logout().catch(() => undefined);
    await server.stop();
  });

  it('unexpunge brings expunged messages back as new UIDs, optionally without \\Deleted', async () => {
    for (const subject of ['keep', 'oops one', 'oops two']) await imap.append('INBOX', plain(subject));
    await imap.mailboxOpen('INBOX');
    await imap.messageFlagsAdd('2:3', ['\\Deleted']);
    await imap.messageDelete('2:3');
    assert.deepEqual(
      [...(await subjects()).values()].map((each) => each.subject),
      ['keep'],
    );

    const listed = await marmot('unexpunge', ACCOUNT_ROOT, '--list', '--json');
    assert.deepEqual(
      (JSON.parse(listed.stdout) as { uid: number; subject: string }[]).map((row) => [row.uid, row.subject]),
      [
        [2, 'oops one'],
        [3, 'oops two'],
      ],
    );
    const exists = new Promise<void>((resolve) => imap.once('exists', () => resolve()));
    const restored = await marmot('unexpunge', `${ACCOUNT_ROOT}`, '--undelete');
    assert.match(restored.stderr, /restored 2 messages/);
    await imap.noop();
    await exists;
    const now = await subjects();
    assert.deepEqual(
      [...now.entries()].map(([uid, each]) => [uid, each.subject, each.flags.includes('\\Deleted')]),
      [
        [1, 'keep', false],
        [4, 'oops one', false],
        [5, 'oops two', false],
      ],
    );
  });

  it('undelete brings a deleted folder back with its UIDs and UIDVALIDITY, under a free name', async () => {
    await imap.mailboxCreate('Projects');
    await imap.append('Projects', plain('plan'));
    const before = await status('Projects');
    await imap.mailboxClose();
    await imap.mailboxDelete('Projects');
    await imap.mailboxCreate('Projects');
    assert.equal((await status('Projects')).messages, 0);

    const listed = await marmot('undelete', ACCOUNT_ROOT, '--json');
    const [deleted] = JSON.parse(listed.stdout) as { mailbox: string; messages: number; id: string }[];
    assert.deepEqual([deleted?.mailbox, deleted?.messages], [`${ACCOUNT_ROOT}/Projects`, 1]);
    const restored = await marmot('undelete', ACCOUNT_ROOT, 'Projects', '--as', 'Projects (old)');
    assert.equal(restored.stdout, `${ACCOUNT_ROOT}/Projects (old)\n`);

    const names = (await imap.list()).map((entry) => entry.path);
    assert.ok(names.includes('Projects (old)') && names.includes('Projects'), names.join(', '));
    const after = await status('Projects (old)');
    assert.deepEqual(
      [after.uidValidity, after.uidNext, after.messages],
      [before.uidValidity, before.uidNext, before.messages],
    );
    await imap.mailboxOpen('Projects (old)');
    assert.deepEqual(
      [...(await subjects()).entries()].map(([uid, each]) => [uid, each.subject]),
      [[1, 'plan']],
    );
  });

  it('after marmot expire past the retention, nothing is left to restore', async (t) => {
    await imap.mailboxOpen('INBOX');
    await imap.messageDelete('1');
    let listed = await marmot('unexpunge', ACCOUNT_ROOT, '--list', '--json');
    assert.equal((JSON.parse(listed.stdout) as unknown[]).length, 1);
    // 29 days on: still there; 31 days on: gone.
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 29 * DAY });
    await marmot('expire');
    listed = await marmot('unexpunge', ACCOUNT_ROOT, '--list', '--json');
    assert.equal((JSON.parse(listed.stdout) as unknown[]).length, 1);
    t.mock.timers.setTime(Date.now() + 2 * DAY);
    const expired = await marmot('expire');
    // The one just expunged, and the two entries the restored copies came from.
    assert.match(expired.stdout, /expunged messages purged: 3\n/);
    assert.match(expired.stdout, /message blobs deleted: 1\n/);
    listed = await marmot('unexpunge', ACCOUNT_ROOT, '--list', '--json');
    assert.deepEqual(JSON.parse(listed.stdout), []);
    // The restored copies shared their blobs with the purged entries: they are still readable.
    const { content } = await imap.download('4', undefined, { uid: true });
    assert.ok(content, 'no body for UID 4');
    let text = '';
    for await (const chunk of content) text += String(chunk);
    assert.match(text, /oops one body/);
  });
});
