import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { changesSince } from '../../../shared/mailbox/changes.ts';
import { getMailbox } from '../../../shared/mailbox/mailbox-record.ts';
import { createMailbox } from '../../../shared/mailbox/mailboxes.ts';
import { appendMessage, getMessage, listMessages, updateFlags } from '../../../shared/mailbox/messages.ts';
import { adapterSets } from '../../support/stores.ts';
import { ACCOUNT, openTestStore, sampleMessage } from './mail-fixtures.ts';

const CALLERS = 200;

for (const adapters of adapterSets) {
  describe(`concurrency on ${adapters.name}`, () => {
    it(`${CALLERS} concurrent appends to one mailbox get unique, increasing UIDs and a matching HIGHESTMODSEQ`, async (t) => {
      const { store } = await openTestStore(t, adapters);
      const box = await createMailbox(store, ACCOUNT, 'Busy');
      const results = await Promise.all(
        Array.from({ length: CALLERS }, (_, index) => appendMessage(store, box, sampleMessage(index, { size: 10 }))),
      );
      const uids = results.map((result) => result.uid).sort((a, b) => a - b);
      assert.deepEqual(
        uids,
        Array.from({ length: CALLERS }, (_, index) => index + 1),
      );
      // UID and MODSEQ come from the same atomic add, so they increase together.
      for (const result of results) assert.equal(result.modseq, result.uid + 1);
      const mailbox = await getMailbox(store, box.id);
      assert.equal(mailbox.uidNext, CALLERS + 1);
      assert.equal(mailbox.highestModseq, CALLERS + 1);
      assert.equal(mailbox.messages, CALLERS);
      assert.equal(mailbox.size, CALLERS * 10);

      const listed = (await listMessages(store, box.id, { limit: CALLERS })).messages;
      assert.deepEqual(
        listed.map((state) => state.uid),
        uids,
      );
      for (const state of listed) {
        const result = results.find((each) => each.uid === state.uid)!;
        assert.equal(state.modseq, result.modseq);
      }
      const changes = await changesSince(store, box.id, 0, { limit: 10_000 });
      assert.equal(changes.changed.length, CALLERS);
      assert.equal(changes.highestModseq, CALLERS + 1);
      assert.equal(changes.uidNext, CALLERS + 1);
    });

    it('concurrent flag changes on one message lose no update and take distinct MODSEQs', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const box = await createMailbox(store, ACCOUNT, 'Contended');
      await appendMessage(store, box, sampleMessage(1));
      const writers = 6;
      const results = await Promise.all(
        Array.from({ length: writers }, (_, index) =>
          updateFlags(store, box, [1], { mode: 'add', flags: [`keyword${index}`] }),
        ),
      );
      const modseqs = results.map((result) => result.updated[0]!.modseq);
      assert.equal(new Set(modseqs).size, writers);
      const state = await getMessage(store, box.id, 1);
      assert.deepEqual(
        [...(state?.flags ?? [])].sort(),
        Array.from({ length: writers }, (_, index) => `keyword${index}`),
      );
      assert.equal(state?.modseq, Math.max(...modseqs));
    });
  });
}
