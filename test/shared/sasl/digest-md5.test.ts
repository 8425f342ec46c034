import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { deriveCredentials, openCredentials, sealCredentials } from '../../../shared/sasl/credentials.ts';
import { parseDigestDirectives } from '../../../shared/sasl/digest-md5.ts';
import type { SaslDirectory, SaslMechanism } from '../../../shared/sasl/mechanism.ts';
import { createMechanism } from '../../../shared/sasl/sasl.ts';
import { ADMIN, ALICE, BOB, outcome, PASSWORD, STRICT_USER, saslFixture } from './sasl-fixture.ts';

const md5 = (data: Buffer | string) => createHash('md5').update(data).digest();

/** An independent client computation of RFC 2831 §2.1.2.1 (ASCII names). */
function clientResponse(options: {
  username: string;
  realm?: string;
  password: string;
  nonce: string;
  cnonce?: string;
  digestUri?: string;
  authzid?: string;
  nc?: string;
  qop?: string;
  extra?: string;
}): Buffer {
  const { username, realm, password, nonce, authzid } = options;
  const cnonce = options.cnonce ?? 'OA6MHXh6VqTrRk';
  const digestUri = options.digestUri ?? 'imap/mail.example.com';
  const nc = options.nc ?? '00000001';
  const a1 = Buffer.concat([
    md5(`${username}:${realm ?? ''}:${password}`),
    Buffer.from(`:${nonce}:${cnonce}${authzid === undefined ? '' : `:${authzid}`}`),
  ]);
  const ha2 = md5(`AUTHENTICATE:${digestUri}`).toString('hex');
  const response = md5(`${md5(a1).toString('hex')}:${nonce}:${nc}:${cnonce}:auth:${ha2}`).toString('hex');
  const parts = [
    'charset=utf-8',
    `username="${username}"`,
    ...(realm === undefined ? [] : [`realm="${realm}"`]),
    `nonce="${nonce}"`,
    `nc=${nc}`,
    `cnonce="${cnonce}"`,
    `digest-uri="${digestUri}"`,
    `response=${response}`,
    `qop=${options.qop ?? 'auth'}`,
    ...(authzid === undefined ? [] : [`authzid="${authzid}"`]),
    ...(options.extra === undefined ? [] : [options.extra]),
  ];
  return Buffer.from(parts.join(','));
}

async function challengeOf(mechanism: SaslMechanism): Promise<{ nonce: string; text: string }> {
  const result = await mechanism.step(undefined);
  assert.ok('challenge' in result);
  const text = result.challenge.toString();
  const nonce = /nonce="([^"]+)"/.exec(text)?.[1];
  assert.ok(nonce);
  return { nonce, text };
}

