import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { deriveCredentials, openCredentials, sealCredentials } from '../../../shared/sasl/credentials.ts';
import { md4 } from '../../../shared/sasl/md4.ts';
import type { SaslContext, SaslDirectory, SaslStepResult } from '../../../shared/sasl/mechanism.ts';
import { NtlmFlag, ntlmLogin, ntowfv2, ntProofStr, parseAuthenticate } from '../../../shared/sasl/ntlm.ts';
import { createMechanism } from '../../../shared/sasl/sasl.ts';
import { ALICE, outcome, PASSWORD, STRICT_USER, saslFixture } from './sasl-fixture.ts';

const SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1');

function negotiateMessage(flags = NtlmFlag.UNICODE | NtlmFlag.OEM | NtlmFlag.REQUEST_TARGET | NtlmFlag.NTLM): Buffer {
  const message = Buffer.alloc(32);
  SIGNATURE.copy(message);
  message.writeUInt32LE(1, 8);
  message.writeUInt32LE(flags, 12);
  return message;
}

/** An AUTHENTICATE_MESSAGE (MS-NLMP §2.2.1.3) built field by field, as a client would. */
function authenticateMessage(fields: {
  lm?: Buffer;
  nt: Buffer;
  domain: string;
  user: string;
  workstation?: string;
  unicode?: boolean;
}): Buffer {
  const unicode = fields.unicode ?? true;
  const text = (value: string) => Buffer.from(value, unicode ? 'utf16le' : 'latin1');
  const payloads = [
    fields.lm ?? Buffer.alloc(24),
    fields.nt,
    text(fields.domain),
    text(fields.user),
    text(fields.workstation ?? 'WS'),
    Buffer.alloc(0),
  ];
  const header = Buffer.alloc(64);
  SIGNATURE.copy(header);
  header.writeUInt32LE(3, 8);
  let offset = 64;
  payloads.forEach((payload, index) => {
    header.writeUInt16LE(payload.length, 12 + index * 8);
    header.writeUInt16LE(payload.length, 14 + index * 8);
    header.writeUInt32LE(offset, 16 + index * 8);
    offset += payload.length;
  });
  header.writeUInt32LE(unicode ? NtlmFlag.UNICODE | NtlmFlag.NTLM : NtlmFlag.OEM | NtlmFlag.NTLM, 60);
  return Buffer.concat([header, ...payloads]);
}

/** Reads the CHALLENGE_MESSAGE fields a client needs. */
function readChallenge(message: Buffer) {
  assert.ok(message.subarray(0, 8).equals(SIGNATURE));
  assert.equal(message.readUInt32LE(8), 2);
  const targetInfoLength = message.readUInt16LE(40);
  const targetInfoOffset = message.readUInt32LE(44);
  return {
    flags: message.readUInt32LE(20),
    serverChallenge: message.subarray(24, 32),
    targetName: message.subarray(message.readUInt32LE(16), message.readUInt32LE(16) + message.readUInt16LE(12)),
    targetInfo: message.subarray(targetInfoOffset, targetInfoOffset + targetInfoLength),
  };
}

/** NTLMv2 response (MS-NLMP §3.3.2) computed by the client from the password. */
function ntlmv2Response(
  password: string,
  user: string,
  domain: string,
  serverChallenge: Buffer,
  targetInfo: Buffer,
): Buffer {
  const key = createHmac('md5', md4(Buffer.from(password, 'utf16le')))
    .update(Buffer.from(user.toUpperCase() + domain, 'utf16le'))
    .digest();
  const temp = Buffer.concat([
    Buffer.from([1, 1, 0, 0, 0, 0, 0, 0]),
    Buffer.alloc(8, 0x11), // timestamp
    randomBytes(8),
    Buffer.alloc(4),
    targetInfo,
    Buffer.alloc(4),
  ]);
  return Buffer.concat([createHmac('md5', key).update(serverChallenge).update(temp).digest(), temp]);
}

