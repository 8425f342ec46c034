import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseAddressList } from '../../../shared/mime/address-list.ts';
import { buildEnvelope } from '../../../shared/mime/envelope.ts';
import { parseHeaderLines } from '../../../shared/mime/header-section.ts';

const mailbox = (name: string | null, mailbox: string | null, host: string | null, adl: string | null = null) => ({
  kind: 'mailbox',
  name,
  adl,
  mailbox,
  host,
});

describe('address lists (RFC 5322 §3.4, as Dovecot reads them)', () => {
  test('addr-spec, name-addr, quoted names and local parts', () => {
    assert.deepEqual(parseAddressList('a@b.c'), [mailbox(null, 'a', 'b.c')]);
    assert.deepEqual(parseAddressList('Alice Example <alice@example.org>'), [
      mailbox('Alice Example', 'alice', 'example.org'),
    ]);
    assert.deepEqual(parseAddressList('"Carol, the sender" <carol@example.com>'), [
      mailbox('Carol, the sender', 'carol', 'example.com'),
    ]);
    assert.deepEqual(parseAddressList('"john doe"@example.com'), [mailbox(null, 'john doe', 'example.com')]);
    assert.deepEqual(parseAddressList('"a\\\\b" <ab@x>'), [mailbox('a\\b', 'ab', 'x')]);
  });

  test('phrases: words joined by one space, comments dropped, dots kept', () => {
    assert.deepEqual(parseAddressList('John   Smith <js@x>'), [mailbox('John Smith', 'js', 'x')]);
    assert.deepEqual(parseAddressList('Mary (c1) Ann <ma@x>'), [mailbox('Mary Ann', 'ma', 'x')]);
    assert.deepEqual(parseAddressList('A.B. Smith <abs@x>'), [mailbox('A.B. Smith', 'abs', 'x')]);
    assert.deepEqual(parseAddressList('=?utf-8?q?a?=   =?utf-8?q?b?= <e@x>'), [
      mailbox('=?utf-8?q?a?= =?utf-8?q?b?=', 'e', 'x'),
    ]);
  });

  test('a trailing comment names an address without a display name; the last one wins', () => {
    assert.deepEqual(parseAddressList('john.q.public@example.com (John Q. Public)'), [
      mailbox('John Q. Public', 'john.q.public', 'example.com'),
    ]);
    assert.deepEqual(parseAddressList('x@y (c1) (c2)'), [mailbox('c2', 'x', 'y')]);
    assert.deepEqual(parseAddressList('Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>'), [
      mailbox('Pete', 'pete', 'silly.test'),
    ]);
  });

  test('groups, source routes and domain literals', () => {
    assert.deepEqual(parseAddressList('Team: one@example.com, Two <two@example.com>;, <bare@example.com>'), [
      { kind: 'group-start', name: 'Team' },
      mailbox(null, 'one', 'example.com'),
      mailbox('Two', 'two', 'example.com'),
      { kind: 'group-end' },
      mailbox(null, 'bare', 'example.com'),
    ]);
    assert.deepEqual(parseAddressList('undisclosed-recipients:;'), [
      { kind: 'group-start', name: 'undisclosed-recipients' },
      { kind: 'group-end' },
    ]);
    assert.deepEqual(parseAddressList('<@route1,@route2:user@example.com>, user2@[192.168.0.1]'), [
      mailbox(null, 'user', 'example.com', '@route1,@route2'),
      mailbox(null, 'user2', '[192.168.0.1]'),
    ]);
  });

  test('incomplete addresses: a lone word is a local part, a lone quoted string is a name', () => {
    assert.deepEqual(parseAddressList('localpart-only'), [mailbox(null, 'localpart-only', null)]);
    assert.deepEqual(parseAddressList('"Only Name"'), [mailbox('Only Name', null, null)]);
    assert.deepEqual(parseAddressList('<>'), [mailbox(null, null, null)]);
    assert.deepEqual(parseAddressList(''), []);
    assert.deepEqual(parseAddressList('  ,  , '), []);
  });

  test('junk is skipped to the next comma; an unterminated quote ends the list', () => {
    assert.deepEqual(parseAddressList('<a@b> trailing junk, ok@x'), [
      mailbox(null, 'a', 'b'),
      mailbox(null, 'ok', 'x'),
    ]);
    assert.deepEqual(parseAddressList('weird@ex ample.com, "unterminated <u@x>'), [mailbox(null, 'weird', 'ex')]);
    assert.deepEqual(parseAddressList('Ann <ann@x'), [mailbox('Ann', 'ann', 'x')]);
    assert.deepEqual(parseAddressList('g1: a@b; g2:; , after@x'), [
      { kind: 'group-start', name: 'g1' },
      mailbox(null, 'a', 'b'),
      { kind: 'group-end' },
      { kind: 'group-start', name: 'g2' },
      { kind: 'group-end' },
      mailbox(null, 'after', 'x'),
    ]);
  });
});

describe('ENVELOPE from header fields (RFC 9051 §7.5.2)', () => {
  const fields = (text: string) => parseHeaderLines(text.split('\n').map((line) => Buffer.from(line)));

  test('last string field wins, address fields accumulate, missing parts are named', () => {
    const envelope = buildEnvelope(
      fields('From: first@example.com\nFrom: second@example.com\nSubject: one\nSubject: two\nCc: "Only Name"\nTo:'),
    );
    assert.equal(envelope.subject, 'two');
    assert.deepEqual(envelope.from, [
      { name: null, adl: null, mailbox: 'first', host: 'example.com' },
      { name: null, adl: null, mailbox: 'second', host: 'example.com' },
    ]);
    assert.deepEqual(envelope.cc, [
      { name: 'Only Name', adl: null, mailbox: 'MISSING_MAILBOX', host: 'MISSING_DOMAIN' },
    ]);
    assert.equal(envelope.to, null);
    assert.equal(envelope.sender, null);
    assert.equal(envelope.date, null);
  });

  test('groups become (NIL NIL name NIL) ... (NIL NIL NIL NIL)', () => {
    const envelope = buildEnvelope(fields('Reply-To: Group Only:;'));
    assert.deepEqual(envelope.replyTo, [
      { name: null, adl: null, mailbox: 'Group Only', host: null },
      { name: null, adl: null, mailbox: null, host: null },
    ]);
  });
});
