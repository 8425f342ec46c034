/**
 * The MX listener, end to end: the real system (startMailSystem, local stores), real clients
 * (nodemailer, swaks, and a raw socket where exact bytes matter), outcomes read back from the stores.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createTransport } from 'nodemailer';
import { setMailboxRights, sharedMailboxOwner } from '../../../shared/acl/index.ts';
import { appendMessage, createMailbox, getMailboxByName, listMessages } from '../../../shared/mailbox/index.ts';
import { OutboundQueue } from '../../../shared/outbound-queue/outbound-queue.ts';
import { startTestMailSystem, type TestMailSystem } from '../../support/mail-system.ts';
import { chunksOf, headerOf, messagesIn } from './mailbox-contents.ts';
import { openTransaction, RawSmtp } from './raw-smtp.ts';

const run = promisify(execFile);
const MAX_MESSAGE_BYTES = 64 * 1024;
const PASSWORD = 'correct horse battery';

let counter = 0;
/** A distinct, CRLF-only message (distinct content: the idempotency key would merge identical ones). */
function message(subject = 'test', body = 'Hello.'): string {
  counter++;
  return [
    'From: Sender <sender@remote.example>',
    'To: someone@example.com',
    `Subject: ${subject}`,
    `Message-ID: <${counter}.${Date.now()}@remote.example>`,
    'Date: Tue, 03 Nov 2026 09:05:07 +0000',
    '',
    body,
    '',
  ].join('\r\n');
}

