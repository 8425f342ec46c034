/** Reconciliation of counters after crashes, and the retention steps the expire job runs. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addBlobReferences,
  blobReferenceCount,
  releaseUnreferencedBlob,
} from '../../../shared/mailbox/blob-references.ts';
import { changesSince } from '../../../shared/mailbox/changes.ts';
import { trimDeliveryMarkers } from '../../../shared/mailbox/delivery-markers.ts';
import { BlobGoneError } from '../../../shared/mailbox/errors.ts';
import { getMailbox } from '../../../shared/mailbox/mailbox-record.ts';
import {
  createMailbox,
  deleteMailbox,
  getMailboxByName,
  listDeletedMailboxes,
} from '../../../shared/mailbox/mailboxes.ts';
import {
  appendMessage,
  expungeMessages,
  getMessage,
  listMessages,
  updateFlags,
} from '../../../shared/mailbox/messages.ts';
import { getQuotaUsage } from '../../../shared/mailbox/quota.ts';
import { reconcileMailboxCounters, reconcileQuota } from '../../../shared/mailbox/reconcile.ts';
import { purgeDeletedMailbox, purgeExpungedMessages, trimChangeLog } from '../../../shared/mailbox/retention.ts';
import { adapterSets } from '../../support/stores.ts';
import { ACCOUNT, openTestStore, sampleMessage, sleep } from './mail-fixtures.ts';

/** Long enough that the two `busy` checks right after the writes still fall inside it on a loaded machine. */
const SETTLE_MS = 1500;
const future = () => new Date(Date.now() + 60_000);

