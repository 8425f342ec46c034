/**
 * Property tests: random and hostile input must only ever produce commands or ImapParseError values,
 * never another exception, and the reader must never hold more than its limits allow. Round trips check
 * that what the writer serialises the parser reads back unchanged.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseCommand } from '../../../../fargate/imap/protocol/command-parser.ts';
import { CommandReader } from '../../../../fargate/imap/protocol/command-reader.ts';
import type { SearchKey, SequenceSet } from '../../../../fargate/imap/protocol/command-types.ts';
import { ImapParseError } from '../../../../fargate/imap/protocol/errors.ts';
import {
  AUTHENTICATED_READER_LIMITS,
  MAX_NESTING_DEPTH,
  type ReaderLimits,
  UNAUTHENTICATED_READER_LIMITS,
} from '../../../../fargate/imap/protocol/limits.ts';
import { serializeValue } from '../../../../fargate/imap/protocol/response-writer.ts';
import { parseOk } from './wire.ts';

const SMALL_LIMITS: ReaderLimits = {
  maxLineBytes: 200,
  maxLiteralBytes: 100,
  maxCommandBytes: 400,
  maxNonSyncLiteralBytes: 50,
};

/** Feeds chunks as a session would and checks every invariant on the way. */
function feed(chunks: Buffer[], limits: ReaderLimits): { commands: number; parsed: number } {
  const reader = new CommandReader(limits);
  let commands = 0;
  let parsed = 0;
  for (const chunk of chunks) {
    reader.push(chunk);
    for (let event = reader.next(); event; event = reader.next()) {
      if (event.kind === 'error') {
        assert.ok(event.error instanceof ImapParseError);
      } else if (event.kind === 'command') {
        assert.ok(event.command.size <= limits.maxCommandBytes);
        for (const line of event.command.lines) assert.ok(line.length <= limits.maxLineBytes);
        for (const literal of event.command.literals) assert.ok(literal.data.length <= limits.maxLiteralBytes);
        const result = parseCommand(event.command);
        if (result.ok) parsed++;
        else assert.ok(result.error instanceof ImapParseError);
        commands++;
      }
    }
    // Drained: only the partial command and partial line may be held.
    assert.ok(
      reader.bufferedBytes <= limits.maxCommandBytes + limits.maxLineBytes + 1,
      `holding ${reader.bufferedBytes} bytes`,
    );
  }
  return { commands, parsed };
}

/** Command openings, so the random tails below reach deep into each command's grammar. */
const COMMAND_STARTS = [
  'a1 SEARCH ',
  'a1 UID SEARCH RETURN (',
  'a1 UID FETCH 1:* ',
  'a1 FETCH 1 (',
  'a1 STORE 1 ',
  'a1 SELECT INBOX ',
  'a1 LIST ',
  'a1 APPEND INBOX ',
  'a1 SORT (',
  'a1 THREAD REFERENCES UTF-8 ',
  'a1 LOGIN ',
  'a1 AUTHENTICATE PLAIN ',
  'a1 ID (',
  'a1 STATUS INBOX (',
  'a1 CREATE x ',
  'a1 SETQUOTA "" (',
  'a1 SETACL x y ',
  'a1 ENABLE ',
  'a1 UID EXPUNGE ',
  'a1 COPY ',
  '',
];

