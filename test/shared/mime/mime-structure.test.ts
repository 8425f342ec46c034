import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { bodySectionRange } from '../../../fargate/imap/protocol/body-section.ts';
import {
  MAX_BOUNDARY_BYTES,
  MAX_HEADER_SECTION_BYTES,
  MAX_MIME_NESTING,
  MAX_MIME_PARTS,
} from '../../../shared/mime/limits.ts';
import { MimeStructureScanner, parseMessageStructure } from '../../../shared/mime/mime-structure.ts';
import type { BodyPart } from '../../../shared/mime/structure-types.ts';

const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n'), 'utf8');

function countParts(part: BodyPart): number {
  return (
    1 +
    (part.parts ?? []).reduce((sum, child) => sum + countParts(child), 0) +
    (part.message ? countParts(part.message.body) : 0)
  );
}

function depth(part: BodyPart): number {
  const children = [...(part.parts ?? []), ...(part.message ? [part.message.body] : [])];
  return 1 + Math.max(0, ...children.map(depth));
}

describe('MIME structure', () => {
  test('offsets of a small multipart, worked out by hand', () => {
    const message = crlf([
      'Content-Type: multipart/mixed; boundary=b', // 0..41, CRLF to 43
      '', // 43..45
      '--b', // 45..48, CRLF to 50
      '', // 50..52: part 1 has an empty header
      'one', // 52..55; its CRLF belongs to the next boundary
      '--b', // 57..60
      'Content-Type: text/html', // 62..85
      '', // 87..89
      '<p>', // 89..92
      '--b--', // 94..99
      '',
    ]);
    const { body } = parseMessageStructure(message);
    assert.equal(body.bodyOffset, 45);
    assert.equal(body.bodyEnd, message.length);
    const [one, two] = body.parts!;
    assert.deepEqual([one!.headerOffset, one!.bodyOffset, one!.bodyEnd, one!.size, one!.lines], [50, 52, 55, 3, 0]);
    assert.deepEqual([two!.headerOffset, two!.bodyOffset, two!.bodyEnd, two!.subtype], [62, 89, 92, 'html']);
    assert.equal(message.toString('latin1', two!.bodyOffset, two!.bodyEnd), '<p>');
  });

  test('parts beyond MAX_MIME_PARTS are not followed; their bytes stay in the last part', () => {
    const lines = ['Content-Type: multipart/mixed; boundary=p', ''];
    for (let i = 0; i < MAX_MIME_PARTS + 10; i++) lines.push('--p', '', `part ${i}`);
    lines.push('--p--', '');
    const structure = parseMessageStructure(crlf(lines));
    assert.equal(countParts(structure.body), MAX_MIME_PARTS);
    const last = structure.body.parts!.at(-1)!;
    assert.equal(last.bodyEnd, structure.size, 'the last followed part runs to the end');
  });

  test(`nesting stops at ${MAX_MIME_NESTING} levels: the deepest container becomes application/octet-stream`, () => {
    const levels = MAX_MIME_NESTING + 5;
    const lines = ['Content-Type: multipart/mixed; boundary="n0z"', ''];
    for (let i = 1; i < levels; i++) lines.push(`--n${i - 1}z`, `Content-Type: multipart/mixed; boundary="n${i}z"`, '');
    lines.push(`--n${levels - 1}z`, '', 'deepest', `--n${levels - 1}z--`);
    const { body } = parseMessageStructure(crlf(lines));
    assert.equal(depth(body), MAX_MIME_NESTING);
    let part = body;
    while (part.parts) part = part.parts[0]!;
    assert.deepEqual(
      [part.type, part.subtype, part.params],
      ['application', 'octet-stream', [['boundary', `n${MAX_MIME_NESTING - 1}z`]]],
    );
  });

  test('an encapsulated message counts as a level too', () => {
    const lines: string[] = [];
    for (let i = 0; i < MAX_MIME_NESTING + 3; i++) lines.push('Content-Type: message/rfc822', '');
    lines.push('Subject: innermost', '', 'body');
    const { body } = parseMessageStructure(crlf(lines));
    assert.equal(depth(body), MAX_MIME_NESTING);
  });

  test('header beyond MAX_HEADER_SECTION_BYTES is counted but not read', () => {
    const filler = Array.from(
      { length: Math.ceil(MAX_HEADER_SECTION_BYTES / 900) },
      (_, i) => `X-Filler-${i}: ${'x'.repeat(980)}`,
    );
    const message = crlf(['From: early@example.com', ...filler, 'Subject: too late', '', 'body']);
    const structure = parseMessageStructure(message);
    assert.deepEqual(structure.envelope.from, [{ name: null, adl: null, mailbox: 'early', host: 'example.com' }]);
    assert.equal(structure.envelope.subject, null);
    assert.equal(message.toString('latin1', structure.body.bodyOffset, structure.body.bodyEnd), 'body');
  });

  test('a boundary longer than MAX_BOUNDARY_BYTES is not followed', () => {
    const boundary = 'b'.repeat(MAX_BOUNDARY_BYTES + 1);
    const structure = parseMessageStructure(
      crlf([`Content-Type: multipart/mixed; boundary="${boundary}"`, '', `--${boundary}`, '', 'x', `--${boundary}--`]),
    );
    assert.equal(structure.body.parts!.length, 1);
    assert.equal(structure.body.parts![0]!.size, 0);
  });

  test('the longest matching boundary wins, so a boundary that prefixes another does not steal its lines', () => {
    const structure = parseMessageStructure(
      crlf([
        'Content-Type: multipart/mixed; boundary=abc',
        '',
        '--abc',
        'Content-Type: multipart/alternative; boundary=abcdef',
        '',
        '--abcdef',
        '',
        'inner',
        '--abcdef--',
        '--abc--',
      ]),
    );
    const inner = structure.body.parts![0]!;
    assert.equal(inner.parts!.length, 1);
    assert.equal(inner.parts![0]!.size, 'inner'.length);
  });

  test('a 5 MB line is scanned without trouble', () => {
    const line = 'A'.repeat(5 * 1024 * 1024);
    const message = crlf(['Content-Type: application/octet-stream', '', line, '']);
    const structure = parseMessageStructure(message);
    assert.equal(structure.body.size, line.length + 2);
  });

  test('the scanner refuses use after end', () => {
    const scanner = new MimeStructureScanner();
    scanner.write(Buffer.from('Subject: x\r\n\r\n'));
    scanner.end();
    assert.throws(() => scanner.write(Buffer.from('more')));
    assert.throws(() => scanner.end());
  });
});

