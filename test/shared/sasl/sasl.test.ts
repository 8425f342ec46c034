import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AuthThrottle, type ThrottlePolicy } from '../../../shared/sasl/auth-throttle.ts';
import { decodeBase64Strict, parseClientResponse } from '../../../shared/sasl/client-response.ts';
import { MAX_SASL_RESPONSE_BASE64_CHARS, MAX_SASL_RESPONSE_BYTES } from '../../../shared/sasl/limits.ts';
import { SASL_MECHANISM_NAMES, type SaslDirectory } from '../../../shared/sasl/mechanism.ts';
import { advertisedMechanisms, createMechanism } from '../../../shared/sasl/sasl.ts';
import { ALICE, outcome, PASSWORD, saslFixture } from './sasl-fixture.ts';

const plain = (authcid: string, password: string) => Buffer.from(`\0${authcid}\0${password}`);

describe('advertisedMechanisms', () => {
  it('offers PLAIN/LOGIN only with TLS, legacy only where enabled, -PLUS only with channel binding', () => {
    assert.deepEqual(advertisedMechanisms({ tls: false, legacyEnabled: false, channelBinding: false }), [
      'SCRAM-SHA-256',
      'SCRAM-SHA-1',
    ]);
    assert.deepEqual(advertisedMechanisms({ tls: false, legacyEnabled: true, channelBinding: false }), [
      'SCRAM-SHA-256',
      'SCRAM-SHA-1',
      'DIGEST-MD5',
      'CRAM-MD5',
      'NTLM',
    ]);
    assert.deepEqual(advertisedMechanisms({ tls: true, legacyEnabled: false, channelBinding: true }), [
      'SCRAM-SHA-256-PLUS',
      'SCRAM-SHA-1-PLUS',
      'SCRAM-SHA-256',
      'SCRAM-SHA-1',
      'PLAIN',
      'LOGIN',
    ]);
    assert.deepEqual(advertisedMechanisms({ tls: true, legacyEnabled: true, channelBinding: true }), [
      ...SASL_MECHANISM_NAMES,
    ]);
  });
});