/** Vocabulary that reaches deep into the grammar when strung together. */
const TOKENS = [
  'a1 ',
  'UID ',
  'SEARCH ',
  'FETCH ',
  'RETURN ',
  'CHARSET ',
  'UTF-8 ',
  'OR ',
  'NOT ',
  'ALL',
  'SEEN',
  'FROM x',
  'HEADER ',
  'MODSEQ ',
  'SINCE 1-Feb-1994',
  'BODY[',
  'BODY.PEEK[',
  'HEADER.FIELDS ',
  '1.2.MIME',
  ']',
  '<0.5>',
  '1:*',
  '1',
  ',',
  '$',
  '*',
  '(',
  ')',
  '"',
  '\\',
  '"quoted"',
  '{3}\r\nabc',
  '{5+}\r\nhello',
  '~{2}\r\n\0\0',
  '{999999999}\r\n',
  '{4096+}\r\n',
  '\r\n',
  '\n',
  ' ',
  ' ',
  ' ',
  'INBOX',
  'NIL',
  '"17-Jul-1996 02:44:25 -0700"',
  '(\\Seen)',
  '+FLAGS',
  'FLAGS.SILENT',
  'CHANGEDSINCE 5 VANISHED',
  'QRESYNC (1 2 1:5 (1 2))',
  'MIN',
  'COUNT',
  'STATUS',
  'USE',
  'REVERSE DATE',
  '\xff',
  '\0',
];

const tokenStream = fc
  .array(
    fc
      .tuple(fc.constantFrom(...COMMAND_STARTS), fc.array(fc.constantFrom(...TOKENS), { maxLength: 20 }))
      .map(([start, tail]) => start + tail.join('')),
    { minLength: 1, maxLength: 6 },
  )
  .map((commands) => Buffer.from(`${commands.join('\r\n')}\r\n`, 'latin1'));

/** Splits bytes into random chunks. */
function chunked(bytes: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer[]> {
  return fc
    .tuple(bytes, fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 16 }))
    .map(([data, sizes]) => {
      const chunks: Buffer[] = [];
      let offset = 0;
      for (let i = 0; offset < data.length; i++) {
        const size = sizes[i % sizes.length]!;
        chunks.push(data.subarray(offset, offset + size));
        offset += size;
      }
      return chunks;
    });
}

describe('hostile input', () => {
  test('random bytes never make the reader or parser throw or over-buffer', () => {
    fc.assert(
      fc.property(chunked(fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a))), (chunks) => {
        feed(chunks, SMALL_LIMITS);
      }),
      { numRuns: 1500 },
    );
  });

  test('grammar-shaped token soup never makes the reader or parser throw or over-buffer', () => {
    let parsed = 0;
    fc.assert(
      fc.property(chunked(tokenStream), fc.boolean(), (chunks, small) => {
        parsed += feed(chunks, small ? SMALL_LIMITS : UNAUTHENTICATED_READER_LIMITS).parsed;
      }),
      { numRuns: 4000 },
    );
    // The soup must reach past the error paths often enough to exercise whole commands.
    assert.ok(parsed > 50, `only ${parsed} commands parsed`);
  });

  test('deep nesting in every list position is refused with a too-deep error', () => {
    const depth = MAX_NESTING_DEPTH + 1 + 1000;
    const open = '('.repeat(depth);
    for (const prefix of [
      'a SEARCH ',
      'a SEARCH OR ',
      'a FETCH 1 ',
      'a STATUS x ',
      'a ID ',
      'a SELECT x ',
      'a LIST ',
      'a SORT ',
      'a APPEND x ',
    ]) {
      const result = parseCommand({
        tag: 'a',
        lines: [Buffer.from(`${prefix}${open}`)],
        literals: [],
        size: 0,
      });
      assert.equal(result.ok, false, prefix);
      if (!result.ok) assert.ok(result.error instanceof ImapParseError);
    }
  });

  test('huge literal announcements are refused before any allocation, in every limit set', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10n ** 30n }),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom(SMALL_LIMITS, UNAUTHENTICATED_READER_LIMITS, AUTHENTICATED_READER_LIMITS),
        (size, plus, binary, limits) => {
          const announcement = `a1 APPEND x ${binary ? '~' : ''}{${size}${plus ? '+' : ''}}\r\n`;
          const reader = new CommandReader(limits);
          reader.push(Buffer.from(announcement));
          const event = reader.next();
          const allowed = size <= BigInt(plus ? limits.maxNonSyncLiteralBytes : limits.maxLiteralBytes);
          if (allowed) {
            assert.ok(event === undefined || event.kind === 'continuation');
          } else {
            assert.ok(event?.kind === 'error');
            assert.equal(event.error.code, 'TOOBIG');
            assert.equal(event.error.fatal, plus);
          }
          assert.ok(reader.bufferedBytes <= limits.maxCommandBytes);
        },
      ),
      { numRuns: 1000 },
    );
  });

  test('an endless line without a line end is cut off at the limit', () => {
    const reader = new CommandReader(UNAUTHENTICATED_READER_LIMITS);
    const chunk = Buffer.alloc(1000, 0x78);
    let failed = false;
    for (let i = 0; i < 100 && !failed; i++) {
      reader.push(chunk);
      const event = reader.next();
      assert.ok(reader.bufferedBytes <= UNAUTHENTICATED_READER_LIMITS.maxLineBytes + chunk.length);
      if (event?.kind === 'error') {
        assert.equal(event.error.kind, 'line-too-long');
        failed = true;
      }
    }
    assert.ok(failed);
  });

  test('unterminated quotes and stray brackets are syntax errors with the tag', () => {
    for (const line of ['t LOGIN "abc', 't SEARCH SUBJECT "a\\', 't FETCH 1 BODY[HEADER', 't LIST "" "%']) {
      const result = parseCommand({ tag: 't', lines: [Buffer.from(line)], literals: [], size: line.length });
      assert.equal(result.ok, false);
      if (!result.ok) {
        assert.equal(result.error.tag, 't');
        assert.equal(result.error.fatal, false);
      }
    }
  });
});

