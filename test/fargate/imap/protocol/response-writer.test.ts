import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  aclResponse,
  authenticateChallenge,
  bodyStructureValue,
  capabilityResponse,
  continuationRequest,
  enabledResponse,
  envelopeValue,
  esearchResponse,
  fetchResponse,
  flagsResponse,
  formatDateTime,
  formatSection,
  formatSequenceSet,
  idResponse,
  listResponse,
  listRightsResponse,
  literal,
  messageCountResponse,
  myRightsResponse,
  namespaceResponse,
  quotaResponse,
  quotaRootResponse,
  searchResponse,
  serializeValue,
  sortResponse,
  statusResponse,
  type ThreadNode,
  taggedResponse,
  threadResponse,
  token,
  untagged,
  untaggedStatus,
  vanishedResponse,
} from '../../../../fargate/imap/protocol/response-writer.ts';
import type { BodyPart, Envelope } from '../../../../shared/mime/structure-types.ts';

const text = (bytes: Buffer) => bytes.toString('latin1');

describe('value serialisation', () => {
  test('strings are quoted when 7-bit and short, with escapes', () => {
    assert.equal(text(serializeValue('hello')), '"hello"');
    assert.equal(text(serializeValue('say "hi" \\ bye')), '"say \\"hi\\" \\\\ bye"');
    assert.equal(text(serializeValue('')), '""');
  });

  test('8-bit, CR, LF, NUL and long strings become literals', () => {
    assert.equal(text(serializeValue('café')), '{5}\r\ncaf\xc3\xa9');
    assert.equal(text(serializeValue('a\r\nb')), '{4}\r\na\r\nb');
    assert.equal(text(serializeValue(Buffer.from('a\0b'))), '{3}\r\na\0b');
    const long = 'x'.repeat(1025);
    assert.equal(text(serializeValue(long)), `{1025}\r\n${long}`);
    assert.equal(text(serializeValue('x'.repeat(1024))), `"${'x'.repeat(1024)}"`);
  });

  test('NIL, numbers, tokens, lists, forced literals and literal8', () => {
    assert.equal(text(serializeValue(null)), 'NIL');
    assert.equal(text(serializeValue([1, token('\\Seen'), null, ['a', []]])), '(1 \\Seen NIL ("a" ()))');
    assert.equal(text(serializeValue(literal(Buffer.from('ab')))), '{2}\r\nab');
    assert.equal(text(serializeValue(literal(Buffer.from('a\0'), true))), '~{2}\r\na\0');
  });
});

describe('status and continuation responses', () => {
  test('tagged and untagged status with response codes', () => {
    assert.equal(text(taggedResponse('a1', 'OK', 'LOGIN completed')), 'a1 OK LOGIN completed\r\n');
    assert.equal(
      text(taggedResponse('a2', 'OK', 'APPEND completed', { name: 'APPENDUID', args: [38505, 3955] })),
      'a2 OK [APPENDUID 38505 3955] APPEND completed\r\n',
    );
    assert.equal(
      text(untaggedStatus('OK', 'Limited', { name: 'PERMANENTFLAGS', args: [[token('\\Deleted'), token('\\*')]] })),
      '* OK [PERMANENTFLAGS (\\Deleted \\*)] Limited\r\n',
    );
    assert.equal(text(untaggedStatus('BYE', 'bye\r\n* injected')), '* BYE bye * injected\r\n');
    assert.equal(text(taggedResponse('a3', 'BAD', '', { name: 'TOOBIG' })), 'a3 BAD [TOOBIG] done\r\n');
  });

  test('continuations and SASL challenges', () => {
    assert.equal(text(continuationRequest()), '+ Ready for literal data\r\n');
    assert.equal(text(authenticateChallenge(Buffer.from('abc'))), '+ YWJj\r\n');
    assert.equal(text(authenticateChallenge(Buffer.alloc(0))), '+ \r\n');
  });
});

