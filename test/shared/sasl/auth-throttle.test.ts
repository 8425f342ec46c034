import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuthThrottle, addressKey, type ThrottlePolicy } from '../../../shared/sasl/auth-throttle.ts';

const policy: ThrottlePolicy = {
  freeFailures: 2,
  baseDelayMs: 100,
  maxDelayMs: 1_000,
  refuseAt: 8,
  refusalMs: 60_000,
  halfLifeMs: 60_000,
};

function fakeClock() {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('AuthThrottle', () => {
  it('lets free failures pass, then delays exponentially up to the cap', () => {
    const clock = fakeClock();
    const throttle = new AuthThrottle({ address: policy, account: { ...policy, refuseAt: 100 }, now: clock.now });
    const delays = Array.from({ length: 7 }, () => throttle.recordFailure('192.0.2.1', 'alice@example.com'));
    assert.deepEqual(delays, [0, 0, 100, 200, 400, 800, 1000]);
  });

  it('refuses at the threshold, for the refusal window, then recovers by itself', () => {
    const clock = fakeClock();
    const throttle = new AuthThrottle({ address: policy, account: { ...policy, refuseAt: 100 }, now: clock.now });
    for (let i = 0; i < 7; i++) throttle.recordFailure('192.0.2.1', `user${i}@example.com`);
    assert.deepEqual(throttle.check('192.0.2.1'), { allowed: true });
    throttle.recordFailure('192.0.2.1', 'user7@example.com');
    const refused = throttle.check('192.0.2.1');
    assert.equal(refused.allowed, false);
    assert.equal(!refused.allowed && refused.retryAfterMs, 60_000);
    assert.equal(throttle.check('192.0.2.99').allowed, true, 'other addresses are unaffected');
    clock.advance(59_999);
    assert.equal(throttle.check('192.0.2.1').allowed, false);
    clock.advance(1);
    assert.equal(throttle.check('192.0.2.1').allowed, true);
    // After the window, the score has halved: the next failure is delayed, not refused.
    assert.ok(throttle.recordFailure('192.0.2.1', 'x@example.com') > 0);
    assert.equal(throttle.check('192.0.2.1').allowed, true);
    // Much later nothing is left.
    clock.advance(20 * 60_000);
    assert.equal(throttle.recordFailure('192.0.2.1', 'y@example.com'), 0);
  });

  it('refuses an account attacked from many addresses', () => {
    const clock = fakeClock();
    const throttle = new AuthThrottle({ address: policy, account: policy, now: clock.now });
    for (let i = 0; i < 8; i++) throttle.recordFailure(`198.51.100.${i}`, 'Alice@Example.com');
    assert.equal(throttle.check('203.0.113.5', 'alice@example.com').allowed, false);
    assert.equal(throttle.check('203.0.113.5', 'bob@example.com').allowed, true);
    assert.equal(throttle.check('203.0.113.5').allowed, true);
  });

  it('a success clears the account score but not the address score', () => {
    const clock = fakeClock();
    const throttle = new AuthThrottle({ address: policy, account: policy, now: clock.now });
    for (let i = 0; i < 4; i++) throttle.recordFailure('192.0.2.1', 'alice@example.com');
    throttle.recordSuccess('192.0.2.1', 'alice@example.com');
    // The account starts over (0), the address still remembers its 4 failures (delay for the 5th).
    assert.equal(throttle.recordFailure('192.0.2.2', 'alice@example.com'), 0);
    assert.equal(throttle.recordFailure('192.0.2.1', 'other@example.com'), 400);
  });

  it('keys IPv6 by /64 and IPv4-mapped addresses as IPv4', () => {
    assert.equal(addressKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:db8:1:2::9'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:DB8::1'), '2001:db8:0:0::/64');
    assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(addressKey('192.0.2.7'), '192.0.2.7');
    const clock = fakeClock();
    const throttle = new AuthThrottle({ address: policy, account: { ...policy, refuseAt: 100 }, now: clock.now });
    for (let i = 0; i < 8; i++) throttle.recordFailure(`2001:db8:1:2::${i + 1}`, `u${i}@example.com`);
    assert.equal(throttle.check('2001:db8:1:2:ffff::1').allowed, false);
    assert.equal(throttle.check('2001:db8:1:3::1').allowed, true);
  });

  it('holds at most maxEntries keys, evicting the least recently touched', () => {
    const clock = fakeClock();
    const throttle = new AuthThrottle({ address: policy, account: policy, maxEntries: 100, now: clock.now });
    for (let i = 0; i < 8; i++) throttle.recordFailure('192.0.2.1', 'victim@example.com');
    for (let i = 0; i < 10_000; i++) throttle.recordFailure(`10.0.${i >> 8}.${i & 255}`, `spray${i}@example.com`);
    assert.deepEqual(throttle.entryCounts, { addresses: 100, accounts: 100 });
    // The oldest entries were evicted: the first address is no longer refused (memory beats memory of it).
    assert.equal(throttle.check('192.0.2.1').allowed, true);
    assert.equal(throttle.check('10.0.39.15').allowed, true);
  });

  it('forgets entries that have decayed away', () => {
    const clock = fakeClock();
    const throttle = new AuthThrottle({ address: policy, account: policy, now: clock.now });
    throttle.recordFailure('192.0.2.1', 'alice@example.com');
    clock.advance(10 * 60_000);
    throttle.check('192.0.2.1', 'alice@example.com');
    assert.deepEqual(throttle.entryCounts, { addresses: 0, accounts: 0 });
  });
});
