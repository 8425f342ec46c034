/**
 * The outbound worker end to end on real stores: queue → dkim-sign step → SMTP smarthost (a scripted
 * sink) or the SES emulator → per-recipient outcomes → retries → DSNs in the sender's INBOX (read back
 * through shared/mailbox and parsed by mailparser). Signatures of what arrives are verified by dkimpy and
 * mailauth. Racing workers are run on every adapter set.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { simpleParser } from 'mailparser';
import { SesTransport } from '../../../shared/outbound-transport/ses-transport.ts';
import { adapterSets, localAdapters } from '../../support/stores.ts';
import { verifyWithDkimpy, verifyWithMailauth } from '../dkim/independent-verifiers.ts';
import { EMULATOR_CREDENTIALS, startSes } from '../outbound-transport/ses-emulator.ts';
import { eventually, message, type OutboundFixture, openOutboundFixture } from './outbound-fixture.ts';

/**
 * A DSN read back: its top-level fields from mailparser, its parts split at the boundary mailparser
 * reports, and the delivery-status part as field lists (the per-message block, then one per recipient).
 */
async function dsnReport(raw: Buffer) {
  const parsed = await simpleParser(raw);
  const contentType = parsed.headers.get('content-type') as { value: string; params: Record<string, string> };
  const boundary = contentType.params.boundary;
  assert.ok(boundary, 'a multipart boundary');
  const parts = raw
    .toString('utf8')
    .split(`\r\n--${boundary}`)
    .slice(1, -1)
    .map((part) => {
      const split = part.indexOf('\r\n\r\n');
      return { head: part.slice(0, split), body: part.slice(split + 4) };
    });
  const partOf = (type: string) => parts.find((part) => new RegExp(`^Content-Type: ${type}`, 'im').test(part.head));
  const status = partOf('message/delivery-status');
  assert.ok(status, 'a message/delivery-status part');
  const blocks = status.body
    .trim()
    .split('\r\n\r\n')
    .map((block) =>
      Object.fromEntries(
        block.split('\r\n').map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]),
      ),
    );
  return {
    subject: parsed.subject,
    contentType,
    autoSubmitted: parsed.headers.get('auto-submitted'),
    partTypes: parts.map((part) => /^Content-Type: ([^;\r\n]+)/im.exec(part.head)?.[1]),
    perMessage: blocks[0]!,
    recipients: blocks.slice(1),
    returnedHeaders: partOf('text/rfc822-headers')?.body ?? '',
  };
}

