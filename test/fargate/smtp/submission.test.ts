/**
 * Submission on 587 (STARTTLS) and 465 (implicit TLS), end to end with nodemailer, swaks and raw
 * sockets: AUTH only over TLS, AUTH before MAIL, sender ownership, local delivery through the same
 * pipeline as the MX, remote recipients into the outbound queue.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createTransport } from 'nodemailer';
import { OutboundQueue } from '../../../shared/outbound-queue/outbound-queue.ts';
import { startTestMailSystem, type TestMailSystem } from '../../support/mail-system.ts';
import { chunksOf, headerOf, messagesIn } from './mailbox-contents.ts';
import { RawSmtp } from './raw-smtp.ts';

const run = promisify(execFile);
const PASSWORD = 'correct horse battery';

let counter = 0;
function message(subject: string): string {
  counter++;
  return `From: alice@example.com\r\nSubject: ${subject}\r\nMessage-ID: <s${counter}.${Date.now()}@example.com>\r\n\r\nbody ${counter}\r\n`;
}

describe('submission listeners', () => {
  let system: TestMailSystem;

  const submit = async (
    options: { port: number; secure: boolean; user?: string; pass?: string; method?: 'PLAIN' | 'LOGIN' },
    envelope: { from: string; to: string[] },
    raw: string,
  ) => {
    const transport = createTransport({
      host: '127.0.0.1',
      port: options.port,
      secure: options.secure,
      requireTLS: !options.secure,
      tls: { rejectUnauthorized: false },
      ...(options.user ? { auth: { user: options.user, pass: options.pass ?? PASSWORD } } : {}),
      ...(options.method ? { authMethod: options.method } : {}),
    });
    try {
      return await transport.sendMail({ envelope, raw });
    } finally {
      transport.close();
    }
  };
  const refusal = async (promise: Promise<unknown>) => {
    try {
      await promise;
    } catch (error) {
      return (error as { response?: string }).response ?? String(error);
    }
    assert.fail('accepted');
  };

  before(async () => {
    system = await startTestMailSystem();
    await system.directory.addDomain('example.com');
    await system.directory.addAccount('alice@example.com', { password: PASSWORD });
    await system.directory.addAccount('bob@example.com', { password: PASSWORD });
    await system.directory.addAlias('info@example.com', ['alice@example.com', 'bob@example.com']);
    await system.directory.addAlias('billing@example.com', ['bob@example.com']);
    // The listeners read which domains allow the legacy mechanisms every 30 s; now, for this test.
    await system.sasl.refresh();
  });

  after(() => system.stop());

  it('587: AUTH PLAIN after STARTTLS; local recipients delivered, remote ones queued durably', async () => {
    const raw = message('submitted');
    const info = await submit(
      { port: system.ports.submission!, secure: false, user: 'alice@example.com', method: 'PLAIN' },
      { from: 'alice@example.com', to: ['bob@example.com', 'friend@remote.example', 'other@elsewhere.example'] },
      raw,
    );
    assert.match(info.response, /^250 2\.0\.0 /);
    const stored = (await messagesIn(system, 'bob@example.com')).at(-1)!;
    assert.match(
      headerOf(stored),
      /^Return-Path: <alice@example\.com>\r\nReceived: .*\r\n\tby mx\.test\.example with ESMTPSA /,
    );
    const queue = new OutboundQueue(system.stores.metadata, system.stores.blobs);
    const [entry] = (await queue.list()).messages.filter((queued) => queued.mailFrom === 'alice@example.com');
    assert.ok(entry);
    assert.deepEqual(entry.recipients.sort(), ['friend@remote.example', 'other@elsewhere.example']);
    assert.equal(entry.submittedBy, 'alice@example.com');
    const body = Buffer.concat(await chunksOf(await queue.readBody(entry.id)));
    assert.ok(body.toString().startsWith('Received: from '));
    assert.ok(body.toString().endsWith(raw));
  });

  it('465: AUTH LOGIN on implicit TLS', async () => {
    const info = await submit(
      { port: system.ports['submission-tls']!, secure: true, user: 'bob@example.com', method: 'LOGIN' },
      { from: 'bob@example.com', to: ['alice@example.com'] },
      message('implicit tls'),
    );
    assert.match(info.response, /^250 /);
    assert.match(headerOf((await messagesIn(system, 'alice@example.com')).at(-1)!), /Subject: implicit tls/);
  });

  it('587 offers no password-revealing mechanism before STARTTLS (538 5.7.11), and PLAIN and LOGIN after', async () => {
    const client = await RawSmtp.open(system.ports.submission!);
    await client.read();
    const plain = await client.command('EHLO client.test');
    assert.ok(plain?.lines.some((line) => line.includes('STARTTLS')));
    const offered = plain?.lines.find((line) => /^250.AUTH /.test(line)) ?? '';
    assert.match(offered, /AUTH SCRAM-SHA-256 SCRAM-SHA-1 DIGEST-MD5 CRAM-MD5 NTLM$/, plain?.lines.join('|'));
    const credentials = Buffer.from(`\0alice@example.com\0${PASSWORD}`).toString('base64');
    const refused = await client.command(`AUTH PLAIN ${credentials}`);
    assert.equal(`${refused?.code} ${refused?.text.slice(0, 6)}`, '538 5.7.11');
    assert.equal((await client.startTls())?.code, 220);
    const secure = await client.command('EHLO client.test');
    assert.ok(
      secure?.lines.some((line) => /^250.AUTH .*\bPLAIN LOGIN$/.test(line)),
      secure?.lines.join('|'),
    );
    assert.equal((await client.command(`AUTH PLAIN ${credentials}`))?.code, 235);
    client.close();
  });

  it('requires AUTH before MAIL: 530 5.7.0', async () => {
    const client = await RawSmtp.open(system.ports['submission-tls']!, { tls: true });
    await client.read();
    await client.command('EHLO client.test');
    const reply = await client.command('MAIL FROM:<alice@example.com>');
    assert.equal(`${reply?.code} ${reply?.text.slice(0, 5)}`, '530 5.7.0');
    client.close();
    assert.match(
      await refusal(
        submit(
          { port: system.ports.submission!, secure: false },
          { from: 'alice@example.com', to: ['bob@example.com'] },
          message('no auth'),
        ),
      ),
      /^530 5\.7\.0 /,
    );
  });

  it('refuses wrong passwords with 535 5.7.8 and closes after too many', async () => {
    assert.match(
      await refusal(
        submit(
          { port: system.ports['submission-tls']!, secure: true, user: 'alice@example.com', pass: 'wrong' },
          { from: 'alice@example.com', to: ['bob@example.com'] },
          message('bad password'),
        ),
      ),
      /^535 5\.7\.8 /,
    );
    const client = await RawSmtp.open(system.ports['submission-tls']!, { tls: true });
    await client.read();
    await client.command('EHLO client.test');
    const wrong = Buffer.from('\0alice@example.com\0nope').toString('base64');
    assert.equal((await client.command(`AUTH PLAIN ${wrong}`))?.code, 535);
    assert.equal((await client.command(`AUTH PLAIN ${wrong}`))?.code, 535);
    const third = await client.command(`AUTH PLAIN ${wrong}`);
    assert.equal(`${third?.code} ${third?.text.slice(0, 5)}`, '421 4.7.0');
    await client.waitForClose();
  });

  it('lets an account send as its own address, with a +detail, and as an alias that targets it', async () => {
    for (const from of ['alice@example.com', 'Alice+tag@Example.com', 'info@example.com']) {
      const info = await submit(
        { port: system.ports['submission-tls']!, secure: true, user: 'alice@example.com' },
        { from, to: ['bob@example.com'] },
        message(`as ${from}`),
      );
      assert.match(info.response, /^250 /, from);
    }
  });

  it('refuses other senders with 553 5.7.1', async () => {
    for (const from of ['bob@example.com', 'billing@example.com', 'ceo@remote.example']) {
      assert.match(
        await refusal(
          submit(
            { port: system.ports['submission-tls']!, secure: true, user: 'alice@example.com' },
            { from, to: ['bob@example.com'] },
            message('spoof'),
          ),
        ),
        /^553 5\.7\.1 /,
        from,
      );
    }
  });

  it('swaks: AUTH LOGIN over STARTTLS on 587', async () => {
    const { stdout } = await run(
      'swaks',
      [
        '--server',
        `127.0.0.1:${system.ports.submission}`,
        '--tls',
        '--auth',
        'LOGIN',
        '--auth-user',
        'bob@example.com',
        '--auth-password',
        PASSWORD,
        '--from',
        'bob@example.com',
        '--to',
        'alice@example.com',
        '--header',
        'Subject: swaks submission',
      ],
      { timeout: 20_000 },
    );
    assert.match(stdout, /<~ {1,2}235 /);
    assert.match(stdout, /<~ {1,2}250 2\.0\.0 Ok: delivered as/);
    assert.match(headerOf((await messagesIn(system, 'alice@example.com')).at(-1)!), /Subject: swaks submission/);
  });
});