/** A generated MIME tree, rendered into a message and expected back from the scanner. */
type Tree =
  | { kind: 'leaf'; subtype: string; body: string }
  | { kind: 'multipart'; subtype: string; parts: Tree[] }
  | { kind: 'message'; subject: string; inner: Tree };

const leafText = fc.stringMatching(/^[a-zA-Z0-9 .,]{0,40}$/);

const { tree } = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({
      kind: fc.constant('leaf' as const),
      subtype: fc.constantFrom('plain', 'html'),
      body: fc.array(leafText, { maxLength: 3 }).map((lines) => lines.join('\n')),
    }),
    fc.record({
      kind: fc.constant('multipart' as const),
      subtype: fc.constantFrom('mixed', 'alternative'),
      parts: fc.array(tie('tree'), { minLength: 1, maxLength: 3 }),
    }),
    fc.record({
      kind: fc.constant('message' as const),
      subject: fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9 .,]{0,20}$/),
      inner: tie('tree'),
    }),
  ),
}));

let boundaryCounter = 0;

/** Renders a tree as an entity: header lines, blank line, body. */
function render(node: Tree, eol: string): string {
  if (node.kind === 'leaf') return `Content-Type: text/${node.subtype}${eol}${eol}${node.body.replaceAll('\n', eol)}`;
  if (node.kind === 'message')
    return `Content-Type: message/rfc822${eol}${eol}Subject: ${node.subject}${eol}${render(node.inner, eol)}`;
  const boundary = `=_b${boundaryCounter++}_`;
  const parts = node.parts.map((part) => `--${boundary}${eol}${render(part, eol)}${eol}`).join('');
  return `Content-Type: multipart/${node.subtype}; boundary="${boundary}"${eol}${eol}${parts}--${boundary}--`;
}

