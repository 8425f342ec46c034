/**
 * Key generation, the DNS record, and signing, checked by independent verifiers (dkimpy and mailauth)
 * that read the public key from the record text we print; plus the RFC 8463 Ed25519 test vector.
 */
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  dkimRecordName,
  dkimRecordText,
  dkimZoneLine,
  normalizeSelector,
  parseDkimRecord,
  splitTxtStrings,
  TXT_STRING_MAX_BYTES,
} from '../../../shared/dkim/dns-record.ts';
import { InvalidAlgorithmError, InvalidSelectorError } from '../../../shared/dkim/errors.ts';
import {
  DKIM_ALGORITHMS,
  ed25519KeyPairFromSeed,
  generateDkimKeyPair,
  parseDkimAlgorithm,
} from '../../../shared/dkim/key-generation.ts';
import { DkimSigningError, signMessage } from '../../../shared/dkim/signing.ts';
import { type TxtRecords, verifyWithDkimpy, verifyWithMailauth } from './independent-verifiers.ts';

const CRLF = '\r\n';

/** A realistic message: folded and encoded headers, multipart body, trailing whitespace, long lines. */
const MESSAGE = Buffer.from(
  [
    'Received: from client.example (client.example [192.0.2.7]) by mx.test.example',
    'From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jurgen@sender.example>',
    'To: Alice <alice@remote.example>,',
    '  Bob <bob@remote.example>',
    'Subject: Quarterly   report',
    '\tand the numbers',
    'Date: Mon, 02 Mar 2026 10:00:00 +0100',
    'Message-ID: <q1-2026@sender.example>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Hello   world,   ',
    `${'x'.repeat(900)}`,
    'Grüße',
    '--b1',
    'Content-Type: text/html; charset=utf-8',
    '',
    '<p>Hello</p>',
    '--b1--',
    '',
    '',
  ].join(CRLF),
);

function recordsFor(domain: string, selector: string, keyType: string, publicKey: string): TxtRecords {
  return { [dkimRecordName(selector, domain)]: splitTxtStrings(`v=DKIM1; k=${keyType}; p=${publicKey}`) };
}

function tagsOf(signature: string): Record<string, string> {
  const value = signature.replace(/\r\n[ \t]+/g, ' ').replace(/^DKIM-Signature:\s*/i, '');
  return Object.fromEntries(
    value
      .split(';')
      .map((part) => part.trim())
      .filter(Boolean)
      .map((part) => [part.slice(0, part.indexOf('=')), part.slice(part.indexOf('=') + 1).replace(/\s+/g, '')]),
  );
}