/** Writes a search key back as command text (the inverse of the parser, for round trips). */
function searchKeyText(key: SearchKey): string {
  switch (key.key) {
    case 'AND':
      return `(${key.operands.map(searchKeyText).join(' ')})`;
    case 'NOT':
      return `NOT ${searchKeyText(key.operand)}`;
    case 'OR':
      return `OR ${searchKeyText(key.left)} ${searchKeyText(key.right)}`;
    case 'BCC':
    case 'BODY':
    case 'CC':
    case 'FROM':
    case 'SUBJECT':
    case 'TEXT':
    case 'TO':
      return `${key.key} ${serializeValue(key.value).toString('latin1')}`;
    case 'HEADER':
      return `HEADER ${serializeValue(key.field).toString('latin1')} ${serializeValue(key.value).toString('latin1')}`;
    case 'BEFORE':
    case 'ON':
    case 'SINCE':
    case 'SENTBEFORE':
    case 'SENTON':
    case 'SENTSINCE': {
      const month = 'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split(' ')[key.date.month - 1];
      return `${key.key} ${key.date.day}-${month}-${key.date.year}`;
    }
    case 'KEYWORD':
    case 'UNKEYWORD':
      return `${key.key} ${key.flag}`;
    case 'LARGER':
    case 'SMALLER':
      return `${key.key} ${key.size}`;
    case 'OLDER':
    case 'YOUNGER':
      return `${key.key} ${key.seconds}`;
    case 'UID':
      return `UID ${sequenceSetText(key.set)}`;
    case 'SEQUENCE':
      return sequenceSetText(key.set);
    case 'MODSEQ':
      return `MODSEQ ${key.modSeq}`;
    default:
      return key.key;
  }
}

function sequenceSetText(set: SequenceSet): string {
  if (set.kind === 'saved') return '$';
  return set.ranges.map(({ start, end }) => (start === end ? `${start}` : `${start}:${end}`)).join(',');
}

const sequenceNumber = fc.oneof(fc.integer({ min: 1, max: 0xffff_ffff }), fc.constant('*' as const));
const sequenceSet: fc.Arbitrary<SequenceSet> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .array(fc.tuple(sequenceNumber, sequenceNumber), { minLength: 1, maxLength: 4 })
      .map((pairs): SequenceSet => ({ kind: 'ranges', ranges: pairs.map(([start, end]) => ({ start, end })) })),
  },
  { weight: 1, arbitrary: fc.constant<SequenceSet>({ kind: 'saved' }) },
);

