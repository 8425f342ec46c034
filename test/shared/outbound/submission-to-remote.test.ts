/**
 * The whole path in the real mail system: a client submits on 587 (STARTTLS, AUTH) to a remote
 * recipient and to one the remote side refuses; the submission listener queues them, the outbound
 * worker signs with the domain's DKIM key and sends through the smarthost (the test's sink); the message
 * that arrives verifies with dkimpy and mailauth, and the refusal comes back as a DSN in the sender's
 * INBOX.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTransport } from 'nodemailer';
import { DkimKeys } from '../../../shared/dkim/dkim-keys.ts';
import { dkimRecordName, splitTxtStrings } from '../../../shared/dkim/dns-record.ts';
import { LocalKeyVault } from '../../../shared/keyvault/local-key-vault.ts';
import { getMailboxByName, INBOX, listMessages } from '../../../shared/mailbox/index.ts';
import { OutboundQueue } from '../../../shared/outbound-queue/outbound-queue.ts';
import { startTestMailSystem, type TestMailSystem } from '../../support/mail-system.ts';
import { type TxtRecords, verifyWithDkimpy, verifyWithMailauth } from '../dkim/independent-verifiers.ts';
import { type SmtpSink, startSmtpSink } from '../outbound-transport/smtp-sink.ts';
import { eventually } from './outbound-fixture.ts';

const PASSWORD = 'correct horse battery';

describe('submission → outbound queue → DKIM → smarthost', () => {
  let sink: SmtpSink;
  let system: TestMailSystem;
  const records: TxtRecords = {};

  before(async () => {
    sink = await startSmtpSink();
    sink.script.rcptTo = (address) =>
      address === 'gone@remote.example' ? { code: 550, message: '5.1.1 no such user here' } : 'accept';
    system = await startTestMailSystem({
      MARMOT_OUTBOUND_TRANSPORT: 'smarthost',
      MARMOT_SMARTHOST: `127.0.0.1:${sink.port}`,
      MARMOT_SMARTHOST_TLS: 'none',
      MARMOT_OUTBOUND_POLL: '20ms',
    });
    await system.directory.addDomain('example.com');
    await system.directory.addAccount('alice@example.com', { password: PASSWORD });
    const keys = new DkimKeys(system.stores.metadata, await LocalKeyVault.open(system.dataDir));
    const key = await keys.create('example.com', { selector: 's2026' });
    await keys.activate('example.com', 's2026');
    records[dkimRecordName('s2026', 'example.com')] = splitTxtStrings(`v=DKIM1; k=rsa; p=${key.publicKey}`);
  });

  after(async () => {
    await system.stop();
    await sink.close();
  });

  test('the remote copy arrives signed and verifies; the refused recipient bounces into the INBOX', async () => {
    const client = createTransport({
      host: '127.0.0.1',
      port: system.ports.submission!,
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user: 'alice@example.com', pass: PASSWORD },
    });
    try {
      const info = await client.sendMail({
        envelope: { from: 'alice@example.com', to: ['friend@remote.example', 'gone@remote.example'] },
        raw:
          'From: Alice <alice@example.com>\r\nTo: friend@remote.example, gone@remote.example\r\n' +
          'Subject: through the queue\r\nMessage-ID: <e2e@example.com>\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n' +
          '\r\nSigned on the way out.\r\n',
      });
      assert.match(info.response, /^250 /);
    } finally {
      client.close();
    }

    const [arrived] = await sink.waitForMessages(1);
    assert.equal(arrived?.mailFrom, 'alice@example.com');
    assert.deepEqual(arrived?.recipients, ['friend@remote.example']);
    const text = arrived!.data.toString('latin1');
    assert.match(text, /^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=example\.com;/);
    assert.match(text, /\r\nReceived: from .*\r\n\tby mx\.test\.example with ESMTPSA /);
    assert.doesNotMatch(text, /^Return-Path:/m);
    assert.deepEqual(
      (await verifyWithDkimpy(arrived!.data, records)).map((r) => [r.domain, r.ok]),
      [['example.com', true]],
    );
    assert.deepEqual(
      (await verifyWithMailauth(arrived!.data, records)).map((r) => r.status),
      ['pass'],
    );

    const queue = new OutboundQueue(system.stores.metadata, system.stores.blobs);
    await eventually('the queue to empty', async () => (await queue.list()).messages.length === 0);
    const alice = await system.directory.getAccount('alice@example.com');
    const inbox = await getMailboxByName(system.mailStore, alice!.id, INBOX);
    const [dsn] = (await listMessages(system.mailStore, inbox.id)).messages;
    assert.ok(dsn, 'a DSN in INBOX');
    const body = (await system.stores.blobs.read(dsn.blobKey)).toString('utf8');
    assert.match(body, /\r\nContent-Type: multipart\/report; report-type=delivery-status;/);
    assert.match(body, /\r\nFinal-Recipient: rfc822; gone@remote\.example\r\nAction: failed\r\nStatus: 5\.1\.1\r\n/);
    assert.match(body, /\r\nDiagnostic-Code: smtp; 550 5\.1\.1 no such user here\r\n/);
    assert.match(body, /\r\nSubject: through the queue\r\n/);
  });
});
