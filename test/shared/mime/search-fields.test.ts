import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseHeaderLines } from '../../../shared/mime/header-section.ts';
import { MAX_REFERENCES } from '../../../shared/mime/limits.ts';
import {
  baseSubject,
  computeSearchFields,
  extractBaseSubject,
  isReplyOrForward,
  parseMessageDate,
} from '../../../shared/mime/search-fields.ts';

describe('base subject (RFC 5256 §2.1)', () => {
  const expectBase = (cases: Array<[string, string]>) => {
    for (const [subject, base] of cases) assert.equal(baseSubject(subject), base, JSON.stringify(subject));
  };

  test('step 1: tabs and continuations become spaces, runs of spaces one; case is kept', () => {
    expectBase([
      ['hello\t\tworld', 'hello world'],
      ['hello\r\n world', 'hello world'],
      ['Re:   spaced\t\tout', 'spaced out'],
      ['MiXeD Case', 'MiXeD Case'],
      ['', ''],
    ]);
  });

  test('step 2: subj-trailer, "(fwd)" or WSP, removed until none is left', () => {
    expectBase([
      ['hello (fwd)', 'hello'],
      ['hello (fwd) (FWD)  ', 'hello'],
      ['hello(fwd)(Fwd)', 'hello'],
      ['(fwd)', ''],
      ['hello (fwd) world', 'hello (fwd) world'],
      ['hello (forwarded)', 'hello (forwarded)'],
    ]);
  });

  test('step 3: subj-leader, blobs then re/fw/fwd with an optional blob and a colon, or WSP', () => {
    expectBase([
      ['Re: hello', 'hello'],
      ['RE: Re: re:  hello   world ', 'hello world'],
      ['Fwd: hello', 'hello'],
      ['fw: hello', 'hello'],
      ['Fw : hello', 'hello'],
      ['Re[2]: hello', 'hello'],
      ['Re [list 2] : hello', 'hello'],
      ['[list] Re: hello', 'hello'],
      ['[a] [b] Fwd: Re: hello', 'hello'],
      ['Re:', ''],
      ['[list] Re:', ''],
      ['Rex: not a reply', 'Rex: not a reply'],
      ['Reply to this', 'Reply to this'],
      ['Réponse: été', 'Réponse: été'],
      ['Re[a][b]: two blobs make no subj-refwd', 'Re[a][b]: two blobs make no subj-refwd'],
    ]);
  });

  test('step 4: a leading subj-blob goes only when something is left after it', () => {
    expectBase([
      ['[list] hello', 'hello'],
      ['[list] [other] hello', 'hello'],
      ['[only a blob]', '[only a blob]'],
      ['[a] [b]', '[b]'],
      ['[a] [b] (fwd)', '[b]'],
      ['[unclosed hello', '[unclosed hello'],
      ['[a [nested] b] hello', '[a [nested] b] hello'],
    ]);
  });

  test('step 6: a "[fwd: ...]" wrapper goes and extraction starts again from step 2', () => {
    expectBase([
      ['[Fwd: Re: hello]', 'hello'],
      ['[fwd: [fwd: hello]]', 'hello'],
      ['[fwd: [list] hello (fwd)]', 'hello'],
      ['Re: [FWD: hello] ', 'hello'],
      ['[fwd:]', ''],
      ['[fwd: hello', '[fwd: hello'],
      ['[fwd: a] tail', 'tail'],
    ]);
  });

  test('encoded words are decoded first (step 1), so markers inside them count', () => {
    const base = (subject: string) => computeSearchFields(parseHeaderLines([Buffer.from(`Subject: ${subject}`)]));
    assert.equal(base('=?UTF-8?Q?Re:_caf=C3=A9?=').baseSubject, 'café');
    assert.equal(base('Fwd: =?UTF-8?B?R3LDvMOfZQ==?= (fwd)').baseSubject, 'Grüße');
    assert.equal(base('=?ISO-8859-1?Q?[fwd:_=E9t=E9]?=').baseSubject, 'été');
    assert.equal(base('=?UTF-8?Q?[liste]?= =?UTF-8?Q?_Re:_x?=').baseSubject, 'x');
  });

  test('reply and forward markers are reported (RFC 5256 §3 REFERENCES step 5)', () => {
    for (const subject of ['Re: x', '[list] Fwd: x', 'x (fwd)', '[Fwd: x]', '[a] [b] re[2]: x']) {
      assert.equal(isReplyOrForward(subject), true, subject);
    }
    for (const subject of ['x', '[list] x', 'Rex: x', 'x (fwd) y', '']) {
      assert.equal(isReplyOrForward(subject), false, subject);
    }
    assert.deepEqual(extractBaseSubject('[list] Re: x (fwd)'), { baseSubject: 'x', replyOrForward: true });
  });

  test('hostile subjects take linear time', () => {
    for (const subject of ['[a]'.repeat(100_000), `${'[a] '.repeat(100_000)}x`, `${'Re:'.repeat(100_000)}x`]) {
      const started = performance.now();
      baseSubject(subject);
      assert.ok(performance.now() - started < 500, `${subject.slice(0, 8)}... took too long`);
    }
    assert.equal(baseSubject(`${'[fwd: '.repeat(10_000)}x${']'.repeat(10_000)}`), 'x');
  });

  test('properties: idempotent, a piece of the normalised subject', () => {
    const subjectText = fc
      .array(fc.constantFrom('Re', 're', 'Fw', 'FWD', ':', ' ', '\t', '[', ']', '[fwd:', '(fwd)', 'x', 'é', '2'), {
        maxLength: 30,
      })
      .map((pieces) => pieces.join(''));
    fc.assert(
      fc.property(fc.oneof(subjectText, fc.string()), (subject) => {
        const base = baseSubject(subject);
        assert.equal(baseSubject(base), base);
        assert.ok(subject.replace(/[ \t\r\n]+/g, ' ').includes(base));
        assert.ok(!base.startsWith(' ') && !base.endsWith(' '));
      }),
      { numRuns: 2000 },
    );
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