describe('MX listener', () => {
  let system: TestMailSystem;
  let port: number;

  const send = async (to: string | string[], raw: string, options: { from?: string; requireTLS?: boolean } = {}) => {
    const transport = createTransport({
      host: '127.0.0.1',
      port,
      secure: false,
      requireTLS: options.requireTLS ?? false,
      tls: { rejectUnauthorized: false },
    });
    try {
      return await transport.sendMail({ envelope: { from: options.from ?? 'sender@remote.example', to }, raw });
    } finally {
      transport.close();
    }
  };

  /** The reply nodemailer got for a refused send. */
  const refusal = async (promise: Promise<unknown>) => {
    try {
      await promise;
    } catch (error) {
      return (error as { response?: string }).response ?? String(error);
    }
    assert.fail('the message was accepted');
  };

  before(async () => {
    system = await startTestMailSystem({ MARMOT_SMTP_MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES) });
    port = system.ports.smtp!;
    const { directory, mailStore } = system;
    await directory.addDomain('example.com');
    for (const name of ['alice', 'bob', 'carol']) {
      await directory.addAccount(`${name}@example.com`, { password: PASSWORD });
    }
    await directory.addAccount('small@example.com', { password: PASSWORD, quota: { storageBytes: 3000 } });
    await directory.addAccount('full@example.com', { password: PASSWORD, quota: { messages: 1 } });
    await directory.addAlias('sales@example.com', ['alice@example.com', 'bob@example.com']);
    await directory.addAlias('team@example.com', ['carol@example.com'], { suffixes: true });
    await directory.addAlias('news@example.com', ['bob@example.com', 'dave@remote.example'], { bulk: true });
    const alice = (await directory.getAccount('alice@example.com'))!;
    const open = await createMailbox(mailStore, alice.id, 'lists/rust');
    await setMailboxRights(mailStore, open.id, 'anyone', 'p', directory, 'alice@example.com');
    await createMailbox(mailStore, alice.id, 'private');
    const shared = await createMailbox(mailStore, sharedMailboxOwner('example.com'), 'support');
    await setMailboxRights(mailStore, shared.id, 'anyone', 'lrp', directory);
    const full = (await directory.getAccount('full@example.com'))!;
    await system.stores.blobs.put('msg/test/filler', Buffer.from('Subject: filler\r\n\r\nx\r\n'));
    await appendMessage(mailStore, await getMailboxByName(mailStore, full.id, 'INBOX'), {
      blobKey: 'msg/test/filler',
      size: 22,
      internalDate: new Date(),
      envelope: null,
      bodyStructure: null,
    });
  });

  after(() => system.stop());

  it('delivers to an account, readable byte for byte behind Return-Path: and Received:', async () => {
    const raw = message('byte for byte', 'Line one.\r\n..leading dot kept\r\nÄ 8-bit byte\r\n');
    const info = await send('alice@example.com', raw);
    assert.match(info.response, /^250 2\.0\.0 Ok: delivered as [0-9a-f]{32}$/);
    const [stored] = await messagesIn(system, 'alice@example.com');
    assert.ok(stored);
    const text = stored.toString('utf8');
    assert.ok(text.startsWith('Return-Path: <sender@remote.example>\r\nReceived: from '), text.slice(0, 80));
    assert.match(
      text,
      /^Received: from \S+ \(\[127\.0\.0\.1\]\)\r\n\tby mx\.test\.example with ESMTPS id [0-9a-f]{32}\r\n/m,
    );
    assert.match(text, /\tfor <alice@example\.com>; \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000\r\n/);
    // Everything after our two trace headers is exactly what the client sent.
    const content = stored.subarray(stored.indexOf('From: Sender'));
    assert.deepEqual(content, Buffer.from(raw, 'utf8'));
  });

  it('delivers to every target of an alias, one blob shared by all of them', async () => {
    await send('sales@example.com', message('to sales'));
    const entries = [];
    for (const name of ['alice', 'bob']) {
      const account = (await system.directory.getAccount(`${name}@example.com`))!;
      const inbox = await getMailboxByName(system.mailStore, account.id, 'INBOX');
      entries.push((await listMessages(system.mailStore, inbox.id)).messages.at(-1)!);
    }
    assert.equal(entries[0]!.blobKey, entries[1]!.blobKey);
    assert.match(headerOf(await system.stores.blobs.read(entries[0]!.blobKey)), /Subject: to sales/);
  });

  it('an alias with suffixes takes local+anything, with the suffix dropped', async () => {
    await send('team+whatever@example.com', message('team suffix'));
    const carol = await messagesIn(system, 'carol@example.com');
    assert.match(headerOf(carol.at(-1)!), /Subject: team suffix/);
    assert.match(headerOf(carol.at(-1)!), /for <team\+whatever@example\.com>/);
  });

  it('a bulk alias adds Precedence: bulk for its local targets and queues its remote ones', async () => {
    await send('news@example.com', message('newsletter'));
    const stored = (await messagesIn(system, 'bob@example.com')).at(-1)!;
    assert.match(headerOf(stored), /Subject: newsletter/);
    assert.match(headerOf(stored), /^Precedence: bulk\r$/m);
    const queue = new OutboundQueue(system.stores.metadata, system.stores.blobs);
    const queued = (await queue.list()).messages.filter((entry) => entry.recipients.includes('dave@remote.example'));
    assert.equal(queued.length, 1);
    const body = Buffer.concat(await chunksOf(await queue.readBody(queued[0]!.id)));
    assert.doesNotMatch(body.toString(), /^Return-Path:|Precedence: bulk/m);
    assert.match(body.toString(), /^Received: from /);
  });

  it('plus addressing files into a folder that grants anyone p, and into INBOX otherwise', async () => {
    await send('alice+lists/rust@example.com', message('plus with p'));
    await send('alice+private@example.com', message('plus without p'));
    await send('alice+nosuchfolder@example.com', message('plus missing folder'));
    const subjects = async (mailbox: string) =>
      (await messagesIn(system, 'alice@example.com', mailbox)).map(
        (stored) => /Subject: (.*)\r/.exec(headerOf(stored))![1],
      );
    assert.deepEqual(await subjects('lists/rust'), ['plus with p']);
    assert.deepEqual(await subjects('private'), []);
    const inbox = await subjects('INBOX');
    assert.ok(inbox.includes('plus without p') && inbox.includes('plus missing folder'), inbox.join(', '));
  });

  it('`--` and `__` work as `+`', async () => {
    await send('alice--lists/rust@example.com', message('double dash'));
    await send('alice__lists/rust@example.com', message('double underscore'));
    const folder = await messagesIn(system, 'alice@example.com', 'lists/rust');
    const subjects = folder.map((stored) => /Subject: (.*)\r/.exec(headerOf(stored))![1]);
    assert.ok(subjects.includes('double dash') && subjects.includes('double underscore'), subjects.join(', '));
  });

  it('`+name/@domain` delivers to the shared mailbox when anyone may post there', async () => {
    await send('+support/@example.com', message('to the shared mailbox'));
    const shared = await messagesIn(system, `owner:${sharedMailboxOwner('example.com')}`, 'support');
    assert.match(headerOf(shared.at(-1)!), /Subject: to the shared mailbox/);
    assert.match(await refusal(send('+nosuch/@example.com', message())), /^550 5\.1\.1 /);
  });

  it('refuses unknown recipients with 550 5.1.1', async () => {
    assert.match(await refusal(send('nobody@example.com', message())), /^550 5\.1\.1 <nobody@example\.com>/);
  });

  it('is not an open relay: remote recipients and relay syntaxes are refused, source routes ignored', async () => {
    const { client, replies } = await openTransaction(port, 'sender@remote.example', []);
    assert.equal(replies[2]?.code, 250);
    const expectations: Array<[string, RegExp]> = [
      ['RCPT TO:<victim@remote.example>', /^554 5\.7\.1 /],
      ['RCPT TO:<victim%remote.example@example.com>', /^554 5\.7\.1 /],
      ['RCPT TO:<remote.example!victim@example.com>', /^554 5\.7\.1 /],
      // smtp-server itself refuses a quoted local part holding an @ as a syntax error.
      ['RCPT TO:<"victim@remote.example"@example.com>', /^501 /],
      ['RCPT TO:<"victim%remote.example"@example.com>', /^553 5\.1\.3 /],
      ['RCPT TO:<"alice"@example.com>', /^553 5\.1\.3 /],
      // RFC 5321 §3.6.1: the route is ignored, so this is a plain remote recipient: refused.
      ['RCPT TO:<@example.com:victim@remote.example>', /^554 5\.7\.1 /],
      ['RCPT TO:<@example.com,@relay.example:victim@remote.example>', /^554 5\.7\.1 /],
    ];
    for (const [command, expected] of expectations) {
      const reply = await client.command(command);
      assert.match(`${reply?.code} ${reply?.text}`, expected, command);
    }
    // A route to one of our own addresses is just that address.
    assert.equal((await client.command('RCPT TO:<@relay.example:alice@example.com>'))?.code, 250);
    assert.equal((await client.command('DATA'))?.code, 354);
    client.write(`${message('via source route')}.\r\n`);
    assert.equal((await client.read())?.code, 250);
    client.close();
    assert.match(headerOf((await messagesIn(system, 'alice@example.com')).at(-1)!), /Subject: via source route/);
  });

  it('refuses a message over the size limit with 552 5.3.4, and one announced too large at MAIL', async () => {
    const big = message('too big', `${'x'.repeat(998)}\r\n`.repeat(70));
    assert.match(await refusal(send('alice@example.com', big)), /^552 5\.3\.4 /);
    const client = await RawSmtp.open(port);
    await client.read();
    await client.command('EHLO client.test');
    const reply = await client.command(`MAIL FROM:<a@remote.example> SIZE=${MAX_MESSAGE_BYTES + 1}`);
    assert.equal(reply?.code, 552);
    client.close();
  });

  it('refuses recipients whose quota is used up (552 5.2.2 at RCPT) and messages that would pass it (at DATA)', async () => {
    assert.match(await refusal(send('full@example.com', message())), /^552 5\.2\.2 <full@example\.com>/);
    const large = message('large', `${'y'.repeat(998)}\r\n`.repeat(4));
    assert.match(await refusal(send('small@example.com', large)), /^552 5\.2\.2 /);
    assert.deepEqual(await messagesIn(system, 'small@example.com'), []);
  });

  it('answers 452 4.2.2 when only some mailboxes are full, and a retry adds nothing where it was delivered', async () => {
    const raw = message('partly full', `${'z'.repeat(998)}\r\n`.repeat(4));
    const to = ['carol@example.com', 'small@example.com'];
    assert.match(await refusal(send(to, raw)), /^452 4\.2\.2 /);
    assert.match(await refusal(send(to, raw)), /^452 4\.2\.2 /);
    const copies = (await messagesIn(system, 'carol@example.com')).filter((stored) =>
      headerOf(stored).includes('Subject: partly full'),
    );
    assert.equal(copies.length, 1);
  });

  it('limits recipients per message with 452 4.5.3', async () => {
    const recipients = Array.from({ length: 101 }, (_, index) => `alice+${index}@example.com`);
    const { client, replies } = await openTransaction(port, 'sender@remote.example', recipients);
    assert.equal(replies.at(-2)?.code, 250);
    assert.match(`${replies.at(-1)?.code} ${replies.at(-1)?.text}`, /^452 4\.5\.3 /);
    client.close();
  });

  it('speaks STARTTLS', async () => {
    const info = await send('bob@example.com', message('over tls'), { requireTLS: true });
    assert.match(info.response, /^250 /);
    assert.match(
      headerOf((await messagesIn(system, 'bob@example.com')).at(-1)!),
      /with ESMTPS id[^\r]*\r\n\t\(TLSv1\.3/,
    );
  });

  it('does not offer AUTH on the MX', async () => {
    const client = await RawSmtp.open(port);
    await client.read();
    const ehlo = await client.command('EHLO client.test');
    assert.ok(!ehlo?.lines.some((line) => /AUTH/.test(line)), ehlo?.lines.join('|'));
    assert.ok(ehlo?.lines.some((line) => /STARTTLS/.test(line)));
    client.close();
  });

  describe('SMTP smuggling', () => {
    for (const [name, separator] of [
      ['<LF>.<LF>', '\n.\n'],
      ['<LF>.<CR><LF>', '\n.\r\n'],
      ['<CR><LF>.<LF>', '\r\n.\n'],
      ['<CR>.<CR><LF>', '\r.\r\n'],
      ['<CR>.<CR>', '\r.\r'],
    ] as const) {
      it(`${name} inside DATA neither ends the message nor starts a second one`, async () => {
        const { client, replies } = await openTransaction(port, 'sender@remote.example', ['bob@example.com']);
        assert.equal(replies.at(-1)?.code, 250);
        assert.equal((await client.command('DATA'))?.code, 354);
        const before = (await messagesIn(system, 'alice@example.com')).length;
        client.write(
          `Subject: smuggler ${name}\r\n\r\nfirst${separator}MAIL FROM:<evil@remote.example>\r\n` +
            'RCPT TO:<alice@example.com>\r\nDATA\r\nSubject: smuggled\r\n\r\nsecond\r\n.\r\n',
        );
        const reply = await client.read();
        assert.match(`${reply?.code} ${reply?.text}`, /^550 5\.5\.2 /);
        // The smuggled commands were content: the next command is answered as the first one.
        assert.equal((await client.command('NOOP'))?.code, 250);
        client.close();
        assert.equal((await messagesIn(system, 'alice@example.com')).length, before);
        const bob = await messagesIn(system, 'bob@example.com');
        assert.ok(!bob.some((stored) => headerOf(stored).includes('smuggle')));
      });
    }
  });

  describe('with swaks', () => {
    const swaks = (...args: string[]) =>
      run('swaks', ['--server', `127.0.0.1:${port}`, '--helo', 'swaks.test', ...args], { timeout: 20_000 }).then(
        ({ stdout }) => ({ code: 0, stdout }),
        (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
      );

    it('delivers, over STARTTLS', async () => {
      const result = await swaks(
        '--from',
        'sender@remote.example',
        '--to',
        'carol@example.com',
        '--tls',
        '--header',
        'Subject: from swaks',
        '--body',
        'swaks body',
      );
      assert.equal(result.code, 0, result.stdout);
      assert.match(result.stdout, /<~ {1,2}250 2\.0\.0 Ok: delivered as/);
      assert.match(headerOf((await messagesIn(system, 'carol@example.com')).at(-1)!), /Subject: from swaks/);
    });

    it('sees 550 5.1.1 for an unknown user and 554 5.7.1 for relaying', async () => {
      const unknown = await swaks('--from', 's@remote.example', '--to', 'ghost@example.com');
      assert.notEqual(unknown.code, 0);
      assert.match(unknown.stdout, /<\*\* +550 5\.1\.1 /);
      const relay = await swaks('--from', 's@remote.example', '--to', 'victim@elsewhere.example');
      assert.notEqual(relay.code, 0);
      assert.match(relay.stdout, /<\*\* +554 5\.7\.1 /);
    });
  });
});
