/**
 * The directory as the SASL mechanisms' account store: every verifier stored when a password is set
 * and each mechanism verifying against it, a password change replacing them all, the per-domain
 * legacy switch, the shared decoy, accounts stored before the SASL verifiers, and no plaintext (or
 * plaintext equivalent) anywhere in the SQLite files.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Directory } from '../../../shared/directory/directory.ts';
import { KeyVaultRequiredError } from '../../../shared/directory/errors.ts';
import type { KeyVault } from '../../../shared/keyvault/key-vault.ts';
import { AuthThrottle, type ThrottlePolicy } from '../../../shared/sasl/auth-throttle.ts';
import { openCredentials, parseCredentialRecord } from '../../../shared/sasl/credentials.ts';
import { md4 } from '../../../shared/sasl/md4.ts';
import { hmacMd5States } from '../../../shared/sasl/md5-state.ts';
import type { SaslMechanism } from '../../../shared/sasl/mechanism.ts';
import { SaslServer } from '../../../shared/sasl/sasl-server.ts';
import { SqliteMetadataStore } from '../../../shared/store/sqlite/sqlite-metadata-store.ts';
import { keyVaultFor, temporaryKeyVault } from '../../support/key-vaults.ts';
import { adapterSets, awsAdapters, type StoreSet } from '../../support/stores.ts';
import { outcome } from '../sasl/sasl-fixture.ts';
import { authenticateAs, CLIENT_MECHANISMS, type ClientMechanism } from './sasl-clients.ts';
import { scryptOnlyCredentials } from './scrypt-only-credentials.ts';

const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'an entirely different phrase';
const HOSTNAME = 'mail.example.com';
/** Tests fail on purpose many times from one address; the throttle has its own tests. */
const LENIENT: ThrottlePolicy = {
  freeFailures: 1000,
  baseDelayMs: 1,
  maxDelayMs: 1,
  refuseAt: 10_000,
  refusalMs: 1,
  halfLifeMs: 1000,
};

function sqliteStoredRecord(item: Record<string, unknown> | undefined): string {
  const credentials = item?.credentials as { sasl?: unknown } | undefined;
  assert.equal(typeof credentials?.sasl, 'string', 'credentials are in the SASL form');
  return credentials!.sasl as string;
}

