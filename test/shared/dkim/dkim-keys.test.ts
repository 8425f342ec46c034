/**
 * DKIM keys in the metadata store, on every adapter set, with the real local key vault: creation and the
 * sealed private key, activation and retirement, the staged rotation advanced by the nightly step (with
 * time passed in), DNS gating, repair after a crash, racing activations, and `check` against a stub DNS.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Directory } from '../../../shared/directory/directory.ts';
import { DomainNotFoundError } from '../../../shared/directory/errors.ts';
import { advanceDkimRotations, type DkimKey, DkimKeys, RETIRED_KEY_KEPT_MS } from '../../../shared/dkim/dkim-keys.ts';
import type { TxtResolver } from '../../../shared/dkim/dns-check.ts';
import { dkimRecordName, splitTxtStrings } from '../../../shared/dkim/dns-record.ts';
import {
  DkimKeyActiveError,
  DkimKeyExistsError,
  DkimKeyNotFoundError,
  DkimKeyUnusableError,
  DkimRotationPendingError,
} from '../../../shared/dkim/errors.ts';
import { signMessage } from '../../../shared/dkim/signing.ts';
import { LocalKeyVault } from '../../../shared/keyvault/local-key-vault.ts';
import { adapterSets, type StoreSet } from '../../support/stores.ts';
import { verifyWithDkimpy } from './independent-verifiers.ts';

const DAY = 24 * 60 * 60 * 1000;
const T0 = new Date('2026-03-02T03:00:00Z');
const at = (days: number) => new Date(T0.getTime() + days * DAY);

/** A stub DNS serving the given keys' records, as a resolver function like dns.promises.resolveTxt. */
function dnsServing(keys: DkimKey[]): TxtResolver {
  return async (name) => {
    const served = keys
      .filter((key) => dkimRecordName(key.selector, key.domain) === name)
      .map((key) => splitTxtStrings(`v=DKIM1; k=${key.keyType}; p=${key.publicKey}`));
    if (served.length === 0) throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return served;
  };
}

function states(keys: DkimKey[]): Record<string, string> {
  return Object.fromEntries(keys.map((key) => [key.selector, key.state]));
}