for (const adapters of adapterSets) {
  describe(`maintenance on ${adapters.name}`, () => {
    it('reconciles mailbox counters and quota left over-counted by a crash, once nothing is in flight', async (t) => {
      const { store, stores } = await openTestStore(t, adapters, { settleMs: SETTLE_MS });
      const inbox = await getMailboxByName(store, ACCOUNT, 'INBOX');
      await appendMessage(store, inbox, sampleMessage(1, { size: 100 }));
      await appendMessage(store, inbox, sampleMessage(2, { size: 50, flags: ['\\Seen'] }));
      // A delivery that charged the quota and took its UID, then died.
      await stores.metadata.update(`acct#${ACCOUNT}`, 'quota', {
        add: { bytes: 999, messages: 1 },
        set: { changedAt: Date.now() },
      });
      await stores.metadata.update(`mbox#${inbox.id}`, 'mailbox', {
        add: { uidnext: 1, highestmodseq: 1, messages: 1, unseen: 1, size: 999 },
        set: { changedAt: Date.now() },
      });
      assert.equal(await reconcileMailboxCounters(store, inbox.id), 'busy');
      assert.equal(await reconcileQuota(store, ACCOUNT), 'busy');
      await sleep(SETTLE_MS + 50);
      assert.equal(await reconcileMailboxCounters(store, inbox.id), 'repaired');
      assert.equal(await reconcileQuota(store, ACCOUNT), 'repaired');
      const mailbox = await getMailbox(store, inbox.id);
      assert.deepEqual([mailbox.messages, mailbox.unseen, mailbox.size], [2, 1, 150]);
      assert.equal(mailbox.uidNext, 4, 'the lost UID stays a gap');
      assert.deepEqual(await getQuotaUsage(store, ACCOUNT), { bytes: 150, messages: 2 });
      assert.equal(await reconcileMailboxCounters(store, inbox.id), 'unchanged');
      assert.equal(await reconcileQuota(store, ACCOUNT), 'unchanged');
    });

    it('purges expunged entries past retention and reports blobs nobody references any more', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const inbox = await getMailboxByName(store, ACCOUNT, 'INBOX');
      const lists = await createMailbox(store, ACCOUNT, 'Lists');
      const shared = sampleMessage(1);
      await appendMessage(store, inbox, shared);
      await appendMessage(store, lists, shared);
      await appendMessage(store, inbox, sampleMessage(2));
      const before = await changesSince(store, inbox.id, 0);
      await expungeMessages(store, inbox, [1]);

      assert.deepEqual(await purgeExpungedMessages(store, inbox.id, new Date(Date.now() - 60_000)), {
        purged: 0,
        unreferencedBlobs: [],
      });
      assert.deepEqual(await purgeExpungedMessages(store, inbox.id, future()), { purged: 1, unreferencedBlobs: [] });
      assert.equal(await getMessage(store, inbox.id, 1), undefined);
      assert.equal(await blobReferenceCount(store, shared.blobKey), 1, 'the other recipient still holds it');
      const after = await changesSince(store, inbox.id, before.highestModseq);
      assert.equal(after.vanishedComplete, false, 'purged expunges can no longer be reported');
      assert.equal((await changesSince(store, inbox.id, after.highestModseq)).vanishedComplete, true);

      await expungeMessages(store, lists, [1]);
      assert.deepEqual(await purgeExpungedMessages(store, lists.id, future()), {
        purged: 1,
        unreferencedBlobs: [shared.blobKey],
      });
      assert.equal(await releaseUnreferencedBlob(store, shared.blobKey), true);
      await assert.rejects(addBlobReferences(store, shared.blobKey, 1, 'existing'), BlobGoneError);
      assert.equal(await releaseUnreferencedBlob(store, sampleMessage(2).blobKey), false, 'still referenced');
    });

    it('trims the change log and still answers older MODSEQs by scanning entries', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const box = await createMailbox(store, ACCOUNT, 'Trim');
      for (let index = 1; index <= 4; index++) await appendMessage(store, box, sampleMessage(index));
      const checkpoint = (await changesSince(store, box.id, 0)).highestModseq;
      await updateFlags(store, box, [2], { mode: 'add', flags: ['\\Seen'] });
      await expungeMessages(store, box, [3]);
      const expected = await changesSince(store, box.id, checkpoint);

      assert.ok((await trimChangeLog(store, box.id, future())) >= 6);
      const scanned = await changesSince(store, box.id, checkpoint);
      assert.deepEqual(
        scanned.changed.map((state) => state.uid),
        expected.changed.map((state) => state.uid),
      );
      assert.deepEqual(scanned.vanished, [3]);
      assert.equal(scanned.highestModseq, expected.highestModseq);
      const all = await changesSince(store, box.id, 0, { limit: 1 });
      assert.ok(all.next, 'scan mode pages too');

      await updateFlags(store, box, [4], { mode: 'add', flags: ['\\Flagged'] });
      const fresh = await changesSince(store, box.id, expected.highestModseq);
      assert.deepEqual(
        fresh.changed.map((state) => state.uid),
        [4],
      );
    });

    it('purges a mailbox deleted into DELETED/ past retention', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const box = await createMailbox(store, ACCOUNT, 'Old');
      await appendMessage(store, box, sampleMessage(1), { deliveryKey: 'tx-old' });
      await appendMessage(store, box, sampleMessage(2));
      await deleteMailbox(store, ACCOUNT, 'Old');
      const result = await purgeDeletedMailbox(store, ACCOUNT, box.id, future());
      assert.equal(result.purged, 2);
      assert.deepEqual(result.unreferencedBlobs.sort(), [sampleMessage(1).blobKey, sampleMessage(2).blobKey]);
      assert.deepEqual(await listDeletedMailboxes(store, ACCOUNT), []);
      assert.deepEqual((await listMessages(store, box.id, { includeExpunged: true })).messages, []);
    });

    it('trims old delivery markers', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const inbox = await getMailboxByName(store, ACCOUNT, 'INBOX');
      await appendMessage(store, inbox, sampleMessage(1), { deliveryKey: 'tx-a' });
      await appendMessage(store, inbox, sampleMessage(2), { deliveryKey: 'tx-b' });
      assert.equal(await trimDeliveryMarkers(store, inbox.id, new Date(Date.now() - 60_000)), 0);
      assert.equal(await trimDeliveryMarkers(store, inbox.id, future()), 2);
      const again = await appendMessage(store, inbox, sampleMessage(1), { deliveryKey: 'tx-a' });
      assert.equal(again.duplicate, false, 'past the retry window a key is new again');
    });
  });
}
