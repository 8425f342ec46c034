import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { InvalidPasswordError } from '../../../shared/directory/errors.ts';
import {
  checkNewPassword,
  isUsableScryptOnlyVerifier,
  MAX_PASSWORD_OCTETS,
  preparePassword,
  verifyScryptOnly,
} from '../../../shared/directory/password.ts';
import { scryptOnlyCredentials } from './scrypt-only-credentials.ts';

describe('password policy', () => {
  test('passwords we will not set are refused with a reason', () => {
    assert.throws(() => checkNewPassword(''), { name: 'InvalidPasswordError', message: /empty/ });
    assert.throws(() => checkNewPassword('seven77'), { name: 'InvalidPasswordError', message: /at least 8/ });
    assert.throws(() => checkNewPassword('tab\there ok'), { name: 'InvalidPasswordError', message: /control/ });
    assert.throws(() => checkNewPassword('x'.repeat(MAX_PASSWORD_OCTETS + 1)), {
      name: 'InvalidPasswordError',
      message: /longer than 1024/,
    });
    assert.throws(() => checkNewPassword('é'.repeat(600)), { name: 'InvalidPasswordError', message: /longer/ });
    checkNewPassword('open sesame 123');
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

describe('scrypt-only verifiers (accounts stored before the SASL verifiers)', () => {
  test('a stored verifier accepts its password, after the same preparation, and nothing else', async () => {
    const { scrypt } = await scryptOnlyCredentials('caf\u00e9\u00a0au lait');
    assert.ok(isUsableScryptOnlyVerifier(scrypt));
    assert.equal(await verifyScryptOnly(scrypt, 'caf\u00e9\u00a0au lait'), true);
    assert.equal(await verifyScryptOnly(scrypt, 'cafe\u0301 au lait'), true);
    assert.equal(await verifyScryptOnly(scrypt, 'Caf\u00e9 au lait'), false);
    assert.equal(await verifyScryptOnly(scrypt, ''), false);
    assert.equal(await verifyScryptOnly(scrypt, 'x'.repeat(100_000)), false);
  });

  test('a tampered or unknown verifier is not usable, so it never runs away', async () => {
    const { scrypt } = await scryptOnlyCredentials('open sesame 123');
    const tampered: unknown[] = [
      undefined,
      null,
      'scrypt',
      { ...scrypt, N: 2 ** 30 },
      { ...scrypt, N: 1000 },
      { ...scrypt, r: 0 },
      { ...scrypt, p: 17 },
      { ...scrypt, v: 99 },
      { ...scrypt, key: '' },
      { ...scrypt, salt: 42 },
    ];
    for (const candidate of tampered) assert.equal(isUsableScryptOnlyVerifier(candidate), false, String(candidate));
  });
});