describe('data responses', () => {
  test('CAPABILITY, FLAGS, EXISTS, EXPUNGE, ENABLED', () => {
    assert.equal(text(capabilityResponse(['IMAP4rev2', 'IDLE'])), '* CAPABILITY IMAP4rev2 IDLE\r\n');
    assert.equal(text(flagsResponse(['\\Seen', '$Junk'])), '* FLAGS (\\Seen $Junk)\r\n');
    assert.equal(text(messageCountResponse(23, 'EXISTS')), '* 23 EXISTS\r\n');
    assert.equal(text(messageCountResponse(3, 'EXPUNGE')), '* 3 EXPUNGE\r\n');
    assert.equal(text(enabledResponse(['CONDSTORE'])), '* ENABLED CONDSTORE\r\n');
  });

  test('LIST with attributes, NIL delimiter, CHILDINFO, OLDNAME; LSUB', () => {
    assert.equal(
      text(listResponse({ attributes: ['\\HasNoChildren', '\\Sent'], delimiter: '/', name: 'Sent Items' })),
      '* LIST (\\HasNoChildren \\Sent) "/" "Sent Items"\r\n',
    );
    assert.equal(
      text(listResponse({ attributes: [], delimiter: null, name: 'Foo', childInfo: ['SUBSCRIBED'] })),
      '* LIST () NIL "Foo" (CHILDINFO ("SUBSCRIBED"))\r\n',
    );
    assert.equal(
      text(listResponse({ attributes: [], delimiter: '.', name: 'New', oldName: 'Old' })),
      '* LIST () "." "New" (OLDNAME ("Old"))\r\n',
    );
    assert.equal(text(listResponse({ attributes: [], delimiter: '/', name: 'x' }, 'LSUB')), '* LSUB () "/" "x"\r\n');
  });

  test('STATUS, SEARCH, SORT, ESEARCH', () => {
    assert.equal(
      text(
        statusResponse('blurdybloop', [
          ['MESSAGES', 231],
          ['UIDNEXT', 44292],
        ]),
      ),
      '* STATUS "blurdybloop" (MESSAGES 231 UIDNEXT 44292)\r\n',
    );
    assert.equal(text(searchResponse([2, 84, 882])), '* SEARCH 2 84 882\r\n');
    assert.equal(text(searchResponse([])), '* SEARCH\r\n');
    assert.equal(text(searchResponse([2, 5], 917162500)), '* SEARCH 2 5 (MODSEQ 917162500)\r\n');
    assert.equal(text(sortResponse([5, 3, 4])), '* SORT 5 3 4\r\n');
    assert.equal(
      text(esearchResponse({ tag: 'A282', uid: true, min: 2, all: [2, 3, 4, 10, 12, 11], count: 6 })),
      '* ESEARCH (TAG "A282") UID MIN 2 ALL 2:4,10:12 COUNT 6\r\n',
    );
    assert.equal(text(esearchResponse({ tag: 'a', uid: false, all: [] })), '* ESEARCH (TAG "a")\r\n');
    assert.equal(text(esearchResponse({ uid: false, count: 0, modSeq: 7 })), '* ESEARCH COUNT 0 MODSEQ 7\r\n');
  });

  test('VANISHED and sequence set compaction', () => {
    assert.equal(formatSequenceSet([5, 1, 2, 3, 3, 9, 10]), '1:3,5,9:10');
    assert.equal(formatSequenceSet([]), '');
    assert.equal(text(vanishedResponse([41, 42, 43, 50], true)), '* VANISHED (EARLIER) 41:43,50\r\n');
    assert.equal(text(vanishedResponse([7], false)), '* VANISHED 7\r\n');
  });

  test('THREAD trees (RFC 5256 §4 examples)', () => {
    const leaf = (id: number | null, ...children: ThreadNode[]): ThreadNode => ({ id, children });
    assert.equal(
      text(threadResponse([leaf(2), leaf(3, leaf(6, leaf(4, leaf(23)), leaf(44, leaf(7, leaf(96)))))])),
      '* THREAD (2)(3 6 (4 23)(44 7 96))\r\n',
    );
    assert.equal(text(threadResponse([leaf(null, leaf(3), leaf(5))])), '* THREAD ((3)(5))\r\n');
    assert.equal(text(threadResponse([])), '* THREAD\r\n');
  });

  test('THREAD: a lone child continues its parent, also under a placeholder', () => {
    const leaf = (id: number | null, ...children: ThreadNode[]): ThreadNode => ({ id, children });
    assert.equal(text(threadResponse([leaf(null, leaf(3, leaf(4)))])), '* THREAD (3 4)\r\n');
    assert.equal(text(threadResponse([leaf(1, leaf(null, leaf(2), leaf(3)))])), '* THREAD (1 (2)(3))\r\n');
  });

  test('THREAD: a 100,000-deep reply chain is written without recursion', () => {
    const depth = 100_000;
    let chain: ThreadNode = { id: depth, children: [] };
    for (let id = depth - 1; id >= 1; id--) chain = { id, children: [chain] };
    const ids = Array.from({ length: depth }, (_, index) => index + 1).join(' ');
    assert.equal(text(threadResponse([chain])), `* THREAD (${ids})\r\n`);
  });

  test('THREAD: a 100,000-wide tree, and deep branches under a wide one', () => {
    const width = 100_000;
    const wide: ThreadNode = {
      id: 0,
      children: Array.from({ length: width }, (_, index) => ({ id: index + 1, children: [] })),
    };
    const lists = Array.from({ length: width }, (_, index) => `(${index + 1})`).join('');
    assert.equal(text(threadResponse([wide])), `* THREAD (0 ${lists})\r\n`);

    const depth = 30_000;
    const branch = (first: number): ThreadNode => {
      let node: ThreadNode = { id: first + depth - 1, children: [] };
      for (let id = first + depth - 2; id >= first; id--) {
        node = { id, children: id === first + depth / 2 ? [node, { id: -id, children: [] }] : [node] };
      }
      return node;
    };
    const written = text(threadResponse([{ id: null, children: [branch(1), branch(100_001)] }]));
    const expected = (first: number) => {
      const ids = (from: number, to: number) =>
        Array.from({ length: to - from + 1 }, (_, index) => from + index).join(' ');
      const split = first + depth / 2;
      return `(${ids(first, split)} (${ids(split + 1, first + depth - 1)})(${-split}))`;
    };
    assert.equal(written, `* THREAD (${expected(1)}${expected(100_001)})\r\n`);
  });

  test('NAMESPACE, ID, ACL, LISTRIGHTS, MYRIGHTS, QUOTA, QUOTAROOT', () => {
    assert.equal(
      text(namespaceResponse([{ prefix: '', delimiter: '/' }], [], [{ prefix: 'Shared/', delimiter: '/' }])),
      '* NAMESPACE (("" "/")) NIL (("Shared/" "/"))\r\n',
    );
    assert.equal(text(idResponse([{ field: 'name', value: 'Marmot' }])), '* ID ("name" "Marmot")\r\n');
    assert.equal(text(idResponse(null)), '* ID NIL\r\n');
    assert.equal(
      text(aclResponse('INBOX', [{ identifier: 'fred', rights: 'lrswipkxtecda' }])),
      '* ACL "INBOX" "fred" "lrswipkxtecda"\r\n',
    );
    assert.equal(
      text(listRightsResponse('x', 'smith', 'la', ['r', 's', 'w'])),
      '* LISTRIGHTS "x" "smith" "la" "r" "s" "w"\r\n',
    );
    assert.equal(text(myRightsResponse('x', 'rwiptsldaex')), '* MYRIGHTS "x" "rwiptsldaex"\r\n');
    assert.equal(
      text(quotaResponse('', [{ resource: 'STORAGE', usage: 10, limit: 512 }])),
      '* QUOTA "" (STORAGE 10 512)\r\n',
    );
    assert.equal(text(quotaRootResponse('INBOX', [''])), '* QUOTAROOT "INBOX" ""\r\n');
  });

  test('a generic untagged response', () => {
    assert.equal(text(untagged(token('OK'), token('[CLOSED]'))), '* OK [CLOSED]\r\n');
  });
});