const searchText = fc.string({ unit: 'grapheme', maxLength: 12 });
const atomText = fc.stringMatching(/^[A-Za-z0-9$_.-]{1,10}$/);

const { searchKey } = fc.letrec<{ searchKey: SearchKey }>((tie) => ({
  searchKey: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom<SearchKey>(
      { key: 'ALL' },
      { key: 'SEEN' },
      { key: 'UNSEEN' },
      { key: 'DRAFT' },
      { key: 'NEW' },
      { key: 'UNDELETED' },
    ),
    fc
      .tuple(fc.constantFrom('BCC', 'BODY', 'CC', 'FROM', 'SUBJECT', 'TEXT', 'TO' as const), searchText)
      .map(([key, value]) => ({ key, value }) as SearchKey),
    fc.tuple(atomText, searchText).map(([field, value]): SearchKey => ({ key: 'HEADER', field, value })),
    fc
      .tuple(
        fc.constantFrom('BEFORE', 'ON', 'SINCE', 'SENTBEFORE', 'SENTON', 'SENTSINCE' as const),
        fc.date({ min: new Date('1900-01-01'), max: new Date('2099-12-31'), noInvalidDate: true }),
      )
      .map(
        ([key, date]) =>
          ({
            key,
            date: { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() },
          }) as SearchKey,
      ),
    atomText.map((flag): SearchKey => ({ key: 'KEYWORD', flag })),
    fc.integer({ min: 0, max: 2 ** 40 }).map((size): SearchKey => ({ key: 'LARGER', size })),
    fc.integer({ min: 1, max: 2 ** 31 }).map((seconds): SearchKey => ({ key: 'YOUNGER', seconds })),
    sequenceSet.map((set): SearchKey => ({ key: 'UID', set })),
    sequenceSet.map((set): SearchKey => ({ key: 'SEQUENCE', set })),
    fc.integer({ min: 0, max: 2 ** 50 }).map((modSeq): SearchKey => ({ key: 'MODSEQ', modSeq })),
    tie('searchKey').map((operand): SearchKey => ({ key: 'NOT', operand })),
    fc.tuple(tie('searchKey'), tie('searchKey')).map(([left, right]): SearchKey => ({ key: 'OR', left, right })),
    fc.array(tie('searchKey'), { minLength: 1, maxLength: 3 }).map((operands): SearchKey => ({ key: 'AND', operands })),
  ),
}));

describe('round trips', () => {
  test('strings serialised by the writer parse back to the same string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ maxLength: 1100 }), (user, pass) => {
        fc.pre(user.isWellFormed() && pass.isWellFormed() && !pass.includes('\0') && !user.includes('\0'));
        const line = Buffer.concat([
          Buffer.from('a LOGIN '),
          serializeValue(user),
          Buffer.from(' '),
          serializeValue(pass),
        ]);
        const command = parseOk(line);
        assert.deepEqual(command, { tag: 'a', name: 'LOGIN', username: user, password: pass });
      }),
      { numRuns: 1000 },
    );
  });

  test('search criteria written out parse back to the same tree', () => {
    fc.assert(
      fc.property(searchKey, (key) => {
        fc.pre(!JSON.stringify(key).includes('\\u0000'));
        // searchKeyText holds the writer's bytes as latin1 text.
        const command = parseOk(Buffer.from(`a SEARCH CHARSET UTF-8 ${searchKeyText(key)}`, 'latin1'));
        assert.ok(command.name === 'SEARCH');
        assert.deepEqual(command.criteria, { key: 'AND', operands: [key] });
      }),
      { numRuns: 1000 },
    );
  });
});
