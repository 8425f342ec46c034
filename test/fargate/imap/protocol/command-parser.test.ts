import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseAuthenticateResponse } from '../../../../fargate/imap/protocol/command-parser.ts';
import { MAX_NESTING_DEPTH } from '../../../../fargate/imap/protocol/limits.ts';
import { parseFails, parseOk } from './wire.ts';

describe('tags and command names', () => {
  test('any ASTRING-CHAR but + makes a tag; command names are case-insensitive', () => {
    assert.deepEqual(parseOk('A.b]9 noop'), { tag: 'A.b]9', name: 'NOOP' });
    assert.deepEqual(parseOk('x Capability'), { tag: 'x', name: 'CAPABILITY' });
  });

  test('bad tags and unknown commands fail; a bad tag gives an untagged error', () => {
    assert.equal(parseFails('a+b NOOP').tag, undefined);
    assert.equal(parseFails('* NOOP').tag, undefined);
    assert.equal(parseFails('a1 FROBNICATE').tag, 'a1');
    assert.equal(parseFails('a1').tag, 'a1');
    assert.equal(parseFails('a1 NOOP extra').tag, 'a1');
    assert.equal(parseFails('a1  NOOP').tag, 'a1');
  });

  test('commands without arguments', () => {
    for (const name of [
      'CAPABILITY',
      'NOOP',
      'LOGOUT',
      'STARTTLS',
      'NAMESPACE',
      'IDLE',
      'CHECK',
      'CLOSE',
      'UNSELECT',
    ]) {
      assert.deepEqual(parseOk(`t ${name}`), { tag: 't', name });
    }
    assert.deepEqual(parseOk('t EXPUNGE'), { tag: 't', name: 'EXPUNGE', uid: false });
  });
});

describe('strings', () => {
  test('atoms, quoted strings with escapes, literals', () => {
    assert.deepEqual(parseOk('a LOGIN fred "p\\"w\\\\d"'), {
      tag: 'a',
      name: 'LOGIN',
      username: 'fred',
      password: 'p"w\\d',
    });
    assert.deepEqual(parseOk('a LOGIN {4}\r\nfr d {3+}\r\n"x)\r\n'), {
      tag: 'a',
      name: 'LOGIN',
      username: 'fr d',
      password: '"x)',
    });
    assert.deepEqual(parseOk('a LOGIN "" ]x]'), { tag: 'a', name: 'LOGIN', username: '', password: ']x]' });
  });

  test('UTF-8 in quoted strings and literals is decoded; invalid UTF-8 fails', () => {
    assert.equal((parseOk('a LOGIN "jösé" x') as { username: string }).username, 'jösé');
    parseFails(Buffer.concat([Buffer.from('a LOGIN "'), Buffer.from([0xff, 0xfe]), Buffer.from('" x')]));
  });

  test('bad quoted strings fail', () => {
    parseFails('a LOGIN "unterminated');
    parseFails('a LOGIN "bad\\escape" x');
    parseFails('a LOGIN "nul\0" x');
    parseFails('a LOGIN fr(ed x');
    parseFails('a LOGIN fred');
  });

  test('NUL is refused in a literal but allowed in literal8 where literal8 is allowed', () => {
    parseFails('a LOGIN {3}\r\na\0b x');
    parseFails('a LOGIN ~{3}\r\nabc x');
    const append = parseOk('a APPEND INBOX ~{3}\r\na\0b');
    assert.ok(append.name === 'APPEND');
    assert.deepEqual(append.messages[0]!.data, Buffer.from('a\0b'));
  });
});

