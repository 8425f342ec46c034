/**
 * IDLE with a delivery from SMTP: the whole system runs (startMailSystem), an imapflow client idles on
 * INBOX, a message arrives through the MX listener, and the client hears EXISTS within a few seconds and
 * can fetch what was delivered. A delivered message is \Recent to the one IMAP4rev1 session that learns
 * of it first (imapflow's sessions are IMAP4rev2, which takes none).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { createTransport } from 'nodemailer';
import { startTestMailSystem, type TestMailSystem } from '../../support/mail-system.ts';
import { RawImapClient } from './raw-imap-client.ts';

const ACCOUNT = 'carol@idle.example';
const PASSWORD = 'carol idle password';
/** The change notifier polls every 1.5 s; allow for a loaded machine. */
const DELIVERY_DEADLINE_MS = 6_000;

describe('IDLE with a delivery from SMTP', () => {
  let system: TestMailSystem;
  let imap: ImapFlow;
  const rawClients: RawImapClient[] = [];

  async function rawSession(): Promise<RawImapClient> {
    const client = await RawImapClient.connect(system.ports.imap!);
    rawClients.push(client);
    await client.readLine();
    await client.login(ACCOUNT, PASSWORD);
    return client;
  }

  async function deliver(subject: string): Promise<void> {
    const transport = createTransport({ host: '127.0.0.1', port: system.ports.smtp!, secure: false, ignoreTLS: true });
    try {
      await transport.sendMail({
        envelope: { from: 'sender@remote.example', to: ACCOUNT },
        raw: `From: Sender <sender@remote.example>\r\nTo: carol@idle.example\r\nSubject: ${subject}\r\n\r\nHi.\r\n`,
      });
    } finally {
      transport.close();
    }
  }

  before(async () => {
    system = await startTestMailSystem({ MARMOT_IMAP_PLAINTEXT_AUTH: '1' });
    await system.directory.addDomain('idle.example');
    await system.directory.addAccount(ACCOUNT, { password: PASSWORD });
    await system.sasl.refresh();
    imap = new ImapFlow({
      host: '127.0.0.1',
      port: system.ports.imap!,
      secure: false,
      doSTARTTLS: false,
      auth: { user: ACCOUNT, pass: PASSWORD },
      logger: false,
    });
    await imap.connect();
  });

  after(async () => {
    for (const client of rawClients) client.close();
    await imap.logout().catch(() => {});
    await system.stop();
  });

  it('tells the idling client about the delivered message', async () => {
    const mailbox = await imap.mailboxOpen('INBOX');
    assert.equal(mailbox.exists, 0);
    const existsEvent = once(imap, 'exists');
    const idling = imap.idle();
    const started = Date.now();
    await deliver('Delivered while idling');
    const [exists] = (await Promise.race([
      existsEvent,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('no EXISTS within the deadline')), DELIVERY_DEADLINE_MS).unref(),
      ),
    ])) as [{ count: number }];
    assert.equal(exists.count, 1);
    assert.ok(Date.now() - started < DELIVERY_DEADLINE_MS);
    await imap.noop();
    await idling;
    const message = await imap.fetchOne('1', { envelope: true });
    assert.ok(message);
    assert.equal(message.envelope?.subject, 'Delivered while idling');
  });

  it('makes a delivered message \\Recent to the selected session that learns of it first, only', async () => {
    // imapflow's IMAP4rev2 session took nothing: the first message is still recent for a rev1 session.
    const idler = await rawSession();
    assert.ok((await idler.command('SELECT INBOX')).untagged.includes('* 1 RECENT'));
    const other = await rawSession();
    assert.ok((await other.command('SELECT INBOX')).untagged.includes('* 0 RECENT'));
    idler.write('i1 IDLE\r\n');
    assert.match((await idler.readLine())!, /^\+ /);
    await deliver('Recent to the idler');
    assert.equal(await idler.readLine(DELIVERY_DEADLINE_MS), '* 2 EXISTS');
    assert.equal(await idler.readLine(), '* 2 RECENT');
    idler.write('DONE\r\n');
    assert.equal((await idler.untilTagged('i1')).status, 'OK');
    const late = await other.command('NOOP');
    assert.deepEqual(late.untagged, ['* 2 EXISTS', '* 0 RECENT']);
    assert.match((await idler.command('FETCH 2 (FLAGS)')).untagged[0]!, /FLAGS \(\\Recent\)/);
    assert.match((await other.command('FETCH 2 (FLAGS)')).untagged[0]!, /FLAGS \(\)/);
  });
});
