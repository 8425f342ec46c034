import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { InvalidAddressError } from '../../../shared/address/address.ts';
import { Directory } from '../../../shared/directory/directory.ts';
import {
  AccountNotFoundError,
  AddressExistsError,
  AliasNotFoundError,
  DomainBeingRemovedError,
  DomainExistsError,
  DomainNotEmptyError,
  DomainNotFoundError,
  InvalidNetworkError,
  InvalidPasswordError,
  InvalidSettingError,
  RelayHostExistsError,
  RelayHostNotFoundError,
  UnsupportedSchemaError,
} from '../../../shared/directory/errors.ts';
import type { KeyVault } from '../../../shared/keyvault/key-vault.ts';
import type { Item, MetadataStore } from '../../../shared/store/metadata.ts';
import { temporaryKeyVault } from '../../support/key-vaults.ts';
import { adapterSets, type StoreSet } from '../../support/stores.ts';

const PASSWORD = 'correct horse battery staple';

async function allItems(store: MetadataStore): Promise<Item[]> {
  const items: Item[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.scan({ cursor });
    items.push(...page.items);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return items;
}

async function memberCount(store: MetadataStore, domain: string): Promise<number | undefined> {
  return (await store.get('directory', `domain#${domain}`))?.memberCount as number | undefined;
}

/**
 * The real store, with a hook run just before the first put of an account or alias item: a way to
 * place another writer's operation exactly between the steps of an addition.
 */
function withHookBeforeMemberPut(store: MetadataStore, hook: () => Promise<void>): MetadataStore {
  let fired = false;
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property !== 'put') return Reflect.get(target, property, receiver);
      return async (item: Item, conditions?: Parameters<MetadataStore['put']>[1]) => {
        if (!fired && item.sk.startsWith('address#')) {
          fired = true;
          await hook();
        }
        return target.put(item, conditions);
      };
    },
  });
}