describe('key generation', () => {
  test('RSA 2048 by default, RSA 1024 on request: p= is the SubjectPublicKeyInfo', () => {
    for (const [algorithm, bits] of [
      [undefined, 2048],
      ['rsa-1024', 1024],
    ] as const) {
      const pair = generateDkimKeyPair(algorithm);
      assert.equal(pair.keyType, 'rsa');
      const publicKey = createPublicKey({ key: Buffer.from(pair.publicKey, 'base64'), format: 'der', type: 'spki' });
      assert.equal(publicKey.asymmetricKeyDetails?.modulusLength, bits);
      assert.match(pair.privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    }
  });

  test('Ed25519: p= is the raw 32-byte key (RFC 8463 §4.2)', () => {
    const pair = generateDkimKeyPair('ed25519');
    assert.equal(pair.keyType, 'ed25519');
    assert.equal(Buffer.from(pair.publicKey, 'base64').length, 32);
  });

  test('algorithm names are checked', () => {
    assert.equal(parseDkimAlgorithm(' ED25519 '), 'ed25519');
    assert.throws(() => parseDkimAlgorithm('rsa-512'), InvalidAlgorithmError);
  });
});

describe('the DNS record', () => {
  test('a 2048-bit key is split into strings of at most 255 bytes that join back to the record', () => {
    const pair = generateDkimKeyPair('rsa-2048');
    const text = dkimRecordText('rsa', pair.publicKey);
    const strings = splitTxtStrings(text);
    assert.ok(strings.length >= 2);
    assert.ok(strings.every((part) => Buffer.byteLength(part) <= TXT_STRING_MAX_BYTES));
    assert.equal(strings.join(''), text);
    const line = dkimZoneLine('sel1', 'rsa', pair.publicKey);
    assert.match(line, /^sel1\._domainkey IN TXT "v=DKIM1; k=rsa; p=[^"]+"( "[^"]+")+$/);
    assert.equal(
      [...line.matchAll(/"([^"]*)"/g)].map((match) => match[1]).join(''),
      `v=DKIM1; k=rsa; p=${pair.publicKey}`,
    );
  });

  test('a 1024-bit RSA or an Ed25519 record fits one string', () => {
    for (const algorithm of ['rsa-1024', 'ed25519'] as const) {
      const pair = generateDkimKeyPair(algorithm);
      assert.equal(splitTxtStrings(dkimRecordText(pair.keyType, pair.publicKey)).length, 1);
    }
  });

  test('the parser reads published records and refuses malformed ones', () => {
    assert.deepEqual(parseDkimRecord('v=DKIM1; k=ed25519; p=abc\t def='), {
      ok: true,
      keyType: 'ed25519',
      publicKey: 'abcdef=',
      tags: { v: 'DKIM1', k: 'ed25519', p: 'abc\t def=' },
    });
    assert.equal((parseDkimRecord('p=xyz;') as { keyType: string }).keyType, 'rsa');
    for (const [text, reason] of [
      ['k=rsa; v=DKIM1; p=x', 'v= is not the first tag'],
      ['v=DKIM2; p=x', 'unknown version DKIM2'],
      ['v=DKIM1; k=rsa', 'no p= tag'],
      ['v=DKIM1; p=a; p=b', 'duplicate tag p'],
      ['v=DKIM1;; p=a', 'empty tag'],
      ['spf1 include:example.com', 'malformed tag "spf1 include:example"'],
    ]) {
      assert.deepEqual(parseDkimRecord(text!), { ok: false, reason });
    }
  });

  test('the parser never throws on hostile text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 5000, unit: 'binary' }), (text) => {
        const parsed = parseDkimRecord(text);
        assert.equal(typeof parsed.ok, 'boolean');
      }),
      { numRuns: 500 },
    );
  });

  test('selectors are DNS labels', () => {
    assert.equal(normalizeSelector(' Sel-2026.Q1 '), 'sel-2026.q1');
    for (const bad of ['', '-a', 'a-', 'a..b', 'a_b', 'ä', 'a'.repeat(64), `${'a.'.repeat(70)}a`]) {
      assert.throws(() => normalizeSelector(bad), InvalidSelectorError, bad);
    }
  });
});

describe('signing, verified by dkimpy and mailauth', () => {
  for (const algorithm of DKIM_ALGORITHMS) {
    test(`${algorithm}: relaxed/relaxed, the usual fields, no l=; a changed body fails`, async () => {
      const pair = generateDkimKeyPair(algorithm);
      const key = { domain: 'sender.example', selector: 'sel1', algorithm, privateKeyPem: pair.privateKeyPem };
      const signature = await signMessage(MESSAGE, key);
      assert.match(signature, /^DKIM-Signature: /);
      assert.ok(signature.endsWith(CRLF));
      const tags = tagsOf(signature);
      assert.equal(tags.c, 'relaxed/relaxed');
      assert.equal(tags.a, algorithm === 'ed25519' ? 'ed25519-sha256' : 'rsa-sha256');
      assert.equal(tags.d, 'sender.example');
      assert.equal(tags.s, 'sel1');
      assert.equal(tags.l, undefined);
      for (const field of ['from', 'to', 'subject', 'date', 'message-id', 'mime-version', 'content-type']) {
        assert.ok(tags.h!.toLowerCase().split(':').includes(field), `h= covers ${field}`);
      }
      assert.ok(!tags.h!.toLowerCase().split(':').includes('received'));

      const records = recordsFor('sender.example', 'sel1', pair.keyType, pair.publicKey);
      const signed = Buffer.concat([Buffer.from(signature), MESSAGE]);
      assert.deepEqual(await verifyWithDkimpy(signed, records), [
        { ok: true, domain: 'sender.example', selector: 'sel1' },
      ]);
      assert.deepEqual(
        (await verifyWithMailauth(signed, records)).map((r) => r.status),
        ['pass'],
      );

      const tampered = Buffer.from(signed.toString('utf8').replace('Hello   world', 'Hello   World'));
      assert.deepEqual(
        (await verifyWithDkimpy(tampered, records)).map((r) => r.ok),
        [false],
      );
      assert.deepEqual(
        (await verifyWithMailauth(tampered, records)).map((r) => r.status),
        ['neutral'],
      );
    });
  }

  test('relaxed canonicalization survives refolding and whitespace changes in transit', async () => {
    const pair = generateDkimKeyPair('ed25519');
    const key = {
      domain: 'sender.example',
      selector: 's',
      algorithm: 'ed25519' as const,
      privateKeyPem: pair.privateKeyPem,
    };
    const signature = await signMessage(MESSAGE, key);
    const relayed = Buffer.from(
      (signature + MESSAGE.toString('utf8'))
        .replace('Subject: Quarterly   report\r\n\tand the numbers', 'Subject: Quarterly report and the numbers')
        .replace('Hello   world,   ', 'Hello world,'),
    );
    const records = recordsFor('sender.example', 's', 'ed25519', pair.publicKey);
    assert.deepEqual(
      (await verifyWithDkimpy(relayed, records)).map((r) => r.ok),
      [true],
    );
  });

  test('a message without a From field is not signed', async () => {
    const pair = generateDkimKeyPair('ed25519');
    const key = {
      domain: 'sender.example',
      selector: 's',
      algorithm: 'ed25519' as const,
      privateKeyPem: pair.privateKeyPem,
    };
    await assert.rejects(
      signMessage(Buffer.from(`To: a@b.example${CRLF}Subject: x${CRLF}${CRLF}body${CRLF}`), key),
      (error: unknown) => error instanceof DkimSigningError && error.code === 'ENOFROM',
    );
  });
});

