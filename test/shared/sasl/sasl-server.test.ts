/**
 * The per-process SASL state against the real directory (SQLite): what is advertised, the DIGEST-MD5
 * realms, the cached legacy-domain list, and one throttle across connections and protocols.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Directory } from '../../../shared/directory/directory.ts';
import { AuthThrottle } from '../../../shared/sasl/auth-throttle.ts';
import { LEGACY_DOMAINS_CACHE_MS, MAX_DIGEST_REALMS, SaslServer } from '../../../shared/sasl/sasl-server.ts';
import { temporaryKeyVault } from '../../support/key-vaults.ts';
import { localAdapters, type StoreSet } from '../../support/stores.ts';
import { outcome } from './sasl-fixture.ts';

const PASSWORD = 'correct horse battery staple';
const BINDINGS = { 'tls-exporter': Buffer.alloc(32, 1) };

describe('SaslServer', () => {
  let stores: StoreSet;
  let directory: Directory;
  let failReads = false;
  let clock = 0;
  let server: SaslServer;

  before(async () => {
    stores = await localAdapters.open();
    const keyVault = await temporaryKeyVault();
    directory = new Directory(stores.metadata, { keyVault });
    await directory.addDomain('legacy.example');
    await directory.addDomain('modern.example', { legacySaslMechanisms: false });
    await directory.addAccount('ann@legacy.example', { password: PASSWORD });
    // The real directory, with reads of the legacy-domain list failing on demand.
    const flaky = new Proxy(directory, {
      get(target, property, receiver) {
        if (property === 'domainsWithLegacyMechanisms' && failReads) {
          return () => Promise.reject(new Error('store unreachable'));
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    server = await SaslServer.open({
      directory: flaky,
      vault: keyVault,
      hostname: 'mail.example.com',
      throttle: new AuthThrottle({
        address: {
          freeFailures: 0,
          baseDelayMs: 1,
          maxDelayMs: 1,
          refuseAt: 3,
          refusalMs: 60_000,
          halfLifeMs: 600_000,
        },
      }),
      now: () => clock,
    });
  });
  after(() => stores.cleanup());

  test('advertises PLAIN and LOGIN only with TLS, -PLUS only with channel bindings, legacy only when a domain allows it', async () => {
    assert.deepEqual(server.mechanisms({ tls: false }), [
      'SCRAM-SHA-256',
      'SCRAM-SHA-1',
      'DIGEST-MD5',
      'CRAM-MD5',
      'NTLM',
    ]);
    assert.deepEqual(server.mechanisms({ tls: true, channelBindings: BINDINGS }), [
      'SCRAM-SHA-256-PLUS',
      'SCRAM-SHA-1-PLUS',
      'SCRAM-SHA-256',
      'SCRAM-SHA-1',
      'DIGEST-MD5',
      'CRAM-MD5',
      'NTLM',
      'PLAIN',
      'LOGIN',
    ]);
    const context = server.context({ service: 'smtp', tls: false, clientAddress: '192.0.2.1' });
    assert.deepEqual(context.digestRealms, ['legacy.example']);
    assert.equal(context.channelBindings, undefined);
  });

  test('the legacy-domain list is cached, read again in the background, and kept when a read fails', async () => {
    await directory.setDomainSettings('legacy.example', { legacySaslMechanisms: false });
    assert.ok(server.mechanisms({ tls: true }).includes('CRAM-MD5'), 'still cached');
    clock += LEGACY_DOMAINS_CACHE_MS;
    assert.ok(server.mechanisms({ tls: true }).includes('CRAM-MD5'), 'answered from the cache while it reads');
    await server.refresh();
    assert.deepEqual(server.mechanisms({ tls: true }), ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN', 'LOGIN']);

    await directory.setDomainSettings('legacy.example', { legacySaslMechanisms: true });
    failReads = true;
    await server.refresh();
    assert.ok(!server.mechanisms({ tls: true }).includes('CRAM-MD5'), 'the last list, not an error');
    failReads = false;
    await server.refresh();
    assert.ok(server.mechanisms({ tls: true }).includes('CRAM-MD5'), 'read again once the store answers');
  });

  test('DIGEST-MD5 offers no realm once there are too many domains to list', async () => {
    for (let i = 0; i < MAX_DIGEST_REALMS; i++) await directory.addDomain(`d${i}.example`);
    await server.refresh();
    const context = server.context({ service: 'imap', tls: true, clientAddress: '192.0.2.1' });
    assert.deepEqual(context.digestRealms, []);
    assert.ok(server.mechanisms({ tls: true }).includes('DIGEST-MD5'));
  });

  test('one throttle for every connection and protocol of the process', async () => {
    const address = '203.0.113.9';
    for (const service of ['smtp', 'imap', 'smtp'] as const) {
      const plain = server.start('PLAIN', { service, tls: true, clientAddress: address });
      assert.equal(outcome(await plain!.step(Buffer.from(`\0ann@legacy.example\0wrong`))), 'bad-credentials');
    }
    const next = server.start('PLAIN', { service: 'imap', tls: true, clientAddress: address });
    assert.equal(outcome(await next!.step(Buffer.from(`\0ann@legacy.example\0${PASSWORD}`))), 'throttled');
    const elsewhere = server.start('PLAIN', { service: 'imap', tls: true, clientAddress: '198.51.100.2' });
    assert.equal(outcome(await elsewhere!.step(Buffer.from(`\0ann@legacy.example\0${PASSWORD}`))), 'success');
  });
});
