/**
 * The line-protocol exchange driver with the real mechanisms: initial responses, challenges, cancel,
 * malformed and oversized lines, and success data sent as a last challenge.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { describe, it } from 'node:test';
import { runSaslExchange, type SaslLineTransport } from '../../../shared/sasl/exchange.ts';
import { MAX_SASL_RESPONSE_BASE64_CHARS } from '../../../shared/sasl/limits.ts';
import { createMechanism } from '../../../shared/sasl/sasl.ts';
import { ALICE, outcome, PASSWORD, saslFixture } from './sasl-fixture.ts';

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** A client that answers each challenge with the next scripted line (a function of the challenge). */
function scripted(...answers: ((challenge: string) => string | undefined)[]): SaslLineTransport & { sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    async challenge(base64) {
      sent.push(base64);
      const next = answers.shift();
      return next ? next(Buffer.from(base64, 'base64').toString()) : undefined;
    },
  };
}

async function mechanism(name: string) {
  const fixture = await saslFixture();
  return createMechanism(name, fixture.context())!;
}

/** SCRAM-SHA-256's client-final for a server-first, and the client-first it follows. */
function scramClient(password: string) {
  const bare = `n=${ALICE},r=clientnonce`;
  return {
    first: b64(`n,,${bare}`),
    final(serverFirst: string): string {
      const fields = new Map(serverFirst.split(',').map((field) => [field[0], field.slice(2)]));
      const salted = pbkdf2Sync(
        password,
        Buffer.from(fields.get('s')!, 'base64'),
        Number(fields.get('i')),
        32,
        'sha256',
      );
      const clientKey = createHmac('sha256', salted).update('Client Key').digest();
      const withoutProof = `c=biws,r=${fields.get('r')}`;
      const signature = createHmac('sha256', createHash('sha256').update(clientKey).digest())
        .update(`${bare},${serverFirst},${withoutProof}`)
        .digest();
      return b64(
        `${withoutProof},p=${Buffer.from(clientKey.map((byte, i) => byte ^ signature[i]!)).toString('base64')}`,
      );
    },
  };
}

describe('runSaslExchange', () => {
  it('PLAIN: with an initial response, and after an empty challenge without one', async () => {
    const withIr = scripted();
    const result = await runSaslExchange(await mechanism('PLAIN'), b64(`\0${ALICE}\0${PASSWORD}`), withIr);
    assert.deepEqual(result, { success: { authcid: ALICE, authzid: ALICE } });
    assert.deepEqual(withIr.sent, []);
    const without = scripted(() => b64(`\0${ALICE}\0${PASSWORD}`));
    assert.equal(outcome(await runSaslExchange(await mechanism('PLAIN'), undefined, without)), 'success');
    assert.deepEqual(without.sent, ['']);
  });

  it('LOGIN: "=" is an empty initial response, then Username: and Password:', async () => {
    const transport = scripted(
      (challenge) => (challenge === 'Username:' ? b64(ALICE) : undefined),
      (challenge) => (challenge === 'Password:' ? b64(PASSWORD) : undefined),
    );
    assert.equal(outcome(await runSaslExchange(await mechanism('LOGIN'), '=', transport)), 'success');
  });

  it('SCRAM: the server signature goes out as one more challenge, answered by an empty line', async () => {
    const client = scramClient(PASSWORD);
    const transport = scripted(client.final, () => '');
    const result = await runSaslExchange(await mechanism('SCRAM-SHA-256'), client.first, transport);
    assert.deepEqual(result, { success: { authcid: ALICE, authzid: ALICE } });
    assert.match(Buffer.from(transport.sent[1]!, 'base64').toString(), /^v=/);
  });

  it('SCRAM: a non-empty answer to the success data, a cancel, or a closed connection is not success', async () => {
    for (const [last, kind] of [
      [() => b64('x'), 'malformed'],
      [() => '*', 'aborted'],
      [() => undefined, 'aborted'],
    ] as const) {
      const client = scramClient(PASSWORD);
      const result = await runSaslExchange(
        await mechanism('SCRAM-SHA-256'),
        client.first,
        scripted(client.final, last),
      );
      assert.equal(outcome(result), kind);
    }
  });

  it('a wrong password fails without the success data', async () => {
    const client = scramClient('not the password');
    const transport = scripted(client.final);
    assert.equal(
      outcome(await runSaslExchange(await mechanism('SCRAM-SHA-256'), client.first, transport)),
      'bad-credentials',
    );
    assert.equal(transport.sent.length, 1);
  });

  it('cancel, malformed base64 and oversized lines end the exchange with the right kind', async () => {
    const cases: [string | undefined, ((challenge: string) => string | undefined)[], string][] = [
      [undefined, [() => '*'], 'aborted'],
      ['*', [], 'aborted'],
      ['not base64!', [], 'malformed'],
      ['AAA', [], 'malformed'],
      [undefined, [() => 'QQ== '], 'malformed'],
      [undefined, [() => 'A'.repeat(MAX_SASL_RESPONSE_BASE64_CHARS + 4)], 'malformed'],
      [undefined, [], 'aborted'],
    ];
    for (const [initial, answers, kind] of cases) {
      const result = await runSaslExchange(await mechanism('CRAM-MD5'), initial, scripted(...answers));
      assert.equal(outcome(result), kind, `${initial} ${answers.length}`);
    }
  });
});
