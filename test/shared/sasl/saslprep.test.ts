import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SaslprepError, saslprep } from '../../../shared/sasl/saslprep.ts';

const stored = { allowUnassigned: false };
const query = { allowUnassigned: true };

describe('SASLprep (RFC 4013)', () => {
  it('maps and normalizes the RFC 4013 §3 examples', () => {
    assert.equal(saslprep('I\u00adX', stored), 'IX'); // soft hyphen mapped to nothing
    assert.equal(saslprep('user', stored), 'user');
    assert.equal(saslprep('USER', stored), 'USER'); // case is preserved
    assert.equal(saslprep('\u00aa', stored), 'a'); // NFKC
    assert.equal(saslprep('\u2168', stored), 'IX'); // NFKC
  });

  it('rejects the RFC 4013 §3 error examples', () => {
    assert.throws(() => saslprep('\u0007', stored), SaslprepError); // prohibited control
    assert.throws(() => saslprep('\u0627\u0031', stored), SaslprepError); // bidi rule
  });

  it('maps non-ASCII spaces to SPACE and B.1 characters to nothing', () => {
    assert.equal(saslprep('a\u00a0b\u3000c', stored), 'a b c');
    assert.equal(saslprep('pa\u200bss\ufeffword', stored), 'password');
  });

  it('prohibits private use, non-characters, surrogates, tagging and direction controls', () => {
    for (const bad of ['\ue000', '\ufdd0', '\ud800', 'a\u202eb', '\u{e0001}', '\u2ff0', 'a\u2028b', '\u{10fffd}']) {
      assert.throws(() => saslprep(bad, query), SaslprepError, JSON.stringify(bad));
    }
  });

  it('accepts right-to-left strings that start and end right-to-left, and refuses mixed ones', () => {
    assert.equal(saslprep('\u05d0\u05d1\u05d2', stored), '\u05d0\u05d1\u05d2');
    assert.equal(saslprep('\u0627\u0031\u0628', stored), '\u0627\u0031\u0628');
    assert.throws(() => saslprep('\u05d0a\u05d1', stored), SaslprepError);
  });

  it('refuses unassigned code points in stored strings only', () => {
    const unassigned = '\u{50000}';
    assert.throws(() => saslprep(unassigned, stored), /unassigned/);
    assert.equal(saslprep(unassigned, query), unassigned);
  });
});
