import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  parseContentDisposition,
  parseContentLanguage,
  parseContentType,
} from '../../../shared/mime/content-fields.ts';

describe('Content-Type (RFC 2045 §5.1)', () => {
  test('type, subtype and parameters as written, with comments and blanks anywhere', () => {
    assert.deepEqual(parseContentType('TEXT/HTML; CHARSET="UTF-8"'), {
      type: 'TEXT',
      subtype: 'HTML',
      params: [['CHARSET', 'UTF-8']],
    });
    assert.deepEqual(parseContentType('text / plain ; charset = "a\\"b" (comment) ; format=flowed'), {
      type: 'text',
      subtype: 'plain',
      params: [
        ['charset', 'a"b'],
        ['format', 'flowed'],
      ],
    });
    assert.deepEqual(parseContentType('multipart/mixed;\r\n boundary="p" ; charset=ignored (a comment)').params, [
      ['boundary', 'p'],
      ['charset', 'ignored'],
    ]);
  });

  test('broken values keep what can be read (as Dovecot)', () => {
    assert.deepEqual(parseContentType('garbage'), { type: 'garbage', subtype: '', params: [] });
    assert.deepEqual(parseContentType('text'), { type: 'text', subtype: '', params: [] });
    assert.deepEqual(parseContentType(';charset=x'), { type: '', subtype: '', params: [] });
    assert.deepEqual(parseContentType('text/plain; charset="unterminated').params, []);
    assert.deepEqual(parseContentType('text/plain; a=b c=d; e="f" g; h=i;').params, [
      ['a', 'b'],
      ['e', 'f'],
      ['h', 'i'],
    ]);
    assert.deepEqual(parseContentType('text/plain; charset=utf-8; charset=latin1').params, [
      ['charset', 'utf-8'],
      ['charset', 'latin1'],
    ]);
  });

  test('an unquoted boundary keeps its "=" (deliberately more lenient than Dovecot)', () => {
    assert.deepEqual(parseContentType('multipart/mixed; boundary=----=_Part_1_2.3').params, [
      ['boundary', '----=_Part_1_2.3'],
    ]);
  });

  test('RFC 2231 continuations are joined in order; any extended section makes name*', () => {
    assert.deepEqual(parseContentType('text/plain; name*1="b"; name*0="a"; x=y').params, [
      ['name', 'ab'],
      ['x', 'y'],
    ]);
    assert.deepEqual(
      parseContentDisposition(`attachment;\r\n filename*0*=utf-8''na%C3%AFve;\r\n filename*1=" file.txt"`).params,
      [['filename*', "utf-8''na%C3%AFve file.txt"]],
    );
    assert.deepEqual(parseContentType(`application/x; name*=utf-8''a%20b`).params, [['name*', "utf-8''a%20b"]]);
  });
});

describe('Content-Disposition and Content-Language', () => {
  test('disposition type and parameters', () => {
    assert.deepEqual(parseContentDisposition('attachment; filename="report.pdf"; size=48'), {
      type: 'attachment',
      params: [
        ['filename', 'report.pdf'],
        ['size', '48'],
      ],
    });
    assert.deepEqual(parseContentDisposition('; filename=x'), { type: '', params: [['filename', 'x']] });
  });

  test('language tags', () => {
    assert.deepEqual(parseContentLanguage('en, de'), ['en', 'de']);
    assert.deepEqual(parseContentLanguage('en-US (English) ,fr'), ['en-US', 'fr']);
    assert.deepEqual(parseContentLanguage(''), []);
    assert.deepEqual(parseContentLanguage(',,;'), []);
  });
});