for (const adapters of adapterSets) {
  describe(`directory on ${adapters.name}`, () => {
    let stores: StoreSet;
    let keyVault: KeyVault;
    let directory: Directory;
    before(async () => {
      stores = await adapters.open();
      keyVault = await temporaryKeyVault();
      directory = new Directory(stores.metadata, { keyVault });
    });
    after(async () => {
      await stores.cleanup();
    });

    describe('domains', () => {
      test('add, get and list normalise the name and apply the default settings', async () => {
        const added = await directory.addDomain('Domains.EXAMPLE');
        assert.equal(added.name, 'domains.example');
        assert.equal(added.state, 'active');
        assert.equal(added.retentionDays, 30);
        assert.equal(added.legacySaslMechanisms, true);
        await directory.addDomain('bücher-domains.example', { retentionDays: 7, legacySaslMechanisms: false });
        assert.deepEqual(await directory.getDomain('DOMAINS.example'), added);
        const idn = await directory.getDomain('xn--bcher-domains-wob.example');
        assert.equal(idn?.retentionDays, 7);
        assert.equal(idn?.legacySaslMechanisms, false);
        const names = (await directory.listDomains()).map((domain) => domain.name);
        assert.ok(names.includes('domains.example'));
        assert.ok(names.includes('xn--bcher-domains-wob.example'));
        assert.equal(await directory.isLocalDomain('domains.EXAMPLE'), true);
        assert.equal(await directory.isLocalDomain('other.example'), false);
        assert.equal(await directory.isLocalDomain('not a domain'), false);
        const item = await stores.metadata.get('directory', 'domain#domains.example');
        assert.equal(item?.v, 1);
      });

      test('a duplicate or invalid domain is refused and changes nothing', async () => {
        await directory.addDomain('dup.example');
        const before = await stores.metadata.get('directory', 'domain#dup.example');
        await assert.rejects(directory.addDomain('DUP.example'), DomainExistsError);
        assert.deepEqual(await stores.metadata.get('directory', 'domain#dup.example'), before);
        await assert.rejects(directory.addDomain('bad..example'), InvalidAddressError);
        await assert.rejects(directory.addDomain('x.example', { retentionDays: 0 }), InvalidSettingError);
        await assert.rejects(directory.addDomain('x.example', { retentionDays: 1.5 }), InvalidSettingError);
        await assert.rejects(
          directory.addDomain('x.example', { legacySaslMechanisms: 'yes' as unknown as boolean }),
          InvalidSettingError,
        );
        assert.equal(await directory.getDomain('x.example'), undefined);
      });

      test('settings can be changed, only on an existing domain', async () => {
        await directory.addDomain('settings.example');
        const changed = await directory.setDomainSettings('settings.example', { retentionDays: 90 });
        assert.equal(changed.retentionDays, 90);
        assert.equal(changed.legacySaslMechanisms, true);
        const again = await directory.setDomainSettings('settings.example', { legacySaslMechanisms: false });
        assert.equal(again.retentionDays, 90);
        assert.equal(again.legacySaslMechanisms, false);
        await assert.rejects(
          directory.setDomainSettings('settings.example', { retentionDays: 5000 }),
          InvalidSettingError,
        );
        await assert.rejects(directory.setDomainSettings('settings.example', {}), InvalidSettingError);
        await assert.rejects(directory.setDomainSettings('nowhere.example', { retentionDays: 9 }), DomainNotFoundError);
        assert.equal(await directory.getDomain('nowhere.example'), undefined);
      });

      test('remove refuses while accounts or aliases exist; force removes them all', async () => {
        await directory.addDomain('full.example');
        await directory.addAccount('a@full.example', { password: PASSWORD });
        await directory.addAlias('b@full.example', ['a@full.example']);
        await assert.rejects(directory.removeDomain('full.example'), {
          name: 'DomainNotEmptyError',
          message: 'domain full.example has 1 account and 1 alias; remove them first, or force the removal',
        });
        assert.equal((await directory.getDomain('full.example'))?.state, 'active');
        assert.ok(await directory.getAccount('a@full.example'));

        assert.deepEqual(await directory.removeDomain('full.example', { force: true }), {
          domain: 'full.example',
          accounts: 1,
          aliases: 1,
        });
        assert.equal(await directory.getDomain('full.example'), undefined);
        const left = (await allItems(stores.metadata)).filter((item) => item.pk === 'domain#full.example');
        assert.deepEqual(left, []);

        await directory.addDomain('full.example');
        assert.equal(await directory.getAccount('a@full.example'), undefined);
        assert.deepEqual(await directory.listAccounts('full.example'), []);
      });

      test('an empty domain is removed; an unknown one is not found', async () => {
        await directory.addDomain('empty.example');
        await directory.addAccount('x@empty.example', { password: PASSWORD });
        await directory.removeAccount('x@empty.example');
        assert.equal(await memberCount(stores.metadata, 'empty.example'), 0);
        assert.deepEqual(await directory.removeDomain('EMPTY.example'), {
          domain: 'empty.example',
          accounts: 0,
          aliases: 0,
        });
        assert.equal(await directory.getDomain('empty.example'), undefined);
        await assert.rejects(directory.removeDomain('empty.example'), DomainNotFoundError);
        await assert.rejects(directory.removeDomain('empty.example', { force: true }), DomainNotFoundError);
      });

      test('a count left high by an interrupted addition blocks a plain remove, not a forced one', async () => {
        await directory.addDomain('crashed.example');
        // What a crash between the reservation and the item write leaves behind.
        await stores.metadata.update('directory', 'domain#crashed.example', { add: { memberCount: 1 } });
        await assert.rejects(directory.removeDomain('crashed.example'), {
          name: 'DomainNotEmptyError',
          message: /additions in progress, or interrupted ones/,
        });
        await directory.removeDomain('crashed.example', { force: true });
        assert.equal(await directory.getDomain('crashed.example'), undefined);
      });

      test('an interrupted forced remove leaves the domain invisible to mail and finishable', async () => {
        await directory.addDomain('halfway.example');
        await directory.addAccount('u@halfway.example', { password: PASSWORD });
        // What a crash right after the first step of a forced removal leaves behind.
        await stores.metadata.update('directory', 'domain#halfway.example', { set: { state: 'removing' } });
        assert.equal(await directory.isLocalDomain('halfway.example'), false);
        assert.equal(await directory.getAccount('u@halfway.example'), undefined);
        assert.equal(await directory.verifyPassword('u@halfway.example', PASSWORD), undefined);
        await assert.rejects(
          directory.addAccount('v@halfway.example', { password: PASSWORD }),
          DomainBeingRemovedError,
        );
        await assert.rejects(directory.addDomain('halfway.example'), DomainBeingRemovedError);
        await assert.rejects(directory.removeDomain('halfway.example'), DomainBeingRemovedError);
        assert.deepEqual(await directory.removeDomain('halfway.example', { force: true }), {
          domain: 'halfway.example',
          accounts: 1,
          aliases: 0,
        });
        assert.equal(await directory.getDomain('halfway.example'), undefined);
      });

      test('an item of a newer schema is refused, not misread', async () => {
        await stores.metadata.put({ pk: 'directory', sk: 'domain#future.example', v: 2, name: 'future.example' });
        await assert.rejects(directory.getDomain('future.example'), UnsupportedSchemaError);
        await assert.rejects(directory.addAccount('a@future.example', { password: PASSWORD }), UnsupportedSchemaError);
        await stores.metadata.delete('directory', 'domain#future.example');
      });
    });

    describe('accounts', () => {
      before(async () => {
        await directory.addDomain('acct.example');
        await directory.addDomain('other-acct.example');
      });

      test('add, get, list: case-insensitive, ids, defaults, no credentials exposed', async () => {
        const alice = await directory.addAccount('Alice@ACCT.example', { password: PASSWORD });
        assert.equal(alice.address, 'alice@acct.example');
        assert.equal(alice.localPart, 'alice');
        assert.equal(alice.domain, 'acct.example');
        assert.equal(alice.admin, false);
        assert.deepEqual(alice.quota, {});
        assert.match(alice.id, /^[0-9a-f-]{36}$/);
        assert.equal('credentials' in alice, false);
        assert.deepEqual(await directory.getAccount('ALICE@acct.EXAMPLE'), alice);

        const boss = await directory.addAccount('boss@acct.example', {
          password: PASSWORD,
          admin: true,
          quota: { storageBytes: 1_000_000, messages: 500 },
        });
        assert.equal(boss.admin, true);
        assert.deepEqual(boss.quota, { storageBytes: 1_000_000, messages: 500 });
        await directory.addAccount('zed@other-acct.example', { password: PASSWORD });

        const inDomain = (await directory.listAccounts('acct.example')).map((account) => account.address);
        assert.deepEqual(inDomain, ['alice@acct.example', 'boss@acct.example']);
        const everywhere = (await directory.listAccounts()).map((account) => account.address);
        assert.ok(everywhere.includes('alice@acct.example'));
        assert.ok(everywhere.includes('zed@other-acct.example'));
        assert.ok((await directory.listAccounts()).every((account) => !('credentials' in account)));
      });

      test('the stored item keeps the versioned verifier record and never the password', async () => {
        await directory.addAccount('secret@acct.example', { password: PASSWORD });
        const item = await stores.metadata.get('domain#acct.example', 'address#secret');
        assert.ok(item);
        assert.equal(item.v, 1);
        assert.equal(item.kind, 'account');
        const { sasl } = item.credentials as { sasl: string };
        const record = JSON.parse(sasl) as Record<string, unknown>;
        assert.equal(record.v, 1);
        assert.deepEqual(Object.keys(record).sort(), ['legacy', 'scram', 'scrypt', 'v']);
        const everything = JSON.stringify(await allItems(stores.metadata));
        assert.ok(!everything.includes(PASSWORD));
        assert.ok(!everything.includes(Buffer.from(PASSWORD).toString('base64')));
      });

      test('verifyPassword accepts the right password only', async () => {
        await directory.addAccount('verify@acct.example', { password: PASSWORD });
        assert.equal((await directory.verifyPassword('VERIFY@acct.example', PASSWORD))?.address, 'verify@acct.example');
        assert.equal(await directory.verifyPassword('verify@acct.example', `${PASSWORD}!`), undefined);
        assert.equal(await directory.verifyPassword('verify@acct.example', ''), undefined);
        assert.equal(await directory.verifyPassword('nobody@acct.example', PASSWORD), undefined);
        assert.equal(await directory.verifyPassword('verify@nowhere.example', PASSWORD), undefined);
        assert.equal(await directory.verifyPassword('not an address', PASSWORD), undefined);
        assert.equal(await directory.verifyPassword('verify@acct.example', 'x'.repeat(100_000)), undefined);
      });

      test('an unknown account costs about as much as a wrong password', async () => {
        await directory.addAccount('timing@acct.example', { password: PASSWORD });
        const time = async (address: string) => {
          const start = performance.now();
          await directory.verifyPassword(address, 'wrong password');
          return performance.now() - start;
        };
        await time('nobody@acct.example');
        const known = await time('timing@acct.example');
        const unknown = await time('nobody@acct.example');
        // scrypt dominates both; a lookup that skipped it would be a hundred times faster.
        assert.ok(unknown > known / 4, `unknown ${unknown} ms vs known ${known} ms`);
      });

      test('set password replaces the verifier; the old password stops working', async () => {
        await directory.addAccount('change@acct.example', { password: PASSWORD });
        const before = await directory.getAccount('change@acct.example');
        await directory.setPassword('Change@acct.example', 'a brand new password');
        assert.equal(await directory.verifyPassword('change@acct.example', PASSWORD), undefined);
        assert.ok(await directory.verifyPassword('change@acct.example', 'a brand new password'));
        const after = await directory.getAccount('change@acct.example');
        assert.equal(after?.id, before?.id);
        await assert.rejects(directory.setPassword('change@acct.example', 'short'), InvalidPasswordError);
        await assert.rejects(
          directory.setPassword('change@acct.example', 'with\u0000nul inside'),
          InvalidPasswordError,
        );
        assert.ok(await directory.verifyPassword('change@acct.example', 'a brand new password'));
        await assert.rejects(directory.setPassword('ghost@acct.example', PASSWORD), AccountNotFoundError);
        await assert.rejects(directory.setPassword('ghost@nowhere.example', PASSWORD), DomainNotFoundError);
        assert.equal(await stores.metadata.get('domain#acct.example', 'address#ghost'), undefined);
      });

      test('passwords compare after RFC 8265 preparation (NFC, non-ASCII spaces)', async () => {
        await directory.addAccount('unicode@acct.example', { password: 'caf\u00e9\u00a0au lait' });
        assert.ok(await directory.verifyPassword('unicode@acct.example', 'cafe\u0301 au lait'));
      });

      test('admin and quota limits can be changed and cleared', async () => {
        await directory.addAccount('limits@acct.example', { password: PASSWORD, quota: { messages: 10 } });
        let account = await directory.setAccountSettings('limits@acct.example', {
          admin: true,
          quota: { storageBytes: 5_000 },
        });
        assert.equal(account.admin, true);
        assert.deepEqual(account.quota, { storageBytes: 5_000, messages: 10 });
        account = await directory.setAccountSettings('limits@acct.example', { quota: { messages: null } });
        assert.deepEqual(account.quota, { storageBytes: 5_000 });
        assert.equal(account.admin, true);
        assert.deepEqual(await directory.getAccount('limits@acct.example'), account);
        await assert.rejects(
          directory.setAccountSettings('limits@acct.example', { quota: { storageBytes: -1 } }),
          InvalidSettingError,
        );
        await assert.rejects(
          directory.setAccountSettings('limits@acct.example', { quota: { messages: 2 ** 60 } }),
          InvalidSettingError,
        );
        assert.deepEqual(await directory.getAccount('limits@acct.example'), account);
      });

      test('bad input is refused before anything is written', async () => {
        const before = await allItems(stores.metadata);
        await assert.rejects(directory.addAccount('x@nowhere.example', { password: PASSWORD }), DomainNotFoundError);
        await assert.rejects(directory.addAccount('bad+tag@acct.example', { password: PASSWORD }), InvalidAddressError);
        await assert.rejects(directory.addAccount('weak@acct.example', { password: 'short' }), InvalidPasswordError);
        await assert.rejects(
          directory.addAccount('q@acct.example', { password: PASSWORD, quota: { storageBytes: 0 } }),
          InvalidSettingError,
        );
        await assert.rejects(directory.addAccount('alice@acct.example', { password: PASSWORD }), {
          name: 'AddressExistsError',
          message: 'alice@acct.example already exists (as an account)',
        });
        assert.deepEqual(await allItems(stores.metadata), before);
      });

      test('remove deletes the entry and gives its count back', async () => {
        await directory.addAccount('gone@acct.example', { password: PASSWORD });
        const count = await memberCount(stores.metadata, 'acct.example');
        const removed = await directory.removeAccount('GONE@acct.example');
        assert.equal(removed.address, 'gone@acct.example');
        assert.equal(await directory.getAccount('gone@acct.example'), undefined);
        assert.equal(await directory.verifyPassword('gone@acct.example', PASSWORD), undefined);
        assert.equal(await memberCount(stores.metadata, 'acct.example'), count! - 1);
        await assert.rejects(directory.removeAccount('gone@acct.example'), AccountNotFoundError);
        const again = await directory.addAccount('gone@acct.example', { password: PASSWORD });
        assert.notEqual(again.id, removed.id);
      });

      test('concurrent additions of one address: exactly one wins, the count stays exact', async () => {
        await directory.addDomain('race.example');
        const results = await Promise.allSettled(
          Array.from({ length: 4 }, () => directory.addAccount('same@race.example', { password: PASSWORD })),
        );
        assert.equal(results.filter((result) => result.status === 'fulfilled').length, 1);
        for (const result of results) {
          if (result.status === 'rejected') assert.ok(result.reason instanceof AddressExistsError);
        }
        assert.equal(await memberCount(stores.metadata, 'race.example'), 1);
      });

      test('a removal racing additions never leaves an account in a missing domain', async () => {
        for (let round = 0; round < 4; round++) {
          const domain = `contest${round}.example`;
          await directory.addDomain(domain);
          const adds = Array.from({ length: 3 }, (_, i) =>
            directory.addAccount(`user${i}@${domain}`, { password: PASSWORD }),
          );
          const removal = directory.removeDomain(domain, { force: round % 2 === 0 });
          const results = await Promise.allSettled([...adds, removal]);
          const domainExists = (await directory.getDomain(domain)) !== undefined;
          const accounts = domainExists ? await directory.listAccounts(domain) : [];
          for (let i = 0; i < 3; i++) {
            const visible = await directory.getAccount(`user${i}@${domain}`);
            if (!domainExists) assert.equal(visible, undefined);
            if (results[i]!.status === 'fulfilled' && domainExists) assert.ok(visible);
          }
          if (domainExists) assert.equal(await memberCount(stores.metadata, domain), accounts.length);
          await directory.removeDomain(domain, { force: true }).catch((error) => {
            if (!(error instanceof DomainNotFoundError)) throw error;
          });
        }
      });

      test('a plain domain removal between reservation and write is refused; the addition completes', async () => {
        await directory.addDomain('inflight.example');
        let removal: Promise<unknown> | undefined;
        const racing = new Directory(
          withHookBeforeMemberPut(stores.metadata, async () => {
            removal = directory.removeDomain('inflight.example').catch((error: unknown) => error);
            await removal;
          }),
          { keyVault },
        );
        await racing.addAccount('early@inflight.example', { password: PASSWORD });
        const error = await removal;
        assert.ok(error instanceof DomainNotEmptyError, String(error));
        assert.ok(await directory.getAccount('early@inflight.example'));
        assert.equal(await memberCount(stores.metadata, 'inflight.example'), 1);
      });

      test('a forced domain removal between reservation and write makes the addition fail and leave nothing', async () => {
        await directory.addDomain('forced.example');
        const racing = new Directory(
          withHookBeforeMemberPut(stores.metadata, async () => {
            await directory.removeDomain('forced.example', { force: true });
          }),
          { keyVault },
        );
        await assert.rejects(racing.addAccount('late@forced.example', { password: PASSWORD }), DomainNotFoundError);
        assert.equal(await directory.getDomain('forced.example'), undefined);
        const left = (await allItems(stores.metadata)).filter((item) => item.pk === 'domain#forced.example');
        assert.deepEqual(left, []);
        await directory.addDomain('forced.example');
        assert.equal(await directory.getAccount('late@forced.example'), undefined);
      });

      test('residue of an earlier incarnation is invisible and replaced by a new account', async () => {
        await directory.addDomain('residue.example');
        await stores.metadata.put({
          pk: 'domain#residue.example',
          sk: 'address#old',
          v: 1,
          kind: 'account',
          id: 'stale-id',
          domainId: 'an-earlier-incarnation',
          address: 'old@residue.example',
          localPart: 'old',
          domain: 'residue.example',
          admin: true,
          quota: {},
          credentials: {},
          createdAt: '2020-01-01T00:00:00.000Z',
          passwordChangedAt: '2020-01-01T00:00:00.000Z',
        });
        assert.equal(await directory.getAccount('old@residue.example'), undefined);
        assert.deepEqual(await directory.listAccounts('residue.example'), []);
        const fresh = await directory.addAccount('old@residue.example', { password: PASSWORD });
        assert.equal(fresh.admin, false);
        assert.equal((await directory.getAccount('old@residue.example'))?.id, fresh.id);
        assert.equal(await memberCount(stores.metadata, 'residue.example'), 1);
      });
    });

    describe('aliases', () => {
      before(async () => {
        await directory.addDomain('alias.example');
        await directory.addAccount('owner@alias.example', { password: PASSWORD });
      });

      test('add, get, list with flags; targets normalised and de-duplicated', async () => {
        const alias = await directory.addAlias(
          'Sales@Alias.example',
          ['OWNER@alias.EXAMPLE', 'Partner@Elsewhere.EXAMPLE', 'owner@alias.example', '"a b"@elsewhere.example'],
          { suffixes: true, bulk: true },
        );
        assert.equal(alias.address, 'sales@alias.example');
        assert.deepEqual(alias.targets, [
          'owner@alias.example',
          'Partner@elsewhere.example',
          '"a b"@elsewhere.example',
        ]);
        assert.equal(alias.suffixes, true);
        assert.equal(alias.bulk, true);
        assert.deepEqual(await directory.getAlias('SALES@alias.example'), alias);
        const plain = await directory.addAlias('info@alias.example', ['sales@alias.example']);
        assert.equal(plain.suffixes, false);
        assert.equal(plain.bulk, false);
        assert.deepEqual(
          (await directory.listAliases('alias.example')).map((a) => a.address),
          ['info@alias.example', 'sales@alias.example'],
        );
        assert.ok((await directory.listAliases()).some((a) => a.address === 'info@alias.example'));
        const item = await stores.metadata.get('domain#alias.example', 'address#sales');
        assert.equal(item?.v, 1);
        assert.equal(item?.kind, 'alias');
      });

      test('accounts and aliases share one namespace', async () => {
        await assert.rejects(directory.addAlias('owner@alias.example', ['x@elsewhere.example']), {
          name: 'AddressExistsError',
          message: 'owner@alias.example already exists (as an account)',
        });
        await directory.addAlias('shared@alias.example', ['owner@alias.example']);
        await assert.rejects(directory.addAccount('shared@alias.example', { password: PASSWORD }), {
          name: 'AddressExistsError',
          message: 'shared@alias.example already exists (as an alias)',
        });
        assert.equal(await directory.getAccount('shared@alias.example'), undefined);
        assert.equal(await directory.getAlias('owner@alias.example'), undefined);
        await assert.rejects(directory.removeAccount('shared@alias.example'), {
          name: 'AccountNotFoundError',
          message: 'no account shared@alias.example (it is an alias)',
        });
        await assert.rejects(directory.removeAlias('owner@alias.example'), {
          name: 'AliasNotFoundError',
          message: 'no alias owner@alias.example (it is an account)',
        });
      });

      test('bad aliases are refused before anything is written', async () => {
        const before = await allItems(stores.metadata);
        await assert.rejects(directory.addAlias('empty@alias.example', []), InvalidSettingError);
        await assert.rejects(directory.addAlias('loop@alias.example', ['LOOP@alias.example']), InvalidSettingError);
        await assert.rejects(directory.addAlias('bad@alias.example', ['not an address']), InvalidAddressError);
        await assert.rejects(
          directory.addAlias(
            'many@alias.example',
            Array.from({ length: 1001 }, (_, i) => `u${i}@x.example`),
          ),
          InvalidSettingError,
        );
        await assert.rejects(directory.addAlias('x@nowhere.example', ['owner@alias.example']), DomainNotFoundError);
        await assert.rejects(directory.addAlias('a+b@alias.example', ['owner@alias.example']), InvalidAddressError);
        assert.deepEqual(await allItems(stores.metadata), before);
      });

      test('remove', async () => {
        await directory.addAlias('temp@alias.example', ['owner@alias.example']);
        const removed = await directory.removeAlias('temp@alias.example');
        assert.equal(removed.address, 'temp@alias.example');
        assert.equal(await directory.getAlias('temp@alias.example'), undefined);
        await assert.rejects(directory.removeAlias('temp@alias.example'), AliasNotFoundError);
        await assert.rejects(directory.removeAlias('temp@nowhere.example'), DomainNotFoundError);
      });
    });

    describe('relay hosts', () => {
      test('add, list, remove in canonical form; duplicates after normalisation refused', async () => {
        assert.equal((await directory.addRelayHost('192.0.2.77/24')).network, '192.0.2.0/24');
        assert.equal((await directory.addRelayHost('2001:DB8:0:0::1/48')).network, '2001:db8::/48');
        assert.equal((await directory.addRelayHost('198.51.100.7')).network, '198.51.100.7/32');
        await assert.rejects(directory.addRelayHost('192.0.2.0/24'), RelayHostExistsError);
        const networks = (await directory.listRelayHosts()).map((relay) => relay.network);
        assert.deepEqual(networks.sort(), ['192.0.2.0/24', '198.51.100.7/32', '2001:db8::/48']);
        const item = await stores.metadata.get('directory', 'relay#192.0.2.0/24');
        assert.equal(item?.v, 1);

        assert.equal(await directory.isRelayHost('192.0.2.200'), true);
        assert.equal(await directory.isRelayHost('::ffff:192.0.2.1'), true);
        assert.equal(await directory.isRelayHost('192.0.3.1'), false);
        assert.equal(await directory.isRelayHost('2001:db8:0:ffff::25'), true);
        assert.equal(await directory.isRelayHost('2001:db9::1'), false);
        assert.equal(await directory.isRelayHost('198.51.100.7'), true);
        assert.equal(await directory.isRelayHost('198.51.100.8'), false);
        assert.equal(await directory.isRelayHost('not an ip'), false);

        await directory.removeRelayHost('192.0.2.1/24');
        assert.equal(await directory.isRelayHost('192.0.2.200'), false);
        await assert.rejects(directory.removeRelayHost('192.0.2.0/24'), RelayHostNotFoundError);
        await directory.removeRelayHost('2001:db8::/48');
        await directory.removeRelayHost('198.51.100.7');
        assert.deepEqual(await directory.listRelayHosts(), []);
      });

      test('malformed networks are refused', async () => {
        for (const bad of ['', '10.0.0.0/33', '10.0.0/8', '010.0.0.0/8', '::1/129', 'example.com', '10.0.0.0/-1']) {
          await assert.rejects(directory.addRelayHost(bad), InvalidNetworkError, bad);
        }
        assert.deepEqual(await directory.listRelayHosts(), []);
      });
    });

    test('lookups refuse malformed addresses and name a missing domain', async () => {
      await assert.rejects(directory.getAccount('no at sign'), InvalidAddressError);
      await assert.rejects(directory.getAlias('a@-bad.example'), InvalidAddressError);
      assert.equal(await directory.getAccount('someone@nowhere.example'), undefined);
      await assert.rejects(directory.listAccounts('nowhere.example'), DomainNotFoundError);
      await assert.rejects(directory.listAliases('nowhere.example'), DomainNotFoundError);
    });
  });
}
