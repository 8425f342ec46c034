import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  InvalidAddressError,
  MAX_DOMAIN_OCTETS,
  MAX_LABEL_OCTETS,
  MAX_LOCAL_PART_OCTETS,
  normalizeAccountAddress,
  normalizeAddress,
  normalizeDomain,
  parseAccountAddress,
  parseAddress,
} from '../../../shared/address/address.ts';

const label63 = 'a'.repeat(MAX_LABEL_OCTETS);
/** 253 octets: four 63-octet labels minus two, with dots. */
const longestDomain = `${label63}.${label63}.${label63}.${'b'.repeat(MAX_DOMAIN_OCTETS - 3 * 64)}`;

function rejects(fn: (input: string) => unknown, input: string, reason?: RegExp): void {
  assert.throws(
    () => fn(input),
    (error: unknown) => {
      assert.ok(error instanceof InvalidAddressError, `expected InvalidAddressError for ${JSON.stringify(input)}`);
      if (reason) assert.match(error.message, reason);
      return true;
    },
  );
}

describe('normalizeDomain', () => {
  const good: [string, string][] = [
    ['example.com', 'example.com'],
    ['EXAMPLE.Com', 'example.com'],
    ['mail.example.co.uk', 'mail.example.co.uk'],
    ['a-b.example', 'a-b.example'],
    ['1.example', '1.example'],
    ['123.example.com', '123.example.com'],
    ['localhost', 'localhost'],
    ['bücher.de', 'xn--bcher-kva.de'],
    ['BÜCHER.de', 'xn--bcher-kva.de'],
    ['xn--bcher-kva.de', 'xn--bcher-kva.de'],
    ['XN--BCHER-KVA.DE', 'xn--bcher-kva.de'],
    ['faß.de', 'xn--fa-hia.de'],
    ['公司.cn', 'xn--55qx5d.cn'],
    ['例え。テスト', 'xn--r8jz45g.xn--zckzah'],
    ['ＥＸＡＭＰＬＥ.com', 'example.com'],
    [`${label63}.com`, `${label63}.com`],
    [longestDomain, longestDomain],
  ];
  for (const [input, expected] of good) {
    test(`accepts ${JSON.stringify(input)}`, () => assert.equal(normalizeDomain(input), expected));
  }

  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['example.com.', /ends with a dot/],
    ['.example.com', /empty label/],
    ['example..com', /empty label/],
    ['-example.com', /hyphen/],
    ['example-.com', /hyphen/],
    ['ex_ample.com', /letters, digits, hyphens/],
    ['ex ample.com', /letters, digits, hyphens/],
    ['exa%41mple.com', /letters, digits, hyphens/],
    ['bü%41cher.de', /internationalised/],
    ['example.com/path', /letters, digits, hyphens/],
    ['user@example.com', /letters, digits, hyphens/],
    ['[192.0.2.1]', /address literals/],
    ['192.0.2.1', /all-numeric/],
    ['example.123', /all-numeric/],
    ['ab--cd.com', /positions 3 and 4/],
    ['xn--zz.com', /not a valid IDNA A-label/],
    ['xn--.com', /hyphen/],
    ['xn--a.com', /not a valid IDNA A-label/],
    ['a\u200db.com', /internationalised/],
    ['a\u0000b.com', /letters, digits, hyphens/],
    [`${'a'.repeat(MAX_LABEL_OCTETS + 1)}.com`, /longer than 63/],
    [`${longestDomain}c`, /longer than 253/],
    ['x'.repeat(5000), /longer than 253/],
  ];
  for (const [input, reason] of bad) {
    test(`rejects ${JSON.stringify(input.slice(0, 40))}`, () => rejects(normalizeDomain, input, reason));
  }

  test('error messages name the domain and quote control characters safely', () => {
    assert.throws(() => normalizeDomain('bad\u0007.com'), {
      name: 'InvalidAddressError',
      message: 'invalid domain "bad\\u0007.com": a domain name has only letters, digits, hyphens and dots',
    });
  });
});

