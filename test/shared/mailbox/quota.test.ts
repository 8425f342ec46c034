import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blobReferenceCount } from '../../../shared/mailbox/blob-references.ts';
import { OverQuotaError } from '../../../shared/mailbox/errors.ts';
import { getMailbox } from '../../../shared/mailbox/mailbox-record.ts';
import { createMailbox, getMailboxByName } from '../../../shared/mailbox/mailboxes.ts';
import {
  appendMessage,
  copyMessages,
  expungeMessages,
  listMessages,
  moveMessages,
  unexpungeMessages,
} from '../../../shared/mailbox/messages.ts';
import { getQuotaUsage } from '../../../shared/mailbox/quota.ts';
import { adapterSets } from '../../support/stores.ts';
import { ACCOUNT, openTestStore, sampleMessage } from './mail-fixtures.ts';

for (const adapters of adapterSets) {
  describe(`quota on ${adapters.name}`, () => {
    it('refuses an append over the storage limit and leaves nothing behind', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const inbox = await getMailboxByName(store, ACCOUNT, 'INBOX');
      const quota = { storage: 1000 };
      await appendMessage(store, inbox, sampleMessage(1, { size: 600 }), { quota });
      await appendMessage(store, inbox, sampleMessage(2, { size: 400 }), { quota });
      const error = await appendMessage(store, inbox, sampleMessage(3, { size: 1 }), { quota }).then(
        () => undefined,
        (failure: unknown) => failure,
      );
      assert.ok(error instanceof OverQuotaError);
      assert.equal(error.resource, 'storage');
      assert.equal(error.limit, 1000);
      assert.deepEqual(await getQuotaUsage(store, ACCOUNT), { bytes: 1000, messages: 2 });
      const mailbox = await getMailbox(store, inbox.id);
      assert.equal(mailbox.uidNext, 3, 'no UID was taken');
      assert.equal(mailbox.messages, 2);
      assert.equal(await blobReferenceCount(store, 'msg/test/3'), undefined, 'no blob reference was kept');
    });

    it('refuses a first message larger than the limit, and enforces the message-count limit', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const inbox = await getMailboxByName(store, ACCOUNT, 'INBOX');
      await assert.rejects(
        appendMessage(store, inbox, sampleMessage(1, { size: 5000 }), { quota: { storage: 4000 } }),
        OverQuotaError,
      );
      await appendMessage(store, inbox, sampleMessage(1), { quota: { messages: 1 } });
      await assert.rejects(appendMessage(store, inbox, sampleMessage(2), { quota: { messages: 1 } }), (error) => {
        assert.ok(error instanceof OverQuotaError);
        assert.equal(error.resource, 'messages');
        return true;
      });
    });

    it('releases quota on expunge-marking and charges it again on unexpunge', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const inbox = await getMailboxByName(store, ACCOUNT, 'INBOX');
      const quota = { storage: 1000 };
      await appendMessage(store, inbox, sampleMessage(1, { size: 700 }), { quota });
      await assert.rejects(appendMessage(store, inbox, sampleMessage(2, { size: 700 }), { quota }), OverQuotaError);
      await expungeMessages(store, inbox, [1]);
      assert.deepEqual(await getQuotaUsage(store, ACCOUNT), { bytes: 0, messages: 0 });
      await appendMessage(store, inbox, sampleMessage(2, { size: 700 }), { quota });
      await assert.rejects(unexpungeMessages(store, inbox, [1], { quota }), OverQuotaError);
      await unexpungeMessages(store, inbox, [1]);
      assert.deepEqual(await getQuotaUsage(store, ACCOUNT), { bytes: 1400, messages: 2 });
    });

    it('makes a COPY over quota all or nothing; MOVE is not limited', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const source = await createMailbox(store, ACCOUNT, 'Big');
      const target = await createMailbox(store, ACCOUNT, 'Copy');
      for (let index = 1; index <= 3; index++) await appendMessage(store, source, sampleMessage(index, { size: 100 }));
      await assert.rejects(copyMessages(store, source, [1, 2, 3], target, { quota: { storage: 500 } }), OverQuotaError);
      assert.deepEqual((await listMessages(store, target.id)).messages, []);
      assert.equal((await getMailbox(store, target.id)).uidNext, 1);
      assert.deepEqual(await getQuotaUsage(store, ACCOUNT), { bytes: 300, messages: 3 });
      await moveMessages(store, source, [1, 2, 3], target);
      assert.deepEqual(await getQuotaUsage(store, ACCOUNT), { bytes: 300, messages: 3 });
    });

    it('counts per account', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const alice = await getMailboxByName(store, ACCOUNT, 'INBOX');
      const bob = await getMailboxByName(store, 'bob@example.com', 'INBOX');
      await appendMessage(store, alice, sampleMessage(1, { size: 10 }));
      await appendMessage(store, bob, sampleMessage(1, { size: 20 }));
      await appendMessage(store, bob, sampleMessage(2, { size: 30 }));
      assert.deepEqual(await getQuotaUsage(store, ACCOUNT), { bytes: 10, messages: 1 });
      assert.deepEqual(await getQuotaUsage(store, 'bob@example.com'), { bytes: 50, messages: 2 });
    });
  });
}