for (const adapters of adapterSets) {
  describe(`directory credentials on ${adapters.name}`, () => {
    let stores: StoreSet;
    let keyVault: KeyVault;
    let directory: Directory;
    let sasl: SaslServer;

    const mechanism = async (name: string, tls = true): Promise<SaslMechanism> => {
      const started = sasl.start(name, { service: 'imap', tls, clientAddress: '192.0.2.7' });
      assert.ok(started, name);
      return started;
    };
    const login = async (name: ClientMechanism, user: string, password: string) =>
      authenticateAs(await mechanism(name), user, password, { hostname: HOSTNAME });
    const outcomeOf = async (name: ClientMechanism, user: string, password: string) =>
      outcome((await login(name, user, password)).result);
    const item = (domain: string, local: string) => stores.metadata.get(`domain#${domain}`, `address#${local}`);

    before(async () => {
      stores = await adapters.open();
      keyVault = await keyVaultFor(adapters);
      directory = new Directory(stores.metadata, { keyVault });
      await directory.addDomain('acct.example');
      await directory.addDomain('strict.example', { legacySaslMechanisms: false });
      sasl = await SaslServer.open({
        directory,
        vault: keyVault,
        hostname: HOSTNAME,
        throttle: new AuthThrottle({ address: LENIENT, account: LENIENT }),
      });
    });
    after(async () => {
      await stores.cleanup();
    });

    test('adding an account stores every verifier, and each mechanism accepts the password and only it', async () => {
      await directory.addAccount('Alice@acct.example', { password: PASSWORD });
      for (const name of CLIENT_MECHANISMS) {
        const run = await login(name, 'alice@acct.example', PASSWORD);
        assert.deepEqual(
          'success' in run.result && run.result.success,
          { authcid: 'alice@acct.example', authzid: 'alice@acct.example' },
          name,
        );
        if (name === 'DIGEST-MD5' || name.startsWith('SCRAM')) {
          assert.ok('success' in run.result && run.result.serverFinal, `${name} sends its proof with success`);
        }
        assert.equal(await outcomeOf(name, 'alice@acct.example', `${PASSWORD}.`), 'bad-credentials', name);
      }
      // NTLM's verifier: the NT hash of the password (MS-NLMP §3.3.1), sealed like the other legacy ones.
      const account = await directory.lookupCredentials('alice@acct.example');
      const legacy = await account?.credentials.legacyVerifiers();
      assert.deepEqual(legacy?.ntHash, md4(Buffer.from(PASSWORD, 'utf16le')));
      const record = JSON.parse(sqliteStoredRecord(await item('acct.example', 'alice')));
      const sealedBy = adapters === awsAdapters ? /^v1\.kms\./ : /^v1\.local\./;
      assert.match(record.legacy, sealedBy, 'the legacy verifiers are sealed by the key vault');
    });

    test('a password change replaces every verifier', async () => {
      await directory.addAccount('change@acct.example', { password: PASSWORD });
      const before = sqliteStoredRecord(await item('acct.example', 'change'));
      const changedAtBefore = (await directory.getAccount('change@acct.example'))?.passwordChangedAt;
      await directory.setPassword('CHANGE@acct.example', NEW_PASSWORD);
      const afterChange = sqliteStoredRecord(await item('acct.example', 'change'));

      const [old, current] = [parseCredentialRecord(before), parseCredentialRecord(afterChange)];
      assert.notDeepEqual(current.scrypt.hash, old.scrypt.hash);
      for (const hash of ['SHA-1', 'SHA-256'] as const) {
        assert.notDeepEqual(current.scram[hash].storedKey, old.scram[hash].storedKey);
        assert.notDeepEqual(current.scram[hash].serverKey, old.scram[hash].serverKey);
      }
      assert.notEqual(current.legacyEnvelope, old.legacyEnvelope);
      const oldLegacy = await openCredentials(before, keyVault, 'change@acct.example').legacyVerifiers();
      const newLegacy = await openCredentials(afterChange, keyVault, 'change@acct.example').legacyVerifiers();
      assert.notDeepEqual(newLegacy?.ntHash, oldLegacy?.ntHash);
      assert.notDeepEqual(newLegacy?.cramMd5, oldLegacy?.cramMd5);
      assert.notDeepEqual(newLegacy?.digestMd5, oldLegacy?.digestMd5);
      assert.notEqual((await directory.getAccount('change@acct.example'))?.passwordChangedAt, changedAtBefore);

      for (const name of CLIENT_MECHANISMS) {
        assert.equal(await outcomeOf(name, 'change@acct.example', PASSWORD), 'bad-credentials', name);
        assert.equal(await outcomeOf(name, 'change@acct.example', NEW_PASSWORD), 'success', name);
      }
      assert.equal(await directory.verifyPassword('change@acct.example', PASSWORD), undefined);
      assert.ok(await directory.verifyPassword('change@acct.example', NEW_PASSWORD));
    });

    test('the legacy switch is per domain, and the same whether the account exists or not', async () => {
      await directory.addAccount('sam@strict.example', { password: PASSWORD });
      assert.equal(await directory.legacyMechanismsEnabled('strict.example'), false);
      assert.equal(await directory.legacyMechanismsEnabled('STRICT.example'), false);
      assert.equal(await directory.legacyMechanismsEnabled('acct.example'), true);
      // Names outside our domains get the default, so the answer tells nothing about accounts.
      assert.equal(await directory.legacyMechanismsEnabled('elsewhere.example'), true);
      assert.equal(await directory.legacyMechanismsEnabled(undefined), true);
      assert.equal(await directory.legacyMechanismsEnabled('not a domain..'), true);
      assert.deepEqual(await directory.domainsWithLegacyMechanisms(), ['acct.example']);

      for (const name of ['CRAM-MD5', 'DIGEST-MD5'] as const) {
        assert.equal(await outcomeOf(name, 'sam@strict.example', PASSWORD), 'mechanism-not-allowed', name);
        assert.equal(await outcomeOf(name, 'nobody@strict.example', PASSWORD), 'mechanism-not-allowed', name);
      }
      assert.equal(await outcomeOf('SCRAM-SHA-256', 'sam@strict.example', PASSWORD), 'success');
      assert.equal(await outcomeOf('PLAIN', 'sam@strict.example', PASSWORD), 'success');

      // The legacy verifiers were stored all along: switching on needs no password reset.
      await directory.setDomainSettings('strict.example', { legacySaslMechanisms: true });
      assert.equal(await outcomeOf('CRAM-MD5', 'sam@strict.example', PASSWORD), 'success');
      await directory.setDomainSettings('strict.example', { legacySaslMechanisms: false });
    });

    test('unknown users fail exactly as wrong passwords do, with a stable SCRAM salt', async () => {
      for (const name of CLIENT_MECHANISMS) {
        assert.equal(await outcomeOf(name, 'nobody@acct.example', PASSWORD), 'bad-credentials', name);
        assert.equal(await outcomeOf(name, 'nobody@nowhere.example', PASSWORD), 'bad-credentials', name);
      }
      const known = await login('SCRAM-SHA-256', 'alice@acct.example', 'wrong');
      const unknown = await login('SCRAM-SHA-256', 'nobody@acct.example', 'wrong');
      assert.equal(unknown.iterations, known.iterations);
      assert.equal(Buffer.from(unknown.salt!, 'base64').length, Buffer.from(known.salt!, 'base64').length);
      assert.equal((await login('SCRAM-SHA-256', 'nobody@acct.example', 'wrong')).salt, unknown.salt);
      // Another listener process on the same store offers the same salt for the unknown name.
      const otherProcess = await SaslServer.open({
        directory: new Directory(stores.metadata, { keyVault }),
        vault: keyVault,
        hostname: HOSTNAME,
      });
      const started = otherProcess.start('SCRAM-SHA-256', {
        service: 'smtp',
        tls: true,
        clientAddress: '198.51.100.1',
      });
      assert.equal((await authenticateAs(started!, 'nobody@acct.example', 'wrong')).salt, unknown.salt);
      assert.notEqual((await login('SCRAM-SHA-256', 'else@acct.example', 'wrong')).salt, unknown.salt);
    });

    test('the decoy salt secret is created once, sealed, and the same for every process', async () => {
      const [one, two] = await Promise.all([
        new Directory(stores.metadata, { keyVault }).decoySaltSecret(),
        new Directory(stores.metadata, { keyVault }).decoySaltSecret(),
      ]);
      assert.equal(one.length, 32);
      assert.deepEqual(one, two);
      assert.deepEqual(await directory.decoySaltSecret(), one);
      const stored = JSON.stringify(await stores.metadata.get('directory', 'sasl#decoy-salt-secret'));
      for (const encoding of ['hex', 'base64', 'base64url'] as const) {
        assert.ok(!stored.includes(one.toString(encoding)), `the secret is not stored in ${encoding}`);
      }
      await assert.rejects(new Directory(stores.metadata).decoySaltSecret(), KeyVaultRequiredError);
    });

    test('an account stored before the SASL verifiers keeps working and is upgraded on its first login', async () => {
      for (const local of ['old', 'older']) {
        await directory.addAccount(`${local}@acct.example`, { password: PASSWORD });
        await stores.metadata.update('domain#acct.example', `address#${local}`, {
          set: { credentials: { scrypt: { ...(await scryptOnlyCredentials(PASSWORD)).scrypt } } },
        });
      }
      const changedAt = (await directory.getAccount('old@acct.example'))?.passwordChangedAt;

      // Until its password is seen, only the mechanisms that send it can check it.
      assert.equal(await outcomeOf('CRAM-MD5', 'old@acct.example', PASSWORD), 'bad-credentials');
      assert.equal(await outcomeOf('SCRAM-SHA-256', 'old@acct.example', PASSWORD), 'bad-credentials');
      assert.equal(await directory.verifyPassword('old@acct.example', 'wrong password'), undefined);
      const stillOld = (await item('acct.example', 'old'))?.credentials as Record<string, unknown>;
      assert.ok(stillOld.scrypt && !stillOld.sasl, 'a failure upgrades nothing');

      // IMAP LOGIN / SMTP AUTH PLAIN through verifyPassword.
      assert.equal((await directory.verifyPassword('old@acct.example', PASSWORD))?.address, 'old@acct.example');
      sqliteStoredRecord(await item('acct.example', 'old'));
      assert.equal((await directory.getAccount('old@acct.example'))?.passwordChangedAt, changedAt);
      for (const name of CLIENT_MECHANISMS) {
        assert.equal(await outcomeOf(name, 'old@acct.example', PASSWORD), 'success', name);
      }

      // SASL PLAIN through the mechanisms.
      assert.equal(await outcomeOf('PLAIN', 'older@acct.example', PASSWORD), 'success');
      sqliteStoredRecord(await item('acct.example', 'older'));
      assert.equal(await outcomeOf('DIGEST-MD5', 'older@acct.example', PASSWORD), 'success');
    });

    test('an unreadable record fails as unavailable, an account without credentials as a wrong password', async () => {
      for (const [local, credentials] of [
        ['broken', { sasl: '{"v":1}' }],
        ['empty', {}],
      ] as const) {
        await directory.addAccount(`${local}@acct.example`, { password: PASSWORD });
        await stores.metadata.update('domain#acct.example', `address#${local}`, { set: { credentials } });
      }
      assert.equal(await outcomeOf('SCRAM-SHA-256', 'broken@acct.example', PASSWORD), 'unavailable');
      assert.equal(await outcomeOf('PLAIN', 'empty@acct.example', PASSWORD), 'bad-credentials');
      assert.equal(await directory.verifyPassword('empty@acct.example', PASSWORD), undefined);
    });

    test('without a key vault, passwords cannot be set and SASL cannot be served; verifyPassword works', async () => {
      const bare = new Directory(stores.metadata);
      await assert.rejects(bare.addAccount('novault@acct.example', { password: PASSWORD }), KeyVaultRequiredError);
      await assert.rejects(bare.setPassword('alice@acct.example', NEW_PASSWORD), KeyVaultRequiredError);
      await assert.rejects(bare.lookupCredentials('alice@acct.example'), KeyVaultRequiredError);
      assert.equal((await bare.verifyPassword('alice@acct.example', PASSWORD))?.address, 'alice@acct.example');
      assert.equal(await bare.getAccount('novault@acct.example'), undefined);
    });

    test('only an admin may act as another user', async () => {
      await directory.addAccount('boss@acct.example', { password: PASSWORD, admin: true });
      assert.equal(await directory.isAdmin('boss@acct.example'), true);
      assert.equal(await directory.isAdmin('alice@acct.example'), false);
      assert.equal(await directory.isAdmin('nobody@acct.example'), false);
      assert.equal(await directory.isAdmin('not an address'), false);
      const asAlice = await (await mechanism('PLAIN')).step(
        Buffer.from(`alice@acct.example\0boss@acct.example\0${PASSWORD}`),
      );
      assert.deepEqual(asAlice, { success: { authcid: 'boss@acct.example', authzid: 'alice@acct.example' } });
      const asBoss = await (await mechanism('PLAIN')).step(
        Buffer.from(`boss@acct.example\0alice@acct.example\0${PASSWORD}`),
      );
      assert.equal(outcome(asBoss), 'authorization-denied');
    });
  });
}

