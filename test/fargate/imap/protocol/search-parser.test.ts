import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SearchKey } from '../../../../fargate/imap/protocol/command-types.ts';
import { parseFails, parseOk } from './wire.ts';

/** The single criterion of `SEARCH <text>`. */
function key(text: string | Buffer): SearchKey {
  const prefix = Buffer.from('a SEARCH ');
  const command = parseOk(Buffer.concat([prefix, typeof text === 'string' ? Buffer.from(text) : text]));
  assert.ok(command.name === 'SEARCH');
  assert.equal(command.criteria.key, 'AND');
  assert.ok(command.criteria.key === 'AND');
  assert.equal(command.criteria.operands.length, 1);
  return command.criteria.operands[0]!;
}

describe('SEARCH keys (RFC 3501 §6.4.4, RFC 9051 §6.4.4)', () => {
  test('flag keys without arguments, in any case', () => {
    for (const name of [
      'ALL',
      'ANSWERED',
      'DELETED',
      'DRAFT',
      'FLAGGED',
      'NEW',
      'OLD',
      'RECENT',
      'SEEN',
      'UNANSWERED',
      'UNDELETED',
      'UNDRAFT',
      'UNFLAGGED',
      'UNSEEN',
      'SAVEDATESUPPORTED',
    ]) {
      assert.deepEqual(key(name.toLowerCase()), { key: name });
    }
  });

  test('string keys take an astring', () => {
    for (const name of ['BCC', 'BODY', 'CC', 'FROM', 'SUBJECT', 'TEXT', 'TO']) {
      assert.deepEqual(key(`${name} "hello world"`), { key: name, value: 'hello world' });
      assert.deepEqual(key(`${name} atom`), { key: name, value: 'atom' });
      assert.deepEqual(key(`${name} {3}\r\nlit`), { key: name, value: 'lit' });
    }
    parseFails('a SEARCH FROM');
  });

  test('date keys take a date, quoted or not, with a real calendar day', () => {
    for (const name of [
      'BEFORE',
      'ON',
      'SINCE',
      'SENTBEFORE',
      'SENTON',
      'SENTSINCE',
      'SAVEDBEFORE',
      'SAVEDON',
      'SAVEDSINCE',
    ]) {
      assert.deepEqual(key(`${name} 1-Feb-1994`), { key: name, date: { year: 1994, month: 2, day: 1 } });
      assert.deepEqual(key(`${name} "29-feb-2024"`), { key: name, date: { year: 2024, month: 2, day: 29 } });
    }
    for (const bad of [
      '29-Feb-2023',
      '32-Jan-2020',
      '0-Jan-2020',
      '1-Foo-2020',
      '1-Jan-20',
      '1 Jan 2020',
      '"1-Jan-2020',
    ]) {
      parseFails(`a SEARCH SINCE ${bad}`);
    }
  });

  test('KEYWORD, UNKEYWORD, HEADER, LARGER, SMALLER, UID, OLDER, YOUNGER', () => {
    assert.deepEqual(key('KEYWORD $Junk'), { key: 'KEYWORD', flag: '$Junk' });
    assert.deepEqual(key('UNKEYWORD foo'), { key: 'UNKEYWORD', flag: 'foo' });
    assert.deepEqual(key('HEADER X-Spam "yes"'), { key: 'HEADER', field: 'X-Spam', value: 'yes' });
    assert.deepEqual(key('HEADER "List-Id" ""'), { key: 'HEADER', field: 'List-Id', value: '' });
    assert.deepEqual(key('LARGER 1000000'), { key: 'LARGER', size: 1000000 });
    assert.deepEqual(key('SMALLER 5000000000'), { key: 'SMALLER', size: 5000000000 });
    assert.deepEqual(key('UID 1:*'), { key: 'UID', set: { kind: 'ranges', ranges: [{ start: 1, end: '*' }] } });
    assert.deepEqual(key('UID $'), { key: 'UID', set: { kind: 'saved' } });
    assert.deepEqual(key('OLDER 3600'), { key: 'OLDER', seconds: 3600 });
    assert.deepEqual(key('YOUNGER 60'), { key: 'YOUNGER', seconds: 60 });
    parseFails('a SEARCH KEYWORD \\Seen');
    parseFails('a SEARCH LARGER x');
    parseFails('a SEARCH LARGER 9223372036854775808');
    parseFails('a SEARCH HEADER X-Spam');
  });

  test('a bare sequence set and $ are message-number keys', () => {
    assert.deepEqual(key('2:4,*'), {
      key: 'SEQUENCE',
      set: {
        kind: 'ranges',
        ranges: [
          { start: 2, end: 4 },
          { start: '*', end: '*' },
        ],
      },
    });
    assert.deepEqual(key('$'), { key: 'SEQUENCE', set: { kind: 'saved' } });
  });

  test('MODSEQ with and without an entry (RFC 7162 §3.1.5)', () => {
    assert.deepEqual(key('MODSEQ 620162338'), { key: 'MODSEQ', modSeq: 620162338 });
    assert.deepEqual(key('MODSEQ "/flags/\\\\draft" all 620162338'), {
      key: 'MODSEQ',
      modSeq: 620162338,
      entry: { name: '/flags/\\draft', type: 'ALL' },
    });
    parseFails('a SEARCH MODSEQ "/flags/x" bogus 5');
    parseFails('a SEARCH MODSEQ "/other/x" all 5');
  });

  test('NOT, OR and parenthesised lists nest', () => {
    assert.deepEqual(key('OR (FROM a TO b) NOT SEEN'), {
      key: 'OR',
      left: {
        key: 'AND',
        operands: [
          { key: 'FROM', value: 'a' },
          { key: 'TO', value: 'b' },
        ],
      },
      right: { key: 'NOT', operand: { key: 'SEEN' } },
    });
    assert.deepEqual(key('NOT NOT (ALL)'), {
      key: 'NOT',
      operand: { key: 'NOT', operand: { key: 'AND', operands: [{ key: 'ALL' }] } },
    });
    parseFails('a SEARCH OR SEEN');
    parseFails('a SEARCH ()');
    parseFails('a SEARCH (SEEN');
    parseFails('a SEARCH SEEN)');
    parseFails('a SEARCH BOGUS');
  });

  test('several top-level keys make one AND', () => {
    const command = parseOk('a UID SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"');
    assert.deepEqual(command, {
      tag: 'a',
      name: 'SEARCH',
      uid: true,
      criteria: {
        key: 'AND',
        operands: [
          { key: 'FLAGGED' },
          { key: 'SINCE', date: { year: 1994, month: 2, day: 1 } },
          { key: 'NOT', operand: { key: 'FROM', value: 'Smith' } },
        ],
      },
    });
    parseFails('a SEARCH');
    parseFails('a SEARCH SEEN  UNSEEN');
  });
});

