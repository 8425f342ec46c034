/**
 * Idempotent delivery: the states a crashed first attempt can leave (built with the real operations or,
 * for the instants between two writes, by writing exactly what the first writes would have written),
 * then the retry.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blobReferenceCount } from '../../../shared/mailbox/blob-references.ts';
import { changesSince } from '../../../shared/mailbox/changes.ts';
import { DeliveryInProgressError, InvalidMessageError } from '../../../shared/mailbox/errors.ts';
import { getMailbox } from '../../../shared/mailbox/mailbox-record.ts';
import { createMailbox, getMailboxByName } from '../../../shared/mailbox/mailboxes.ts';
import { appendMessage, getMessageDetails, listMessages } from '../../../shared/mailbox/messages.ts';
import { getQuotaUsage } from '../../../shared/mailbox/quota.ts';
import { adapterSets } from '../../support/stores.ts';
import { ACCOUNT, openTestStore, sampleMessage, sleep } from './mail-fixtures.ts';

for (const adapters of adapterSets) {
  describe(`idempotent delivery on ${adapters.name}`, () => {
    it('a retry after a completed delivery (250 lost) returns the same entry', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const inbox = await getMailboxByName(store, ACCOUNT, 'INBOX');
      const folder = await createMailbox(store, ACCOUNT, 'Lists');
      const message = sampleMessage(1);
      // One blob, two recipient mailboxes, as SMTP delivery does.
      const first = [
        await appendMessage(store, inbox, message, { deliveryKey: 'tx-1:alice@example.com' }),
        await appendMessage(store, folder, message, { deliveryKey: 'tx-1:alice+lists@example.com' }),
      ];
      const retry = [
        await appendMessage(store, inbox, message, { deliveryKey: 'tx-1:alice@example.com' }),
        await appendMessage(store, folder, message, { deliveryKey: 'tx-1:alice+lists@example.com' }),
      ];
      assert.deepEqual(
        retry.map((result) => [result.uid, result.modseq, result.uidValidity, result.duplicate]),
        first.map((result) => [result.uid, result.modseq, result.uidValidity, true]),
      );
      assert.equal((await listMessages(store, inbox.id)).messages.length, 1);
      assert.equal((await listMessages(store, folder.id)).messages.length, 1);
      assert.equal(await blobReferenceCount(store, message.blobKey), 2);
      assert.deepEqual(await getQuotaUsage(store, ACCOUNT), { bytes: 2 * message.size, messages: 2 });
      // A different transaction is a different message.
      const other = await appendMessage(store, inbox, message, { deliveryKey: 'tx-2:alice@example.com' });
      assert.equal(other.duplicate, false);
      assert.equal(other.uid, 2);
    });

    it('concurrent attempts with one key make one entry and give back what the loser took', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const inbox = await getMailboxByName(store, ACCOUNT, 'INBOX');
      const message = sampleMessage(1);
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, () => appendMessage(store, inbox, message, { deliveryKey: 'tx-race' })),
      );
      const delivered = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
      for (const result of results) {
        if (result.status === 'rejected') assert.ok(result.reason instanceof DeliveryInProgressError);
      }
      assert.ok(delivered.length >= 1);
      assert.equal(new Set(delivered.map((result) => result.uid)).size, 1, 'every success names the same UID');
      assert.equal((await listMessages(store, inbox.id)).messages.length, 1);
      const mailbox = await getMailbox(store, inbox.id);
      assert.equal(mailbox.messages, 1);
      assert.equal(mailbox.size, message.size);
      assert.deepEqual(await getQuotaUsage(store, ACCOUNT), { bytes: message.size, messages: 1 });
      assert.equal(await blobReferenceCount(store, message.blobKey), 1);
      const winner = delivered[0]!.uid;
      for (let uid = 1; uid < mailbox.uidNext; uid++) {
        const details = await getMessageDetails(store, inbox.id, uid);
        assert.equal(details !== undefined, uid === winner, `details of UID ${uid} kept only for the winner`);
      }
    });

    it('a retry while the first attempt may still be running is told to come back; later it takes over', async (t) => {
      const settleMs = 400;
      const { store, stores } = await openTestStore(t, adapters, { settleMs });
      const inbox = await getMailboxByName(store, ACCOUNT, 'INBOX');
      // The first attempt took UID 1 and recorded it in its marker, then died before the entry.
      await stores.metadata.update(`mbox#${inbox.id}`, 'mailbox', {
        add: { uidnext: 1, highestmodseq: 1 },
        set: { changedAt: Date.now() },
      });
      await stores.metadata.put({
        pk: `mbox#${inbox.id}`,
        sk: 'dlv#tx-crash',
        v: 1,
        uid: 1,
        modseq: 2,
        at: Date.now(),
      });

      await assert.rejects(
        appendMessage(store, inbox, sampleMessage(1), { deliveryKey: 'tx-crash' }),
        DeliveryInProgressError,
      );
      await sleep(settleMs / 2 + 50);
      const retried = await appendMessage(store, inbox, sampleMessage(1), { deliveryKey: 'tx-crash' });
      assert.equal(retried.duplicate, false);
      assert.equal(retried.uid, 2, 'UID 1 stays a gap');
      const again = await appendMessage(store, inbox, sampleMessage(1), { deliveryKey: 'tx-crash' });
      assert.deepEqual(again, { ...retried, duplicate: true });
      assert.deepEqual(
        (await listMessages(store, inbox.id)).messages.map((message) => message.uid),
        [2],
      );
      await sleep(settleMs + 50);
      const changes = await changesSince(store, inbox.id, 0);
      assert.equal(changes.uidNext, 3);
      assert.deepEqual(
        changes.changed.map((message) => message.uid),
        [2],
      );
    });

    it('a crash before the marker was written leaves a gap; the retry delivers once', async (t) => {
      const { store, stores } = await openTestStore(t, adapters);
      const inbox = await getMailboxByName(store, ACCOUNT, 'INBOX');
      // Quota charged and UID taken, nothing else.
      await stores.metadata.update(`acct#${ACCOUNT}`, 'quota', {
        add: { bytes: 1001, messages: 1 },
        set: { v: 1, changedAt: Date.now() },
      });
      await stores.metadata.update(`mbox#${inbox.id}`, 'mailbox', {
        add: { uidnext: 1, highestmodseq: 1, messages: 1, unseen: 1, size: 1001 },
        set: { changedAt: Date.now() },
      });
      const retried = await appendMessage(store, inbox, sampleMessage(1), { deliveryKey: 'tx-early-crash' });
      assert.equal(retried.uid, 2);
      assert.equal((await listMessages(store, inbox.id)).messages.length, 1);
    });

    it('rejects malformed delivery keys', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const inbox = await getMailboxByName(store, ACCOUNT, 'INBOX');
      for (const key of ['', 'has space', 'x'.repeat(300), 'ctl\u0001']) {
        await assert.rejects(appendMessage(store, inbox, sampleMessage(1), { deliveryKey: key }), InvalidMessageError);
      }
    });
  });
}