describe('DIGEST-MD5 (RFC 2831)', () => {
  it('passes the RFC 2831 §4 example: response d388dad9... and rspauth ea40f603...', async () => {
    const fixture = await saslFixture();
    const login = 'chris@elwood.innosoft.com';
    const record = await sealCredentials(
      await deriveCredentials('secret', { username: login, realm: 'elwood.innosoft.com' }),
      fixture.vault,
    );
    const directory: SaslDirectory = {
      ...fixture.directory,
      async lookupCredentials(authcid) {
        return authcid === login ? { login, credentials: openCredentials(record, fixture.vault, login) } : undefined;
      },
    };
    const mechanism = createMechanism(
      'DIGEST-MD5',
      fixture.context({
        directory,
        hostname: 'elwood.innosoft.com',
        digestRealms: ['elwood.innosoft.com'],
        fixedNonce: () => 'OA6MG9tEQGm2hh',
      }),
    )!;
    const { text } = await challengeOf(mechanism);
    assert.equal(
      text,
      'realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",charset=utf-8,algorithm=md5-sess',
    );
    const response =
      'charset=utf-8,username="chris",realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",nc=00000001,' +
      'cnonce="OA6MHXh6VqTrRk",digest-uri="imap/elwood.innosoft.com",' +
      'response=d388dad90d4bbd760a152321f2143af7,qop=auth';
    assert.deepEqual(await mechanism.step(Buffer.from(response)), {
      success: { authcid: login, authzid: login },
      serverFinal: Buffer.from('rspauth=ea40f60335c427b5527b84dbabcdfffd'),
    });
  });

  it('accepts user@domain with the domain realm, with no realm, and user with the domain realm', async () => {
    const fixture = await saslFixture();
    for (const [username, realm] of [
      [ALICE, 'example.com'],
      [ALICE, undefined],
      ['alice', 'example.com'],
    ] as const) {
      const mechanism = createMechanism('DIGEST-MD5', fixture.context())!;
      const { nonce } = await challengeOf(mechanism);
      const result = await mechanism.step(clientResponse({ username, realm, password: PASSWORD, nonce }));
      assert.equal(outcome(result), 'success', `${username} / ${realm}`);
      assert.ok('success' in result && result.success.authcid === ALICE);
      assert.match(('success' in result && result.serverFinal?.toString()) || '', /^rspauth=[0-9a-f]{32}$/);
    }
  });

  it('offers no realms by default', async () => {
    const fixture = await saslFixture();
    const { text } = await challengeOf(createMechanism('DIGEST-MD5', fixture.context())!);
    assert.ok(!text.includes('realm='));
    assert.match(text, /qop="auth"/);
  });

  it('fails alike for a wrong password, an unknown user, another realm, and another service or host', async () => {
    const fixture = await saslFixture();
    const cases = [
      { username: ALICE, realm: 'example.com', password: 'wrong' },
      { username: 'nobody@example.com', realm: 'example.com', password: PASSWORD },
      { username: ALICE, realm: 'other.example', password: PASSWORD },
      { username: ALICE, realm: 'example.com', password: PASSWORD, digestUri: 'smtp/mail.example.com' },
      { username: ALICE, realm: 'example.com', password: PASSWORD, digestUri: 'imap/evil.example' },
    ];
    for (const options of cases) {
      const mechanism = createMechanism('DIGEST-MD5', fixture.context())!;
      const { nonce } = await challengeOf(mechanism);
      assert.equal(
        outcome(await mechanism.step(clientResponse({ ...options, nonce }))),
        'bad-credentials',
        JSON.stringify(options),
      );
    }
  });

  it('accepts an alternate host name and the smtp service on an SMTP listener', async () => {
    const fixture = await saslFixture();
    const mechanism = createMechanism(
      'DIGEST-MD5',
      fixture.context({ service: 'smtp', alternateHostnames: ['smtp.example.com'] }),
    )!;
    const { nonce } = await challengeOf(mechanism);
    const response = clientResponse({ username: ALICE, password: PASSWORD, nonce, digestUri: 'smtp/SMTP.example.com' });
    assert.equal(outcome(await mechanism.step(response)), 'success');
  });

  it("accepts the user's realm as digest-uri host, as curl sends it", async () => {
    const fixture = await saslFixture();
    const mechanism = createMechanism('DIGEST-MD5', fixture.context())!;
    const { nonce } = await challengeOf(mechanism);
    const response = clientResponse({
      username: ALICE,
      realm: 'example.com',
      password: PASSWORD,
      nonce,
      digestUri: 'imap/example.com',
    });
    assert.equal(outcome(await mechanism.step(response)), 'success');
  });

  it('applies the authorization-identity rule', async () => {
    const fixture = await saslFixture();
    const attempt = async (username: string, authzid: string) => {
      const mechanism = createMechanism('DIGEST-MD5', fixture.context())!;
      const { nonce } = await challengeOf(mechanism);
      return mechanism.step(clientResponse({ username, password: PASSWORD, nonce, authzid }));
    };
    assert.equal(outcome(await attempt(ALICE, BOB)), 'authorization-denied');
    const admin = await attempt(ADMIN, BOB);
    assert.ok('success' in admin && admin.success.authzid === BOB && admin.success.authcid === ADMIN);
    assert.equal(outcome(await attempt(ALICE, ALICE)), 'success');
  });

  it('is refused for a domain with legacy mechanisms off', async () => {
    const fixture = await saslFixture();
    const mechanism = createMechanism('DIGEST-MD5', fixture.context())!;
    const { nonce } = await challengeOf(mechanism);
    const result = await mechanism.step(clientResponse({ username: STRICT_USER, password: PASSWORD, nonce }));
    assert.equal(outcome(result), 'mechanism-not-allowed');
  });

  it('refuses replays and protocol violations as malformed', async () => {
    const fixture = await saslFixture();
    const variants: ((nonce: string) => Buffer)[] = [
      () => clientResponse({ username: ALICE, password: PASSWORD, nonce: 'not-our-nonce' }),
      (nonce) => clientResponse({ username: ALICE, password: PASSWORD, nonce, nc: '00000002' }),
      (nonce) => clientResponse({ username: ALICE, password: PASSWORD, nonce, qop: 'auth-conf' }),
      (nonce) => clientResponse({ username: ALICE, password: PASSWORD, nonce, extra: 'username="bob"' }),
      (nonce) => clientResponse({ username: ALICE, password: PASSWORD, nonce, extra: 'charset=iso-8859-1' }),
      (nonce) => clientResponse({ username: ALICE, password: PASSWORD, nonce, cnonce: '' }),
      (nonce) => Buffer.from(`username="${ALICE}",nonce="${nonce}",nc=00000001,cnonce="x",response=00`),
      (nonce) => Buffer.from(`username="${ALICE},nonce="${nonce}"`),
      () => Buffer.from('just some text'),
    ];
    for (const make of variants) {
      const mechanism = createMechanism('DIGEST-MD5', fixture.context())!;
      const { nonce } = await challengeOf(mechanism);
      const response = make(nonce);
      assert.equal(outcome(await mechanism.step(response)), 'malformed', response.toString());
    }
    assert.equal(outcome(await createMechanism('DIGEST-MD5', fixture.context())!.step(Buffer.from('x'))), 'malformed');
  });

  it('parses the RFC 2831 §7.1 list syntax: whitespace, empty elements, escapes', () => {
    const parsed = parseDigestDirectives(Buffer.from(' , Username = "a\\"b" ,, qop=auth,\tnc=00000001 ,'));
    assert.ok('directives' in parsed);
    assert.deepEqual(
      [...parsed.directives],
      [
        ['username', 'a"b'],
        ['qop', 'auth'],
        ['nc', '00000001'],
      ],
    );
    for (const bad of ['a', 'a="x', 'a=b c', 'a=b,a=c', '=b', 'a=,']) {
      assert.ok('error' in parseDigestDirectives(Buffer.from(bad)), bad);
    }
  });

  it('never throws on hostile input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        parseDigestDirectives(Buffer.from(bytes));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', '=', '"', '\\', ',', ' ', 'x', '\t')), (chars) => {
        parseDigestDirectives(Buffer.from(chars.join('')));
      }),
      { numRuns: 2000 },
    );
  });
});
