/**
 * The outbound, key-vault and DNS settings of loadConfig: defaults per deployment, every transport, the
 * duration syntax, and clear errors for what is wrong.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../../shared/config/config.ts';

const AWS = { MARMOT_STORE: 'aws', MARMOT_TABLE: 't', MARMOT_BUCKET: 'b', AWS_REGION: 'eu-west-1' };

describe('outbound configuration', () => {
  test('defaults: nothing leaves locally until a transport is chosen; SES in AWS; 5 days of retries', () => {
    const local = loadConfig({ MARMOT_DATA_DIR: '/data' });
    assert.deepEqual(local.outbound, {
      transport: { kind: 'none' },
      lifetimeMs: 5 * 86_400_000,
      retryMinMs: 300_000,
      retryMaxMs: 3_600_000,
      pollMs: 5000,
      leaseMs: 900_000,
      concurrency: 4,
    });
    assert.deepEqual(local.keyVault, { kind: 'local', dataDir: '/data' });
    const aws = loadConfig({ ...AWS, MARMOT_SES_CONFIGURATION_SET: 'marmot', MARMOT_KEY_ID: 'arn:key' });
    assert.deepEqual(aws.outbound.transport, { kind: 'ses', region: 'eu-west-1', configurationSet: 'marmot' });
    assert.deepEqual(aws.keyVault, { kind: 'aws', region: 'eu-west-1', keyId: 'arn:key' });
    assert.equal(loadConfig(AWS).keyVault, undefined, 'no vault without MARMOT_KEY_ID; DKIM commands say so');
  });

  test('smarthost, MX and durations', () => {
    const config = loadConfig({
      MARMOT_OUTBOUND_TRANSPORT: 'smarthost',
      MARMOT_SMARTHOST: 'smtp.provider.example',
      MARMOT_SMARTHOST_USER: 'me',
      MARMOT_SMARTHOST_PASSWORD: 'secret',
      MARMOT_OUTBOUND_LIFETIME: '3d',
      MARMOT_OUTBOUND_RETRY_MIN: '90s',
      MARMOT_OUTBOUND_RETRY_MAX: '2h',
      MARMOT_OUTBOUND_DELAY_WARNING: '4h',
      MARMOT_DNS_SERVERS: '127.0.0.1:5353, 192.0.2.53',
    });
    assert.deepEqual(config.outbound.transport, {
      kind: 'smarthost',
      host: 'smtp.provider.example',
      port: 587,
      tls: 'starttls',
      user: 'me',
      password: 'secret',
    });
    assert.deepEqual(
      [
        config.outbound.lifetimeMs,
        config.outbound.retryMinMs,
        config.outbound.retryMaxMs,
        config.outbound.delayWarningMs,
      ],
      [3 * 86_400_000, 90_000, 7_200_000, 14_400_000],
    );
    assert.deepEqual(config.dnsServers, ['127.0.0.1:5353', '192.0.2.53']);
    assert.deepEqual(
      loadConfig({
        MARMOT_OUTBOUND_TRANSPORT: 'smarthost',
        MARMOT_SMARTHOST: '[2001:db8::25]:465',
        MARMOT_SMARTHOST_TLS: 'implicit',
      }).outbound.transport,
      { kind: 'smarthost', host: '2001:db8::25', port: 465, tls: 'implicit' },
    );
    assert.deepEqual(loadConfig({ MARMOT_OUTBOUND_TRANSPORT: 'mx', MARMOT_MX_PORT: '2525' }).outbound.transport, {
      kind: 'mx',
      port: 2525,
    });
  });

  test('what is wrong is named', () => {
    for (const [env, message] of [
      [{ MARMOT_OUTBOUND_TRANSPORT: 'pigeon' }, /MARMOT_OUTBOUND_TRANSPORT must be ses, smarthost, mx or none/],
      [{ MARMOT_OUTBOUND_TRANSPORT: 'smarthost' }, /MARMOT_SMARTHOST must be host\[:port\]/],
      [{ MARMOT_OUTBOUND_TRANSPORT: 'smarthost', MARMOT_SMARTHOST: 'h:99999' }, /MARMOT_SMARTHOST must be/],
      [
        { MARMOT_OUTBOUND_TRANSPORT: 'smarthost', MARMOT_SMARTHOST: 'h', MARMOT_SMARTHOST_TLS: 'maybe' },
        /MARMOT_SMARTHOST_TLS/,
      ],
      [{ MARMOT_OUTBOUND_TRANSPORT: 'smarthost', MARMOT_SMARTHOST: 'h', MARMOT_SMARTHOST_USER: 'me' }, /go together/],
      [{ MARMOT_OUTBOUND_TRANSPORT: 'ses' }, /needs AWS_REGION/],
      [{ MARMOT_OUTBOUND_LIFETIME: '5 days' }, /MARMOT_OUTBOUND_LIFETIME must be a duration such as 30s/],
      [{ MARMOT_OUTBOUND_LIFETIME: '90d' }, /MARMOT_OUTBOUND_LIFETIME must be a duration/],
      [{ MARMOT_OUTBOUND_RETRY_MIN: '10m', MARMOT_OUTBOUND_RETRY_MAX: '5m' }, /MARMOT_OUTBOUND_RETRY_MAX/],
    ] as const) {
      assert.throws(
        () => loadConfig(env),
        (error: unknown) => error instanceof ConfigError && message.test(error.message),
      );
    }
  });
});