describe('the SQLite files never hold a password or a plaintext equivalent', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'marmot-credentials-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('after adding an account and changing its password', async () => {
    const store = new SqliteMetadataStore(join(dir, 'metadata.sqlite'));
    const directory = new Directory(store, { keyVault: await temporaryKeyVault() });
    await directory.addDomain('files.example');
    await directory.addAccount('files@files.example', { password: PASSWORD });
    await directory.setPassword('files@files.example', NEW_PASSWORD);
    // Closing any descriptor of an SQLite file drops this process's locks on it: close, then read.
    await store.close();

    const needles: [string, Buffer][] = [];
    for (const password of [PASSWORD, NEW_PASSWORD]) {
      const ntHash = md4(Buffer.from(password, 'utf16le'));
      const digestSecret = createHash('md5').update(`files@files.example:files.example:${password}`).digest();
      const cram = hmacMd5States(Buffer.from(password, 'utf8'));
      for (const [what, bytes] of [
        ['password', Buffer.from(password, 'utf8')],
        ['NT hash', ntHash],
        ['DIGEST-MD5 secret', digestSecret],
        ['CRAM-MD5 inner state', cram.inner],
        ['CRAM-MD5 outer state', cram.outer],
      ] as const) {
        needles.push([`${what} (raw)`, bytes]);
        for (const encoding of ['hex', 'base64', 'base64url'] as const) {
          needles.push([`${what} (${encoding})`, Buffer.from(bytes.toString(encoding))]);
        }
      }
      needles.push(['password (UTF-16)', Buffer.from(password, 'utf16le')]);
    }
    const files = (await readdir(dir)).filter((file) => file.startsWith('metadata.sqlite'));
    assert.ok(files.length > 0);
    for (const file of files) {
      const bytes = await readFile(join(dir, file));
      for (const [what, needle] of needles) assert.equal(bytes.includes(needle), false, `${what} is in ${file}`);
    }
  });
});
