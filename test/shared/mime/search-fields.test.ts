import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseHeaderLines } from '../../../shared/mime/header-section.ts';
import { MAX_REFERENCES } from '../../../shared/mime/limits.ts';
import { baseSubject, computeSearchFields, parseMessageDate } from '../../../shared/mime/search-fields.ts';

describe('base subject (RFC 5256 §2.1)', () => {
  test('reply and forward markers, list blobs, trailers and wrappers go', () => {
    const cases: Array<[string, string]> = [
      ['Re: hello', 'hello'],
      ['RE: Re: re:  hello   world ', 'hello world'],
      ['Fwd: hello', 'hello'],
      ['fw: hello', 'hello'],
      ['[list] Re: hello', 'hello'],
      ['Re[2]: hello', 'hello'],
      ['[list] [other] hello', 'hello'],
      ['hello (fwd)', 'hello'],
      ['hello (fwd) (FWD)', 'hello'],
      ['[Fwd: Re: hello]', 'hello'],
      ['[fwd: [list] hello (fwd)]', 'hello'],
      ['[only a blob]', '[only a blob]'],
      ['', ''],
      ['Rex: not a reply', 'Rex: not a reply'],
    ];
    for (const [subject, base] of cases) assert.equal(baseSubject(subject), base, subject);
  });
});

describe('Date header (RFC 5322 §3.3, §4.3)', () => {
  test('current and obsolete forms', () => {
    assert.equal(parseMessageDate('Tue, 1 Apr 2025 11:59:00 +0200'), Date.UTC(2025, 3, 1, 9, 59, 0));
    assert.equal(parseMessageDate('1 Apr 2025 11:59 -0000'), Date.UTC(2025, 3, 1, 11, 59, 0));
    assert.equal(parseMessageDate('Wed, 17 Jul 1996 02:23:25 -0700 (PDT)'), Date.UTC(1996, 6, 17, 9, 23, 25));
    assert.equal(parseMessageDate('Thu, 13 Feb 69 23:32:54 -0330'), Date.UTC(1969, 1, 14, 3, 2, 54));
    assert.equal(parseMessageDate('13 Feb 03 23:32:54 EST'), Date.UTC(2003, 1, 14, 4, 32, 54));
    assert.equal(parseMessageDate('13 February 2003 23:32:54 GMT'), Date.UTC(2003, 1, 13, 23, 32, 54));
    assert.equal(parseMessageDate('13 Feb 2003 23:32:54 J'), Date.UTC(2003, 1, 13, 23, 32, 54));
  });

  test('garbage is null, not a guess', () => {
    for (const value of [
      'garbage date',
      '1',
      '',
      '31 Feb 2020 10:00:00 +0000',
      '1 Foo 2020 10:00:00',
      '1 Jan 2020 25:00:00',
    ]) {
      assert.equal(parseMessageDate(value), null, value);
    }
    assert.equal(parseMessageDate(undefined), null);
  });
});

describe('search fields', () => {
  const fields = (text: string) => parseHeaderLines(text.split('\n').map((line) => Buffer.from(line)));

  test('decoded addresses and subject, message ids', () => {
    const search = computeSearchFields(
      fields(
        [
          'From: =?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <juergen@example.de>',
          'To: Team: a@x, "B" <b@x>;, c',
          'Subject: Re: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=',
          'Date: Sat, 5 Apr 2025 10:00:00 +0200',
          'Message-ID: <id@x> junk',
          'In-Reply-To: (comment) <parent@x>',
          'References: <a@x>\n <b@x> <c@x>',
        ].join('\n'),
      ),
    );
    assert.deepEqual(search, {
      from: [{ name: 'Jürgen Müller', address: 'juergen@example.de' }],
      to: [
        { name: '', address: 'a@x' },
        { name: 'B', address: 'b@x' },
        { name: '', address: 'c' },
      ],
      cc: [],
      bcc: [],
      subject: 'Re: Grüße',
      baseSubject: 'Grüße',
      date: Date.UTC(2025, 3, 5, 8, 0, 0),
      messageId: '<id@x>',
      inReplyTo: '<parent@x>',
      references: ['<a@x>', '<b@x>', '<c@x>'],
    });
  });

  test('missing fields; ids without angle brackets; references are bounded', () => {
    const empty = computeSearchFields([]);
    assert.deepEqual(empty, {
      from: [],
      to: [],
      cc: [],
      bcc: [],
      subject: '',
      baseSubject: '',
      date: null,
      messageId: null,
      inReplyTo: null,
      references: [],
    });
    const many = Array.from({ length: MAX_REFERENCES + 5 }, (_, i) => `<r${i}@x>`).join(' ');
    const search = computeSearchFields(fields(`Message-ID: not-an-angle-id\nReferences: ${many}`));
    assert.equal(search.messageId, 'not-an-angle-id');
    assert.equal(search.references.length, MAX_REFERENCES);
  });
});
