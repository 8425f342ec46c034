import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EnvelopeError } from '../../../shared/keyvault/key-vault.ts';
import { LocalKeyVault } from '../../../shared/keyvault/local-key-vault.ts';
import {
  CredentialRecordError,
  createDecoyCredentials,
  type DerivedCredentials,
  deriveCredentials,
  digestMd5Secret,
  openCredentials,
  PasswordRejectedError,
  SCRAM_ITERATIONS,
  sealCredentials,
  verifyScryptPassword,
} from '../../../shared/sasl/credentials.ts';
import { md4 } from '../../../shared/sasl/md4.ts';
import { hmacMd5FromStates } from '../../../shared/sasl/md5-state.ts';

describe('credentials', () => {
  let dir: string;
  let vault: LocalKeyVault;
  let derived: DerivedCredentials;
  const password = 'Tr0ub4dor&3 ü';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'marmot-cred-'));
    vault = await LocalKeyVault.open(dir);
    derived = await deriveCredentials(password, { username: 'alice@example.com', realm: 'example.com' });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('derives every verifier from the password', async () => {
    assert.ok(await verifyScryptPassword(derived.scrypt, password));
    assert.ok(!(await verifyScryptPassword(derived.scrypt, `${password}x`)));
    for (const hash of ['SHA-1', 'SHA-256'] as const) {
      const scram = derived.scram[hash];
      assert.equal(scram.iterations, SCRAM_ITERATIONS);
      assert.ok(scram.iterations >= 4096);
      assert.equal(scram.storedKey.length, hash === 'SHA-1' ? 20 : 32);
    }
    assert.notDeepEqual(derived.scram['SHA-1'].salt, derived.scram['SHA-256'].salt);
    // CRAM-MD5 states continue to the same HMAC as the password would give.
    const challenge = Buffer.from('<1.2@host>');
    assert.deepEqual(
      hmacMd5FromStates(derived.legacy.cramMd5, challenge),
      createHmac('md5', password).update(challenge).digest(),
    );
    assert.deepEqual(derived.legacy.ntHash, md4(Buffer.from(password, 'utf16le')));
    assert.deepEqual(
      derived.legacy.digestMd5.map(({ username, realm }) => [username, realm]),
      [
        ['alice@example.com', 'example.com'],
        ['alice', 'example.com'],
        ['alice@example.com', ''],
      ],
    );
    // ISO 8859-1 when the password fits in it (RFC 2831 §2.1.2.1, as Cyrus does).
    const latin1 = createHash('md5')
      .update(Buffer.from(`alice:example.com:${password}`, 'latin1'))
      .digest();
    assert.deepEqual(derived.legacy.digestMd5[1]!.secret, latin1);
  });

  it('uses UTF-8 for DIGEST-MD5 when a string does not fit ISO 8859-1', () => {
    const expected = createHash('md5').update(Buffer.from('u:r:пароль', 'utf8')).digest();
    assert.deepEqual(digestMd5Secret('u', 'r', 'пароль'), expected);
  });

  it('SASLprep-equivalent passwords verify for PLAIN', async () => {
    const spaced = await deriveCredentials('pass\u00a0word', { username: 'x@example.com', realm: 'example.com' });
    assert.ok(await verifyScryptPassword(spaced.scrypt, 'pass word'));
  });

  it('refuses unusable passwords', async () => {
    const identity = { username: 'x@example.com', realm: 'example.com' };
    for (const bad of ['', '\u0007bell', 'a'.repeat(1025), '\u00ad']) {
      await assert.rejects(deriveCredentials(bad, identity), PasswordRejectedError, JSON.stringify(bad.slice(0, 10)));
    }
  });

  it('seals the legacy verifiers and never stores the password', async () => {
    const record = await sealCredentials(derived, vault);
    const parsed = JSON.parse(record);
    assert.equal(parsed.v, 1);
    assert.ok(!record.includes(password));
    assert.ok(!record.includes(derived.legacy.ntHash.toString('hex')), 'NT hash is not in the clear');
    assert.ok(!record.includes(derived.legacy.ntHash.toString('base64')));
    assert.match(parsed.legacy, /^v1\.local\./);
    const stored = openCredentials(record, vault, 'alice@example.com');
    assert.ok(await verifyScryptPassword(stored.scrypt, password));
    assert.deepEqual(stored.scram['SHA-256'].storedKey, derived.scram['SHA-256'].storedKey);
    const legacy = await stored.legacyVerifiers();
    assert.deepEqual(legacy?.ntHash, derived.legacy.ntHash);
    assert.deepEqual(legacy?.cramMd5, derived.legacy.cramMd5);
    assert.deepEqual(legacy?.digestMd5, derived.legacy.digestMd5);
  });

  it("will not open one account's legacy verifiers as another's", async () => {
    const record = await sealCredentials(derived, vault);
    const moved = openCredentials(record, vault, 'mallory@example.com');
    await assert.rejects(moved.legacyVerifiers(), EnvelopeError);
  });

  it('rejects malformed records with a clear error', async () => {
    const good = JSON.parse(await sealCredentials(derived, vault));
    const variants: unknown[] = [
      'not json',
      { ...good, v: 2 },
      { ...good, scrypt: { ...good.scrypt, N: 1000 } },
      { ...good, scrypt: { ...good.scrypt, N: 2 ** 20, r: 32 } },
      { ...good, scram: { ...good.scram, 'SHA-1': { ...good.scram['SHA-1'], i: 1 } } },
      { ...good, scram: { ...good.scram, 'SHA-256': { ...good.scram['SHA-256'], storedKey: 'AAAA' } } },
      { ...good, legacy: 42 },
      [],
    ];
    for (const variant of variants) {
      const text = typeof variant === 'string' ? variant : JSON.stringify(variant);
      assert.throws(() => openCredentials(text, vault, 'alice@example.com'), CredentialRecordError, text.slice(0, 60));
    }
  });

  it('a password change replaces every verifier', async () => {
    const changed = await deriveCredentials('another one', { username: 'alice@example.com', realm: 'example.com' });
    assert.notDeepEqual(changed.scrypt.hash, derived.scrypt.hash);
    assert.notDeepEqual(changed.scram['SHA-1'].storedKey, derived.scram['SHA-1'].storedKey);
    assert.notDeepEqual(changed.scram['SHA-256'].storedKey, derived.scram['SHA-256'].storedKey);
    assert.notDeepEqual(changed.legacy.cramMd5, derived.legacy.cramMd5);
    assert.notDeepEqual(changed.legacy.ntHash, derived.legacy.ntHash);
    assert.notDeepEqual(changed.legacy.digestMd5, derived.legacy.digestMd5);
  });

  it('decoy SCRAM salts are stable per name and differ between names', async () => {
    const decoy = await createDecoyCredentials(vault);
    assert.deepEqual(
      decoy.scramSalt('nobody@example.com', 'SHA-256'),
      decoy.scramSalt('NOBODY@example.com', 'SHA-256'),
    );
    assert.notDeepEqual(
      decoy.scramSalt('nobody@example.com', 'SHA-256'),
      decoy.scramSalt('else@example.com', 'SHA-256'),
    );
    assert.ok(await decoy.credentials.legacyVerifiers(), 'the decoy pays the same vault call');
    // Processes given the same secret agree on the salt; without one they would not.
    const saltSecret = Buffer.alloc(32, 7);
    const [one, two] = await Promise.all([
      createDecoyCredentials(vault, { saltSecret }),
      createDecoyCredentials(vault, { saltSecret }),
    ]);
    assert.deepEqual(one.scramSalt('ghost@example.com', 'SHA-1'), two.scramSalt('ghost@example.com', 'SHA-1'));
    assert.notDeepEqual(decoy.scramSalt('ghost@example.com', 'SHA-1'), one.scramSalt('ghost@example.com', 'SHA-1'));
  });
});
