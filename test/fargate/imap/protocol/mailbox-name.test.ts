import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  decodeMailboxName,
  encodeMailboxName,
  MailboxNameError,
} from '../../../../fargate/imap/protocol/mailbox-name.ts';

describe('modified UTF-7 (RFC 3501 §5.1.3)', () => {
  const pairs: Array<[string, string]> = [
    ['INBOX', 'INBOX'],
    ['~peter/mail/台北/日本語', '~peter/mail/&U,BTFw-/&ZeVnLIqe-'],
    ['Entwürfe', 'Entw&APw-rfe'],
    ['A&B', 'A&-B'],
    ['&', '&-'],
    ['é', '&AOk-'],
    ['éé', '&AOkA6Q-'],
    ['😀', '&2D3eAA-'],
    ['a\tb', 'a&AAk-b'],
    ['', ''],
  ];

  test('encodes and decodes the known forms', () => {
    for (const [name, wire] of pairs) {
      assert.equal(encodeMailboxName(name), wire, name);
      assert.equal(decodeMailboxName(wire), name, wire);
    }
  });

  test('rejects every non-canonical or broken encoding', () => {
    for (const wire of [
      '&AOk', // unterminated
      '&AGE-', // encodes "a", which must represent itself
      '&ACY-', // encodes "&"
      '&AOk-&AOk-', // two runs that should be one
      '&AO-', // bytes that do not make a UTF-16 unit
      '&AOl-', // non-zero padding bits
      '&AOkA-', // leftover bits amount to more than padding
      '&2D0-', // high surrogate alone
      '&3gA-', // low surrogate alone
      '&A.k-', // not modified base64
      '&AOk=-', // padding is not used
      'caf\u00e9', // raw 8-bit
      'a\u0001b', // raw control character
    ]) {
      assert.throws(() => decodeMailboxName(wire), MailboxNameError, wire);
    }
  });

  test('encoding refuses unpaired surrogates', () => {
    assert.throws(() => encodeMailboxName('a\ud800b'), MailboxNameError);
  });

  test('round trip: decode(encode(name)) is name for any well-formed string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (name) => {
        assert.equal(decodeMailboxName(encodeMailboxName(name)), name);
      }),
      { numRuns: 2000 },
    );
  });

  test('canonical: every accepted wire form is what encoding its decoding gives', () => {
    const wireChar = fc.constantFrom(...'&-AOkBCD+,2DeA3gxyz/ '.split(''));
    fc.assert(
      fc.property(fc.array(wireChar, { maxLength: 24 }), (chars) => {
        const wire = chars.join('');
        let decoded: string;
        try {
          decoded = decodeMailboxName(wire);
        } catch (error) {
          assert.ok(error instanceof MailboxNameError);
          return;
        }
        assert.equal(encodeMailboxName(decoded), wire);
      }),
      { numRuns: 5000 },
    );
  });
});
