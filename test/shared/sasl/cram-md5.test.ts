import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { deriveCredentials, openCredentials, sealCredentials } from '../../../shared/sasl/credentials.ts';
import type { SaslDirectory } from '../../../shared/sasl/mechanism.ts';
import { createMechanism } from '../../../shared/sasl/sasl.ts';
import { ALICE, outcome, PASSWORD, STRICT_USER, saslFixture } from './sasl-fixture.ts';

const run = promisify(execFile);

const respond = (user: string, password: string, challenge: Buffer) =>
  Buffer.from(`${user} ${createHmac('md5', password).update(challenge).digest('hex')}`);

describe('CRAM-MD5 (RFC 2195)', () => {
  it('verifies the RFC 2195 §2 example from stored HMAC states', async () => {
    const fixture = await saslFixture();
    const record = await sealCredentials(
      await deriveCredentials('tanstaaftanstaaf', { username: 'tim', realm: '' }),
      fixture.vault,
    );
    const directory: SaslDirectory = {
      ...fixture.directory,
      async lookupCredentials(authcid) {
        return authcid === 'tim'
          ? { login: 'tim', credentials: openCredentials(record, fixture.vault, 'tim') }
          : undefined;
      },
    };
    const mechanism = createMechanism(
      'CRAM-MD5',
      fixture.context({ directory, hostname: 'postoffice.reston.mci.net', fixedNonce: () => '1896.697170952' }),
    )!;
    const challenge = await mechanism.step(undefined);
    assert.deepEqual(challenge, { challenge: Buffer.from('<1896.697170952@postoffice.reston.mci.net>') });
    const result = await mechanism.step(Buffer.from('tim b913a602c7eda7a495b4e6e7334d3890'));
    assert.deepEqual(result, { success: { authcid: 'tim', authzid: 'tim' } });
  });

  it('sends a fresh <random.timestamp@hostname> challenge each time', async () => {
    const fixture = await saslFixture();
    const first = await createMechanism('CRAM-MD5', fixture.context())!.step(undefined);
    const second = await createMechanism('CRAM-MD5', fixture.context())!.step(Buffer.alloc(0));
    assert.ok('challenge' in first && 'challenge' in second);
    assert.match(first.challenge.toString(), /^<\d+\.\d+@mail\.example\.com>$/);
    assert.notDeepEqual(first.challenge, second.challenge);
  });

  it("accepts Python's hmac module as the client", async () => {
    const fixture = await saslFixture();
    const mechanism = createMechanism('CRAM-MD5', fixture.context())!;
    const challenge = await mechanism.step(undefined);
    assert.ok('challenge' in challenge);
    const script =
      'import hmac,sys; print(sys.argv[1] + " " + hmac.new(sys.argv[2].encode(), sys.argv[3].encode(), "md5").hexdigest(), end="")';
    const { stdout } = await run('python3', ['-c', script, ALICE, PASSWORD, challenge.challenge.toString()]);
    assert.deepEqual(await mechanism.step(Buffer.from(stdout)), { success: { authcid: ALICE, authzid: ALICE } });
  });

  it('fails alike for a wrong password and an unknown user', async () => {
    const fixture = await saslFixture();
    for (const [user, password] of [
      [ALICE, 'wrong'],
      ['nobody@example.com', PASSWORD],
    ] as const) {
      const mechanism = createMechanism('CRAM-MD5', fixture.context())!;
      const challenge = await mechanism.step(undefined);
      assert.ok('challenge' in challenge);
      assert.equal(outcome(await mechanism.step(respond(user, password, challenge.challenge))), 'bad-credentials');
    }
  });

  it('is refused for a domain with legacy mechanisms off, whether or not the user exists', async () => {
    const fixture = await saslFixture();
    for (const user of [STRICT_USER, 'ghost@strict.example']) {
      const mechanism = createMechanism('CRAM-MD5', fixture.context())!;
      const challenge = await mechanism.step(undefined);
      assert.ok('challenge' in challenge);
      const result = await mechanism.step(respond(user, PASSWORD, challenge.challenge));
      assert.equal(outcome(result), 'mechanism-not-allowed', user);
    }
  });

  it('fails an account whose record has no legacy verifiers', async () => {
    const fixture = await saslFixture();
    const full = JSON.parse(
      await sealCredentials(
        await deriveCredentials(PASSWORD, { username: 'new@example.com', realm: 'example.com' }),
        fixture.vault,
      ),
    );
    delete full.legacy;
    const credentials = openCredentials(JSON.stringify(full), fixture.vault, 'new@example.com');
    const directory: SaslDirectory = {
      ...fixture.directory,
      async lookupCredentials(authcid) {
        return { login: authcid, credentials };
      },
    };
    const mechanism = createMechanism('CRAM-MD5', fixture.context({ directory }))!;
    const challenge = await mechanism.step(undefined);
    assert.ok('challenge' in challenge);
    assert.equal(
      outcome(await mechanism.step(respond('new@example.com', PASSWORD, challenge.challenge))),
      'bad-credentials',
    );
  });

  it('refuses malformed responses and an initial response', async () => {
    const fixture = await saslFixture();
    assert.equal(outcome(await createMechanism('CRAM-MD5', fixture.context())!.step(Buffer.from('x'))), 'malformed');
    for (const bad of [
      'nodigest',
      ' 0123456789abcdef0123456789abcdef',
      `${ALICE} 0123`,
      `${ALICE} ${'g'.repeat(32)}`,
    ]) {
      const mechanism = createMechanism('CRAM-MD5', fixture.context())!;
      await mechanism.step(undefined);
      assert.equal(outcome(await mechanism.step(Buffer.from(bad))), 'malformed', bad);
    }
  });
});