describe('parseAddress (any address)', () => {
  const good: [string, string][] = [
    ['alice@example.com', 'alice@example.com'],
    ['Alice.Smith@Example.COM', 'Alice.Smith@example.com'],
    ['a+tag@example.com', 'a+tag@example.com'],
    ["o'brien@example.com", "o'brien@example.com"],
    ['!#$%&*+-/=?^_`{|}~@example.com', '!#$%&*+-/=?^_`{|}~@example.com'],
    ['"abc"@example.com', 'abc@example.com'],
    ['"a.b"@example.com', 'a.b@example.com'],
    ['"a b"@example.com', '"a b"@example.com'],
    ['"a\\ b"@example.com', '"a b"@example.com'],
    ['"a\\"b"@example.com', '"a\\"b"@example.com'],
    ['"a\\\\b"@example.com', '"a\\\\b"@example.com'],
    ['"a@b"@example.com', '"a@b"@example.com'],
    ['"a..b"@example.com', '"a..b"@example.com'],
    ['"\\a"@example.com', 'a@example.com'],
    ['user@bücher.de', 'user@xn--bcher-kva.de'],
    [`${'l'.repeat(MAX_LOCAL_PART_OCTETS)}@example.com`, `${'l'.repeat(MAX_LOCAL_PART_OCTETS)}@example.com`],
  ];
  for (const [input, expected] of good) {
    test(`accepts ${JSON.stringify(input)}`, () => assert.equal(normalizeAddress(input), expected));
  }

  const bad: [string, RegExp][] = [
    ['', /no @/],
    ['alice', /no @/],
    ['@example.com', /empty local part/],
    ['alice@', /empty domain/],
    ['""@example.com', /empty local part/],
    ['a..b@example.com', /not a dot-atom/],
    ['.a@example.com', /not a dot-atom/],
    ['a.@example.com', /not a dot-atom/],
    ['a b@example.com', /not a dot-atom/],
    ['a"b@example.com', /not a dot-atom/],
    ['a@b@example.com', /not a dot-atom/],
    ['<alice@example.com>', /not a dot-atom|letters, digits/],
    ['"abc@example.com', /no closing quote|not a dot-atom/],
    ['"a"b"@example.com', /after the closing quote/],
    ['"a\\"@example.com', /no closing quote/],
    ['"a\tb"@example.com', /control characters/],
    ['a\r\n@example.com', /control characters/],
    ['jörg@example.com', /SMTPUTF8/],
    ['alice@[192.0.2.1]', /address literals/],
    ['alice@192.0.2.1', /all-numeric/],
    ['alice@example..com', /empty label/],
    [`${'l'.repeat(MAX_LOCAL_PART_OCTETS + 1)}@example.com`, /longer than 64/],
    [`"${'l '.repeat(40)}"@example.com`, /longer than 64/],
    [`${'l'.repeat(MAX_LOCAL_PART_OCTETS)}@${longestDomain}`, /longer than 254/],
  ];
  for (const [input, reason] of bad) {
    test(`rejects ${JSON.stringify(input.slice(0, 40))}`, () => rejects(normalizeAddress, input, reason));
  }

  test('returns the parts separately', () => {
    assert.deepEqual(parseAddress('"x y"@EXAMPLE.org'), { localPart: '"x y"', domain: 'example.org' });
  });
});

