/**
 * Quota roots (RFC 9208) over the directory's limits and the mailbox store's usage: GETQUOTA figures,
 * SETQUOTA changes, enforcement through the mailbox operations, and expunged-but-retained mail not
 * counting, on every adapter set.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMailboxPath } from '../../../shared/acl/index.ts';
import { Directory } from '../../../shared/directory/directory.ts';
import {
  appendMessage,
  copyMessages,
  createMailbox,
  deleteMailbox,
  expungeMessages,
  getMailboxByName,
  type NewMessage,
  OverQuotaError,
  openMailStore,
  unexpungeMessages,
} from '../../../shared/mailbox/index.ts';
import {
  getQuotaRoot,
  InvalidQuotaError,
  QuotaRootNotFoundError,
  quotaLimitOf,
  quotaRootOf,
  setQuotaLimits,
} from '../../../shared/quota/quota-roots.ts';
import { keyVaultFor } from '../../support/key-vaults.ts';
import { adapterSets } from '../../support/stores.ts';

const message = (index: number, size: number): NewMessage => ({
  blobKey: `msg/test/${index}`,
  size,
  internalDate: new Date(Date.UTC(2024, 0, 1)),
  envelope: null,
  bodyStructure: null,
});

for (const adapters of adapterSets) {
  describe(`quota roots on ${adapters.name}`, () => {
    it('GETQUOTA reports limited resources in KB and messages; SETQUOTA replaces or changes them', async (t) => {
      const stores = await adapters.open();
      t.after(() => stores.cleanup());
      const store = openMailStore(stores.metadata);
      const directory = new Directory(stores.metadata, { keyVault: await keyVaultFor(adapters) });
      await directory.addDomain('example.com');
      const bob = await directory.addAccount('bob@example.com', { password: 'a long enough password' });
      const root = 'user/bob@example.com';
      assert.equal(quotaRootOf(parseMailboxPath('user/bob@example.com/Sent')), root);
      assert.equal(quotaRootOf(parseMailboxPath('news@example.com')), undefined);

      assert.deepEqual(await getQuotaRoot(directory, store, root), { name: root, resources: [] });
      const inbox = await getMailboxByName(store, bob.id, 'INBOX');
      await appendMessage(store, inbox, message(1, 1500));
      // As `sq user/bob@example.com STORAGE 100000` sets it.
      let quota = await setQuotaLimits(directory, store, 'user/Bob@Example.com', { STORAGE: 100_000 });
      assert.deepEqual(quota, { name: root, resources: [{ name: 'STORAGE', usage: 2, limit: 100_000 }] });
      assert.deepEqual((await directory.getAccount('bob@example.com'))?.quota, { storageBytes: 102_400_000 });
      quota = await setQuotaLimits(directory, store, root, { MESSAGE: 10 });
      assert.deepEqual(quota.resources, [
        { name: 'STORAGE', usage: 2, limit: 100_000 },
        { name: 'MESSAGE', usage: 1, limit: 10 },
      ]);
      quota = await setQuotaLimits(directory, store, root, { STORAGE: null, MESSAGE: 5 });
      assert.deepEqual(quota.resources, [{ name: 'MESSAGE', usage: 1, limit: 5 }]);

      for (const bad of [{ STORAGE: 0 }, { MESSAGE: -1 }, { MESSAGE: 1.5 }, { LEVEL: 3 }]) {
        await assert.rejects(setQuotaLimits(directory, store, root, bad as never), InvalidQuotaError);
      }
      for (const missing of ['user/carol@example.com', 'user/bob@example.com/Sent', 'news@example.com', 'junk']) {
        await assert.rejects(getQuotaRoot(directory, store, missing), QuotaRootNotFoundError, missing);
      }
      assert.deepEqual((await directory.getAccount('bob@example.com'))?.quota, { messages: 5 });
    });

    it('enforces the limits; expunged-but-retained and deleted-folder mail does not count', async (t) => {
      const stores = await adapters.open();
      t.after(() => stores.cleanup());
      const store = openMailStore(stores.metadata);
      const directory = new Directory(stores.metadata, { keyVault: await keyVaultFor(adapters) });
      await directory.addDomain('example.com');
      await directory.addAccount('bob@example.com', {
        password: 'a long enough password',
        quota: { storageBytes: 4096, messages: 3 },
      });
      const root = 'user/bob@example.com';
      const bob = (await directory.getAccount('bob@example.com'))!;
      const limit = quotaLimitOf(bob);
      const inbox = await getMailboxByName(store, bob.id, 'INBOX');
      const first = await appendMessage(store, inbox, message(1, 2000), { quota: limit });
      await appendMessage(store, inbox, message(2, 2000), { quota: limit });
      await assert.rejects(appendMessage(store, inbox, message(3, 200), { quota: limit }), (error: unknown) => {
        assert.ok(error instanceof OverQuotaError);
        assert.equal(error.resource, 'storage');
        return true;
      });
      const archive = await createMailbox(store, bob.id, 'Archive');
      await assert.rejects(copyMessages(store, inbox, [first.uid], archive, { quota: limit }), OverQuotaError);

      // Expunged, kept for unexpunge: no longer counted, room again.
      await expungeMessages(store, inbox, [first.uid]);
      assert.deepEqual((await getQuotaRoot(directory, store, root)).resources, [
        { name: 'STORAGE', usage: 2, limit: 4 },
        { name: 'MESSAGE', usage: 1, limit: 3 },
      ]);
      await appendMessage(store, inbox, message(4, 2000), { quota: limit });
      // Restoring it would pass the limit again: refused.
      await assert.rejects(unexpungeMessages(store, inbox, [first.uid], { quota: limit }), OverQuotaError);

      // A deleted folder's messages stop counting too.
      await copyMessages(store, inbox, [2], archive);
      assert.equal((await getQuotaRoot(directory, store, root)).resources[1]?.usage, 3);
      await assert.rejects(appendMessage(store, inbox, message(5, 1), { quota: limit }), OverQuotaError);
      await deleteMailbox(store, bob.id, 'Archive');
      assert.equal((await getQuotaRoot(directory, store, root)).resources[1]?.usage, 2);
      await appendMessage(store, inbox, message(5, 1), { quota: limit });
    });
  });
}
