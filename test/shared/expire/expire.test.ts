/**
 * The expire job on every adapter set, with a clock the test controls (node:test's mocked Date drives
 * both the mailbox module's timestamps and the job's clock): nothing younger than the retention is
 * touched, everything older is gone, blobs shared with a live message survive, per-domain retention,
 * removed accounts, greylist and quarantine, never-referenced blobs, interrupted and concurrent runs,
 * and a dry run that changes nothing.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { sharedMailboxOwner } from '../../../shared/acl/index.ts';
import { Directory } from '../../../shared/directory/directory.ts';
import { type ExpireOptions, runExpire, runExpireToEnd } from '../../../shared/expire/expire-job.ts';
import { LEASE_MS, RunLease, readRunState } from '../../../shared/expire/run-state.ts';
import {
  greylistPk,
  greylistShardOf,
  quarantineBlobPrefix,
  quarantinePk,
} from '../../../shared/expire/transient-records.ts';
import {
  appendMessage,
  blobReferenceCount,
  copyMessages,
  createMailbox,
  deleteMailbox,
  expungeMessages,
  getMailboxByName,
  getMessage,
  getQuotaUsage,
  listDeletedMailboxes,
  type Mailbox,
  type MailStore,
  openMailStore,
  releaseBlobReferences,
} from '../../../shared/mailbox/index.ts';
import type { BlobStore } from '../../../shared/store/blob.ts';
import type { Item, MetadataStore } from '../../../shared/store/metadata.ts';
import { keyVaultFor } from '../../support/key-vaults.ts';
import { adapterSets } from '../../support/stores.ts';

const DAY = 86_400_000;
const T0 = Date.UTC(2030, 0, 10, 12);
const PASSWORD = 'a long enough password';

interface World {
  metadata: MetadataStore;
  blobs: BlobStore;
  store: MailStore;
  directory: Directory;
  /** Sets the mocked time to T0 + days. */
  at(days: number): void;
  options(overrides?: Partial<ExpireOptions>): ExpireOptions;
  deliver(mailbox: Mailbox, name: string): Promise<number>;
  blobExists(key: string): Promise<boolean>;
}

async function openWorld(t: TestContext, adapters: (typeof adapterSets)[number]): Promise<World> {
  t.mock.timers.enable({ apis: ['Date'], now: T0 });
  const stores = await adapters.open();
  t.after(() => stores.cleanup());
  const store = openMailStore(stores.metadata);
  return {
    metadata: stores.metadata,
    blobs: stores.blobs,
    store,
    directory: new Directory(stores.metadata, { keyVault: await keyVaultFor(adapters) }),
    at: (days) => t.mock.timers.setTime(T0 + days * DAY),
    options: (overrides = {}) => ({
      mode: 'now',
      defaultRetentionDays: 30,
      quarantineRetentionDays: 30,
      deleteQuarantineBlobs: true,
      ...overrides,
    }),
    async deliver(mailbox, name) {
      const blobKey = `msg/${new Date().toISOString().slice(0, 10)}/${name}`;
      await stores.blobs.put(blobKey, Buffer.from(`Subject: ${name}\r\n\r\n${name}\r\n`));
      const appended = await appendMessage(store, mailbox, {
        blobKey,
        size: 100,
        internalDate: new Date(),
        envelope: null,
        bodyStructure: null,
      });
      return appended.uid;
    },
    blobExists: async (key) => (await stores.blobs.head(key)) !== undefined,
  };
}