for (const adapters of adapterSets) {
  describe(`DKIM keys (${adapters.name})`, () => {
    let stores: StoreSet;
    let vaultDir: string;
    let keys: DkimKeys;

    before(async () => {
      stores = await adapters.open();
      vaultDir = await mkdtemp(join(tmpdir(), 'marmot-vault-'));
      keys = new DkimKeys(stores.metadata, await LocalKeyVault.open(vaultDir));
      const directory = new Directory(stores.metadata);
      for (const domain of ['example.org', 'rotate.example', 'race.example', 'bücher.example']) {
        await directory.addDomain(domain);
      }
    });

    after(async () => {
      await stores.cleanup();
      await rm(vaultDir, { recursive: true, force: true });
    });

    test('create: a published key with a dated selector; the private key is stored sealed', async () => {
      const first = await keys.create('EXAMPLE.org', { now: T0 });
      assert.equal(first.selector, 'marmot-20260302');
      assert.equal(first.state, 'published');
      assert.equal(first.algorithm, 'rsa-2048');
      const second = await keys.create('example.org', { now: T0, algorithm: 'ed25519' });
      assert.equal(second.selector, 'marmot-20260302-2');
      assert.equal(second.keyType, 'ed25519');

      const item = await stores.metadata.get('dkim#example.org', 'key#marmot-20260302');
      assert.ok(item);
      assert.match(String(item.privateKey), /^v1\.local\./);
      assert.ok(!JSON.stringify(item).includes('PRIVATE KEY'));

      await assert.rejects(keys.create('example.org', { selector: 'Marmot-20260302' }), DkimKeyExistsError);
      await assert.rejects(keys.create('nowhere.example'), DomainNotFoundError);
      const idn = await keys.create('Bücher.example', { selector: 's1', algorithm: 'rsa-1024' });
      assert.equal(idn.domain, 'xn--bcher-kva.example');
    });

    test('activate: the key signs, and the signature verifies against its published record', async () => {
      assert.equal(await keys.signingKey('example.org'), undefined);
      await keys.activate('example.org', 'marmot-20260302', T0);
      const signing = await keys.signingKey('example.org');
      assert.equal(signing?.selector, 'marmot-20260302');
      const message = Buffer.from('From: a@example.org\r\nTo: b@remote.example\r\nSubject: hi\r\n\r\nhello\r\n');
      const signature = await signMessage(message, signing!);
      const key = await keys.get('example.org', 'marmot-20260302');
      const results = await verifyWithDkimpy(Buffer.concat([Buffer.from(signature), message]), {
        [dkimRecordName(key.selector, key.domain)]: splitTxtStrings(`v=DKIM1; k=rsa; p=${key.publicKey}`),
      });
      assert.deepEqual(
        results.map((r) => r.ok),
        [true],
      );
    });

    test('activating another key retires the old one for a week; the active key cannot be deleted', async () => {
      const outcome = await keys.activate('example.org', 'marmot-20260302-2', at(1));
      assert.deepEqual(outcome.retired, ['marmot-20260302']);
      const old = await keys.get('example.org', 'marmot-20260302');
      assert.equal(old.state, 'retired');
      assert.equal(old.deleteAt?.getTime(), at(1).getTime() + RETIRED_KEY_KEPT_MS);
      assert.equal((await keys.signingKey('example.org'))?.algorithm, 'ed25519');

      await assert.rejects(keys.delete('example.org', 'marmot-20260302-2'), DkimKeyActiveError);
      await keys.delete('example.org', 'marmot-20260302');
      await assert.rejects(keys.get('example.org', 'marmot-20260302'), DkimKeyNotFoundError);
      await assert.rejects(keys.delete('example.org', 'marmot-20260302'), DkimKeyNotFoundError);

      await keys.retire('example.org', 'marmot-20260302-2', at(2));
      assert.equal(await keys.signingKey('example.org'), undefined);
    });

    test('an envelope moved onto another key record does not open', async () => {
      await keys.create('example.org', { selector: 'victim', algorithm: 'ed25519' });
      await keys.create('example.org', { selector: 'thief', algorithm: 'ed25519' });
      const victim = await stores.metadata.get('dkim#example.org', 'key#victim');
      await stores.metadata.update('dkim#example.org', 'key#thief', { set: { privateKey: victim!.privateKey! } });
      await keys.activate('example.org', 'thief');
      await assert.rejects(keys.signingKey('example.org'), DkimKeyUnusableError);
    });

    test('staged rotation: published now, active after the delay, the old key retired a week, then deleted', async () => {
      await keys.create('rotate.example', { selector: 'q1', algorithm: 'ed25519', now: T0 });
      await keys.activate('rotate.example', 'q1', T0);
      const next = await keys.rotate('rotate.example', { selector: 'q2', activationDelayMs: 2 * DAY, now: at(10) });
      assert.equal(next.algorithm, 'ed25519', 'the algorithm follows the active key');
      assert.equal(next.activateAt?.getTime(), at(12).getTime());
      await assert.rejects(keys.rotate('rotate.example', { now: at(10) }), DkimRotationPendingError);

      let progress = await advanceDkimRotations(stores.metadata, { now: at(11) });
      assert.deepEqual(progress.activated, []);
      assert.deepEqual(states(await keys.list('rotate.example')), { q1: 'active', q2: 'published' });

      progress = await advanceDkimRotations(stores.metadata, { now: at(12) });
      assert.deepEqual(progress.activated, ['rotate.example/q2']);
      assert.deepEqual(progress.retired, ['rotate.example/q1']);
      assert.deepEqual(states(await keys.list('rotate.example')), { q1: 'retired', q2: 'active' });
      assert.equal((await keys.signingKey('rotate.example'))?.selector, 'q2');

      progress = await advanceDkimRotations(stores.metadata, { now: at(18) });
      assert.deepEqual(progress.deleted, []);
      progress = await advanceDkimRotations(stores.metadata, { now: at(19) });
      assert.deepEqual(progress.deleted, ['rotate.example/q1']);
      assert.deepEqual(states(await keys.list('rotate.example')), { q2: 'active' });
      progress = await advanceDkimRotations(stores.metadata, { now: at(19) });
      assert.deepEqual(progress, { activated: [], retired: [], deleted: [], waitingForDns: [] });
    });

    test('with a resolver, a due key waits until DNS serves exactly it', async () => {
      const next = await keys.rotate('rotate.example', { selector: 'q3', activationDelayMs: DAY, now: at(20) });
      let progress = await advanceDkimRotations(stores.metadata, { now: at(21), resolveTxt: dnsServing([]) });
      assert.deepEqual(progress.waitingForDns, [
        { key: 'rotate.example/q3', status: 'missing', detail: 'no TXT record' },
      ]);
      const q2 = await keys.get('rotate.example', 'q2');
      const wrong = { ...next, publicKey: q2.publicKey };
      progress = await advanceDkimRotations(stores.metadata, { now: at(22), resolveTxt: dnsServing([wrong]) });
      assert.equal(progress.waitingForDns[0]?.status, 'mismatch');
      assert.equal((await keys.get('rotate.example', 'q3')).state, 'published');

      progress = await advanceDkimRotations(stores.metadata, { now: at(23), resolveTxt: dnsServing([next]) });
      assert.deepEqual(progress.activated, ['rotate.example/q3']);
      assert.equal((await keys.signingKey('rotate.example'))?.selector, 'q3');
    });

    test('a crash between activation and retirement: the newest active key signs, the nightly step retires the other', async () => {
      // The state a crash leaves: q2 was re-activated earlier, and q3's activation never retired it.
      await stores.metadata.update('dkim#rotate.example', 'key#q2', {
        set: { state: 'active', activatedAt: at(5).getTime() },
        remove: ['retiredAt', 'deleteAt'],
      });
      assert.equal((await keys.signingKey('rotate.example'))?.selector, 'q3');
      const progress = await advanceDkimRotations(stores.metadata, { now: at(24) });
      assert.deepEqual(progress.retired, ['rotate.example/q2']);
      assert.deepEqual(states(await keys.list('rotate.example')), { q2: 'retired', q3: 'active' });
    });

    test('two activations racing leave exactly one active key', async () => {
      for (let round = 0; round < 5; round++) {
        const a = await keys.create('race.example', { selector: `a${round}`, algorithm: 'ed25519' });
        const b = await keys.create('race.example', { selector: `b${round}`, algorithm: 'ed25519' });
        await Promise.all([keys.activate('race.example', a.selector), keys.activate('race.example', b.selector)]);
        const active = (await keys.list('race.example')).filter((key) => key.state === 'active');
        assert.equal(active.length, 1, `round ${round}: ${JSON.stringify(states(await keys.list('race.example')))}`);
        for (const key of await keys.list('race.example')) {
          if (key.state !== 'active') await keys.delete('race.example', key.selector);
        }
      }
    });

    test('list covers every domain; check compares what DNS serves', async () => {
      const all = await keys.list();
      assert.deepEqual(
        [...new Set(all.map((key) => key.domain))],
        ['example.org', 'race.example', 'rotate.example', 'xn--bcher-kva.example'],
      );
      const q3 = await keys.get('rotate.example', 'q3');
      const other = await keys.get('rotate.example', 'q2');
      const name = dkimRecordName('q3', 'rotate.example');
      const check = (resolve: TxtResolver) => keys.check('rotate.example', 'q3', resolve);
      assert.equal((await check(dnsServing([q3]))).status, 'match');
      assert.equal((await check(dnsServing([]))).status, 'missing');
      assert.equal((await check(dnsServing([{ ...q3, publicKey: other.publicKey }]))).status, 'mismatch');
      assert.equal((await check(dnsServing([{ ...q3, keyType: 'rsa' }]))).status, 'mismatch');
      assert.equal((await check(dnsServing([q3, { ...q3, publicKey: other.publicKey }]))).status, 'ambiguous');
      assert.equal((await check(dnsServing([q3, q3]))).status, 'match');
      assert.equal((await check(async () => [['v=DKIM1; k=ed25519; p=']])).status, 'revoked');
      assert.equal((await check(async () => [['v=spf1 -all']])).status, 'invalid');
      const failing: TxtResolver = async () => {
        throw Object.assign(new Error(`queryTxt ESERVFAIL ${name}`), { code: 'ESERVFAIL' });
      };
      assert.deepEqual(await check(failing), { name, status: 'lookup-failed', detail: 'DNS lookup failed: ESERVFAIL' });
    });
  });
}
