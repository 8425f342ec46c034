import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parsePlainMessage } from '../../../shared/sasl/plain.ts';
import { createMechanism } from '../../../shared/sasl/sasl.ts';
import { ADMIN, ALICE, BOB, outcome, PASSWORD, saslFixture } from './sasl-fixture.ts';

const plain = (authzid: string, authcid: string, password: string) =>
  Buffer.from(`${authzid}\0${authcid}\0${password}`);

describe('PLAIN (RFC 4616)', () => {
  it('authenticates with an initial response, and without one after an empty challenge', async () => {
    const fixture = await saslFixture();
    const withIr = createMechanism('PLAIN', fixture.context())!;
    assert.deepEqual(await withIr.step(plain('', ALICE, PASSWORD)), {
      success: { authcid: ALICE, authzid: ALICE },
    });
    const withoutIr = createMechanism('plain', fixture.context())!;
    assert.deepEqual(await withoutIr.step(undefined), { challenge: Buffer.alloc(0) });
    const result = await withoutIr.step(plain('', 'Alice@Example.com', PASSWORD));
    assert.deepEqual(result, { success: { authcid: ALICE, authzid: ALICE } }, 'canonical login returned');
  });

  it('fails the same way for a wrong password and an unknown user, both after the full scrypt work', async () => {
    const fixture = await saslFixture();
    const started = performance.now();
    const wrong = await createMechanism('PLAIN', fixture.context())!.step(plain('', ALICE, 'wrong'));
    const wrongMs = performance.now() - started;
    const unknownStarted = performance.now();
    const unknown = await createMechanism('PLAIN', fixture.context())!.step(plain('', 'nobody@example.com', PASSWORD));
    const unknownMs = performance.now() - unknownStarted;
    assert.equal(outcome(wrong), 'bad-credentials');
    assert.equal(outcome(unknown), 'bad-credentials');
    // scrypt at N=2^15 takes tens of milliseconds; a skipped check would take well under one.
    assert.ok(unknownMs > 10 && wrongMs > 10, `unknown ${unknownMs} ms, wrong ${wrongMs} ms`);
  });

  it('applies the authorization-identity rule', async () => {
    const fixture = await saslFixture();
    const run = (authzid: string, authcid: string) =>
      createMechanism('PLAIN', fixture.context())!.step(plain(authzid, authcid, PASSWORD));
    assert.deepEqual(await run(ALICE.toUpperCase(), ALICE), { success: { authcid: ALICE, authzid: ALICE } });
    assert.equal(outcome(await run(BOB, ALICE)), 'authorization-denied');
    assert.deepEqual(await run(BOB, ADMIN), { success: { authcid: ADMIN, authzid: BOB } });
    assert.equal(outcome(await run('ghost@example.com', ADMIN)), 'authorization-denied');
  });

  it('refuses malformed messages before any lookup', async () => {
    const fixture = await saslFixture();
    const before = fixture.directory.lookups.length;
    const bad = [
      Buffer.from('no separators'),
      Buffer.from(`\0${ALICE}`),
      Buffer.from(`a\0b\0c\0d`),
      plain('', '', PASSWORD),
      plain('', ALICE, ''),
      Buffer.concat([Buffer.from(`\0${ALICE}\0`), Buffer.from([0xc3, 0x28])]),
      plain('', 'x'.repeat(256), PASSWORD),
      plain('', ALICE, 'x'.repeat(1025)),
      Buffer.alloc(0),
    ];
    for (const message of bad) {
      const result = await createMechanism('PLAIN', fixture.context())!.step(message);
      assert.equal(outcome(result), 'malformed', JSON.stringify(message.toString().slice(0, 30)));
    }
    assert.equal(fixture.directory.lookups.length, before);
  });

  it('parses any bytes without throwing, and what it accepts rebuilds the message', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 255 })), { maxLength: 80 }), (bytes) => {
        const message = Buffer.from(bytes);
        const parsed = parsePlainMessage(message);
        if ('error' in parsed) return;
        assert.deepEqual(Buffer.from(`${parsed.authzid}\0${parsed.authcid}\0${parsed.password}`), message);
      }),
      { numRuns: 3000 },
    );
  });

  it('is not allowed without TLS', async () => {
    const fixture = await saslFixture();
    const result = await createMechanism('PLAIN', fixture.context({ tls: false }))!.step(plain('', ALICE, PASSWORD));
    assert.equal(outcome(result), 'mechanism-not-allowed');
  });
});

describe('LOGIN (draft-murchison-sasl-login)', () => {
  it('asks Username: then Password:', async () => {
    const fixture = await saslFixture();
    const mechanism = createMechanism('LOGIN', fixture.context())!;
    assert.deepEqual(await mechanism.step(undefined), { challenge: Buffer.from('Username:') });
    assert.deepEqual(await mechanism.step(Buffer.from(ALICE)), { challenge: Buffer.from('Password:') });
    assert.deepEqual(await mechanism.step(Buffer.from(PASSWORD)), { success: { authcid: ALICE, authzid: ALICE } });
  });

  it('takes the user name as initial response', async () => {
    const fixture = await saslFixture();
    const mechanism = createMechanism('LOGIN', fixture.context())!;
    assert.deepEqual(await mechanism.step(Buffer.from(ALICE)), { challenge: Buffer.from('Password:') });
    assert.equal(outcome(await mechanism.step(Buffer.from(PASSWORD))), 'success');
  });

  it('fails alike for a wrong password and an unknown user; refuses bad input and plaintext connections', async () => {
    const fixture = await saslFixture();
    const attempt = async (user: string, password: string, tls = true) => {
      const mechanism = createMechanism('LOGIN', fixture.context({ tls }))!;
      const first = await mechanism.step(Buffer.from(user));
      if (!('challenge' in first)) return first;
      return mechanism.step(Buffer.from(password));
    };
    assert.equal(outcome(await attempt(ALICE, 'nope')), 'bad-credentials');
    assert.equal(outcome(await attempt('nobody@example.com', PASSWORD)), 'bad-credentials');
    assert.equal(outcome(await attempt(ALICE, PASSWORD, false)), 'mechanism-not-allowed');
    assert.equal(outcome(await attempt(ALICE, '')), 'malformed');
    const invalid = createMechanism('LOGIN', fixture.context())!;
    assert.equal(outcome(await invalid.step(Buffer.from([0xff, 0xfe]))), 'malformed');
  });
});