describe('outbound worker (local stores)', () => {
  let fixture: OutboundFixture;

  before(async () => {
    fixture = await openOutboundFixture(localAdapters);
  });
  after(async () => {
    await fixture.close();
  });
  beforeEach(() => {
    fixture.sink.received.length = 0;
    fixture.sink.dataAttempts.length = 0;
    fixture.sink.script = {};
  });

  test('RSA and Ed25519: what arrives through the queue verifies with dkimpy and mailauth; the entry is gone', async () => {
    const worker = fixture.worker();
    const ids = [
      await fixture.enqueue(
        'sender@example.org',
        ['bob@remote.example'],
        message('sender@example.org', 'bob@remote.example', 'rsa'),
      ),
      await fixture.enqueue(
        'sender@ed.example',
        ['bob@remote.example'],
        message('sender@ed.example', 'bob@remote.example', 'ed'),
      ),
    ];
    assert.equal(await worker.runOnce(), 2);
    const received = await fixture.sink.waitForMessages(2);
    for (const arrived of received) {
      assert.match(
        arrived.data.toString('latin1'),
        /^DKIM-Signature: v=1; a=(rsa|ed25519)-sha256; c=relaxed\/relaxed;/,
      );
      const domain = arrived.mailFrom.slice(arrived.mailFrom.indexOf('@') + 1);
      assert.deepEqual(
        (await verifyWithDkimpy(arrived.data, fixture.records)).map((r) => [r.domain, r.ok]),
        [[domain, true]],
      );
      assert.deepEqual(
        (await verifyWithMailauth(arrived.data, fixture.records)).map((r) => r.status),
        ['pass'],
      );
    }
    for (const id of ids) assert.equal(await fixture.queue.get(id), undefined);
    assert.deepEqual((await fixture.stores.blobs.list('outbound/')).blobs, []);
  });

  test('a domain without an active key: sent unsigned', async () => {
    await fixture.enqueue(
      'sender@nokey.example',
      ['bob@remote.example'],
      message('sender@nokey.example', 'bob@remote.example', 'plain'),
    );
    await fixture.worker().runOnce();
    const [arrived] = await fixture.sink.waitForMessages(1);
    assert.doesNotMatch(arrived!.data.toString('latin1'), /DKIM-Signature/i);
  });

  test('temporary failures, then success: backoff, the same signed bytes every time, nothing left', async () => {
    let refusals = 2;
    fixture.sink.script.data = () => (refusals-- > 0 ? { code: 451, message: '4.3.0 try again later' } : 'accept');
    const body = message('sender@example.org', 'bob@remote.example', 'retried');
    const id = await fixture.enqueue('sender@example.org', ['bob@remote.example'], body);
    const patient = fixture.worker({ retryMinMs: 1000, retryMaxMs: 1000 });
    assert.equal(await patient.runOnce(), 1);
    const afterFirst = await fixture.queue.get(id);
    assert.equal(afterFirst?.state, 'queued');
    assert.equal(afterFirst?.attempts, 1);
    assert.deepEqual(
      afterFirst?.recipientStates.map((s) => [s.status, s.enhancedStatus]),
      [['pending', '4.3.0']],
    );
    assert.ok(afterFirst!.nextAttemptAt.getTime() - afterFirst!.lastAttemptAt!.getTime() >= 900, 'backed off');
    assert.equal(await patient.runOnce(), 0, 'not due yet');

    fixture.worker().start();
    await fixture.sink.waitForMessages(1);
    await eventually('the entry to go', async () => (await fixture.queue.get(id)) === undefined);
    assert.equal(fixture.sink.dataAttempts.length, 3);
    const [first, ...rest] = fixture.sink.dataAttempts.map((attempt) => attempt.data);
    for (const later of rest) assert.ok(later.equals(first!), 'every attempt sends the same signed message');
    assert.ok(first!.subarray(first!.length - body.length).equals(body));
  });

  test('a permanent refusal: the other recipient is delivered, a DSN lands in the sender INBOX', async () => {
    fixture.sink.script.rcptTo = (address) =>
      address.startsWith('gone') ? { code: 550, message: '5.1.1 <gone@remote.example>: no such user' } : 'accept';
    const id = await fixture.enqueue(
      'sender@example.org',
      ['gone@remote.example', 'bob@remote.example'],
      message('sender@example.org', 'gone@remote.example, bob@remote.example', 'partly bounced'),
    );
    await fixture.worker().runOnce();
    assert.deepEqual(fixture.sink.received[0]?.recipients, ['bob@remote.example']);
    assert.equal(await fixture.queue.get(id), undefined);

    const [dsn] = await fixture.inbox('sender@example.org');
    assert.ok(dsn, 'a DSN in INBOX');
    const report = await dsnReport(dsn);
    assert.equal(report.subject, 'Undelivered Mail Returned to Sender');
    assert.equal(report.contentType.value, 'multipart/report');
    assert.equal(report.contentType.params['report-type'], 'delivery-status');
    assert.deepEqual(report.partTypes, ['text/plain', 'message/delivery-status', 'text/rfc822-headers']);
    assert.equal(report.autoSubmitted, 'auto-replied');
    assert.equal(report.perMessage['Reporting-MTA'], 'dns; mx.test.example');
    assert.equal(report.perMessage['X-Marmot-Queue-ID'], id);
    assert.equal(report.recipients.length, 1);
    assert.deepEqual(report.recipients[0], {
      'Final-Recipient': 'rfc822; gone@remote.example',
      Action: 'failed',
      Status: '5.1.1',
      'Remote-MTA': 'dns; 127.0.0.1',
      'Diagnostic-Code': 'smtp; 550 5.1.1 <gone@remote.example>: no such user',
      'Last-Attempt-Date': report.recipients[0]!['Last-Attempt-Date'],
    });
    assert.match(report.returnedHeaders, /^Received: from client\.example/);
    assert.match(report.returnedHeaders, /\r?\nSubject: partly bounced\r?\n/);
    assert.doesNotMatch(report.returnedHeaders, /Hello from the queue/);
  });

  test('lifetime: a delay warning first, then a failure DSN with 4.4.7 when the lifetime runs out', async () => {
    fixture.sink.script.data = () => ({ code: 421, message: '4.7.0 overloaded' });
    const id = await fixture.enqueue(
      'sender@ed.example',
      ['slow@remote.example'],
      message('sender@ed.example', 'slow@remote.example', 'never arrives'),
    );
    // Wide margins: on a loaded machine an attempt can come late, and the warning must still come first.
    const worker = fixture.worker({ lifetimeMs: 4000, delayWarningMs: 400 });
    worker.start();
    await eventually('the entry to expire', async () => (await fixture.queue.get(id)) === undefined);
    await worker.stop();
    assert.ok(fixture.sink.dataAttempts.length >= 2);
    const reports = await Promise.all((await fixture.inbox('sender@ed.example')).map(dsnReport));
    assert.deepEqual(
      reports.map((r) => [r.subject, r.recipients[0]?.Action, r.recipients[0]?.Status]),
      [
        ['Delayed Mail (still being retried)', 'delayed', '4.7.0'],
        ['Undelivered Mail Returned to Sender', 'failed', '4.4.7'],
      ],
    );
    assert.ok(reports[0]!.recipients[0]!['Will-Retry-Until']);
    assert.match(
      reports[1]!.recipients[0]!['Diagnostic-Code']!,
      /^X-Marmot; gave up after \d+ attempt\(s\) in 4 seconds: 421 4\.7\.0 overloaded$/,
    );
  });

  test('a remote sender (relay client) gets its DSN through the queue, with the null sender; no DSN about it', async () => {
    fixture.sink.script.rcptTo = (address) =>
      address === 'gone@remote.example' ? { code: 550, message: '5.1.1 no such user' } : 'accept';
    await fixture.enqueue(
      'someone@relayed.example',
      ['gone@remote.example'],
      message('someone@relayed.example', 'gone@remote.example', 'from a relay host'),
      '192.0.2.5',
    );
    const worker = fixture.worker();
    await worker.runOnce();
    await worker.runOnce();
    const [dsn] = await fixture.sink.waitForMessages(1);
    assert.equal(dsn?.mailFrom, '');
    assert.deepEqual(dsn?.recipients, ['someone@relayed.example']);
    assert.equal((await dsnReport(dsn!.data)).recipients[0]?.Status, '5.1.1');
    assert.deepEqual((await fixture.queue.list()).messages, []);

    // A null-sender message that bounces makes no DSN at all.
    await fixture.enqueue(
      '',
      ['gone@remote.example'],
      message('MAILER-DAEMON@mx.test.example', 'gone@remote.example', 'bounce'),
    );
    fixture.sink.received.length = 0;
    await worker.runOnce();
    await worker.runOnce();
    assert.deepEqual((await fixture.queue.list()).messages, []);
    assert.equal(fixture.sink.received.length, 0);
  });

  test('a failing dkim-sign step defers the message; it is not sent unsigned', async () => {
    const working = fixture.signStep.handler;
    fixture.signStep.handler = async () => {
      throw new Error('vault unavailable');
    };
    const id = await fixture.enqueue(
      'sender@example.org',
      ['bob@remote.example'],
      message('sender@example.org', 'bob@remote.example', 'deferred'),
    );
    const worker = fixture.worker();
    await worker.runOnce();
    const entry = await fixture.queue.get(id);
    assert.equal(fixture.sink.dataAttempts.length, 0);
    assert.equal(entry?.recipientStates[0]?.status, 'pending');
    assert.match(entry?.recipientStates[0]?.reply ?? '', /DKIM signing failed/);

    fixture.signStep.handler = working;
    worker.start();
    const [arrived] = await fixture.sink.waitForMessages(1);
    assert.deepEqual(
      (await verifyWithDkimpy(arrived!.data, fixture.records)).map((r) => r.ok),
      [true],
    );
  });

  test('SES: the worker delivers through the emulator and the entry is gone', async () => {
    const ses = await startSes();
    const transport = new SesTransport({
      region: 'eu-west-1',
      endpoint: ses.endpoint,
      credentials: EMULATOR_CREDENTIALS,
    });
    try {
      const id = await fixture.enqueue(
        'sender@ed.example',
        ['bob@remote.example', 'carol@remote.example'],
        message('sender@ed.example', 'bob@remote.example', 'via SES'),
      );
      await fixture.worker({}, transport).runOnce();
      const [email] = await ses.emails();
      assert.equal(email?.subject, 'via SES');
      assert.equal(await fixture.queue.get(id), undefined);
    } finally {
      await transport.close();
      await ses.close();
    }
  });

  test('queue maintenance: retry now, delete, and the sweep of orphaned blobs', async () => {
    fixture.sink.script.data = () => ({ code: 451, message: '4.3.0 later' });
    const id = await fixture.enqueue(
      'sender@example.org',
      ['bob@remote.example'],
      message('sender@example.org', 'bob@remote.example', 'x'),
    );
    await fixture.worker({ retryMinMs: 60_000, retryMaxMs: 60_000 }).runOnce();
    const retried = await fixture.queue.retryNow(id);
    assert.ok(retried.nextAttemptAt.getTime() <= Date.now());
    const removed = await fixture.queue.remove(id);
    assert.equal(removed.attempts, 1);
    assert.equal(await fixture.queue.get(id), undefined);
    assert.equal(await fixture.stores.blobs.head(removed.blobKey), undefined);

    await fixture.stores.blobs.put('outbound/orphanorphanorphan1', Buffer.from('left by a crashed enqueue'));
    assert.equal(await fixture.queue.sweepOrphanBlobs(), 0, 'too young to be an orphan');
    assert.equal(await fixture.queue.sweepOrphanBlobs(new Date(Date.now() + 2 * 60 * 60 * 1000)), 1);
    assert.equal(await fixture.stores.blobs.head('outbound/orphanorphanorphan1'), undefined);
  });
});

for (const adapters of adapterSets) {
  describe(`outbound workers racing (${adapters.name})`, () => {
    test('three workers, one queue: each message is sent exactly once', async () => {
      const fixture = await openOutboundFixture(adapters);
      try {
        const count = 24;
        for (let i = 0; i < count; i++) {
          await fixture.enqueue(
            'sender@ed.example',
            [`r${i}@remote.example`],
            message('sender@ed.example', `r${i}@remote.example`, `race ${i}`),
          );
        }
        const workers = [fixture.worker(), fixture.worker(), fixture.worker()];
        for (const worker of workers) worker.start();
        await fixture.sink.waitForMessages(count, 30_000);
        await eventually('the queue to empty', async () => (await fixture.queue.list()).messages.length === 0, 30_000);
        const recipients = fixture.sink.dataAttempts.map((attempt) => attempt.recipients.join(','));
        assert.equal(recipients.length, count, 'no message was sent twice');
        assert.equal(new Set(recipients).size, count);
      } finally {
        await fixture.close();
      }
    });
  });
}