/** Checks the parsed part against the tree it was rendered from. */
function matches(message: Buffer, part: BodyPart, node: Tree, eol: string): void {
  if (node.kind === 'leaf') {
    assert.deepEqual([part.type, part.subtype], ['text', node.subtype]);
    assert.equal(message.toString('utf8', part.bodyOffset, part.bodyEnd), node.body.replaceAll('\n', eol));
  } else if (node.kind === 'message') {
    assert.deepEqual([part.type, part.subtype], ['message', 'rfc822']);
    assert.equal(part.message!.envelope.subject, node.subject);
    matches(message, part.message!.body, node.inner, eol);
  } else {
    assert.deepEqual([part.type, part.subtype], ['multipart', node.subtype]);
    assert.equal(part.parts!.length, node.parts.length);
    for (const [i, child] of node.parts.entries()) matches(message, part.parts![i]!, child, eol);
  }
}

describe('MIME structure properties', () => {
  test('generated MIME trees come back with their shape and their bodies at the right offsets', () => {
    fc.assert(
      fc.property(tree, fc.constantFrom('\r\n', '\n'), fc.integer({ min: 1, max: 50 }), (node, eol, chunk) => {
        const message = Buffer.from(`Subject: generated${eol}${render(node, eol)}`, 'utf8');
        const scanner = new MimeStructureScanner();
        for (let offset = 0; offset < message.length; offset += chunk)
          scanner.write(message.subarray(offset, offset + chunk));
        const structure = scanner.end();
        matches(message, structure.body, node, eol);
        assert.deepEqual(structure, parseMessageStructure(message));
      }),
      { numRuns: 400 },
    );
  });

  test('random bytes never throw and always give well-nested offsets and existing sections', () => {
    const noise = fc.array(
      fc.oneof(
        fc.constantFrom(
          '\r\n',
          '\n',
          '--b',
          '--b--',
          '--c',
          'Content-Type: multipart/mixed; boundary=b',
          'Content-Type: message/rfc822',
          'Content-Type: multipart/digest; boundary=c',
          ': ',
          ' ',
          'From: a@b',
        ),
        fc.uint8Array({ maxLength: 20 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
      ),
      { maxLength: 60 },
    );
    fc.assert(
      fc.property(noise, (pieces) => {
        const message = Buffer.from(pieces.join(''), 'latin1');
        const structure = parseMessageStructure(message);
        assert.equal(structure.size, message.length);
        const check = (part: BodyPart, start: number, end: number) => {
          assert.ok(start <= part.headerOffset && part.headerOffset <= part.bodyOffset);
          assert.ok(part.bodyOffset <= part.bodyEnd && part.bodyEnd <= end);
          assert.equal(part.size, part.bodyEnd - part.bodyOffset);
          for (const child of part.parts ?? []) check(child, part.bodyOffset, part.bodyEnd);
          if (part.parts) assert.ok(part.parts.length > 0, 'a multipart always has a part');
          if (part.message) check(part.message.body, part.bodyOffset, part.bodyEnd);
        };
        check(structure.body, 0, message.length);
        const whole = bodySectionRange(structure, { part: [] });
        assert.deepEqual(whole, { start: 0, end: message.length });
        assert.ok(bodySectionRange(structure, { part: [1] }), 'every message has a part 1');
      }),
      { numRuns: 1500 },
    );
  });
});