describe('dates and sections', () => {
  test('INTERNALDATE in the message zone', () => {
    const time = Date.UTC(1996, 6, 17, 9, 44, 25);
    assert.equal(formatDateTime(time, -420), '17-Jul-1996 02:44:25 -0700');
    assert.equal(formatDateTime(Date.UTC(2024, 0, 5, 0, 0, 0), 0), ' 5-Jan-2024 00:00:00 +0000');
    assert.equal(formatDateTime(Date.UTC(2024, 0, 5, 0, 0, 0), 330), ' 5-Jan-2024 05:30:00 +0530');
  });

  test('section echo', () => {
    assert.equal(formatSection({ part: [] }), '');
    assert.equal(formatSection({ part: [1, 2], text: 'MIME' }), '1.2.MIME');
    assert.equal(
      formatSection({ part: [], text: 'HEADER.FIELDS', fields: ['From', 'X Odd'] }),
      'HEADER.FIELDS (From "X Odd")',
    );
  });
});

const envelope: Envelope = {
  date: 'Wed, 17 Jul 1996 02:23:25 -0700 (PDT)',
  subject: 'IMAP4rev1 WG mtg summary and minutes',
  from: [{ name: 'Terry Gray', adl: null, mailbox: 'gray', host: 'cac.washington.edu' }],
  sender: null,
  replyTo: null,
  to: [{ name: null, adl: null, mailbox: 'imap', host: 'cac.washington.edu' }],
  cc: [
    { name: null, adl: null, mailbox: 'minutes', host: 'CNRI.Reston.VA.US' },
    { name: 'John Klensin', adl: null, mailbox: 'KLENSIN', host: 'MIT.EDU' },
  ],
  bcc: null,
  inReplyTo: null,
  messageId: '<B27397-0100000@cac.washington.edu>',
};

