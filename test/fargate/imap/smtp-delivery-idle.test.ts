/**
 * IDLE with a delivery from SMTP: the whole system runs (startMailSystem), an imapflow client idles on
 * INBOX, a message arrives through the MX listener, and the client hears EXISTS within a few seconds and
 * can fetch what was delivered.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { createTransport } from 'nodemailer';
import { startTestMailSystem, type TestMailSystem } from '../../support/mail-system.ts';

const ACCOUNT = 'carol@idle.example';
const PASSWORD = 'carol idle password';
/** The change notifier polls every 1.5 s; allow for a loaded machine. */
const DELIVERY_DEADLINE_MS = 6_000;

describe('IDLE with a delivery from SMTP', () => {
  let system: TestMailSystem;
  let imap: ImapFlow;

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
    await imap.logout().catch(() => {});
    await system.stop();
  });

  it('tells the idling client about the delivered message', async () => {
    const mailbox = await imap.mailboxOpen('INBOX');
    assert.equal(mailbox.exists, 0);
    const existsEvent = once(imap, 'exists');
    const idling = imap.idle();
    const transport = createTransport({ host: '127.0.0.1', port: system.ports.smtp!, secure: false, ignoreTLS: true });
    const started = Date.now();
    try {
      await transport.sendMail({
        envelope: { from: 'sender@remote.example', to: ACCOUNT },
        raw: 'From: Sender <sender@remote.example>\r\nTo: carol@idle.example\r\nSubject: Delivered while idling\r\n\r\nHi.\r\n',
      });
    } finally {
      transport.close();
    }
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
});
