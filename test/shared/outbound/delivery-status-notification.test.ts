/**
 * DSN composition (RFC 3464, RFC 6522) as bytes, and the worker's pure pieces: the retry schedule and the
 * signing domain of a message.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { simpleParser } from 'mailparser';
import {
  composeDsn,
  type DsnInput,
  MAX_RETURNED_HEADER_BYTES,
} from '../../../shared/outbound/delivery-status-notification.ts';
import { retryDelayMs, signingDomainOf } from '../../../shared/outbound/outbound-worker.ts';

const INPUT: DsnInput = {
  kind: 'failed',
  reportingMta: 'mx.test.example',
  queueId: 'q1q1q1q1q1q1q1q1q1',
  to: 'alice@example.org',
  arrivalDate: new Date('2026-03-02T10:00:00Z'),
  date: new Date('2026-03-02T10:05:00Z'),
  recipients: [
    {
      address: 'bob@remote.example',
      action: 'failed',
      status: '5.1.1',
      diagnostic: '550 5.1.1 no such user\r\nBcc: injected@evil.example',
      remoteMta: 'mx.remote.example',
      lastAttemptAt: new Date('2026-03-02T10:04:00Z'),
    },
    { address: 'jörg@remote.example', action: 'failed', status: '5.1.1' },
  ],
  original: Buffer.from('Subject: hello\r\nFrom: alice@example.org\r\n\r\nthe body\r\n'),
};

describe('DSN composition', () => {
  test('the same input gives the same bytes; fields per RFC 3464', async () => {
    const dsn = composeDsn(INPUT);
    assert.ok(dsn.equals(composeDsn(INPUT)), 'deterministic');
    const text = dsn.toString('utf8');
    assert.match(text, /^From: Mail Delivery System <MAILER-DAEMON@mx\.test\.example>\r\nTo: <alice@example\.org>\r\n/);
    assert.match(text, /\r\nDate: Mon, 02 Mar 2026 10:05:00 \+0000\r\n/);
    assert.match(text, /\r\nMessage-ID: <dsn\.failed\.q1q1q1q1q1q1q1q1q1@mx\.test\.example>\r\n/);
    assert.match(text, /\r\nArrival-Date: Mon, 02 Mar 2026 10:00:00 \+0000\r\n/);
    assert.match(
      text,
      /\r\nFinal-Recipient: rfc822; bob@remote\.example\r\nAction: failed\r\nStatus: 5\.1\.1\r\nRemote-MTA: dns; mx\.remote\.example\r\nDiagnostic-Code: smtp; 550 5\.1\.1 no such user Bcc: injected@evil\.example\r\nLast-Attempt-Date: Mon, 02 Mar 2026 10:04:00 \+0000\r\n/,
    );
    assert.doesNotMatch(text, /\r\nBcc:/, 'a reply cannot add a field');
    assert.match(text, /\r\nFinal-Recipient: utf-8; jörg@remote\.example\r\n/, 'RFC 6533 for a non-ASCII address');
    assert.match(text, /\r\nContent-Type: message\/global-delivery-status\r\n/);
    assert.doesNotMatch(
      composeDsn({ ...INPUT, recipients: INPUT.recipients.slice(0, 1) }).toString(),
      /global-delivery-status/,
    );
    assert.match(text, /\r\nSubject: hello\r\nFrom: alice@example\.org\r\n\r\n--dsn-[0-9a-f]{32}--\r\n$/);
    assert.doesNotMatch(text, /the body/);
    const parsed = await simpleParser(dsn);
    assert.equal(parsed.subject, 'Undelivered Mail Returned to Sender');
    assert.equal(parsed.to && 'text' in parsed.to ? parsed.to.text : '', 'alice@example.org');
  });

  test('the returned header section is cut at a line boundary', () => {
    const longHeaders = Buffer.from(`${'X-Filler: '.padEnd(100, 'x')}\r\n`.repeat(1000));
    const dsn = composeDsn({ ...INPUT, original: longHeaders }).toString('utf8');
    const returned = dsn.slice(
      dsn.lastIndexOf('Content-Transfer-Encoding: 8bit\r\n\r\n') + 35,
      dsn.lastIndexOf('\r\n--dsn-'),
    );
    assert.ok(Buffer.byteLength(returned) <= MAX_RETURNED_HEADER_BYTES);
    assert.match(returned, /^(X-Filler: x+\r\n)+$/);
  });
});

describe('retry schedule and signing domain', () => {
  test('exponential from the minimum, capped at the maximum, within ±10%', () => {
    assert.equal(
      retryDelayMs(1, 300_000, 3_600_000, () => 0.5),
      300_000,
    );
    assert.equal(
      retryDelayMs(2, 300_000, 3_600_000, () => 0.5),
      600_000,
    );
    assert.equal(
      retryDelayMs(4, 300_000, 3_600_000, () => 0.5),
      2_400_000,
    );
    assert.equal(
      retryDelayMs(5, 300_000, 3_600_000, () => 0.5),
      3_600_000,
    );
    assert.equal(
      retryDelayMs(500, 300_000, 3_600_000, () => 0.5),
      3_600_000,
    );
    assert.equal(
      retryDelayMs(1, 300_000, 3_600_000, () => 0),
      270_000,
    );
    assert.equal(
      retryDelayMs(1, 300_000, 3_600_000, () => 1),
      330_000,
    );
  });

  test("the envelope sender's domain; for the null sender, the From field's", () => {
    const body = Buffer.from(
      'Subject: x\r\nFrom: "Mail\r\n System" <MAILER-DAEMON@MX.Example.ORG>\r\n\r\nFrom: a@b.example\r\n',
    );
    assert.equal(signingDomainOf('Alice@Example.ORG', body), 'example.org');
    assert.equal(signingDomainOf('', body), 'mx.example.org');
    assert.equal(signingDomainOf('', Buffer.from('Subject: no from\r\n\r\nFrom: a@b.example\r\n')), undefined);
  });
});