describe('ENVELOPE and BODYSTRUCTURE', () => {
  test('the RFC 9051 §7.5.2 example envelope, with Sender and Reply-To defaulted to From', () => {
    assert.equal(
      text(serializeValue(envelopeValue(envelope))),
      '("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" ' +
        '(("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ' +
        '(("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) ' +
        '((NIL NIL "minutes" "CNRI.Reston.VA.US") ("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL ' +
        '"<B27397-0100000@cac.washington.edu>")',
    );
  });

  const part = (overrides: Partial<BodyPart>): BodyPart => ({
    type: 'text',
    subtype: 'plain',
    params: [['charset', 'us-ascii']],
    id: null,
    description: null,
    encoding: '7bit',
    size: 10,
    lines: 1,
    md5: null,
    disposition: null,
    language: null,
    location: null,
    headerOffset: 0,
    bodyOffset: 0,
    bodyEnd: 10,
    ...overrides,
  });

  test('a single text part, BODY and BODYSTRUCTURE', () => {
    const body = part({ size: 3028, lines: 92 });
    assert.equal(
      text(serializeValue(bodyStructureValue(body, false))),
      '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3028 92)',
    );
    assert.equal(
      text(serializeValue(bodyStructureValue(body, true))),
      '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3028 92 NIL NIL NIL NIL)',
    );
  });

  test('multipart children back to back; extension data; non-text parts have no line count', () => {
    const body = part({
      type: 'multipart',
      subtype: 'mixed',
      params: [['boundary', 'xyz']],
      parts: [
        part({ language: ['en'], location: 'http://x/' }),
        part({
          type: 'application',
          subtype: 'pdf',
          params: [['name', 'a.pdf']],
          encoding: 'base64',
          size: 4,
          disposition: { type: 'attachment', params: [['filename', 'a.pdf']] },
          language: ['en', 'de'],
        }),
      ],
    });
    assert.equal(
      text(serializeValue(bodyStructureValue(body, true))),
      '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 1 NIL NIL ("en") "http://x/")' +
        '("application" "pdf" ("name" "a.pdf") NIL NIL "base64" 4 NIL ("attachment" ("filename" "a.pdf")) ("en" "de") NIL)' +
        ' "mixed" ("boundary" "xyz") NIL NIL NIL)',
    );
    assert.equal(
      text(serializeValue(bodyStructureValue(body, false))),
      '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 1)("application" "pdf" ("name" "a.pdf") NIL NIL "base64" 4) "mixed")',
    );
  });

  test('message/rfc822 carries the inner envelope, body and line count', () => {
    const body = part({
      type: 'message',
      subtype: 'rfc822',
      params: null,
      size: 100,
      lines: 5,
      message: { envelope, body: part({}) },
    });
    const serialised = text(serializeValue(bodyStructureValue(body, false)));
    assert.match(serialised, /^\("message" "rfc822" NIL NIL NIL "7bit" 100 \("Wed, 17 Jul/);
    assert.match(serialised, /\("text" "plain" \("charset" "us-ascii"\) NIL NIL "7bit" 10 1\) 5\)$/);
  });
});

describe('FETCH responses', () => {
  test('every attribute kind', () => {
    const response = fetchResponse(12, [
      { kind: 'UID', uid: 4827313 },
      { kind: 'FLAGS', flags: ['\\Seen'] },
      { kind: 'INTERNALDATE', time: Date.UTC(1996, 6, 17, 9, 44, 25), zoneMinutes: -420 },
      { kind: 'RFC822.SIZE', size: 4286 },
      { kind: 'SAVEDATE', time: Date.UTC(2024, 1, 29, 23, 5, 0) },
      { kind: 'SAVEDATE', time: null },
      { kind: 'MODSEQ', modSeq: 624140003 },
      { kind: 'BODY[]', section: { part: [1], text: 'MIME' }, data: Buffer.from('A: b\r\n\r\n') },
      { kind: 'BODY[]', section: { part: [] }, origin: 0, data: Buffer.from('ab') },
      { kind: 'BODY[]', section: { part: [9] }, data: null },
      { kind: 'BINARY[]', part: [2], data: Buffer.from('a\0') },
      { kind: 'BINARY[]', part: [3], data: Buffer.from('ok') },
      { kind: 'BINARY.SIZE', part: [2], size: 2 },
      { kind: 'RFC822.HEADER', data: Buffer.from('x') },
    ]);
    assert.equal(
      text(response),
      '* 12 FETCH (UID 4827313 FLAGS (\\Seen) INTERNALDATE "17-Jul-1996 02:44:25 -0700" RFC822.SIZE 4286 ' +
        'SAVEDATE "29-Feb-2024 23:05:00 +0000" SAVEDATE NIL MODSEQ (624140003) BODY[1.MIME] {8}\r\nA: b\r\n\r\n BODY[]<0> {2}\r\nab BODY[9] NIL ' +
        'BINARY[2] ~{2}\r\na\0 BINARY[3] {2}\r\nok BINARY.SIZE[2] 2 RFC822.HEADER {1}\r\nx)\r\n',
    );
  });
});
