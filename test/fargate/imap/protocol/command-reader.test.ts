import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CommandReader, parseAnnouncement } from '../../../../fargate/imap/protocol/command-reader.ts';
import {
  AUTHENTICATED_READER_LIMITS,
  LITERAL_MINUS_MAX_BYTES,
  UNAUTHENTICATED_READER_LIMITS,
} from '../../../../fargate/imap/protocol/limits.ts';
import { readEvents } from './wire.ts';

function kinds(events: ReturnType<typeof readEvents>): string[] {
  return events.map((event) => event.kind);
}

describe('command reader framing', () => {
  test('splits pipelined CRLF lines into commands with their tags', () => {
    const events = readEvents('a1 NOOP\r\na2 CAPABILITY\r\n');
    assert.deepEqual(kinds(events), ['command', 'command']);
    const [first, second] = events;
    assert.ok(first?.kind === 'command' && second?.kind === 'command');
    assert.equal(first.command.tag, 'a1');
    assert.equal(first.command.lines[0]!.toString(), 'a1 NOOP');
    assert.equal(second.command.tag, 'a2');
  });

  test('accepts bare LF line ends and strips only the CR of CRLF', () => {
    const events = readEvents('a1 NOOP\na2 NOOP\r\n');
    assert.deepEqual(
      events.map((event) => (event.kind === 'command' ? event.command.lines[0]!.toString() : event.kind)),
      ['a1 NOOP', 'a2 NOOP'],
    );
  });

  test('gives the same commands whatever the chunking', () => {
    const input = 'a1 LOGIN {4}\r\nuser {6+}\r\nsecret\r\na2 APPEND x ~{3}\r\na\x00b\r\n';
    const whole = readEvents(input);
    for (const chunkSize of [1, 2, 3, 7]) {
      assert.deepEqual(readEvents(input, { chunkSize }), whole, `chunk size ${chunkSize}`);
    }
  });

  test('asks for a continuation for a synchronizing literal and then reads its bytes', () => {
    const events = readEvents('a1 LOGIN {4}\r\nuser {6}\r\nsecret\r\n');
    assert.deepEqual(kinds(events), ['continuation', 'continuation', 'command']);
    assert.deepEqual(events[0], { kind: 'continuation', tag: 'a1', literalBytes: 4 });
    const command = events[2]!;
    assert.ok(command.kind === 'command');
    assert.deepEqual(
      command.command.lines.map((line) => line.toString()),
      ['a1 LOGIN {4}', ' {6}', ''],
    );
    assert.deepEqual(
      command.command.literals.map((literal) => literal.data.toString()),
      ['user', 'secret'],
    );
    assert.equal(command.command.size, 'a1 LOGIN {4}'.length + 4 + ' {6}'.length + 6);
  });

  test('reads a literal containing CRLF and braces without reframing it', () => {
    const body = 'line one\r\n{5}\r\nline three';
    const events = readEvents(`a1 APPEND INBOX {${body.length}+}\r\n${body}\r\n`);
    assert.deepEqual(kinds(events), ['command']);
    const event = events[0]!;
    assert.ok(event.kind === 'command');
    assert.equal(event.command.literals[0]!.data.toString(), body);
    assert.equal(event.command.literals[0]!.nonSynchronizing, true);
  });

  test('does not ask for a continuation for {n+} and marks literal8', () => {
    const events = readEvents('a1 APPEND INBOX ~{3+}\r\na\x00b\r\n');
    assert.deepEqual(kinds(events), ['command']);
    const event = events[0]!;
    assert.ok(event.kind === 'command');
    assert.deepEqual(event.command.literals[0], {
      data: Buffer.from('a\x00b', 'latin1'),
      binary: true,
      nonSynchronizing: true,
    });
  });

  test('zero-length literals', () => {
    const events = readEvents('a1 LOGIN {0}\r\n {0+}\r\n\r\n');
    assert.deepEqual(kinds(events), ['continuation', 'command']);
  });

  test('an empty line is a syntax error without a tag', () => {
    const events = readEvents('\r\na1 NOOP\r\n');
    assert.equal(events[0]?.kind, 'error');
    assert.ok(events[0]?.kind === 'error');
    assert.equal(events[0].error.tag, undefined);
    assert.equal(events[0].error.fatal, false);
    assert.equal(events[1]?.kind, 'command');
  });

  test('expectLine delivers the next raw line without literal handling', () => {
    const reader = new CommandReader();
    reader.push(Buffer.from('a1 IDLE\r\nDONE {5}\r\na2 NOOP\r\n'));
    const idle = reader.next();
    assert.equal(idle?.kind, 'command');
    reader.expectLine();
    assert.deepEqual(reader.next(), { kind: 'line', line: Buffer.from('DONE {5}') });
    const next = reader.next();
    assert.ok(next?.kind === 'command');
    assert.equal(next.command.tag, 'a2');
    assert.equal(reader.next(), undefined);
  });

  test('rejectLiteral drops the command whose literal was refused', () => {
    const reader = new CommandReader(AUTHENTICATED_READER_LIMITS);
    reader.push(Buffer.from('a1 APPEND INBOX {10}\r\n'));
    assert.deepEqual(reader.next(), { kind: 'continuation', tag: 'a1', literalBytes: 10 });
    reader.rejectLiteral();
    reader.push(Buffer.from('a2 NOOP\r\n'));
    const next = reader.next();
    assert.ok(next?.kind === 'command');
    assert.equal(next.command.tag, 'a2');
    assert.equal(next.command.literals.length, 0);
  });

  test('takeUnread returns pipelined bytes (STARTTLS injection defence)', () => {
    const reader = new CommandReader();
    reader.push(Buffer.from('a1 STARTTLS\r\na2 LOGIN evil pass\r\n'));
    assert.equal(reader.next()?.kind, 'command');
    assert.equal(reader.takeUnread().toString(), 'a2 LOGIN evil pass\r\n');
    assert.equal(reader.next(), undefined);
    assert.equal(reader.bufferedBytes, 0);
  });
});