describe('authentication commands', () => {
  test('AUTHENTICATE with and without an initial response (SASL-IR)', () => {
    assert.deepEqual(parseOk('a AUTHENTICATE plain'), { tag: 'a', name: 'AUTHENTICATE', mechanism: 'PLAIN' });
    assert.deepEqual(parseOk('a AUTHENTICATE PLAIN AGZyZWQAc2VjcmV0'), {
      tag: 'a',
      name: 'AUTHENTICATE',
      mechanism: 'PLAIN',
      initialResponse: Buffer.from('\0fred\0secret'),
    });
    assert.deepEqual(parseOk('a AUTHENTICATE EXTERNAL ='), {
      tag: 'a',
      name: 'AUTHENTICATE',
      mechanism: 'EXTERNAL',
      initialResponse: Buffer.alloc(0),
    });
    parseFails('a AUTHENTICATE PLAIN AGZy!');
    parseFails('a AUTHENTICATE PLAIN AGZ');
    parseFails('a AUTHENTICATE PLAIN ');
  });

  test('AUTHENTICATE continuation lines', () => {
    assert.deepEqual(parseAuthenticateResponse(Buffer.from('*')), { ok: true, cancelled: true });
    assert.deepEqual(parseAuthenticateResponse(Buffer.from('Zm9v')), {
      ok: true,
      cancelled: false,
      data: Buffer.from('foo'),
    });
    assert.deepEqual(parseAuthenticateResponse(Buffer.from('')), { ok: true, cancelled: false, data: Buffer.alloc(0) });
    assert.equal(parseAuthenticateResponse(Buffer.from('Zm9v=')).ok, false);
  });

  test('ENABLE and ID', () => {
    assert.deepEqual(parseOk('a ENABLE condstore QRESYNC'), {
      tag: 'a',
      name: 'ENABLE',
      capabilities: ['CONDSTORE', 'QRESYNC'],
    });
    parseFails('a ENABLE');
    assert.deepEqual(parseOk('a ID NIL'), { tag: 'a', name: 'ID', parameters: null });
    assert.deepEqual(parseOk('a ID ("name" "Thunderbird" "version" NIL)'), {
      tag: 'a',
      name: 'ID',
      parameters: [
        { field: 'name', value: 'Thunderbird' },
        { field: 'version', value: null },
      ],
    });
    assert.deepEqual(parseOk('a ID ()'), { tag: 'a', name: 'ID', parameters: [] });
    parseFails(`a ID ("${'f'.repeat(31)}" "x")`);
    parseFails(`a ID (${'"f" "v" '.repeat(31).trim()})`);
    parseFails('a ID ("name")');
  });
});