describe('createMechanism', () => {
  it('knows every advertised name, case-insensitively, and nothing else', async () => {
    const fixture = await saslFixture();
    for (const name of SASL_MECHANISM_NAMES) {
      assert.equal(createMechanism(name.toLowerCase(), fixture.context())?.name, name);
    }
    for (const name of ['GSSAPI', 'XOAUTH2', 'ANONYMOUS', 'SCRAM-SHA-512', '']) {
      assert.equal(createMechanism(name, fixture.context()), undefined, name);
    }
  });

  it('ends the exchange after an outcome, and bounds the response size', async () => {
    const fixture = await saslFixture();
    const done = createMechanism('PLAIN', fixture.context())!;
    assert.equal(outcome(await done.step(plain(ALICE, PASSWORD))), 'success');
    assert.equal(outcome(await done.step(plain(ALICE, PASSWORD))), 'malformed');
    const big = createMechanism('PLAIN', fixture.context())!;
    assert.equal(outcome(await big.step(Buffer.alloc(MAX_SASL_RESPONSE_BYTES + 1, 0x61))), 'malformed');
  });

  it('reports a failing directory as unavailable instead of throwing', async () => {
    const fixture = await saslFixture();
    const broken: SaslDirectory = {
      ...fixture.directory,
      async lookupCredentials() {
        throw new Error('table unreachable');
      },
    };
    const result = await createMechanism('PLAIN', fixture.context({ directory: broken }))!.step(plain(ALICE, PASSWORD));
    assert.equal(outcome(result), 'unavailable');
    assert.ok('failure' in result && (result.failure.cause as Error).message === 'table unreachable');
  });

  it('every mechanism survives random responses without throwing', async () => {
    const fixture = await saslFixture();
    // PLAIN and LOGIN would spend scrypt time on every lucky parse; their parsers are fuzzed elsewhere.
    const names = ['SCRAM-SHA-256', 'SCRAM-SHA-1-PLUS', 'DIGEST-MD5', 'CRAM-MD5', 'NTLM'] as const;
    const ctx = fixture.context({ channelBindings: { 'tls-exporter': Buffer.alloc(32, 1) } });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...names),
        fc.array(fc.option(fc.uint8Array({ maxLength: 120 }), { nil: undefined }), { maxLength: 5 }),
        async (name, responses) => {
          const mechanism = createMechanism(name, ctx)!;
          for (const response of responses) {
            const result = await mechanism.step(response === undefined ? undefined : Buffer.from(response));
            assert.ok('challenge' in result || 'failure' in result || 'success' in result);
            assert.ok(!('success' in result), 'random bytes never authenticate');
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('throttling through the mechanisms', () => {
  const policy: ThrottlePolicy = {
    // Delays far above what a password check costs even on a loaded machine, so "delayed" and "not
    // delayed" cannot be confused.
    freeFailures: 1,
    baseDelayMs: 600,
    maxDelayMs: 600,
    refuseAt: 4,
    refusalMs: 60_000,
    halfLifeMs: 600_000,
  };

  it('delays failures, then refuses even the right password, and never delays a success', async () => {
    const fixture = await saslFixture();
    const limiter = new AuthThrottle({ address: policy, account: { ...policy, refuseAt: 100 } });
    const ctx = fixture.context({ throttle: { limiter, clientAddress: '192.0.2.10' } });
    const timed = async (password: string, user = ALICE) => {
      const started = performance.now();
      const result = await createMechanism('PLAIN', ctx)!.step(plain(user, password));
      return { kind: outcome(result), ms: performance.now() - started, result };
    };
    const okFirst = await timed(PASSWORD);
    assert.equal(okFirst.kind, 'success');
    const free = await timed('wrong');
    const delayed = await timed('wrong');
    assert.equal(free.kind, 'bad-credentials');
    assert.equal(delayed.kind, 'bad-credentials');
    assert.ok(delayed.ms >= 600, `second failure waited ${delayed.ms} ms`);
    const stillOk = await timed(PASSWORD);
    assert.equal(stillOk.kind, 'success');
    assert.ok(stillOk.ms < 600, `a success is not delayed by earlier failures (took ${stillOk.ms} ms)`);
    await timed('wrong', 'nobody@example.com');
    await timed('wrong');
    // The score decays continuously, so four failures spread over time are just under four: one more.
    await timed('wrong');
    const refused = await timed(PASSWORD);
    assert.equal(refused.kind, 'throttled');
    assert.ok('failure' in refused.result && (refused.result.failure.retryAfterMs ?? 0) > 0);
    // A new exchange from the refused address is turned away at its first step.
    const early = await createMechanism('SCRAM-SHA-256', ctx)!.step(undefined);
    assert.equal(outcome(early), 'throttled');
    // Another address is unaffected.
    const other = await createMechanism(
      'PLAIN',
      fixture.context({ throttle: { limiter, clientAddress: '192.0.2.11' } }),
    )!.step(plain(ALICE, PASSWORD));
    assert.equal(outcome(other), 'success');
  });
});

describe('client responses', () => {
  it('decodes strict base64 only', () => {
    assert.deepEqual(decodeBase64Strict('AGFsaWNlAHB3'), Buffer.from('\0alice\0pw'));
    assert.deepEqual(decodeBase64Strict(''), Buffer.alloc(0));
    for (const bad of [
      'AGFsaWNlAHB',
      'AGF saWNl',
      'AGFsaWNl\n',
      'QQ',
      'QQ=',
      'QR==',
      '====',
      'Zm9v!',
      'Zm9v-_',
      'Zg==Zg==',
    ]) {
      assert.equal(decodeBase64Strict(bad), undefined, bad);
    }
  });

  it('round-trips any bytes and rejects any corruption of the alphabet', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        assert.deepEqual(decodeBase64Strict(Buffer.from(bytes).toString('base64')), Buffer.from(bytes));
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        const decoded = decodeBase64Strict(text);
        if (decoded !== undefined) assert.equal(decoded.toString('base64'), text);
      }),
      { numRuns: 2000 },
    );
  });

  it('reads "*" as abort, "=" as an empty initial response, and bounds the line', () => {
    assert.deepEqual(parseClientResponse('*', { initial: false }), {
      failure: { kind: 'aborted', detail: 'client cancelled the exchange' },
    });
    assert.deepEqual(parseClientResponse('=', { initial: true }), { response: Buffer.alloc(0) });
    assert.equal('failure' in parseClientResponse('=', { initial: false }) && 'malformed', 'malformed');
    assert.deepEqual(parseClientResponse('', { initial: false }), { response: Buffer.alloc(0) });
    const tooLong = 'A'.repeat(MAX_SASL_RESPONSE_BASE64_CHARS + 4);
    assert.ok('failure' in parseClientResponse(tooLong, { initial: false }));
  });
});