async function login(
  ctx: SaslContext,
  options: { user: string; domain: string; password: string; ntResponse?: (challenge: Buffer, info: Buffer) => Buffer },
): Promise<SaslStepResult> {
  const mechanism = createMechanism('NTLM', ctx)!;
  const challenge = await mechanism.step(negotiateMessage());
  assert.ok('challenge' in challenge);
  const { serverChallenge, targetInfo } = readChallenge(challenge.challenge);
  const nt = options.ntResponse
    ? options.ntResponse(serverChallenge, targetInfo)
    : ntlmv2Response(options.password, options.user, options.domain, serverChallenge, targetInfo);
  return mechanism.step(authenticateMessage({ nt, domain: options.domain, user: options.user }));
}

describe('NTLM (MS-NLMP)', () => {
  it('computes the MS-NLMP §4.2.4 NTLMv2 test vectors', () => {
    const ntHash = md4(Buffer.from('Password', 'utf16le'));
    const responseKey = ntowfv2(ntHash, 'User', 'Domain');
    assert.equal(responseKey.toString('hex'), '0c868a403bfd7a93a3001ef22ef02e3f');
    const avPairs = Buffer.concat([
      Buffer.from('02000c00', 'hex'),
      Buffer.from('Domain', 'utf16le'),
      Buffer.from('01000c00', 'hex'),
      Buffer.from('Server', 'utf16le'),
      Buffer.from('00000000', 'hex'),
    ]);
    const temp = Buffer.concat([
      Buffer.from('0101000000000000', 'hex'),
      Buffer.alloc(8),
      Buffer.alloc(8, 0xaa),
      Buffer.alloc(4),
      avPairs,
      Buffer.alloc(4),
    ]);
    const proof = ntProofStr(responseKey, Buffer.from('0123456789abcdef', 'hex'), temp);
    assert.equal(proof.toString('hex'), '68cd0ab851e51c96aabc927bebef6a1c');
  });

  it('authenticates the MS-NLMP §4.2.4 AUTHENTICATE response through the mechanism', async () => {
    const fixture = await saslFixture();
    const record = await sealCredentials(
      await deriveCredentials('Password', { username: 'user@domain', realm: 'domain' }),
      fixture.vault,
    );
    const directory: SaslDirectory = {
      ...fixture.directory,
      async lookupCredentials(authcid) {
        return authcid.toLowerCase() === 'user@domain'
          ? { login: 'user@domain', credentials: openCredentials(record, fixture.vault, 'user@domain') }
          : undefined;
      },
    };
    const ctx = fixture.context({ directory, fixedNonce: () => '0123456789abcdef' });
    const temp = Buffer.concat([
      Buffer.from('0101000000000000', 'hex'),
      Buffer.alloc(8),
      Buffer.alloc(8, 0xaa),
      Buffer.alloc(4),
      Buffer.from('02000c00', 'hex'),
      Buffer.from('Domain', 'utf16le'),
      Buffer.from('01000c00', 'hex'),
      Buffer.from('Server', 'utf16le'),
      Buffer.from('00000000', 'hex'),
      Buffer.alloc(4),
    ]);
    const result = await login(ctx, {
      user: 'User',
      domain: 'Domain',
      password: '',
      ntResponse: () => Buffer.concat([Buffer.from('68cd0ab851e51c96aabc927bebef6a1c', 'hex'), temp]),
    });
    assert.deepEqual(result, { success: { authcid: 'user@domain', authzid: 'user@domain' } });
  });

  it('sends a CHALLENGE with target info, a random server challenge, and the client charset', async () => {
    const fixture = await saslFixture();
    const mechanism = createMechanism('NTLM', fixture.context())!;
    assert.deepEqual(await mechanism.step(undefined), { challenge: Buffer.alloc(0) });
    const result = await mechanism.step(negotiateMessage());
    assert.ok('challenge' in result);
    const challenge = readChallenge(result.challenge);
    assert.ok(challenge.flags & NtlmFlag.TARGET_INFO);
    assert.ok(challenge.flags & NtlmFlag.UNICODE);
    assert.equal(challenge.targetName.toString('utf16le'), 'MAIL');
    assert.ok(challenge.targetInfo.toString('utf16le').includes('mail.example.com'));
    const other = await createMechanism('NTLM', fixture.context())!.step(negotiateMessage());
    assert.ok('challenge' in other);
    assert.notDeepEqual(readChallenge(other.challenge).serverChallenge, challenge.serverChallenge);
    const oem = await createMechanism('NTLM', fixture.context())!.step(negotiateMessage(NtlmFlag.OEM | NtlmFlag.NTLM));
    assert.ok('challenge' in oem);
    assert.equal(readChallenge(oem.challenge).flags & NtlmFlag.UNICODE, 0);
    assert.equal(readChallenge(oem.challenge).targetName.toString('latin1'), 'MAIL');
  });

  it('maps user@domain, DOMAIN\\user and user + domain to the login', async () => {
    const fixture = await saslFixture();
    for (const [user, domain] of [
      [ALICE, ''],
      ['example.com\\alice', ''],
      ['alice', 'EXAMPLE.COM'],
    ] as const) {
      const result = await login(fixture.context(), { user, domain, password: PASSWORD });
      assert.deepEqual(result, { success: { authcid: ALICE, authzid: ALICE } }, `${user} / ${domain}`);
    }
    assert.equal(ntlmLogin('bob', ''), 'bob');
  });

  it('fails alike for a wrong password and an unknown user', async () => {
    const fixture = await saslFixture();
    assert.equal(
      outcome(await login(fixture.context(), { user: ALICE, domain: '', password: 'wrong' })),
      'bad-credentials',
    );
    assert.equal(
      outcome(await login(fixture.context(), { user: 'nobody@example.com', domain: '', password: PASSWORD })),
      'bad-credentials',
    );
  });

  it('refuses NTLMv1 and LM-only responses', async () => {
    const fixture = await saslFixture();
    const v1 = await login(fixture.context(), {
      user: ALICE,
      domain: '',
      password: PASSWORD,
      ntResponse: () => randomBytes(24),
    });
    assert.equal(outcome(v1), 'mechanism-not-allowed');
    const lmOnly = await login(fixture.context(), {
      user: ALICE,
      domain: '',
      password: PASSWORD,
      ntResponse: () => Buffer.alloc(0),
    });
    assert.equal(outcome(lmOnly), 'mechanism-not-allowed');
  });

  it('is refused for a domain with legacy mechanisms off', async () => {
    const fixture = await saslFixture();
    assert.equal(
      outcome(await login(fixture.context(), { user: STRICT_USER, domain: '', password: PASSWORD })),
      'mechanism-not-allowed',
    );
  });

  it('refuses malformed messages', async () => {
    const fixture = await saslFixture();
    const negotiateBad = [
      Buffer.from('hello'),
      Buffer.alloc(40),
      Buffer.concat([SIGNATURE, Buffer.from([3, 0, 0, 0]), Buffer.alloc(8)]),
    ];
    for (const message of negotiateBad) {
      assert.equal(outcome(await createMechanism('NTLM', fixture.context())!.step(message)), 'malformed');
    }
    const good = authenticateMessage({ nt: randomBytes(60), domain: '', user: ALICE });
    const outOfBounds = Buffer.from(good);
    outOfBounds.writeUInt32LE(good.length, 40); // user buffer offset past the end
    const oddUnicode = authenticateMessage({ nt: randomBytes(60), domain: '', user: ALICE });
    oddUnicode.writeUInt16LE(3, 36);
    for (const message of [
      good.subarray(0, 40),
      outOfBounds,
      oddUnicode,
      authenticateMessage({ nt: randomBytes(60), domain: '', user: '' }),
    ]) {
      const mechanism = createMechanism('NTLM', fixture.context())!;
      await mechanism.step(negotiateMessage());
      assert.equal(outcome(await mechanism.step(message)), 'malformed');
    }
  });

  it('parseAuthenticate never throws on hostile input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 52, maxLength: 200 }), fc.boolean(), (bytes, unicode) => {
        const message = Buffer.from(bytes);
        SIGNATURE.copy(message);
        message.writeUInt32LE(3, 8);
        parseAuthenticate(message, unicode ? NtlmFlag.UNICODE : 0);
      }),
      { numRuns: 3000 },
    );
  });
});