describe('mailbox commands', () => {
  test('SELECT and EXAMINE, INBOX in any case, CONDSTORE and QRESYNC parameters', () => {
    assert.deepEqual(parseOk('a SELECT inbox'), { tag: 'a', name: 'SELECT', mailbox: 'INBOX', condstore: false });
    assert.deepEqual(parseOk('a EXAMINE "Inbox/Sub"'), {
      tag: 'a',
      name: 'EXAMINE',
      mailbox: 'Inbox/Sub',
      condstore: false,
    });
    assert.deepEqual(parseOk('a SELECT x (CONDSTORE)'), { tag: 'a', name: 'SELECT', mailbox: 'x', condstore: true });
    assert.deepEqual(parseOk('a SELECT x (QRESYNC (67890007 20050715194045000 41,43:211,214:541))'), {
      tag: 'a',
      name: 'SELECT',
      mailbox: 'x',
      condstore: false,
      qresync: {
        uidValidity: 67890007,
        // Above 2^53: saturated (command-types.ts), which keeps comparisons with our mod-sequences right.
        modSeq: Number.MAX_SAFE_INTEGER,
        knownUids: {
          kind: 'ranges',
          ranges: [
            { start: 41, end: 41 },
            { start: 43, end: 211 },
            { start: 214, end: 541 },
          ],
        },
      },
    });
    const withMatch = parseOk('a SELECT x (QRESYNC (1 2 1:10 (1:3 5:7)) CONDSTORE)');
    assert.ok(withMatch.name === 'SELECT');
    assert.equal(withMatch.condstore, true);
    assert.deepEqual(withMatch.qresync?.sequenceMatch, {
      sequences: { kind: 'ranges', ranges: [{ start: 1, end: 3 }] },
      uids: { kind: 'ranges', ranges: [{ start: 5, end: 7 }] },
    });
    const matchOnly = parseOk('a SELECT x (QRESYNC (1 2 (1 5)))');
    assert.ok(matchOnly.name === 'SELECT');
    assert.equal(matchOnly.qresync?.knownUids, undefined);
    assert.ok(matchOnly.qresync?.sequenceMatch);
    parseFails('a SELECT x (QRESYNC (0 2))');
    parseFails('a SELECT x (FOO)');
    parseFails('a SELECT x (CONDSTORE CONDSTORE)');
    parseFails('a SELECT x ()');
    parseFails('a SELECT');
  });

  test('CREATE with SPECIAL-USE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE', () => {
    assert.deepEqual(parseOk('a CREATE Drafts'), { tag: 'a', name: 'CREATE', mailbox: 'Drafts', specialUse: [] });
    assert.deepEqual(parseOk('a CREATE "My Sent" (USE (\\sent \\Archive))'), {
      tag: 'a',
      name: 'CREATE',
      mailbox: 'My Sent',
      specialUse: ['\\Sent', '\\Archive'],
    });
    parseFails('a CREATE x (FOO (\\Sent))');
    assert.deepEqual(parseOk('a DELETE x'), { tag: 'a', name: 'DELETE', mailbox: 'x' });
    assert.deepEqual(parseOk('a RENAME x {1+}\r\ny'), { tag: 'a', name: 'RENAME', mailbox: 'x', newName: 'y' });
    assert.deepEqual(parseOk('a SUBSCRIBE &AOk-t&AOk-'), { tag: 'a', name: 'SUBSCRIBE', mailbox: '&AOk-t&AOk-' });
    assert.deepEqual(parseOk('a UNSUBSCRIBE x'), { tag: 'a', name: 'UNSUBSCRIBE', mailbox: 'x' });
  });

  test('basic LIST and LSUB with wildcards', () => {
    assert.deepEqual(parseOk('a LIST "" %'), {
      tag: 'a',
      name: 'LIST',
      reference: '',
      patterns: ['%'],
      selection: [],
      returns: { subscribed: false, children: false, specialUse: false },
      extended: false,
    });
    const list = parseOk('a LIST ~/Mail/ foo*%]');
    assert.ok(list.name === 'LIST');
    assert.deepEqual([list.reference, list.patterns], ['~/Mail/', ['foo*%]']]);
    assert.deepEqual(parseOk('a LSUB "#news." "comp.mail.*"'), {
      tag: 'a',
      name: 'LSUB',
      reference: '#news.',
      pattern: 'comp.mail.*',
    });
  });

  test('LIST-EXTENDED selection and return options, LIST-STATUS, SPECIAL-USE', () => {
    assert.deepEqual(
      parseOk('a LIST (SUBSCRIBED RECURSIVEMATCH) "" ("INBOX" "%") RETURN (CHILDREN STATUS (MESSAGES UNSEEN))'),
      {
        tag: 'a',
        name: 'LIST',
        reference: '',
        patterns: ['INBOX', '%'],
        selection: ['SUBSCRIBED', 'RECURSIVEMATCH'],
        returns: { subscribed: false, children: true, specialUse: false, status: ['MESSAGES', 'UNSEEN'] },
        extended: true,
      },
    );
    const specialUse = parseOk('a LIST (SPECIAL-USE) "" * RETURN (SPECIAL-USE SUBSCRIBED)');
    assert.ok(specialUse.name === 'LIST');
    assert.deepEqual(specialUse.selection, ['SPECIAL-USE']);
    assert.deepEqual(specialUse.returns, { subscribed: true, children: false, specialUse: true });
    const empty = parseOk('a LIST () "" % RETURN ()');
    assert.ok(empty.name === 'LIST');
    assert.equal(empty.extended, true);
    parseFails('a LIST (RECURSIVEMATCH) "" %');
    parseFails('a LIST (BOGUS) "" %');
    parseFails('a LIST "" % RETURN (BOGUS)');
    parseFails('a LIST "" % (CHILDREN)');
    parseFails('a LIST "" ()');
  });

  test('STATUS with every item', () => {
    assert.deepEqual(
      parseOk(
        'a STATUS blurdybloop (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ APPENDLIMIT)',
      ),
      {
        tag: 'a',
        name: 'STATUS',
        mailbox: 'blurdybloop',
        items: [
          'MESSAGES',
          'UIDNEXT',
          'UIDVALIDITY',
          'UNSEEN',
          'DELETED',
          'SIZE',
          'RECENT',
          'HIGHESTMODSEQ',
          'APPENDLIMIT',
        ],
      },
    );
    parseFails('a STATUS x ()');
    parseFails('a STATUS x (BOGUS)');
  });

  test('APPEND with flags, date-time, literal8, UTF8, and MULTIAPPEND', () => {
    const message = 'Subject: hi\r\n\r\nbody\r\n';
    const single = parseOk(
      `a APPEND saved-messages (\\Seen $Forwarded) " 7-Feb-1994 21:52:25 -0800" {${message.length}}\r\n${message}\r\n`,
    );
    assert.deepEqual(single, {
      tag: 'a',
      name: 'APPEND',
      mailbox: 'saved-messages',
      messages: [
        {
          flags: ['\\Seen', '$Forwarded'],
          internalDate: { time: Date.UTC(1994, 1, 8, 5, 52, 25), zoneMinutes: -480 },
          data: Buffer.from(message),
          binary: false,
          utf8: false,
        },
      ],
    });
    const multi = parseOk('a APPEND x {1+}\r\na () {1+}\r\nb UTF8 (~{1+}\r\nc)');
    assert.ok(multi.name === 'APPEND');
    assert.deepEqual(
      multi.messages.map((m) => [m.data.toString(), m.flags, m.binary, m.utf8]),
      [
        ['a', undefined, false, false],
        ['b', [], false, false],
        ['c', undefined, true, true],
      ],
    );
    parseFails('a APPEND x');
    parseFails('a APPEND x "bad date" {1+}\r\na');
    parseFails('a APPEND x "31-Feb-2020 00:00:00 +0000" {1+}\r\na');
    parseFails('a APPEND x "01-Jan-2020 24:00:00 +0000" {1+}\r\na');
    parseFails('a APPEND x UTF8 ({1+}\r\na)');
    parseFails('a APPEND x message');
  });

  test('ACL commands (RFC 4314)', () => {
    assert.deepEqual(parseOk('a GETACL INBOX'), { tag: 'a', name: 'GETACL', mailbox: 'INBOX' });
    assert.deepEqual(parseOk('a MYRIGHTS x'), { tag: 'a', name: 'MYRIGHTS', mailbox: 'x' });
    assert.deepEqual(parseOk('a SETACL x fred +lrs'), {
      tag: 'a',
      name: 'SETACL',
      mailbox: 'x',
      identifier: 'fred',
      rights: 'lrs',
      operation: 'add',
    });
    assert.deepEqual(parseOk('a SETACL x "-anyone" -w'), {
      tag: 'a',
      name: 'SETACL',
      mailbox: 'x',
      identifier: '-anyone',
      rights: 'w',
      operation: 'remove',
    });
    assert.deepEqual(parseOk('a SETACL x fred lr').name === 'SETACL' && parseOk('a SETACL x fred lr'), {
      tag: 'a',
      name: 'SETACL',
      mailbox: 'x',
      identifier: 'fred',
      rights: 'lr',
      operation: 'replace',
    });
    assert.deepEqual(parseOk('a DELETEACL x fred'), { tag: 'a', name: 'DELETEACL', mailbox: 'x', identifier: 'fred' });
    assert.deepEqual(parseOk('a LISTRIGHTS x fred'), {
      tag: 'a',
      name: 'LISTRIGHTS',
      mailbox: 'x',
      identifier: 'fred',
    });
  });

  test('QUOTA commands (RFC 9208)', () => {
    assert.deepEqual(parseOk('a GETQUOTA ""'), { tag: 'a', name: 'GETQUOTA', root: '' });
    assert.deepEqual(parseOk('a GETQUOTAROOT INBOX'), { tag: 'a', name: 'GETQUOTAROOT', mailbox: 'INBOX' });
    assert.deepEqual(parseOk('a SETQUOTA "" (storage 512 MESSAGE 1000)'), {
      tag: 'a',
      name: 'SETQUOTA',
      root: '',
      limits: [
        { resource: 'STORAGE', limit: 512 },
        { resource: 'MESSAGE', limit: 1000 },
      ],
    });
    assert.deepEqual(parseOk('a SETQUOTA x ()'), { tag: 'a', name: 'SETQUOTA', root: 'x', limits: [] });
    parseFails('a SETQUOTA x (STORAGE)');
  });

  test('COMPRESS', () => {
    assert.deepEqual(parseOk('a COMPRESS deflate'), { tag: 'a', name: 'COMPRESS', mechanism: 'DEFLATE' });
    parseFails('a COMPRESS');
  });
});

