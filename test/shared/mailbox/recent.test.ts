import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MailboxNotFoundError } from '../../../shared/mailbox/errors.ts';
import { getMailbox } from '../../../shared/mailbox/mailbox-record.ts';
import { createMailbox, deleteMailbox } from '../../../shared/mailbox/mailboxes.ts';
import { appendMessage, expungeMessages } from '../../../shared/mailbox/messages.ts';
import { claimRecent, countUnclaimedRecent } from '../../../shared/mailbox/recent.ts';
import { adapterSets } from '../../support/stores.ts';
import { ACCOUNT, openTestStore, sampleMessage } from './mail-fixtures.ts';

const CLAIMERS = 20;

for (const adapters of adapterSets) {
  describe(`\\Recent watermark on ${adapters.name}`, () => {
    it('starts at 0, advances only forwards, and a stale reader learns where it stands', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const box = await createMailbox(store, ACCOUNT, 'Recent');
      assert.equal(box.recentUid, 0);
      assert.equal(await claimRecent(store, box.id, 0, 3), 0);
      assert.equal((await getMailbox(store, box.id)).recentUid, 3);
      // A claim made with a stale watermark re-reads it and claims only what is left.
      assert.equal(await claimRecent(store, box.id, 0, 5), 3);
      assert.equal((await getMailbox(store, box.id)).recentUid, 5);
      // Nothing left below 4: no claim, and the watermark does not go back.
      assert.equal(await claimRecent(store, box.id, 0, 4), undefined);
      assert.equal(await claimRecent(store, box.id, 5, 5), undefined);
      assert.equal((await getMailbox(store, box.id)).recentUid, 5);
    });

    it(`${CLAIMERS} concurrent claims of the same UIDs: exactly one gets each`, async (t) => {
      const { store } = await openTestStore(t, adapters);
      const box = await createMailbox(store, ACCOUNT, 'Contended');
      const claims = await Promise.all(
        Array.from({ length: CLAIMERS }, (_, index) => claimRecent(store, box.id, 0, 10 + (index % 3))),
      );
      // Each successful claim owns (from, upTo]; together they cover 1..12 without overlap.
      const owned: number[] = [];
      claims.forEach((from, index) => {
        if (from === undefined) return;
        for (let uid = from + 1; uid <= 10 + (index % 3); uid++) owned.push(uid);
      });
      assert.deepEqual(
        owned.sort((a, b) => a - b),
        Array.from({ length: 12 }, (_, index) => index + 1),
      );
      assert.equal((await getMailbox(store, box.id)).recentUid, 12);
    });

    it('counts unclaimed messages for STATUS RECENT, without expunged ones', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const box = await createMailbox(store, ACCOUNT, 'Counted');
      for (let index = 1; index <= 5; index++) await appendMessage(store, box, sampleMessage(index));
      assert.equal(await countUnclaimedRecent(store, box.id, 0, 6), 5);
      await claimRecent(store, box.id, 0, 2);
      assert.equal(await countUnclaimedRecent(store, box.id, 2, 6), 3);
      await expungeMessages(store, box, [4]);
      assert.equal(await countUnclaimedRecent(store, box.id, 2, 6), 2);
      assert.equal(await countUnclaimedRecent(store, box.id, 5, 6), 0);
    });

    it('refuses a claim on a deleted mailbox, and never recreates its item', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const box = await createMailbox(store, ACCOUNT, 'Doomed');
      await deleteMailbox(store, ACCOUNT, 'Doomed');
      await assert.rejects(claimRecent(store, box.id, 0, 1), MailboxNotFoundError);
      await assert.rejects(claimRecent(store, 'no-such-mailbox', 0, 1), MailboxNotFoundError);
      await assert.rejects(getMailbox(store, 'no-such-mailbox'), MailboxNotFoundError);
    });
  });
}
