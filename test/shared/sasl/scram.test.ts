import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ChannelBindings } from '../../../shared/sasl/channel-binding.ts';
import { deriveScramVerifier, type StoredCredentials } from '../../../shared/sasl/credentials.ts';
import type { SaslContext, SaslDirectory, SaslStepResult } from '../../../shared/sasl/mechanism.ts';
import { createMechanism } from '../../../shared/sasl/sasl.ts';
import { parseClientFirst } from '../../../shared/sasl/scram.ts';
import { ADMIN, ALICE, BOB, outcome, PASSWORD, saslFixture } from './sasl-fixture.ts';

type Hash = 'sha1' | 'sha256';

/** An independent SCRAM client (RFC 5802 §3). */
async function scramClient(
  ctx: SaslContext,
  mechanismName: string,
  options: {
    username: string;
    password: string;
    gs2Header?: string;
    cbindData?: Buffer;
    clientNonce?: string;
    tamper?: (clientFinal: string) => string;
  },
): Promise<{ serverFirst?: string; result: SaslStepResult; serverSignatureOk?: boolean }> {
  const hash: Hash = mechanismName.startsWith('SCRAM-SHA-1') ? 'sha1' : 'sha256';
  const mechanism = createMechanism(mechanismName, ctx)!;
  const gs2Header = options.gs2Header ?? 'n,,';
  const clientNonce = options.clientNonce ?? randomBytes(12).toString('base64');
  const bare = `n=${options.username.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=${clientNonce}`;
  const first = await mechanism.step(Buffer.from(gs2Header + bare));
  if (!('challenge' in first)) return { result: first };
  const serverFirst = first.challenge.toString();
  const attributes = Object.fromEntries(serverFirst.split(',').map((part) => [part[0], part.slice(2)]));
  const salted = pbkdf2Sync(
    options.password,
    Buffer.from(attributes.s!, 'base64'),
    Number(attributes.i),
    hash === 'sha1' ? 20 : 32,
    hash,
  );
  const channel = Buffer.concat([Buffer.from(gs2Header), options.cbindData ?? Buffer.alloc(0)]).toString('base64');
  const withoutProof = `c=${channel},r=${attributes.r}`;
  const authMessage = `${bare},${serverFirst},${withoutProof}`;
  const clientKey = createHmac(hash, salted).update('Client Key').digest();
  const storedKey = createHash(hash).update(clientKey).digest();
  const signature = createHmac(hash, storedKey).update(authMessage).digest();
  const proof = Buffer.from(clientKey.map((byte, i) => byte ^ signature[i]!)).toString('base64');
  let clientFinal = `${withoutProof},p=${proof}`;
  if (options.tamper) clientFinal = options.tamper(clientFinal);
  const result = await mechanism.step(Buffer.from(clientFinal));
  if (!('success' in result)) return { serverFirst, result };
  const serverKey = createHmac(hash, salted).update('Server Key').digest();
  const expected = `v=${createHmac(hash, serverKey).update(authMessage).digest('base64')}`;
  return { serverFirst, result, serverSignatureOk: result.serverFinal?.toString() === expected };
}

async function rfcVector(hash: 'SHA-1' | 'SHA-256', salt: string, serverNonce: string) {
  const fixture = await saslFixture();
  const verifier = await deriveScramVerifier('pencil', hash, { salt: Buffer.from(salt, 'base64'), iterations: 4096 });
  const credentials: StoredCredentials = {
    verifyPassword: async () => false,
    scram: { 'SHA-1': verifier, 'SHA-256': verifier, [hash]: verifier },
    legacyVerifiers: async () => undefined,
  };
  const directory: SaslDirectory = {
    ...fixture.directory,
    async lookupCredentials(authcid) {
      return authcid === 'user' ? { login: 'user', credentials } : undefined;
    },
  };
  return createMechanism(`SCRAM-${hash}`, fixture.context({ directory, tls: false, fixedNonce: () => serverNonce }))!;
}

