import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { InvalidFlagError, InvalidMailboxNameError } from '../../../shared/mailbox/errors.ts';
import {
  applyFlagChange,
  isSameOrInferior,
  MAX_MAILBOX_NAME_BYTES,
  normalizeFlags,
  normalizeMailboxName,
  superiorNames,
} from '../../../shared/mailbox/names.ts';

describe('mailbox names and flags', () => {
  it('normalizes INBOX, NFC, and rejects what cannot be a key part', () => {
    assert.equal(normalizeMailboxName('iNbOx'), 'INBOX');
    assert.equal(normalizeMailboxName('inbox/Sub/inbox'), 'INBOX/Sub/inbox');
    assert.equal(normalizeMailboxName('Inboxes'), 'Inboxes');
    assert.equal(normalizeMailboxName('Caf\u0065\u0301'), 'Caf\u00e9');
    assert.throws(() => normalizeMailboxName('bad\ud800'), InvalidMailboxNameError);
    assert.throws(() => normalizeMailboxName('é'.repeat(MAX_MAILBOX_NAME_BYTES / 2 + 1)), InvalidMailboxNameError);
    assert.deepEqual(superiorNames('a/b/c'), ['a', 'a/b']);
    assert.equal(isSameOrInferior('a/b', 'a'), true);
    assert.equal(isSameOrInferior('ab', 'a'), false);
  });

  it('either returns a stable normal form or throws InvalidMailboxNameError, for any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme-composite', maxLength: 80 }), (name) => {
        try {
          const normal = normalizeMailboxName(name);
          assert.equal(normalizeMailboxName(normal), normal);
          assert.ok(Buffer.byteLength(normal) <= MAX_MAILBOX_NAME_BYTES);
        } catch (error) {
          assert.ok(error instanceof InvalidMailboxNameError, String(error));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('canonicalizes flags and refuses non-atoms, for any input', () => {
    assert.deepEqual(normalizeFlags(['\\SEEN', '\\flagged', '$Junk', '$junk']), ['\\Seen', '\\Flagged', '$Junk']);
    assert.deepEqual(applyFlagChange(['\\Seen', 'Work'], 'remove', ['work']), ['\\Seen']);
    for (const flag of ['\\Recent', '\\Custom', 'has space', 'paren(', 'quote"', 'brace{', 'star*', 'bracket]', '']) {
      assert.throws(() => normalizeFlags([flag]), InvalidFlagError, flag);
    }
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 20 }), { maxLength: 10 }), (flags) => {
        try {
          const normal = normalizeFlags(flags);
          assert.deepEqual(normalizeFlags(normal), normal);
        } catch (error) {
          assert.ok(error instanceof InvalidFlagError, String(error));
        }
      }),
      { numRuns: 500 },
    );
  });
});
