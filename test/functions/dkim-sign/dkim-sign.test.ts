/**
 * The dkim-sign step through its middy handler, as the in-process invoker calls it: real stores, the real
 * local key vault, keys made by shared/dkim. Signatures are checked by dkimpy and mailauth; an unknown
 * domain is unsigned and counted in the EMF document Powertools publishes; malformed requests and results are
 * refused by the step contract.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createDkimSignHandler } from '../../../functions/dkim-sign/handler.ts';
import { Directory } from '../../../shared/directory/directory.ts';
import { DkimKeys } from '../../../shared/dkim/dkim-keys.ts';
import { dkimRecordName, splitTxtStrings } from '../../../shared/dkim/dns-record.ts';
import { type DkimSignResult, parseDkimSignResult, SignStepContractError } from '../../../shared/dkim/sign-step.ts';
import { LocalKeyVault } from '../../../shared/keyvault/local-key-vault.ts';
import { METRICS_NAMESPACE, MetricService } from '../../../shared/metrics/metric-names.ts';
import { type TxtRecords, verifyWithDkimpy, verifyWithMailauth } from '../../shared/dkim/independent-verifiers.ts';
import { localAdapters, type StoreSet } from '../../support/stores.ts';

const MESSAGE = Buffer.from(
  'From: Alice <alice@example.org>\r\nTo: bob@remote.example\r\nSubject: signed by the step\r\n' +
    'Date: Mon, 02 Mar 2026 10:00:00 +0000\r\nMessage-ID: <step@example.org>\r\n\r\nHello\r\n',
);

const context = { functionName: 'dkim-sign', awsRequestId: 'test', getRemainingTimeInMillis: () => 30_000 };

/** Powertools metrics that also keep each EMF document they publish, for the test to read. */
class RecordingMetrics extends Metrics {
  readonly published: Record<string, unknown>[] = [];

  override publishStoredMetrics(): this {
    if (this.hasStoredMetrics()) this.published.push(this.serializeMetrics() as Record<string, unknown>);
    return super.publishStoredMetrics();
  }

  /** The EMF documents published since the last call. */
  take(): Record<string, unknown>[] {
    return this.published.splice(0);
  }
}

describe('dkim-sign step', () => {
  let stores: StoreSet;
  let vaultDir: string;
  let keys: DkimKeys;
  let handler: (event: unknown, ctx: typeof context) => Promise<DkimSignResult>;
  const metrics = new RecordingMetrics({ namespace: METRICS_NAMESPACE, serviceName: MetricService.DkimSign });
  const records: TxtRecords = {};

  before(async () => {
    stores = await localAdapters.open();
    vaultDir = await mkdtemp(join(tmpdir(), 'marmot-vault-'));
    keys = new DkimKeys(stores.metadata, await LocalKeyVault.open(vaultDir));
    const directory = new Directory(stores.metadata);
    for (const [domain, algorithm] of [
      ['example.org', 'rsa-2048'],
      ['ed.example', 'ed25519'],
    ] as const) {
      await directory.addDomain(domain);
      const key = await keys.create(domain, { selector: 'sel', algorithm });
      await keys.activate(domain, 'sel');
      records[dkimRecordName('sel', domain)] = splitTxtStrings(`v=DKIM1; k=${key.keyType}; p=${key.publicKey}`);
    }
    await directory.addDomain('keyless.example');
    await stores.blobs.put('outbound/message-1', MESSAGE);
    await stores.blobs.put('outbound/no-from', Buffer.from('To: bob@remote.example\r\nSubject: x\r\n\r\nbody\r\n'));
    handler = createDkimSignHandler(keys, stores.blobs, metrics) as unknown as typeof handler;
  });

  after(async () => {
    await stores.cleanup();
    await rm(vaultDir, { recursive: true, force: true });
  });

  for (const domain of ['example.org', 'ed.example']) {
    test(`${domain}: the returned field verifies on top of the stored message (dkimpy, mailauth)`, async () => {
      const result = await handler({ blobKey: 'outbound/message-1', domain: domain.toUpperCase() }, context);
      const parsed = parseDkimSignResult(result);
      assert.ok(parsed.signed);
      assert.equal(parsed.domain, domain);
      assert.equal(parsed.selector, 'sel');
      const signed = Buffer.concat([Buffer.from(parsed.header), MESSAGE]);
      assert.deepEqual(
        (await verifyWithDkimpy(signed, records)).map((r) => [r.domain, r.ok]),
        [[domain, true]],
      );
      assert.deepEqual(
        (await verifyWithMailauth(signed, records)).map((r) => r.status),
        ['pass'],
      );
      const [emf] = metrics.take();
      assert.equal(emf?.MessagesSigned, 1);
      assert.equal(emf?.service, 'dkim-sign');
    });
  }

  test('a domain without an active key: unsigned, and counted by reason', async () => {
    const result = await handler({ blobKey: 'outbound/message-1', domain: 'keyless.example' }, context);
    assert.deepEqual(parseDkimSignResult(result), {
      signed: false,
      reason: 'no-key',
      detail: 'keyless.example has no active DKIM key',
    });
    const [emf] = metrics.take() as unknown as {
      _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] };
      MessagesUnsigned: number;
      Reason: string;
    }[];
    assert.equal(emf?.MessagesUnsigned, 1);
    assert.equal(emf?.Reason, 'no-dkim-key');
    assert.deepEqual(emf?._aws.CloudWatchMetrics[0]?.Dimensions, [['service'], ['service', 'Reason']]);
    assert.equal(emf?._aws.CloudWatchMetrics[0]?.Namespace, 'Marmot');
  });

  test('a message that cannot be signed goes unsigned, not failed', async () => {
    const result = await handler({ blobKey: 'outbound/no-from', domain: 'example.org' }, context);
    const parsed = parseDkimSignResult(result);
    assert.equal(parsed.signed, false);
    assert.equal(parsed.signed === false && parsed.reason, 'unsignable');
    assert.equal(metrics.take()[0]?.Reason, 'unsignable');
  });

  test('requests outside the contract are refused', async () => {
    for (const request of [
      { blobKey: 'msg/ab/secret', domain: 'example.org' },
      { blobKey: 'outbound/../msg/x', domain: 'example.org' },
      { blobKey: 'outbound/message-1', domain: 'not a domain' },
      { blobKey: 'outbound/message-1' },
      'outbound/message-1',
    ]) {
      await assert.rejects(handler(request, context), SignStepContractError, JSON.stringify(request));
    }
  });

  test('a result that is not one DKIM-Signature field is refused by the caller', () => {
    const good = { signed: true, domain: 'example.org', selector: 'sel', algorithm: 'ed25519' };
    for (const header of [
      'DKIM-Signature: v=1; b=abc',
      'DKIM-Signature: v=1;\r\nBcc: victim@example.org\r\n',
      'DKIM-Signature: v=1;\r\n\r\nbody\r\n',
      'Received: from x\r\n',
      `DKIM-Signature: ${'a'.repeat(9000)}\r\n`,
    ]) {
      assert.throws(() => parseDkimSignResult({ ...good, header }), SignStepContractError, JSON.stringify(header));
    }
    assert.equal(parseDkimSignResult({ ...good, header: 'DKIM-Signature: v=1;\r\n b=abc\r\n' }).signed, true);
    assert.throws(() => parseDkimSignResult({ signed: false, reason: 'bored', detail: 'x' }), SignStepContractError);
  });
});