describe('SCRAM (RFC 5802, RFC 7677)', () => {
  it('replays the RFC 5802 §5 SCRAM-SHA-1 example', async () => {
    const mechanism = await rfcVector('SHA-1', 'QSXCR+Q6sek8bf92', '3rfcNHYJY1ZVvWVs7j');
    assert.deepEqual(await mechanism.step(undefined), { challenge: Buffer.alloc(0) });
    const first = await mechanism.step(Buffer.from('n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL'));
    assert.deepEqual(first, {
      challenge: Buffer.from('r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096'),
    });
    const final = await mechanism.step(
      Buffer.from('c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts='),
    );
    assert.deepEqual(final, {
      success: { authcid: 'user', authzid: 'user' },
      serverFinal: Buffer.from('v=rmF9pqV8S7suAoZWja4dJRkFsKQ='),
    });
  });

  it('replays the RFC 7677 §3 SCRAM-SHA-256 example', async () => {
    const mechanism = await rfcVector('SHA-256', 'W22ZaJ0SNY7soEsUEjb6gQ==', '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0');
    const first = await mechanism.step(Buffer.from('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'));
    assert.deepEqual(first, {
      challenge: Buffer.from('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'),
    });
    const final = await mechanism.step(
      Buffer.from(
        'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
      ),
    );
    assert.deepEqual(final, {
      success: { authcid: 'user', authzid: 'user' },
      serverFinal: Buffer.from('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='),
    });
  });

  for (const name of ['SCRAM-SHA-1', 'SCRAM-SHA-256']) {
    it(`${name}: success with a verified server signature; wrong password and unknown user fail alike`, async () => {
      const fixture = await saslFixture();
      const ok = await scramClient(fixture.context(), name, { username: ALICE, password: PASSWORD });
      assert.deepEqual('success' in ok.result && ok.result.success, { authcid: ALICE, authzid: ALICE });
      assert.equal(ok.serverSignatureOk, true);
      const wrong = await scramClient(fixture.context(), name, { username: ALICE, password: 'nope' });
      const unknown = await scramClient(fixture.context(), name, {
        username: 'nobody@example.com',
        password: PASSWORD,
      });
      assert.equal(outcome(wrong.result), 'bad-credentials');
      assert.equal(outcome(unknown.result), 'bad-credentials');
      // The unknown user gets the same iteration count, a salt of the same size, and the same salt again.
      const parse = (serverFirst = '') => Object.fromEntries(serverFirst.split(',').map((p) => [p[0], p.slice(2)]));
      const [known, ghost] = [parse(wrong.serverFirst), parse(unknown.serverFirst)];
      assert.equal(ghost.i, known.i);
      assert.equal(Buffer.from(ghost.s!, 'base64').length, Buffer.from(known.s!, 'base64').length);
      const again = await scramClient(fixture.context(), name, { username: 'nobody@example.com', password: 'x' });
      assert.equal(parse(again.serverFirst).s, ghost.s);
    });
  }

  it('applies the authorization-identity rule (gs2 a=)', async () => {
    const fixture = await saslFixture();
    const asBob = `n,a=${BOB},`;
    const denied = await scramClient(fixture.context(), 'SCRAM-SHA-256', {
      username: ALICE,
      password: PASSWORD,
      gs2Header: asBob,
    });
    assert.equal(outcome(denied.result), 'authorization-denied');
    const admin = await scramClient(fixture.context(), 'SCRAM-SHA-256', {
      username: ADMIN,
      password: PASSWORD,
      gs2Header: asBob,
    });
    assert.deepEqual('success' in admin.result && admin.result.success, { authcid: ADMIN, authzid: BOB });
  });

  it('prepares the user name with SASLprep', async () => {
    const fixture = await saslFixture();
    // U+00AD (soft hyphen) is mapped to nothing: "al\u00adice@example.com" is alice.
    const result = await scramClient(fixture.context(), 'SCRAM-SHA-1', {
      username: 'al\u00adice@example.com',
      password: PASSWORD,
    });
    assert.equal(outcome(result.result), 'success');
  });

  describe('channel binding', () => {
    const bindings: ChannelBindings = {
      'tls-exporter': randomBytes(32),
      'tls-server-end-point': randomBytes(32),
    };

    for (const type of ['tls-exporter', 'tls-server-end-point'] as const) {
      it(`SCRAM-SHA-256-PLUS binds to ${type}`, async () => {
        const fixture = await saslFixture();
        const ctx = fixture.context({ channelBindings: bindings });
        const ok = await scramClient(ctx, 'SCRAM-SHA-256-PLUS', {
          username: ALICE,
          password: PASSWORD,
          gs2Header: `p=${type},,`,
          cbindData: bindings[type],
        });
        assert.equal(outcome(ok.result), 'success');
        assert.equal(ok.serverSignatureOk, true);
        const mitm = await scramClient(ctx, 'SCRAM-SHA-256-PLUS', {
          username: ALICE,
          password: PASSWORD,
          gs2Header: `p=${type},,`,
          cbindData: randomBytes(32),
        });
        assert.equal(outcome(mitm.result), 'bad-credentials', 'other channel, same password');
      });
    }

    it('SCRAM-SHA-1-PLUS works too', async () => {
      const fixture = await saslFixture();
      const ok = await scramClient(fixture.context({ channelBindings: bindings }), 'SCRAM-SHA-1-PLUS', {
        username: ALICE,
        password: PASSWORD,
        gs2Header: 'p=tls-exporter,,',
        cbindData: bindings['tls-exporter'],
      });
      assert.equal(outcome(ok.result), 'success');
    });

    it('refuses a "y" client when -PLUS is offered (downgrade), and accepts it when not', async () => {
      const fixture = await saslFixture();
      const downgraded = await scramClient(fixture.context({ channelBindings: bindings }), 'SCRAM-SHA-256', {
        username: ALICE,
        password: PASSWORD,
        gs2Header: 'y,,',
      });
      assert.equal(outcome(downgraded.result), 'bad-credentials');
      const plain = await scramClient(fixture.context(), 'SCRAM-SHA-256', {
        username: ALICE,
        password: PASSWORD,
        gs2Header: 'y,,',
      });
      assert.equal(outcome(plain.result), 'success');
    });

    it('refuses mismatched binding flags and unavailable types', async () => {
      const fixture = await saslFixture();
      const ctx = fixture.context({ channelBindings: { 'tls-server-end-point': bindings['tls-server-end-point'] } });
      const cases: [string, string][] = [
        ['SCRAM-SHA-256', 'p=tls-exporter,,'],
        ['SCRAM-SHA-256-PLUS', 'n,,'],
        ['SCRAM-SHA-256-PLUS', 'y,,'],
        ['SCRAM-SHA-256-PLUS', 'p=tls-exporter,,'],
        ['SCRAM-SHA-256-PLUS', 'p=tls-unique,,'],
      ];
      for (const [name, gs2Header] of cases) {
        const result = await scramClient(ctx, name, { username: ALICE, password: PASSWORD, gs2Header });
        assert.equal(outcome(result.result), 'malformed', `${name} ${gs2Header}`);
      }
      const noBindings = await createMechanism('SCRAM-SHA-256-PLUS', fixture.context())!.step(undefined);
      assert.equal(outcome(noBindings), 'mechanism-not-allowed');
    });
  });

  it('refuses malformed messages', async () => {
    const fixture = await saslFixture();
    for (const first of [
      '',
      'n,,',
      'x,,n=a,r=b',
      'n,,r=abc,n=alice',
      'n,,m=x,n=a,r=b',
      'n,,n=a=,r=b',
      'n,,n=a,r=a,b',
      'n,b=x,n=a,r=b',
    ]) {
      const result = await createMechanism('SCRAM-SHA-256', fixture.context())!.step(Buffer.from(first));
      assert.equal(outcome(result), 'malformed', first);
    }
    const tampering: ((final: string) => string)[] = [
      (final) => final.replace(/r=[^,]+/, 'r=someoneelse'),
      (final) => final.replace(/c=[^,]+/, 'c=!!!'),
      (final) => final.replace(/,p=.*/, ''),
      (final) => final.replace(/p=.*/, 'p=AAAA'),
      (final) => final.replace(/c=[^,]+/, 'c=eSws'), // "y,," instead of "n,,"
    ];
    const expected = ['malformed', 'malformed', 'malformed', 'malformed', 'bad-credentials'];
    for (const [index, tamper] of tampering.entries()) {
      const result = await scramClient(fixture.context(), 'SCRAM-SHA-256', {
        username: ALICE,
        password: PASSWORD,
        tamper,
      });
      assert.equal(outcome(result.result), expected[index], String(index));
    }
  });

  it('parseClientFirst never throws on hostile input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        parseClientFirst(Buffer.from(bytes));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('n', 'y', 'p', '=', ',', 'a', 'r', 'm', '2C', '3D', '\u00ad', 'x')),
        (parts) => {
          parseClientFirst(Buffer.from(parts.join('')));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
