/**
 * Golden tests over the corpus of tricky messages (corpus/*.eml): what FETCH would answer for ENVELOPE,
 * BODY, BODYSTRUCTURE and the byte range of every section, plus the decoded search fields, must match the
 * files in golden/. The golden files were checked by hand against RFC 9051/2045/2046 and against Dovecot
 * 2.3 (compare-with-dovecot.ts; the differences we keep on purpose are listed in README.md).
 *
 * To regenerate after a deliberate change: UPDATE_GOLDEN=1 node --import tsx --test <this file>, then
 * review the diff.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { bodySectionRange, findBodyPart } from '../../../fargate/imap/protocol/body-section.ts';
import type { BodySection } from '../../../fargate/imap/protocol/command-types.ts';
import {
  bodyStructureValue,
  envelopeValue,
  formatSection,
  serializeValue,
} from '../../../fargate/imap/protocol/response-writer.ts';
import { MimeStructureScanner, parseMessageStructure } from '../../../shared/mime/mime-structure.ts';
import type { BodyPart, MessageStructure } from '../../../shared/mime/structure-types.ts';

const CORPUS = join(import.meta.dirname, 'corpus');
const GOLDEN = join(import.meta.dirname, 'golden');

function sectionPaths(structure: MessageStructure, prefix: number[] = []): number[][] {
  const paths: number[][] = [];
  for (let n = 1; ; n++) {
    const path = [...prefix, n];
    if (!findBodyPart(structure, path)) break;
    paths.push(path, ...sectionPaths(structure, path));
  }
  return paths;
}

/** The golden rendering of one message. */
function render(structure: MessageStructure): Buffer {
  const lines: Buffer[] = [
    Buffer.from(`RFC822.SIZE ${structure.size}\n`),
    Buffer.concat([Buffer.from('ENVELOPE '), serializeValue(envelopeValue(structure.envelope)), Buffer.from('\n')]),
    Buffer.concat([Buffer.from('BODY '), serializeValue(bodyStructureValue(structure.body, false)), Buffer.from('\n')]),
    Buffer.concat([
      Buffer.from('BODYSTRUCTURE '),
      serializeValue(bodyStructureValue(structure.body, true)),
      Buffer.from('\n'),
    ]),
  ];
  const sections: BodySection[] = [
    { part: [], text: 'HEADER' },
    { part: [], text: 'TEXT' },
  ];
  for (const part of sectionPaths(structure)) {
    sections.push({ part }, { part, text: 'MIME' });
    if (findBodyPart(structure, part)?.message) sections.push({ part, text: 'HEADER' }, { part, text: 'TEXT' });
  }
  for (const section of sections) {
    const range = bodySectionRange(structure, section)!;
    lines.push(Buffer.from(`BODY[${formatSection(section)}] ${range.start}-${range.end}\n`));
  }
  lines.push(Buffer.from(`SEARCH ${JSON.stringify(structure.search)}\n`));
  return Buffer.concat(lines);
}

/** Every entity's offsets nest properly and its size and line count agree with the bytes. */
function checkOffsets(message: Buffer, part: BodyPart, start: number, end: number): void {
  assert.ok(start <= part.headerOffset, 'header starts inside the parent');
  assert.ok(part.headerOffset <= part.bodyOffset, 'header before body');
  assert.ok(part.bodyOffset <= part.bodyEnd, 'body not negative');
  assert.ok(part.bodyEnd <= end, 'body ends inside the parent');
  assert.equal(part.size, part.bodyEnd - part.bodyOffset);
  const body = message.subarray(part.bodyOffset, part.bodyEnd);
  let lfs = 0;
  for (const byte of body) if (byte === 0x0a) lfs++;
  assert.equal(part.lines, lfs, 'lines are the LF bytes of the body');
  let previousEnd = part.bodyOffset;
  for (const child of part.parts ?? []) {
    checkOffsets(message, child, previousEnd, part.bodyEnd);
    previousEnd = child.bodyEnd;
  }
  if (part.message) {
    assert.equal(part.message.body.headerOffset, part.bodyOffset, 'an encapsulated message starts the body');
    checkOffsets(message, part.message.body, part.bodyOffset, part.bodyEnd);
  }
}

const files = readdirSync(CORPUS)
  .filter((name) => name.endsWith('.eml'))
  .sort();

describe('MIME structure golden files', () => {
  test('the corpus is there', () => {
    assert.ok(files.length >= 25, `only ${files.length} corpus messages`);
  });

  for (const file of files) {
    test(file, () => {
      const message = readFileSync(join(CORPUS, file));
      const structure = parseMessageStructure(message);
      const rendered = render(structure);
      const goldenPath = join(GOLDEN, file.replace(/\.eml$/, '.txt'));
      if (process.env.UPDATE_GOLDEN) writeFileSync(goldenPath, rendered);
      assert.equal(rendered.toString('latin1'), readFileSync(goldenPath).toString('latin1'));

      assert.equal(structure.size, message.length);
      assert.equal(structure.body.headerOffset, 0);
      checkOffsets(message, structure.body, 0, message.length);
      // Plain JSON: what the index stores comes back unchanged.
      assert.deepEqual(JSON.parse(JSON.stringify(structure)), structure);
    });
  }

  test('streaming in any chunk size gives the same structure as one buffer', () => {
    for (const file of files) {
      const message = readFileSync(join(CORPUS, file));
      const whole = parseMessageStructure(message);
      for (const size of [1, 2, 3, 7, 64, 1000]) {
        const scanner = new MimeStructureScanner();
        for (let offset = 0; offset < message.length; offset += size) {
          // A fresh copy per chunk, then scribbled over: the scanner must not keep pointers into it.
          const chunk = Buffer.from(message.subarray(offset, offset + size));
          scanner.write(chunk);
          chunk.fill(0x41);
        }
        assert.deepEqual(scanner.end(), whole, `${file} in chunks of ${size}`);
      }
    }
  });
});