describe('command reader limits', () => {
  const small = { maxLineBytes: 32, maxLiteralBytes: 16, maxCommandBytes: 64, maxNonSyncLiteralBytes: 8 };

  test('a line over the limit is fatal, carries the tag, and stops the reader', () => {
    const reader = new CommandReader(small);
    reader.push(Buffer.from(`t9 SEARCH ${'x'.repeat(40)}`));
    const event = reader.next();
    assert.ok(event?.kind === 'error');
    assert.equal(event.error.kind, 'line-too-long');
    assert.equal(event.error.tag, 't9');
    assert.equal(event.error.fatal, true);
    assert.equal(reader.failed, true);
    reader.push(Buffer.from('a2 NOOP\r\n'));
    assert.equal(reader.next(), undefined);
    assert.equal(reader.bufferedBytes, 0);
  });

  test('a line of exactly the limit passes, with or without CR', () => {
    const line = `a ${'x'.repeat(30)}`;
    assert.equal(line.length, 32);
    assert.deepEqual(kinds(readEvents(`${line}\r\n`, { limits: small, chunkSize: 1 })), ['command']);
    assert.deepEqual(kinds(readEvents(`${line}\n`, { limits: small })), ['command']);
    assert.equal(readEvents(`${line}x\r\n`, { limits: small })[0]?.kind, 'error');
  });

  test('a synchronizing literal over the limit is refused before any byte is read, and reading goes on', () => {
    const events = readEvents('a1 LOGIN {17}\r\na2 NOOP\r\n', { limits: small });
    assert.deepEqual(kinds(events), ['error', 'command']);
    const error = events[0]!;
    assert.ok(error.kind === 'error');
    assert.equal(error.error.kind, 'literal-too-large');
    assert.equal(error.error.code, 'TOOBIG');
    assert.equal(error.error.tag, 'a1');
    assert.equal(error.error.fatal, false);
  });

  test('a non-synchronizing literal over the LITERAL- limit is fatal (RFC 7888 §4)', () => {
    const events = readEvents(`a1 APPEND INBOX {${LITERAL_MINUS_MAX_BYTES + 1}+}\r\nxxxx`, {
      limits: AUTHENTICATED_READER_LIMITS,
    });
    assert.equal(events.length, 1);
    const error = events[0]!;
    assert.ok(error.kind === 'error');
    assert.equal(error.error.kind, 'literal-too-large');
    assert.equal(error.error.fatal, true);
    assert.equal(error.error.tag, 'a1');
  });

  test('a non-synchronizing literal of exactly 4096 bytes is accepted', () => {
    const data = 'x'.repeat(LITERAL_MINUS_MAX_BYTES);
    const events = readEvents(`a1 APPEND INBOX {${data.length}+}\r\n${data}\r\n`, {
      limits: AUTHENTICATED_READER_LIMITS,
    });
    assert.deepEqual(kinds(events), ['command']);
  });

  test('huge literal announcements are refused without allocation', () => {
    for (const size of ['99999999999999999999999999', '18446744073709551615', '4294967296']) {
      const events = readEvents(`a1 LOGIN {${size}}\r\n`, { limits: UNAUTHENTICATED_READER_LIMITS });
      assert.equal(events[0]?.kind, 'error', size);
    }
  });

  test('leading zeros in a literal size are allowed', () => {
    const events = readEvents('a1 LOGIN {0000000000000000004}\r\nuser pass\r\n');
    assert.deepEqual(kinds(events), ['continuation', 'command']);
  });

  test('the command limit counts lines and literals together', () => {
    const events = readEvents('a1 X {16}\r\n0123456789abcdef {16}\r\n0123456789abcdef {16}\r\n', {
      limits: small,
    });
    assert.deepEqual(kinds(events), ['continuation', 'continuation', 'error']);
    const error = events[2]!;
    assert.ok(error.kind === 'error');
    assert.equal(error.error.kind, 'command-too-large');
  });

  test('unauthenticated limits are smaller than authenticated ones', () => {
    const literal = 'x'.repeat(UNAUTHENTICATED_READER_LIMITS.maxLiteralBytes + 1);
    const before = readEvents(`a1 LOGIN {${literal.length}}\r\n`, { limits: UNAUTHENTICATED_READER_LIMITS });
    assert.equal(before[0]?.kind, 'error');
    const after = readEvents(`a1 LOGIN {${literal.length}}\r\n${literal} x\r\n`, {
      limits: AUTHENTICATED_READER_LIMITS,
    });
    assert.deepEqual(kinds(after), ['continuation', 'command']);
  });

  test('setLimits applies to the next command', () => {
    const reader = new CommandReader(small);
    reader.setLimits(AUTHENTICATED_READER_LIMITS);
    reader.push(Buffer.from(`a1 NOOP ${'x'.repeat(100)}\r\n`));
    assert.equal(reader.next()?.kind, 'command');
  });

  test('holds no more than the command limit while a literal streams in', () => {
    const reader = new CommandReader(small);
    reader.push(Buffer.from('a1 X {16}\r\n'));
    assert.equal(reader.next()?.kind, 'continuation');
    for (let i = 0; i < 16; i++) {
      reader.push(Buffer.from('y'));
      assert.equal(reader.next(), undefined);
      assert.ok(reader.bufferedBytes <= small.maxCommandBytes);
    }
  });
});

describe('literal announcements', () => {
  test('recognises the four forms and nothing else', () => {
    const cases: Array<[string, ReturnType<typeof parseAnnouncement>]> = [
      ['a {5}', { size: 5, binary: false, nonSynchronizing: false }],
      ['a {5+}', { size: 5, binary: false, nonSynchronizing: true }],
      ['a ~{5}', { size: 5, binary: true, nonSynchronizing: false }],
      ['a ~{5+}', { size: 5, binary: true, nonSynchronizing: true }],
      ['a {}', undefined],
      ['a {+}', undefined],
      ['a {5', undefined],
      ['a 5}', undefined],
      ['a {5 }', undefined],
      ['a {-5}', undefined],
    ];
    for (const [line, expected] of cases) assert.deepEqual(parseAnnouncement(Buffer.from(line)), expected, line);
  });
});