describe('message commands', () => {
  test('sequence sets: numbers, ranges either way, *, $', () => {
    const copy = parseOk('a COPY 2:4,7,9:*,*:3,* meeting');
    assert.deepEqual(copy, {
      tag: 'a',
      name: 'COPY',
      uid: false,
      mailbox: 'meeting',
      sequenceSet: {
        kind: 'ranges',
        ranges: [
          { start: 2, end: 4 },
          { start: 7, end: 7 },
          { start: 9, end: '*' },
          { start: '*', end: 3 },
          { start: '*', end: '*' },
        ],
      },
    });
    assert.deepEqual(parseOk('a UID MOVE $ Trash'), {
      tag: 'a',
      name: 'MOVE',
      uid: true,
      mailbox: 'Trash',
      sequenceSet: { kind: 'saved' },
    });
    parseFails('a COPY 0 x');
    parseFails('a COPY 1, x');
    parseFails('a COPY 1:2:3 x');
    parseFails('a COPY 4294967296 x');
    parseFails('a COPY $,1 x');
    assert.equal(parseOk('a COPY 4294967295 x').name, 'COPY');
  });

  test('STORE forms and UNCHANGEDSINCE', () => {
    assert.deepEqual(parseOk('a STORE 2:4 +FLAGS (\\deleted)'), {
      tag: 'a',
      name: 'STORE',
      uid: false,
      sequenceSet: { kind: 'ranges', ranges: [{ start: 2, end: 4 }] },
      operation: 'add',
      silent: false,
      flags: ['\\Deleted'],
    });
    const silent = parseOk('a UID STORE 1 -FLAGS.SILENT \\Seen $Junk');
    assert.ok(silent.name === 'STORE');
    assert.deepEqual(
      [silent.uid, silent.operation, silent.silent, silent.flags],
      [true, 'remove', true, ['\\Seen', '$Junk']],
    );
    const replace = parseOk('a STORE 1 (UNCHANGEDSINCE 12345) FLAGS ()');
    assert.ok(replace.name === 'STORE');
    assert.deepEqual([replace.operation, replace.flags, replace.unchangedSince], ['replace', [], 12345]);
    parseFails('a STORE 1 +FLAG (\\Seen)');
    parseFails('a STORE 1 FLAGS');
    parseFails('a STORE 1 (UNCHANGEDSINCE) FLAGS ()');
  });

  test('UID EXPUNGE (UIDPLUS)', () => {
    assert.deepEqual(parseOk('a UID EXPUNGE 3000:3002'), {
      tag: 'a',
      name: 'EXPUNGE',
      uid: true,
      sequenceSet: { kind: 'ranges', ranges: [{ start: 3000, end: 3002 }] },
    });
    parseFails('a UID EXPUNGE');
    parseFails('a UID LIST "" %');
  });

  test('SORT (with ESORT return options) and THREAD', () => {
    assert.deepEqual(parseOk('a UID SORT (REVERSE DATE subject) UTF-8 ALL'), {
      tag: 'a',
      name: 'SORT',
      uid: true,
      criteria: [
        { key: 'DATE', reverse: true },
        { key: 'SUBJECT', reverse: false },
      ],
      charset: 'UTF-8',
      search: { key: 'AND', operands: [{ key: 'ALL' }] },
    });
    const esort = parseOk('a SORT RETURN (MIN COUNT) (DISPLAYFROM) utf-8 UNDELETED SINCE 1-Feb-1994');
    assert.ok(esort.name === 'SORT');
    assert.deepEqual(esort.returnOptions, { min: true, max: false, all: false, count: true, save: false });
    parseFails('a SORT () UTF-8 ALL');
    parseFails('a SORT (BOGUS) UTF-8 ALL');
    parseFails('a SORT (DATE) ALL');
    assert.deepEqual(parseOk('a THREAD references US-ASCII SINCE 1-Feb-1994'), {
      tag: 'a',
      name: 'THREAD',
      uid: false,
      algorithm: 'REFERENCES',
      charset: 'US-ASCII',
      search: { key: 'AND', operands: [{ key: 'SINCE', date: { year: 1994, month: 2, day: 1 } }] },
    });
  });
});

describe('nesting limit', () => {
  test('nesting up to the limit parses; one more level is a too-deep error', () => {
    const nested = (depth: number) => `a SEARCH ${'('.repeat(depth)}ALL${')'.repeat(depth)}`;
    assert.equal(parseOk(nested(MAX_NESTING_DEPTH)).name, 'SEARCH');
    const error = parseFails(nested(MAX_NESTING_DEPTH + 1));
    assert.equal(error.kind, 'too-deep');
    assert.equal(error.tag, 'a');
    const nots = `a SEARCH ${'NOT '.repeat(MAX_NESTING_DEPTH + 1)}ALL`;
    assert.equal(parseFails(nots).kind, 'too-deep');
  });

  test('thousands of open parentheses fail fast without recursion trouble', () => {
    const error = parseFails(`a SEARCH ${'('.repeat(20_000)}`);
    assert.equal(error.kind, 'too-deep');
  });
});