describe('parseAccountAddress (our accounts and aliases)', () => {
  const good: [string, string][] = [
    ['alice@example.com', 'alice@example.com'],
    ['Alice@Example.COM', 'alice@example.com'],
    ['ALICE.SMITH@example.com', 'alice.smith@example.com'],
    ['a-b_c.d9@example.com', 'a-b_c.d9@example.com'],
    ['1@example.com', '1@example.com'],
    ['postmaster@bücher.de', 'postmaster@xn--bcher-kva.de'],
  ];
  for (const [input, expected] of good) {
    test(`accepts ${JSON.stringify(input)}`, () => assert.equal(normalizeAccountAddress(input), expected));
  }

  const bad: [string, RegExp][] = [
    ['a+b@example.com', /letters, digits/],
    ['a--b@example.com', /"--"/],
    ['a__b@example.com', /"__"/],
    ['a..b@example.com', /"\.\."/],
    ['-a@example.com', /start and end/],
    ['a-@example.com', /start and end/],
    ['_a@example.com', /start and end/],
    ['a.@example.com', /start and end/],
    ['a%b@example.com', /letters, digits/],
    ['a*b@example.com', /letters, digits/],
    ['a/b@example.com', /letters, digits/],
    ["o'brien@example.com", /letters, digits/],
    ['"alice"@example.com', /cannot be quoted/],
    ['jörg@example.com', /letters, digits/],
    ['alice@-bad.com', /hyphen/],
    [`${'l'.repeat(MAX_LOCAL_PART_OCTETS + 1)}@example.com`, /longer than 64/],
  ];
  for (const [input, reason] of bad) {
    test(`rejects ${JSON.stringify(input)}`, () => rejects(normalizeAccountAddress, input, reason));
  }

  test('returns the parts separately', () => {
    assert.deepEqual(parseAccountAddress('Bob@Example.Org'), { localPart: 'bob', domain: 'example.org' });
  });
});

describe('properties', () => {
  const hostile = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.string({ unit: 'binary-ascii', maxLength: 300 }),
    fc.string({
      unit: fc.constantFrom('a', 'Z', '.', '-', '@', '"', '\\', ' ', '+', 'ü', '。', 'xn--', '%'),
      maxLength: 80,
    }),
    fc.emailAddress(),
    fc.domain(),
  );

  function onlyInvalidAddressError(fn: (input: string) => unknown) {
    return (input: string) => {
      try {
        fn(input);
      } catch (error) {
        if (!(error instanceof InvalidAddressError)) throw error;
      }
    };
  }

  function idempotent(fn: (input: string) => string) {
    return (input: string) => {
      let once: string;
      try {
        once = fn(input);
      } catch (error) {
        if (error instanceof InvalidAddressError) return;
        throw error;
      }
      assert.equal(fn(once), once);
    };
  }

  for (const fn of [normalizeDomain, normalizeAddress, normalizeAccountAddress]) {
    test(`${fn.name} throws nothing but InvalidAddressError`, () => {
      fc.assert(fc.property(hostile, onlyInvalidAddressError(fn)), { numRuns: 3000 });
    });
    test(`${fn.name} is idempotent`, () => {
      fc.assert(fc.property(hostile, idempotent(fn)), { numRuns: 3000 });
    });
  }

  test('every generated RFC address with an alphabetic top-level label parses, and keeps within the limits', () => {
    // fast-check's domains may have '--' in positions 3-4 (an R-LDH label IDNA reserves), which we refuse.
    const hasReservedLabel = (domain: string) => domain.split('.').some((label) => label.slice(2, 4) === '--');
    const address = fc
      .emailAddress()
      .filter((value) => /\.[a-z]+$/i.test(value) && !hasReservedLabel(value.split('@').at(-1)!));
    fc.assert(
      fc.property(address, (input) => {
        const normal = normalizeAddress(input);
        assert.ok(normal.length <= 254);
        assert.equal(normal.split('@').at(-1), input.split('@').at(-1)!.toLowerCase());
      }),
      { numRuns: 2000 },
    );
  });

  test('account normalisation lower-cases, so addresses differing in case are one account', () => {
    const local = fc.stringMatching(/^[a-z0-9](?:[a-z0-9]|[._-][a-z0-9]){0,20}$/);
    fc.assert(
      fc.property(local, fc.domain(), fc.boolean(), (localPart, domain, upper) => {
        fc.pre(!/(^|\.)[0-9]+$/.test(domain) && !domain.split('.').some((label) => label.slice(2, 4) === '--'));
        const input = `${upper ? localPart.toUpperCase() : localPart}@${upper ? domain.toUpperCase() : domain}`;
        assert.equal(normalizeAccountAddress(input), `${localPart}@${domain.toLowerCase()}`);
      }),
      { numRuns: 2000 },
    );
  });
});
