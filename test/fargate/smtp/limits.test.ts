/**
 * Connection policy and limits of the SMTP listeners, each listener started directly with small limits,
 * and PROXY protocol v2 in front of them: the client address policy and Received: use is the header's.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { RunningListener } from '../../../fargate/listener.ts';
import { encodeProxyV2 } from '../../../fargate/proxy-protocol/proxy-v2.ts';
import type { SmtpLimits } from '../../../fargate/smtp/limits.ts';
import { startSmtp } from '../../../fargate/smtp/smtp-listener.ts';
import type { SmtpListenerKind } from '../../../fargate/smtp/smtp-sessions.ts';
import { OutboundQueue } from '../../../shared/outbound-queue/outbound-queue.ts';
import { openListenerContext, type TestListenerContext } from '../../support/mail-system.ts';
import { headerOf, messagesIn } from './mailbox-contents.ts';
import { RawSmtp } from './raw-smtp.ts';

const PASSWORD = 'correct horse battery';

describe('SMTP limits', () => {
  let test: TestListenerContext;
  let listener: RunningListener | undefined;

  before(async () => {
    test = await openListenerContext();
    await test.directory.addDomain('example.com');
    await test.directory.addAccount('alice@example.com', { password: PASSWORD });
  });
  afterEach(async () => {
    await listener?.close();
    listener = undefined;
  });
  after(() => test.close());

  const start = async (limits: Partial<SmtpLimits>, kind: SmtpListenerKind = 'mx') => {
    listener = await startSmtp(kind, test.context, { closeGraceMs: 100, ...limits });
    return listener.port;
  };
  const greeted = async (port: number) => {
    const client = await RawSmtp.open(port);
    return { client, greeting: await client.read() };
  };

  it('refuses connections over the per-address limit with 421 4.7.0', async () => {
    const port = await start({ maxConnectionsPerIp: 2 });
    const first = await greeted(port);
    const second = await greeted(port);
    assert.equal(first.greeting?.code, 220);
    assert.equal(second.greeting?.code, 220);
    const third = await greeted(port);
    assert.equal(`${third.greeting?.code} ${third.greeting?.text.slice(0, 5)}`, '421 4.7.0');
    await third.client.waitForClose();
    first.client.close();
    await first.client.waitForClose();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const fourth = await greeted(port);
    assert.equal(fourth.greeting?.code, 220, 'a slot frees up when a connection closes');
    second.client.close();
    fourth.client.close();
  });

  it('refuses connections over the listener limit with 421 4.3.2', async () => {
    const port = await start({ maxConnections: 1 });
    const first = await greeted(port);
    const second = await greeted(port);
    assert.equal(`${second.greeting?.code} ${second.greeting?.text.slice(0, 5)}`, '421 4.3.2');
    first.client.close();
  });

  it('closes a session that sends too many commands without a message: 421 4.7.0', async () => {
    const port = await start({ maxCommandsBeforeData: 5 });
    const { client } = await greeted(port);
    for (let index = 0; index < 5; index++) assert.equal((await client.command('NOOP'))?.code, 250);
    assert.equal((await client.command('NOOP'))?.code, 250);
    const closing = await client.read();
    assert.equal(`${closing?.code} ${closing?.text.slice(0, 5)}`, '421 4.7.0');
    await client.waitForClose();
  });

  it('counts commands again after each message', async () => {
    const port = await start({ maxCommandsBeforeData: 5 });
    const { client } = await greeted(port);
    for (let round = 0; round < 2; round++) {
      assert.equal((await client.command('EHLO c.test'))?.code, 250);
      assert.equal((await client.command('MAIL FROM:<s@remote.example>'))?.code, 250);
      assert.equal((await client.command('RCPT TO:<alice@example.com>'))?.code, 250);
      assert.equal((await client.command('DATA'))?.code, 354);
      client.write(`Subject: round ${round}\r\n\r\nx\r\n.\r\n`);
      assert.equal((await client.read())?.code, 250);
    }
    client.close();
  });

  it('closes an idle session after the idle timeout', async () => {
    const port = await start({ idleTimeoutMs: 300 });
    const { client } = await greeted(port);
    const started = Date.now();
    const timeout = await client.read();
    assert.equal(timeout?.code, 421);
    assert.ok(Date.now() - started >= 250);
    await client.waitForClose();
  });

  it('cuts a DATA transfer that trickles past the DATA deadline: 421 4.4.2, nothing stored', async () => {
    const port = await start({ dataTimeoutMs: 400, idleTimeoutMs: 5000 });
    const { client } = await greeted(port);
    await client.command('EHLO c.test');
    await client.command('MAIL FROM:<s@remote.example>');
    assert.equal((await client.command('RCPT TO:<alice@example.com>'))?.code, 250);
    assert.equal((await client.command('DATA'))?.code, 354);
    client.write('Subject: slow\r\n\r\n');
    const trickle = setInterval(() => client.write('x\r\n'), 100);
    const reply = await client.read();
    clearInterval(trickle);
    assert.equal(`${reply?.code} ${reply?.text.slice(0, 5)}`, '421 4.4.2');
    await client.waitForClose();
    const inbox = await messagesIn({ ...test, stores: test.context.stores }, 'alice@example.com');
    assert.ok(!inbox.some((stored) => headerOf(stored).includes('Subject: slow')));
  });

  it('refuses an over-long command line and closes', async () => {
    const port = await start({ maxCommandLineBytes: 600 });
    const { client } = await greeted(port);
    const reply = await client.command(`NOOP ${'x'.repeat(700)}`);
    assert.equal(reply?.code, 421);
    await client.waitForClose();
  });
});

describe('PROXY protocol v2 and the relay-host allow-list', () => {
  let test: TestListenerContext;
  const listeners: RunningListener[] = [];

  before(async () => {
    test = await openListenerContext({ MARMOT_PROXY_PROTOCOL: 'v2' });
    await test.directory.addDomain('example.com');
    await test.directory.addAccount('alice@example.com', { password: PASSWORD });
    await test.directory.addRelayHost('192.0.2.0/24');
    for (const kind of ['mx', 'submission'] as const) {
      listeners.push(await startSmtp(kind, test.context, { maxConnectionsPerIp: 1, closeGraceMs: 100 }));
    }
  });
  after(async () => {
    for (const listener of listeners) await listener.close();
    await test.close();
  });

  const from = (address: string) =>
    encodeProxyV2({ source: { address, port: 40000 }, destination: { address: '10.0.0.1', port: 25 } });

  it('uses the proxied client address in Received: and lets a relay host relay without AUTH (port 25)', async () => {
    const client = await RawSmtp.open(listeners[0]!.port, { before: from('192.0.2.5') });
    assert.equal((await client.read())?.code, 220);
    await client.command('EHLO relay.test');
    assert.equal((await client.command('MAIL FROM:<app@example.com>'))?.code, 250);
    assert.equal((await client.command('RCPT TO:<customer@remote.example>'))?.code, 250);
    assert.equal((await client.command('RCPT TO:<alice@example.com>'))?.code, 250);
    assert.equal((await client.command('DATA'))?.code, 354);
    client.write('Subject: from the relay host\r\n\r\nhello\r\n.\r\n');
    assert.equal((await client.read())?.code, 250);
    client.close();
    const stored = (await messagesIn({ ...test, stores: test.context.stores }, 'alice@example.com')).at(-1)!;
    assert.match(headerOf(stored), /^Received: from relay\.test \(\[192\.0\.2\.5\]\)/m);
    const queue = new OutboundQueue(test.context.stores.metadata, test.context.stores.blobs);
    const queued = (await queue.list()).messages.find((entry) => entry.recipients.includes('customer@remote.example'));
    assert.equal(queued?.submittedBy, '192.0.2.5');
  });

  it('lets a relay host submit without AUTH on 587 too', async () => {
    const client = await RawSmtp.open(listeners[1]!.port, { before: from('192.0.2.77') });
    assert.equal((await client.read())?.code, 220);
    await client.command('EHLO relay.test');
    assert.equal((await client.command('MAIL FROM:<app@example.com>'))?.code, 250);
    assert.equal((await client.command('RCPT TO:<someone@remote.example>'))?.code, 250);
    client.close();
  });

  it('refuses relaying for a client outside the allow-list, whatever the proxy itself is', async () => {
    const client = await RawSmtp.open(listeners[0]!.port, { before: from('198.51.100.7') });
    assert.equal((await client.read())?.code, 220);
    await client.command('EHLO outsider.test');
    await client.command('MAIL FROM:<x@remote.example>');
    const reply = await client.command('RCPT TO:<victim@remote.example>');
    assert.equal(`${reply?.code} ${reply?.text.slice(0, 5)}`, '554 5.7.1');
    client.close();
  });

  it('counts connections per proxied address, not per proxy', async () => {
    const first = await RawSmtp.open(listeners[0]!.port, { before: from('203.0.113.1') });
    const second = await RawSmtp.open(listeners[0]!.port, { before: from('203.0.113.2') });
    const third = await RawSmtp.open(listeners[0]!.port, { before: from('203.0.113.1') });
    assert.equal((await first.read())?.code, 220);
    assert.equal((await second.read())?.code, 220);
    assert.equal((await third.read())?.code, 421);
    for (const client of [first, second, third]) client.close();
  });

  it('drops a connection without a valid PROXY header before saying anything', async () => {
    const client = await RawSmtp.open(listeners[0]!.port, { before: Buffer.from('EHLO direct.test\r\n') });
    assert.equal(await client.read(), undefined);
    assert.ok(client.closed);
  });
});
