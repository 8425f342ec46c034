/**
 * The SMTP transport against a real SMTP server the test scripts (smtp-server): smarthost delivery with
 * exact bytes and envelope, per-recipient and whole-message refusals classified by reply code, AUTH,
 * TLS modes, and direct MX delivery through a stub MX resolver.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { generate } from 'selfsigned';
import type { OutboundDelivery } from '../../../shared/outbound-transport/outbound-transport.ts';
import { type MxResolver, SmtpTransport } from '../../../shared/outbound-transport/smtp-transport.ts';
import { type SmtpSink, startSmtpSink } from './smtp-sink.ts';

const HELO = 'mx.test.example';
const MESSAGE = Buffer.from(
  'From: alice@sender.example\r\nTo: bob@remote.example\r\nSubject: hi\r\n\r\n.leading dot\r\nGrüße\r\n',
);

function delivery(recipients: string[], mailFrom = 'alice@sender.example'): OutboundDelivery {
  return { id: 'q'.repeat(20), envelope: { mailFrom, recipients }, message: MESSAGE };
}

function stubMx(records: Record<string, { exchange: string; priority: number }[] | string>): MxResolver {
  return async (domain) => {
    const answer = records[domain];
    if (typeof answer === 'string') throw Object.assign(new Error(`queryMx ${answer} ${domain}`), { code: answer });
    if (!answer) throw Object.assign(new Error(`queryMx ENOTFOUND ${domain}`), { code: 'ENOTFOUND' });
    return answer;
  };
}

describe('SMTP transport', () => {
  let sink: SmtpSink;
  let smarthost: SmtpTransport;

  before(async () => {
    sink = await startSmtpSink();
    smarthost = SmtpTransport.smarthost({ host: '127.0.0.1', port: sink.port, tls: 'none', heloName: HELO });
  });
  after(async () => {
    await sink.close();
  });
  beforeEach(() => {
    sink.received.length = 0;
    sink.script = {};
  });

  test('a smarthost accepts: the bytes and the envelope arrive as sent', async () => {
    const outcomes = await smarthost.send(delivery(['bob@remote.example', 'carol@remote.example']));
    assert.deepEqual(
      outcomes.map((o) => [o.recipient, o.status, o.remoteMta]),
      [
        ['bob@remote.example', 'accepted', '127.0.0.1'],
        ['carol@remote.example', 'accepted', '127.0.0.1'],
      ],
    );
    assert.match(outcomes[0]!.reply, /^250 /);
    const [received] = sink.received;
    assert.equal(received?.mailFrom, 'alice@sender.example');
    assert.deepEqual(received?.recipients, ['bob@remote.example', 'carol@remote.example']);
    assert.ok(received?.data.equals(MESSAGE), 'dot-stuffing and 8-bit bytes survive');
  });

  test('the null sender is sent as MAIL FROM:<>', async () => {
    let seen: string | undefined;
    sink.script.mailFrom = (address) => {
      seen = address;
      return 'accept';
    };
    const [outcome] = await smarthost.send(delivery(['bob@remote.example'], ''));
    assert.equal(outcome?.status, 'accepted');
    assert.equal(seen, '');
  });

  test('RCPT refusals are per recipient: 5xx permanent, 4xx temporary, with their enhanced codes', async () => {
    sink.script.rcptTo = (address) => {
      if (address.startsWith('gone')) return { code: 550, message: '5.1.1 no such user' };
      if (address.startsWith('busy')) return { code: 451, message: '4.2.1 try later' };
      return 'accept';
    };
    const outcomes = await smarthost.send(
      delivery(['gone@remote.example', 'busy@remote.example', 'bob@remote.example']),
    );
    assert.deepEqual(
      outcomes.map((o) => [o.recipient, o.status, o.enhancedStatus]),
      [
        ['gone@remote.example', 'permanent', '5.1.1'],
        ['busy@remote.example', 'temporary', '4.2.1'],
        ['bob@remote.example', 'accepted', '2.0.0'],
      ],
    );
    assert.match(outcomes[0]!.reply, /^550 5\.1\.1 no such user/);
    assert.deepEqual(sink.received[0]?.recipients, ['bob@remote.example']);
  });

  test('every recipient refused: each keeps its own reply', async () => {
    sink.script.rcptTo = () => ({ code: 550, message: '5.7.1 relaying denied' });
    const outcomes = await smarthost.send(delivery(['a@remote.example', 'b@remote.example']));
    assert.deepEqual(
      outcomes.map((o) => [o.status, o.enhancedStatus]),
      [
        ['permanent', '5.7.1'],
        ['permanent', '5.7.1'],
      ],
    );
  });

  test('MAIL and DATA refusals apply to every recipient', async () => {
    sink.script.mailFrom = () => ({ code: 553, message: '5.1.8 bad sender' });
    let outcomes = await smarthost.send(delivery(['a@remote.example', 'b@remote.example']));
    assert.deepEqual(
      outcomes.map((o) => [o.status, o.enhancedStatus]),
      [
        ['permanent', '5.1.8'],
        ['permanent', '5.1.8'],
      ],
    );
    sink.script = { data: () => ({ code: 452, message: '4.3.1 out of space' }) };
    outcomes = await smarthost.send(delivery(['a@remote.example']));
    assert.deepEqual(
      outcomes.map((o) => [o.status, o.enhancedStatus]),
      [['temporary', '4.3.1']],
    );
    sink.script = { data: () => ({ code: 554, message: 'content rejected' }) };
    outcomes = await smarthost.send(delivery(['a@remote.example']));
    assert.deepEqual(
      outcomes.map((o) => [o.status, o.enhancedStatus]),
      [['permanent', '5.0.0']],
      'a reply without an enhanced code gets the class default',
    );
    assert.equal(sink.received.length, 0);
  });

  test('an unreachable host is a temporary failure', async () => {
    const closed = await startSmtpSink();
    const port = closed.port;
    await closed.close();
    const transport = SmtpTransport.smarthost({ host: '127.0.0.1', port, tls: 'none', heloName: HELO });
    const [outcome] = await transport.send(delivery(['a@remote.example']));
    assert.equal(outcome?.status, 'temporary');
    assert.equal(outcome?.enhancedStatus, '4.4.1');
    assert.match(outcome?.reply ?? '', /ECONNREFUSED|ECONNECTION/);
  });

  test('AUTH with the configured credentials; wrong ones are ours to fix, so temporary', async () => {
    const authSink = await startSmtpSink({ auth: { user: 'relay-user', pass: 'relay-secret' } });
    try {
      const good = SmtpTransport.smarthost({
        host: '127.0.0.1',
        port: authSink.port,
        tls: 'none',
        heloName: HELO,
        auth: { user: 'relay-user', pass: 'relay-secret' },
      });
      assert.equal((await good.send(delivery(['a@remote.example'])))[0]?.status, 'accepted');
      assert.equal(authSink.received[0]?.user, 'relay-user');
      const bad = SmtpTransport.smarthost({
        host: '127.0.0.1',
        port: authSink.port,
        tls: 'none',
        heloName: HELO,
        auth: { user: 'relay-user', pass: 'wrong' },
      });
      const [outcome] = await bad.send(delivery(['a@remote.example']));
      assert.deepEqual([outcome?.status, outcome?.enhancedStatus], ['temporary', '5.7.8']);
      assert.equal(authSink.received.length, 1);
    } finally {
      await authSink.close();
    }
  });

  test('TLS: STARTTLS required refuses an unverifiable certificate; opportunistic TLS uses it anyway', async () => {
    const pems = await generate([{ name: 'commonName', value: 'sink.test.example' }], { keySize: 2048 });
    const tlsSink = await startSmtpSink({ tls: { key: pems.private, cert: pems.cert } });
    try {
      const strict = SmtpTransport.smarthost({
        host: '127.0.0.1',
        port: tlsSink.port,
        tls: 'starttls',
        heloName: HELO,
      });
      const [refused] = await strict.send(delivery(['a@remote.example']));
      assert.equal(refused?.status, 'temporary');
      assert.equal(tlsSink.received.length, 0);
      const opportunistic = SmtpTransport.smarthost({
        host: '127.0.0.1',
        port: tlsSink.port,
        tls: 'opportunistic',
        heloName: HELO,
      });
      assert.equal((await opportunistic.send(delivery(['a@remote.example'])))[0]?.status, 'accepted');
      assert.equal(tlsSink.received[0]?.secure, true);
    } finally {
      await tlsSink.close();
    }
  });

  test('direct MX: per domain, by preference, past an unreachable host; null MX, NXDOMAIN and SERVFAIL', async () => {
    const transport = SmtpTransport.directMx({
      heloName: HELO,
      port: sink.port,
      resolveMx: stubMx({
        'remote.example': [
          { exchange: '127.0.0.1', priority: 20 },
          { exchange: '127.0.0.2', priority: 10 }, // preferred, but nothing listens there
        ],
        'other.example': [{ exchange: '127.0.0.1', priority: 5 }],
        'nomail.example': [{ exchange: '.', priority: 0 }],
        'flaky.example': 'ESERVFAIL',
      }),
    });
    const outcomes = await transport.send(
      delivery([
        'bob@remote.example',
        'dave@other.example',
        'carol@remote.example',
        'x@nomail.example',
        'y@missing.example',
        'z@flaky.example',
      ]),
    );
    const byRecipient = Object.fromEntries(outcomes.map((o) => [o.recipient, [o.status, o.enhancedStatus]]));
    assert.deepEqual(byRecipient, {
      'bob@remote.example': ['accepted', '2.0.0'],
      'carol@remote.example': ['accepted', '2.0.0'],
      'dave@other.example': ['accepted', '2.0.0'],
      'x@nomail.example': ['permanent', '5.1.10'],
      'y@missing.example': ['permanent', '5.1.2'],
      'z@flaky.example': ['temporary', '4.4.3'],
    });
    const envelopes = sink.received.map((m) => m.recipients.join(',')).sort();
    assert.deepEqual(envelopes, ['bob@remote.example,carol@remote.example', 'dave@other.example']);
  });

  test('direct MX: every MX host unreachable is temporary', async () => {
    const transport = SmtpTransport.directMx({
      heloName: HELO,
      port: sink.port,
      resolveMx: stubMx({ 'remote.example': [{ exchange: '127.0.0.2', priority: 10 }] }),
    });
    const [outcome] = await transport.send(delivery(['bob@remote.example']));
    assert.deepEqual([outcome?.status, outcome?.enhancedStatus], ['temporary', '4.4.1']);
    assert.match(outcome?.reply ?? '', /^no MX host answered: 127\.0\.0\.2/);
  });
});