async function allItems(metadata: MetadataStore): Promise<Item[]> {
  const items: Item[] = [];
  let cursor: string | undefined;
  do {
    const page = await metadata.scan(cursor === undefined ? {} : { cursor });
    items.push(...page.items);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return items;
}

const blobKeyOf = (name: string, days: number) => `msg/${new Date(T0 + days * DAY).toISOString().slice(0, 10)}/${name}`;

for (const adapters of adapterSets) {
  describe(`expire job on ${adapters.name}`, () => {
    it('purges only what is past its domain retention; shared blobs survive; quotas stay right', async (t) => {
      const w = await openWorld(t, adapters);
      await w.directory.addDomain('example.com');
      await w.directory.addDomain('short.example', { retentionDays: 5 });
      const alice = await w.directory.addAccount('alice@example.com', { password: PASSWORD });
      const bob = await w.directory.addAccount('bob@short.example', { password: PASSWORD });

      // Day 0: m1 expunged; m2 expunged from INBOX but copied to Archive first; folder Old deleted.
      const inbox = await getMailboxByName(w.store, alice.id, 'INBOX');
      const archive = await createMailbox(w.store, alice.id, 'Archive');
      const m1 = await w.deliver(inbox, 'm1');
      const m2 = await w.deliver(inbox, 'm2');
      await copyMessages(w.store, inbox, [m2], archive);
      await expungeMessages(w.store, inbox, [m1, m2]);
      const old = await createMailbox(w.store, alice.id, 'Old');
      await w.deliver(old, 'm3');
      await deleteMailbox(w.store, alice.id, 'Old');
      // A shared mailbox of the domain with an expunged message.
      const news = await createMailbox(w.store, sharedMailboxOwner('example.com'), 'news');
      const n1 = await w.deliver(news, 'n1');
      await expungeMessages(w.store, news, [n1]);

      // Day 20: m4 expunged and folder Young deleted (younger than 30 days at day 31); bob's b1 expunged.
      w.at(20);
      const m4 = await w.deliver(inbox, 'm4');
      await expungeMessages(w.store, inbox, [m4]);
      const young = await createMailbox(w.store, alice.id, 'Young');
      await w.deliver(young, 'm5');
      await deleteMailbox(w.store, alice.id, 'Young');
      const bobInbox = await getMailboxByName(w.store, bob.id, 'INBOX');
      const b1 = await w.deliver(bobInbox, 'b1');
      await expungeMessages(w.store, bobInbox, [b1]);

      // Day 24: nothing is old enough anywhere yet (bob's retention is 5 days, b1 is 4 days old).
      w.at(24);
      const before = await allItems(w.metadata);
      let outcome = await runExpire(w, w.options());
      assert.equal(outcome.status, 'complete');
      assert.equal(outcome.totals.messagesPurged, 0);
      assert.equal(outcome.totals.mailboxesPurged, 0);
      assert.equal(outcome.totals.blobsDeleted, 0);
      const isMailItem = (item: Item) => item.pk.startsWith('mbox#') || item.pk.startsWith('blob#');
      assert.deepEqual(
        (await allItems(w.metadata)).filter(isMailItem).map((item) => [item.pk, item.sk]),
        before.filter(isMailItem).map((item) => [item.pk, item.sk]),
        'no mail item was touched',
      );

      // Day 31: day-0 mail is past 30 days, day-20 mail is not; bob's b1 is past 5 days.
      w.at(31);
      outcome = await runExpire(w, w.options());
      assert.equal(outcome.status, 'complete');
      assert.equal(await getMessage(w.store, inbox.id, m1), undefined, 'm1 purged');
      assert.equal(await getMessage(w.store, inbox.id, m2), undefined, 'm2 purged from INBOX');
      assert.equal(await w.blobExists(blobKeyOf('m1', 0)), false, 'm1 blob deleted');
      assert.equal(await w.blobExists(blobKeyOf('m2', 0)), true, 'm2 blob kept: Archive still has it');
      assert.equal(await blobReferenceCount(w.store, blobKeyOf('m2', 0)), 1);
      assert.equal(await w.blobExists(blobKeyOf('m3', 0)), false, 'the deleted folder Old and its blob are gone');
      assert.equal(await getMessage(w.store, news.id, n1), undefined, 'shared mailbox purged too');
      assert.equal(await w.blobExists(blobKeyOf('n1', 0)), false);
      assert.equal((await getMessage(w.store, inbox.id, m4))?.expunged, true, 'm4 still restorable');
      assert.equal(await w.blobExists(blobKeyOf('m4', 20)), true);
      assert.deepEqual(
        (await listDeletedMailboxes(w.store, alice.id)).map((deleted) => deleted.name),
        ['Young'],
      );
      assert.equal(await getMessage(w.store, bobInbox.id, b1), undefined, 'bob: 5-day retention');
      assert.equal(await w.blobExists(blobKeyOf('b1', 20)), false);
      assert.deepEqual(
        [outcome.totals.messagesPurged, outcome.totals.mailboxesPurged, outcome.totals.blobsDeleted],
        [5, 1, 4],
      );
      assert.deepEqual(await getQuotaUsage(w.store, alice.id), { bytes: 100, messages: 1 }, 'Archive m2 only');

      // A scheduled call the same day is not due; at day 51 the rest goes.
      assert.equal((await runExpire(w, w.options({ mode: 'scheduled' }))).status, 'not-due');
      w.at(51);
      outcome = await runExpire(w, w.options({ mode: 'scheduled' }));
      assert.equal(outcome.status, 'complete');
      assert.equal(await getMessage(w.store, inbox.id, m4), undefined);
      assert.equal(await w.blobExists(blobKeyOf('m4', 20)), false);
      assert.deepEqual(await listDeletedMailboxes(w.store, alice.id), []);
      assert.equal(await w.blobExists(blobKeyOf('m5', 20)), false);
      assert.equal(await w.blobExists(blobKeyOf('m2', 0)), true);
    });

    it('resumes after an interrupted run and a runner that died holding the lease; one runner at a time', async (t) => {
      const w = await openWorld(t, adapters);
      await w.directory.addDomain('example.com');
      const keys: string[] = [];
      for (const name of ['a', 'b', 'c', 'd']) {
        const account = await w.directory.addAccount(`${name}@example.com`, { password: PASSWORD });
        const inbox = await getMailboxByName(w.store, account.id, 'INBOX');
        const uids = [await w.deliver(inbox, `${name}1`), await w.deliver(inbox, `${name}2`)];
        await expungeMessages(w.store, inbox, uids);
        keys.push(blobKeyOf(`${name}1`, 0), blobKeyOf(`${name}2`, 0));
      }
      w.at(40);
      // Stop after the first account: the run saves its cursor and reports it incomplete.
      const abort = new AbortController();
      let outcome = await runExpire(w, {
        ...w.options(),
        signal: abort.signal,
        onProgress: (progress) => {
          if (progress.totals.accounts >= 1) abort.abort();
        },
      });
      assert.equal(outcome.status, 'incomplete');
      const runId = outcome.runId;
      assert.equal(outcome.totals.messagesPurged, 2);
      assert.equal((await readRunState(w.metadata)).cursor?.phase, 'directory');
      assert.equal(keys.filter((key) => !keys.includes(key)).length, 0);

      // A runner that dies mid-run keeps the lease: others are turned away until it runs out.
      const dead = await RunLease.acquire(w.metadata, Date.now);
      assert.ok(dead);
      assert.equal((await runExpire(w, w.options())).status, 'busy');
      t.mock.timers.setTime(Date.now() + LEASE_MS + 1);

      outcome = await runExpireToEnd(w, w.options());
      assert.equal(outcome.status, 'complete');
      assert.equal(outcome.runId, runId, 'the same run went on');
      assert.equal(outcome.totals.messagesPurged, 8, 'nothing lost, nothing counted twice');
      assert.equal(outcome.totals.accounts, 4);
      for (const key of keys) assert.equal(await w.blobExists(key), false, key);
      // The runner that lost its lease cannot overwrite the newer state.
      await assert.rejects(dead.save({}), /another expire runner/);
    });

    it('finishes blob deletions a crashed runner left, and blobs whose count reached zero', async (t) => {
      const w = await openWorld(t, adapters);
      // A purge that lowered the count to 0 and died before deleting the blob.
      await w.blobs.put('msg/2030-01-01/zero', Buffer.from('x'));
      await w.metadata.put({ pk: 'blob#msg/2030-01-01/zero', sk: 'refs', v: 1, refs: 1 });
      await releaseBlobReferences(w.store, 'msg/2030-01-01/zero', 1);
      // A runner that released a count item and died before deleting the blob (its mark remains).
      await w.blobs.put('msg/2030-01-01/marked', Buffer.from('x'));
      await w.metadata.put({ pk: 'expire', sk: 'blob#msg/2030-01-01/marked', blobKey: 'msg/2030-01-01/marked' });
      // A mark whose blob was referenced again meanwhile stays.
      await w.blobs.put('msg/2030-01-01/live', Buffer.from('x'));
      await w.metadata.put({ pk: 'blob#msg/2030-01-01/live', sk: 'refs', v: 1, refs: 2 });
      await w.metadata.put({ pk: 'expire', sk: 'blob#msg/2030-01-01/live', blobKey: 'msg/2030-01-01/live' });

      const outcome = await runExpire(w, w.options());
      assert.equal(outcome.status, 'complete');
      assert.equal(await w.blobExists('msg/2030-01-01/zero'), false);
      assert.equal(await w.blobExists('msg/2030-01-01/marked'), false);
      assert.equal(await w.blobExists('msg/2030-01-01/live'), true);
      assert.equal(await blobReferenceCount(w.store, 'msg/2030-01-01/zero'), undefined);
      assert.deepEqual((await w.metadata.query('expire', { beginsWith: 'blob#' })).items, []);
    });

    it('sweeps never-referenced message blobs once their day is old enough', async (t) => {
      const w = await openWorld(t, adapters);
      await w.directory.addDomain('example.com');
      const account = await w.directory.addAccount('alice@example.com', { password: PASSWORD });
      const inbox = await getMailboxByName(w.store, account.id, 'INBOX');
      await w.deliver(inbox, 'kept');
      await w.blobs.put(blobKeyOf('orphan', 0), Buffer.from('never indexed'));
      await w.blobs.put(blobKeyOf('recent', 9), Buffer.from('still being delivered, perhaps'));
      w.at(10);
      await runExpire(w, w.options());
      assert.equal(await w.blobExists(blobKeyOf('orphan', 0)), false);
      assert.equal(await w.blobExists(blobKeyOf('kept', 0)), true);
      assert.equal(await w.blobExists(blobKeyOf('recent', 9)), true);
      assert.equal((await readRunState(w.metadata)).unreferencedSweptThrough, '2030-01-18');
      w.at(12);
      await runExpire(w, w.options());
      assert.equal(await w.blobExists(blobKeyOf('recent', 9)), false);
    });

    it('drops expired greylist entries and old quarantine, keeps the rest', async (t) => {
      const w = await openWorld(t, adapters);
      const seconds = (days: number) => Math.floor((T0 + days * DAY) / 1000);
      const entries = { stale: seconds(-1), fresh: seconds(3), broken: undefined };
      for (const [key, expiresAt] of Object.entries(entries)) {
        await w.metadata.put({
          pk: greylistPk(greylistShardOf(key)),
          sk: key,
          ...(expiresAt === undefined ? {} : { expiresAt }),
        });
      }
      const oldDay = '2029-11-30';
      const recentDay = '2030-01-05';
      for (const day of [oldDay, recentDay]) {
        await w.blobs.put(`${quarantineBlobPrefix(day)}q1`, Buffer.from('rejected'));
        await w.metadata.put({ pk: quarantinePk(day), sk: 'q1', blobKey: `${quarantineBlobPrefix(day)}q1` });
      }
      const outcome = await runExpire(w, w.options());
      assert.equal(outcome.totals.greylistDropped, 2);
      assert.equal(outcome.totals.quarantineDropped, 2);
      assert.ok(await w.metadata.get(greylistPk(greylistShardOf('fresh')), 'fresh'));
      assert.equal(await w.metadata.get(greylistPk(greylistShardOf('stale')), 'stale'), undefined);
      assert.equal(await w.metadata.get(greylistPk(greylistShardOf('broken')), 'broken'), undefined);
      assert.equal(await w.blobExists(`${quarantineBlobPrefix(oldDay)}q1`), false);
      assert.equal((await w.metadata.query(quarantinePk(oldDay))).items.length, 0);
      assert.equal(await w.blobExists(`${quarantineBlobPrefix(recentDay)}q1`), true);
      assert.equal((await w.metadata.query(quarantinePk(recentDay))).items.length, 1);
    });

    it('where a lifecycle rule expires quarantine blobs, drops only the quarantine index', async (t) => {
      const w = await openWorld(t, adapters);
      const day = '2029-11-30';
      await w.blobs.put(`${quarantineBlobPrefix(day)}q1`, Buffer.from('rejected'));
      await w.metadata.put({ pk: quarantinePk(day), sk: 'q1', blobKey: `${quarantineBlobPrefix(day)}q1` });
      const outcome = await runExpire(w, w.options({ deleteQuarantineBlobs: false }));
      assert.equal(outcome.totals.quarantineDropped, 1);
      assert.equal((await w.metadata.query(quarantinePk(day))).items.length, 0);
      assert.equal(await w.blobExists(`${quarantineBlobPrefix(day)}q1`), true);
    });

    it('purges a removed account a retention period after it was first seen gone', async (t) => {
      const w = await openWorld(t, adapters);
      await w.directory.addDomain('example.com');
      const carol = await w.directory.addAccount('carol@example.com', { password: PASSWORD });
      const alice = await w.directory.addAccount('alice@example.com', { password: PASSWORD });
      const carolInbox = await getMailboxByName(w.store, carol.id, 'INBOX');
      await w.deliver(carolInbox, 'c1');
      const work = await createMailbox(w.store, carol.id, 'Work');
      await w.deliver(work, 'c2');
      await w.deliver(await getMailboxByName(w.store, alice.id, 'INBOX'), 'a1');
      await w.directory.removeAccount('carol@example.com');

      let outcome = await runExpire(w, w.options());
      assert.equal(outcome.totals.accountsOrphaned, 1);
      assert.equal(outcome.totals.accountsPurged, 0);
      assert.equal(await w.blobExists(blobKeyOf('c1', 0)), true, 'kept for the retention period');

      w.at(29);
      outcome = await runExpire(w, w.options());
      assert.equal(outcome.totals.accountsPurged, 0);
      w.at(31);
      outcome = await runExpire(w, w.options());
      assert.equal(outcome.totals.accountsPurged, 1);
      assert.equal(outcome.totals.messagesPurged, 2);
      assert.equal(await w.blobExists(blobKeyOf('c1', 0)), false);
      assert.equal(await w.blobExists(blobKeyOf('c2', 0)), false);
      assert.equal(await w.blobExists(blobKeyOf('a1', 0)), true, 'alice is live');
      const left = (await allItems(w.metadata)).filter(
        (item) =>
          item.pk === `acct#${carol.id}` || item.pk === `mbox#${carolInbox.id}` || item.pk === `mbox#${work.id}`,
      );
      assert.deepEqual(left, []);
    });

    it('a dry run reports what a run would purge and changes nothing', async (t) => {
      const w = await openWorld(t, adapters);
      await w.directory.addDomain('example.com');
      const account = await w.directory.addAccount('alice@example.com', { password: PASSWORD });
      const inbox = await getMailboxByName(w.store, account.id, 'INBOX');
      await expungeMessages(w.store, inbox, [await w.deliver(inbox, 'x1'), await w.deliver(inbox, 'x2')]);
      const trash = await createMailbox(w.store, account.id, 'Trash');
      await deleteMailbox(w.store, account.id, 'Trash');
      await w.metadata.put({ pk: greylistPk(0), sk: 'stale', expiresAt: 1 });
      w.at(45);
      const before = await allItems(w.metadata);
      const outcome = await runExpire(w, w.options({ dryRun: true }));
      assert.equal(outcome.status, 'complete');
      assert.deepEqual(
        [outcome.totals.messagesPurged, outcome.totals.mailboxesPurged, outcome.totals.greylistDropped],
        [2, 1, 1],
      );
      assert.deepEqual(await allItems(w.metadata), before);
      assert.equal(await w.blobExists(blobKeyOf('x1', 0)), true);
      assert.ok(trash.id);
    });
  });
}
