import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  binaryPart,
  bodySectionRange,
  filterHeaderFields,
  findBodyPart,
} from '../../../../fargate/imap/protocol/body-section.ts';
import type { BodySection } from '../../../../fargate/imap/protocol/command-types.ts';
import { parseMessageStructure } from '../../../../shared/mime/mime-structure.ts';

const corpus = (name: string) => readFileSync(join(import.meta.dirname, '../../../shared/mime/corpus', name));

/** The bytes a section names, as text. */
function section(message: Buffer, spec: BodySection): string | undefined {
  const range = bodySectionRange(parseMessageStructure(message), spec);
  return range && message.toString('utf8', range.start, range.end);
}

describe('BODY[section] ranges (RFC 9051 §6.4.5)', () => {
  const forwarded = corpus('message-rfc822.eml');

  test('whole message, HEADER and TEXT', () => {
    assert.equal(section(forwarded, { part: [] }), forwarded.toString('utf8'));
    const header = section(forwarded, { part: [], text: 'HEADER' })!;
    assert.ok(header.startsWith('From: ivan@example.com\r\n') && header.endsWith('boundary="fwd"\r\n\r\n'));
    assert.ok(section(forwarded, { part: [], text: 'TEXT' })!.startsWith('--fwd\r\n'));
    assert.equal(section(forwarded, { part: [], text: 'MIME' }), undefined);
  });

  test('numbered parts, MIME headers, and HEADER/TEXT of an encapsulated message', () => {
    assert.equal(section(forwarded, { part: [1] }), 'See the forwarded message.\r\n');
    assert.equal(section(forwarded, { part: [1], text: 'MIME' }), 'Content-Type: text/plain\r\n\r\n');
    assert.ok(section(forwarded, { part: [2] })!.startsWith('From: Mallory'));
    assert.ok(section(forwarded, { part: [2], text: 'HEADER' })!.endsWith('boundary="min"\r\n\r\n'));
    assert.ok(section(forwarded, { part: [2], text: 'TEXT' })!.startsWith('--min\r\n'));
    assert.equal(section(forwarded, { part: [2, 1] }), 'Minutes in text.');
    assert.equal(section(forwarded, { part: [2, 2] }), '<p>Minutes in HTML.</p>');
    assert.equal(
      section(forwarded, { part: [2, 2], text: 'MIME' }),
      'Content-Type: text/html; charset=us-ascii\r\n\r\n',
    );
  });

  test('sections that do not exist', () => {
    for (const spec of [
      { part: [3] },
      { part: [0] },
      { part: [1, 1] },
      { part: [1], text: 'HEADER' },
      { part: [1], text: 'TEXT' },
      { part: [2, 3] },
    ] satisfies BodySection[]) {
      assert.equal(section(forwarded, spec), undefined, JSON.stringify(spec));
    }
  });

  test('a message that is not multipart has one part: its body, with the message header as MIME header', () => {
    const plain = corpus('plain-no-content-type.eml');
    assert.equal(section(plain, { part: [1] }), 'Shall we have lunch\r\nat noon?\r\n');
    assert.ok(section(plain, { part: [1], text: 'MIME' })!.startsWith('Return-Path:'));
    assert.equal(section(plain, { part: [2] }), undefined);
  });

  test('a top-level message/rfc822: 1 is the encapsulated message, 1.1 its body', () => {
    const bare = corpus('message-rfc822-bare.eml');
    assert.ok(section(bare, { part: [1] })!.startsWith('From: inner@example.com'));
    assert.equal(section(bare, { part: [1, 1] }), 'inner body\r\ntwo lines\r\n');
    assert.ok(section(bare, { part: [1], text: 'HEADER' })!.startsWith('From: inner@example.com'));
    assert.equal(section(bare, { part: [1], text: 'TEXT' }), 'inner body\r\ntwo lines\r\n');
  });

  test('findBodyPart follows multiparts and encapsulated messages', () => {
    const structure = parseMessageStructure(forwarded);
    assert.equal(findBodyPart(structure, [])?.type, undefined);
    assert.equal(findBodyPart(structure, [2])?.subtype, 'rfc822');
    assert.equal(findBodyPart(structure, [2, 2])?.subtype, 'html');
  });

  test('BINARY parts carry their transfer encoding; multiparts have none', () => {
    const structure = parseMessageStructure(corpus('multipart-attachment.eml'));
    const pdf = binaryPart(structure, [2])!;
    assert.equal(pdf.encoding, 'base64');
    assert.equal(pdf.end - pdf.start, 94);
    assert.equal(binaryPart(structure, [1])!.encoding, 'quoted-printable');
    assert.equal(binaryPart(structure, []), undefined);
    assert.equal(binaryPart(structure, [3]), undefined);
  });
});

describe('HEADER.FIELDS filtering', () => {
  const header = Buffer.from('From: a@b\r\nSubject: one\r\n two\r\nTo: c@d\r\nX-Tag: 1\r\nsubject: again\r\n\r\n');

  test('keeps the named fields, folded lines and all, in order, with the blank line', () => {
    assert.equal(
      filterHeaderFields(header, ['SUBJECT', 'x-tag'], false).toString(),
      'Subject: one\r\n two\r\nX-Tag: 1\r\nsubject: again\r\n\r\n',
    );
  });

  test('.NOT keeps the others', () => {
    assert.equal(filterHeaderFields(header, ['subject', 'X-Tag'], true).toString(), 'From: a@b\r\nTo: c@d\r\n\r\n');
  });

  test('no match gives just the blank line', () => {
    assert.equal(filterHeaderFields(header, ['Cc'], false).toString(), '\r\n');
  });
});
