import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Command, FetchItem } from '../../../../fargate/imap/protocol/command-types.ts';
import { parseFails, parseOk } from './wire.ts';

function fetch(text: string): Extract<Command, { name: 'FETCH' }> {
  const command = parseOk(`a ${text}`);
  assert.ok(command.name === 'FETCH');
  return command;
}

function items(text: string): FetchItem[] {
  return fetch(`FETCH 1 ${text}`).items;
}

describe('FETCH attributes (RFC 9051 §6.4.5)', () => {
  test('simple attributes, in any case', () => {
    for (const name of [
      'ENVELOPE',
      'FLAGS',
      'INTERNALDATE',
      'RFC822',
      'RFC822.HEADER',
      'RFC822.SIZE',
      'RFC822.TEXT',
      'BODY',
      'BODYSTRUCTURE',
      'UID',
      'MODSEQ',
      'SAVEDATE',
    ]) {
      assert.deepEqual(items(name.toLowerCase()), [{ kind: name }]);
    }
    parseFails('a FETCH 1 BOGUS');
    parseFails('a FETCH 1 RFC822.BOGUS');
    parseFails('a FETCH 1 ()');
  });

  test('macros expand and are named', () => {
    const all = fetch('FETCH 1:* ALL');
    assert.equal(all.macro, 'ALL');
    assert.deepEqual(
      all.items.map((item) => item.kind),
      ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
    );
    assert.deepEqual(
      fetch('FETCH 1 fast').items.map((item) => item.kind),
      ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
    );
    assert.deepEqual(
      fetch('FETCH 1 FULL').items.map((item) => item.kind),
      ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
    );
    parseFails('a FETCH 1 (ALL)');
  });

  test('BODY[section] and BODY.PEEK with every section form', () => {
    assert.deepEqual(items('BODY[]'), [{ kind: 'BODY[]', section: { part: [] }, peek: false }]);
    assert.deepEqual(items('BODY.PEEK[HEADER]'), [
      { kind: 'BODY[]', section: { part: [], text: 'HEADER' }, peek: true },
    ]);
    assert.deepEqual(items('body[text]'), [{ kind: 'BODY[]', section: { part: [], text: 'TEXT' }, peek: false }]);
    assert.deepEqual(items('BODY[1.2.3]'), [{ kind: 'BODY[]', section: { part: [1, 2, 3] }, peek: false }]);
    assert.deepEqual(items('BODY[1.2.MIME]'), [
      { kind: 'BODY[]', section: { part: [1, 2], text: 'MIME' }, peek: false },
    ]);
    assert.deepEqual(items('BODY[2.HEADER]'), [
      { kind: 'BODY[]', section: { part: [2], text: 'HEADER' }, peek: false },
    ]);
    assert.deepEqual(items('BODY[1.TEXT]'), [{ kind: 'BODY[]', section: { part: [1], text: 'TEXT' }, peek: false }]);
    assert.deepEqual(items('BODY.PEEK[HEADER.FIELDS (From "To" {2}\r\nCc)]'), [
      {
        kind: 'BODY[]',
        section: { part: [], text: 'HEADER.FIELDS', fields: ['From', 'To', 'Cc'] },
        peek: true,
      },
    ]);
    assert.deepEqual(items('BODY[4.2.HEADER.FIELDS.NOT (X-Spam)]'), [
      { kind: 'BODY[]', section: { part: [4, 2], text: 'HEADER.FIELDS.NOT', fields: ['X-Spam'] }, peek: false },
    ]);
    for (const bad of [
      'BODY[MIME]',
      'BODY[0]',
      'BODY[1.]',
      'BODY[HEADER.FIELDS]',
      'BODY[HEADER.FIELDS ()]',
      'BODY[1.BOGUS]',
      'BODY[',
      'BODY.PEEK',
      'BODY[]x',
    ]) {
      parseFails(`a FETCH 1 ${bad}`);
    }
  });

  test('partial ranges', () => {
    assert.deepEqual(items('BODY[]<0.2048>'), [
      { kind: 'BODY[]', section: { part: [] }, peek: false, partial: { offset: 0, length: 2048 } },
    ]);
    parseFails('a FETCH 1 BODY[]<0.0>');
    parseFails('a FETCH 1 BODY[]<5>');
    parseFails('a FETCH 1 BODY[]<5.1');
  });

  test('BINARY, BINARY.PEEK, BINARY.SIZE (RFC 3516)', () => {
    assert.deepEqual(items('(BINARY[1.2] BINARY.PEEK[]<10.20> BINARY.SIZE[3])'), [
      { kind: 'BINARY[]', part: [1, 2], peek: false },
      { kind: 'BINARY[]', part: [], peek: true, partial: { offset: 10, length: 20 } },
      { kind: 'BINARY.SIZE', part: [3] },
    ]);
    parseFails('a FETCH 1 BINARY[HEADER]');
    parseFails('a FETCH 1 BINARY.SIZE');
    parseFails('a FETCH 1 BINARY.SIZE[1]<0.5>');
  });

  test('a list of attributes', () => {
    assert.deepEqual(
      items('(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)] RFC822.SIZE)').map((item) => item.kind),
      ['UID', 'FLAGS', 'BODY[]', 'RFC822.SIZE'],
    );
    parseFails('a FETCH 1 (UID FLAGS');
    parseFails('a FETCH 1 (UID  FLAGS)');
  });
});

describe('FETCH modifiers (RFC 7162)', () => {
  test('CHANGEDSINCE and VANISHED', () => {
    const changed = fetch('FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)');
    assert.equal(changed.changedSince, 12345);
    assert.equal(changed.vanished, false);
    const vanished = fetch('UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)');
    assert.equal(vanished.uid, true);
    assert.equal(vanished.vanished, true);
    parseFails('a FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)');
    parseFails('a UID FETCH 1:* (FLAGS) (VANISHED)');
    parseFails('a FETCH 1 FLAGS (BOGUS)');
    parseFails('a FETCH 1 FLAGS ()');
  });
});