describe('SEARCH charsets', () => {
  test('CHARSET names the decoding of search strings', () => {
    const latin1 = parseOk(
      Buffer.concat([
        Buffer.from('a SEARCH CHARSET ISO-8859-1 SUBJECT {4}\r\n'),
        Buffer.from([0x63, 0x61, 0x66, 0xe9]),
      ]),
    );
    assert.ok(latin1.name === 'SEARCH');
    assert.equal(latin1.charset, 'ISO-8859-1');
    assert.deepEqual(latin1.criteria, { key: 'AND', operands: [{ key: 'SUBJECT', value: 'café' }] });
    const utf8 = parseOk('a SEARCH CHARSET "utf-8" TEXT "café"');
    assert.ok(utf8.name === 'SEARCH');
    assert.equal(utf8.charset, 'UTF-8');
  });

  test('an unknown charset is a NO [BADCHARSET], not a BAD', () => {
    const error = parseFails('a SEARCH CHARSET X-MARTIAN TEXT x');
    assert.equal(error.kind, 'bad-charset');
    assert.equal(error.status, 'NO');
    assert.equal(error.code, 'BADCHARSET');
    assert.equal(error.tag, 'a');
  });
});

describe('ESEARCH return options (RFC 4731, RFC 5182)', () => {
  test('RETURN options, RETURN () as ALL, SAVE', () => {
    const command = parseOk('a UID SEARCH RETURN (MIN MAX COUNT SAVE) UNSEEN');
    assert.ok(command.name === 'SEARCH');
    assert.deepEqual(command.returnOptions, { min: true, max: true, all: false, count: true, save: true });
    const empty = parseOk('a SEARCH RETURN () ALL');
    assert.ok(empty.name === 'SEARCH');
    assert.deepEqual(empty.returnOptions, { min: false, max: false, all: true, count: false, save: false });
    const withCharset = parseOk('a SEARCH RETURN (ALL) CHARSET UTF-8 ALL');
    assert.ok(withCharset.name === 'SEARCH');
    assert.equal(withCharset.charset, 'UTF-8');
    assert.equal(parseOk('a SEARCH ALL').name === 'SEARCH' && 'returnOptions' in parseOk('a SEARCH ALL'), false);
    parseFails('a SEARCH RETURN (PARTIAL 1:10) ALL');
    parseFails('a SEARCH RETURN ALL');
  });
});
