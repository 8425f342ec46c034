import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { receivedHeader, returnPathHeader, rfc5322Date } from '../../../shared/delivery/trace-headers.ts';
import { outboundQueueId, transactionKey } from '../../../shared/delivery/transaction-key.ts';

const date = new Date(Date.UTC(2026, 10, 3, 9, 5, 7));

describe('trace headers', () => {
  it('writes Received: as RFC 5321 §4.4 shapes it, folded with CRLF and a tab', () => {
    const header = receivedHeader({
      helo: 'client.example.org',
      clientAddress: '192.0.2.7',
      serverName: 'mx.example.com',
      protocol: 'ESMTPS',
      id: 'abc123',
      recipient: 'user@example.com',
      tls: 'TLSv1.3 TLS_AES_256_GCM_SHA384',
      date,
    });
    assert.equal(
      header,
      'Received: from client.example.org ([192.0.2.7])\r\n' +
        '\tby mx.example.com with ESMTPS id abc123\r\n' +
        '\t(TLSv1.3_TLS_AES_256_GCM_SHA384)\r\n' +
        '\tfor <user@example.com>; Tue, 03 Nov 2026 09:05:07 +0000\r\n',
    );
  });

  it('cannot be made to end early or forge fields by a hostile HELO or address', () => {
    const header = receivedHeader({
      helo: 'evil\r\nX-Injected: yes (comment) <x>',
      clientAddress: '192.0.2.7',
      serverName: 'mx.example.com',
      protocol: 'ESMTP',
      id: 'i',
      recipient: 'a>\r\nBcc: <victim@example.org',
      date,
    });
    const lines = header.split('\r\n');
    assert.equal(lines.at(-1), '');
    for (const line of lines.slice(1, -1)) assert.ok(line.startsWith('\t'), JSON.stringify(line));
    assert.doesNotMatch(header, /\r\nX-Injected|\r\nBcc/);
    assert.equal(returnPathHeader('a@b>\r\nX: y'), 'Return-Path: <a@b___X: y>\r\n');
  });

  it('writes the null sender as Return-Path: <>', () => {
    assert.equal(returnPathHeader(''), 'Return-Path: <>\r\n');
  });

  it('formats RFC 5322 dates in UTC', () => {
    assert.equal(rfc5322Date(new Date(Date.UTC(2030, 0, 31, 23, 59, 59))), 'Thu, 31 Jan 2030 23:59:59 +0000');
  });
});

describe('transaction key', () => {
  it('is the same for the same sender and content, and differs otherwise', () => {
    const content = 'a'.repeat(64);
    assert.equal(transactionKey('a@example.org', content), transactionKey('a@example.org', content));
    assert.notEqual(transactionKey('a@example.org', content), transactionKey('b@example.org', content));
    assert.notEqual(transactionKey('a@example.org', content), transactionKey('a@example.org', 'b'.repeat(64)));
    assert.notEqual(transactionKey('', `x${content}`), transactionKey('x', content));
    assert.match(transactionKey('', content), /^[A-Za-z0-9_-]{43}$/);
  });

  it('gives the outbound queue one id per transaction whatever the recipient order', () => {
    const key = transactionKey('a@example.org', 'c'.repeat(64));
    assert.equal(
      outboundQueueId(key, ['x@r.example', 'y@r.example']),
      outboundQueueId(key, ['y@r.example', 'x@r.example']),
    );
    assert.notEqual(outboundQueueId(key, ['x@r.example']), outboundQueueId(key, ['x@r.example', 'y@r.example']));
  });
});
