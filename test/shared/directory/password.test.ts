import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { InvalidPasswordError } from '../../../shared/directory/errors.ts';
import {
  type Credentials,
  DEFAULT_SCRYPT_COST,
  deriveCredentials,
  MAX_PASSWORD_OCTETS,
  preparePassword,
  verifyAgainstDummy,
  verifyCredentials,
} from '../../../shared/directory/password.ts';

describe('password verifiers', () => {
  test('a derived scrypt verifier accepts its password and nothing else', async () => {
    const credentials = await deriveCredentials('open sesame 123');
    assert.equal(credentials.scrypt?.v, 1);
    assert.equal(credentials.scrypt?.N, DEFAULT_SCRYPT_COST.N);
    assert.equal(Buffer.from(credentials.scrypt!.salt, 'base64').length, 16);
    assert.equal(await verifyCredentials(credentials, 'open sesame 123'), true);
    assert.equal(await verifyCredentials(credentials, 'open sesame 124'), false);
    assert.equal(await verifyCredentials(credentials, 'Open sesame 123'), false);
    assert.equal(await verifyCredentials(credentials, ''), false);
  });

  test('two verifiers of one password differ (random salt)', async () => {
    const [a, b] = await Promise.all([deriveCredentials('same password'), deriveCredentials('same password')]);
    assert.notEqual(a.scrypt?.salt, b.scrypt?.salt);
    assert.notEqual(a.scrypt?.key, b.scrypt?.key);
  });

  test('passwords we will not store are refused with a reason', async () => {
    await assert.rejects(deriveCredentials(''), { name: 'InvalidPasswordError', message: /empty/ });
    await assert.rejects(deriveCredentials('seven77'), { name: 'InvalidPasswordError', message: /at least 8/ });
    await assert.rejects(deriveCredentials('tab\there ok'), { name: 'InvalidPasswordError', message: /control/ });
    await assert.rejects(deriveCredentials('x'.repeat(MAX_PASSWORD_OCTETS + 1)), {
      name: 'InvalidPasswordError',
      message: /longer than 1024/,
    });
    await assert.rejects(deriveCredentials('é'.repeat(600)), { name: 'InvalidPasswordError', message: /longer/ });
  });

  test('a tampered or unknown verifier never verifies, and never runs away', async () => {
    const credentials = await deriveCredentials('open sesame 123');
    const tampered: Credentials[] = [
      {},
      { scrypt: { ...credentials.scrypt!, N: 2 ** 30 } },
      { scrypt: { ...credentials.scrypt!, N: 1000 } },
      { scrypt: { ...credentials.scrypt!, r: 0 } },
      { scrypt: { ...credentials.scrypt!, v: 99 } },
      { scrypt: { ...credentials.scrypt!, key: '' } },
    ];
    for (const candidate of tampered) {
      const start = performance.now();
      assert.equal(await verifyCredentials(candidate, 'open sesame 123'), false);
      assert.ok(performance.now() - start < 2000);
    }
  });

  test('the dummy check accepts any input without throwing', async () => {
    await verifyAgainstDummy('');
    await verifyAgainstDummy('x'.repeat(100_000));
    await verifyAgainstDummy('\u0000');
  });

  test('preparation is idempotent and throws nothing but InvalidPasswordError', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (input) => {
        let prepared: string;
        try {
          prepared = preparePassword(input);
        } catch (error) {
          if (error instanceof InvalidPasswordError) return;
          throw error;
        }
        assert.equal(preparePassword(prepared), prepared);
      }),
      { numRuns: 3000 },
    );
  });
});