describe('RFC 8463 Appendix A test vector', () => {
  const SEED = 'nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=';
  const PUBLIC = '11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=';
  const RSA_PUBLIC =
    'MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB';
  const BODY_HASH = '2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=';
  const UNSIGNED = [
    'From: Joe SixPack <joe@football.example.com>',
    'To: Suzie Q <suzie@shopping.example.net>',
    'Subject: Is dinner ready?',
    'Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)',
    'Message-ID: <20030712040037.46341.5F8J@football.example.com>',
    '',
    'Hi.',
    '',
    'We lost the game.  Are you hungry yet?',
    '',
    'Joe.',
    '',
  ].join(CRLF);
  const SIGNED = [
    'DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;',
    ' d=football.example.com; i=@football.example.com;',
    ' q=dns/txt; s=brisbane; t=1528637909; h=from : to :',
    ' subject : date : message-id : from : subject : date;',
    ` bh=${BODY_HASH};`,
    ' b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus',
    ' Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==',
    'DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;',
    ' d=football.example.com; i=@football.example.com;',
    ' q=dns/txt; s=test; t=1528637909; h=from : to : subject :',
    ' date : message-id : from : subject : date;',
    ` bh=${BODY_HASH};`,
    ' b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3',
    ' DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz',
    ' dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=',
    UNSIGNED,
  ].join(CRLF);

  test('the RFC secret key gives the RFC public key, and our record carries it', () => {
    const pair = ed25519KeyPairFromSeed(Buffer.from(SEED, 'base64'));
    assert.equal(pair.publicKey, PUBLIC);
    assert.equal(
      dkimZoneLine('brisbane', 'ed25519', pair.publicKey),
      `brisbane._domainkey IN TXT "v=DKIM1; k=ed25519; p=${PUBLIC}"`,
    );
  });

  test("the RFC's signed message verifies against the records we would publish", async () => {
    const records: TxtRecords = {
      ...recordsFor('football.example.com', 'brisbane', 'ed25519', PUBLIC),
      ...recordsFor('football.example.com', 'test', 'rsa', RSA_PUBLIC),
    };
    const message = Buffer.from(SIGNED);
    assert.deepEqual(
      (await verifyWithDkimpy(message, records)).map((r) => [r.selector, r.ok]),
      [
        ['brisbane', true],
        ['test', true],
      ],
    );
    assert.deepEqual(
      (await verifyWithMailauth(message, records)).map((r) => [r.selector, r.status]),
      [
        ['brisbane', 'pass'],
        ['test', 'pass'],
      ],
    );
  });

  test('our signer with the RFC key computes the RFC body hash, and dkimpy verifies its signature', async () => {
    const pair = ed25519KeyPairFromSeed(Buffer.from(SEED, 'base64'));
    const signature = await signMessage(Buffer.from(UNSIGNED), {
      domain: 'football.example.com',
      selector: 'brisbane',
      algorithm: 'ed25519',
      privateKeyPem: pair.privateKeyPem,
    });
    assert.equal(tagsOf(signature).bh, BODY_HASH);
    const records = recordsFor('football.example.com', 'brisbane', 'ed25519', PUBLIC);
    assert.deepEqual(
      (await verifyWithDkimpy(Buffer.from(signature + UNSIGNED), records)).map((r) => r.ok),
      [true],
    );
  });
});
