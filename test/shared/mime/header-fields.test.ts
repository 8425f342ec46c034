import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeEncodedWords } from '../../../shared/mime/encoded-words.ts';
import { allFields, decodeHeaderBytes, lastField, parseHeaderLines } from '../../../shared/mime/header-section.ts';

describe('header sections (RFC 5322 §2.2)', () => {
  const lines = (...text: string[]) => text.map((line) => Buffer.from(line, 'latin1'));

  test('unfolding removes line breaks and keeps the blanks after them', () => {
    const fields = parseHeaderLines(lines('Subject: a', ' b', '\tc', 'Message-ID:', ' <id@x>'));
    assert.deepEqual(fields, [
      { name: 'Subject', key: 'subject', value: 'a b\tc' },
      { name: 'Message-ID', key: 'message-id', value: ' <id@x>' },
    ]);
  });

  test('names are trimmed and matched case-insensitively; junk lines are skipped', () => {
    const fields = parseHeaderLines(lines(' orphan continuation', 'no colon here', 'X-A : 1', 'x-a:2', ': empty name'));
    assert.deepEqual(
      fields.map((field) => [field.name, field.value]),
      [
        ['X-A', '1'],
        ['x-a', '2'],
      ],
    );
    assert.equal(lastField(fields, 'x-a'), '2');
    assert.deepEqual(allFields(fields, 'x-a'), ['1', '2']);
    assert.equal(lastField(fields, 'x-b'), undefined);
  });

  test('8-bit bytes: UTF-8 when valid, Latin-1 otherwise', () => {
    assert.equal(decodeHeaderBytes(Buffer.from('Café', 'utf8')), 'Café');
    assert.equal(decodeHeaderBytes(Buffer.from([0x63, 0x61, 0x66, 0xe9])), 'café');
    assert.equal(decodeHeaderBytes(Buffer.from('plain')), 'plain');
  });
});

describe('encoded words (RFC 2047)', () => {
  test('B and Q, in any charset the platform knows', () => {
    assert.equal(decodeEncodedWords('=?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?='), 'Jürgen Müller');
    assert.equal(decodeEncodedWords('=?ISO-8859-1?Q?Ana_Mar=EDa?='), 'Ana María');
    assert.equal(decodeEncodedWords('=?iso-2022-jp?B?GyRCJUYlOSVIGyhC?='), 'テスト');
    assert.equal(decodeEncodedWords('=?utf-8*en?q?hi?='), 'hi');
  });

  test('blanks between encoded words vanish; text between them stays', () => {
    assert.equal(
      decodeEncodedWords('=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus =?UTF-8?B?S8O2bG4=?= und mehr'),
      'Grüße aus Köln und mehr',
    );
    assert.equal(decodeEncodedWords('=?utf-8?q?a?=   \r\n =?utf-8?q?b?='), 'ab');
  });

  test('a multi-byte character split across two encoded words is joined', () => {
    // "é" is C3 A9; each half alone is invalid UTF-8.
    assert.equal(decodeEncodedWords('=?UTF-8?Q?caf=C3?= =?UTF-8?Q?=A9?='), 'café');
  });

  test('unknown charsets and malformed words stay as they are', () => {
    assert.equal(decodeEncodedWords('=?x-martian?Q?zork?='), '=?x-martian?Q?zork?=');
    assert.equal(decodeEncodedWords('=?utf-8?X?abc?='), '=?utf-8?X?abc?=');
    assert.equal(decodeEncodedWords('no words'), 'no words');
  });
});
