import assert from 'node:assert/strict';
import { BlockList, isIP } from 'node:net';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { InvalidNetworkError } from '../../../shared/directory/errors.ts';
import { formatNetwork, networkContains, parseIp, parseNetwork } from '../../../shared/directory/ip-network.ts';

const canonical = (input: string) => formatNetwork(parseNetwork(input));

describe('parseNetwork', () => {
  const good: [string, string][] = [
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['192.0.2.1', '192.0.2.1/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['::/0', '::/0'],
    ['::1', '::1/128'],
    ['2001:DB8::1/32', '2001:db8::/32'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1/128'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1/128'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1/128'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0/128'],
    ['::ffff:192.0.2.1', '192.0.2.1/32'],
    ['::ffff:192.0.2.0/120', '192.0.2.0/24'],
    ['::ffff:0:0/96', '0.0.0.0/0'],
    ['64:ff9b::192.0.2.1', '64:ff9b::c000:201/128'],
  ];
  for (const [input, expected] of good) {
    test(`${input} → ${expected}`, () => assert.equal(canonical(input), expected));
  }

  const bad = [
    '',
    '10.0.0.0/33',
    '10.0.0.0/',
    '10.0.0.0/08',
    '10.0.0/8',
    '10.0.0.0.0',
    '010.0.0.1',
    '256.0.0.1',
    '1.2.3.4/8/8',
    '::1/129',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '12345::',
    '1.2.3.4::',
    'fe80::1%eth0',
    ' 10.0.0.0/8',
    'example.com',
    'x'.repeat(500),
  ];
  for (const input of bad) {
    test(`rejects ${JSON.stringify(input.slice(0, 30))}`, () =>
      assert.throws(() => parseNetwork(input), InvalidNetworkError));
  }
});

describe('properties', () => {
  test('parseIp agrees with node:net on what is an address', () => {
    const candidates = fc.oneof(
      fc.ipV4(),
      fc.ipV6(),
      fc.ipV4Extended(),
      fc.string({ unit: fc.constantFrom('0', '1', 'f', 'F', ':', '.', '::', '255', '%', '/'), maxLength: 20 }),
    );
    fc.assert(
      fc.property(candidates, (input) => {
        const nodeSays = isIP(input) !== 0 && !input.includes('%');
        // node:net also refuses leading zeros in IPv4 octets (ambiguous octal) and zone ids are not ours.
        assert.equal(parseIp(input) !== undefined, nodeSays, input);
      }),
      { numRuns: 5000 },
    );
  });

  test('the canonical form parses to itself, and matches what node:net BlockList matches', () => {
    const network = fc.oneof(
      fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })),
      fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })),
    );
    const probe = fc.oneof(fc.ipV4(), fc.ipV6());
    fc.assert(
      fc.property(network, fc.array(probe, { maxLength: 5 }), ([address, prefix], probes) => {
        const parsed = parseNetwork(`${address}/${prefix}`);
        const text = formatNetwork(parsed);
        assert.equal(formatNetwork(parseNetwork(text)), text);
        const [base, length] = text.split('/') as [string, string];
        const family = base.includes(':') ? 'ipv6' : 'ipv4';
        const list = new BlockList();
        list.addSubnet(base, Number(length), family);
        for (const candidate of [address, ...probes]) {
          const candidateFamily = candidate.includes(':') ? 'ipv6' : 'ipv4';
          const expected = candidateFamily === family && list.check(candidate, candidateFamily);
          if (candidateFamily === family) assert.equal(networkContains(parsed, candidate), expected, candidate);
        }
        assert.equal(networkContains(parsed, address), true);
      }),
      { numRuns: 3000 },
    );
  });

  test('parseNetwork throws nothing but InvalidNetworkError', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii', maxLength: 80 }), (input) => {
        try {
          parseNetwork(input);
        } catch (error) {
          if (!(error instanceof InvalidNetworkError)) throw error;
        }
      }),
    );
  });
});
