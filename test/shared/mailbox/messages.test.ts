import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blobReferenceCount } from '../../../shared/mailbox/blob-references.ts';
import { changesSince, getMailboxStatus } from '../../../shared/mailbox/changes.ts';
import { InvalidFlagError, InvalidMessageError, MailboxNotFoundError } from '../../../shared/mailbox/errors.ts';
import { getMailbox } from '../../../shared/mailbox/mailbox-record.ts';
import { createMailbox, deleteMailbox, getMailboxByName } from '../../../shared/mailbox/mailboxes.ts';
import {
  appendMessage,
  copyMessages,
  expungeMessages,
  getMessage,
  getMessageDetails,
  listExpungedSince,
  listMessageDetails,
  listMessages,
  moveMessages,
  unexpungeMessages,
  updateFlags,
} from '../../../shared/mailbox/messages.ts';
import { adapterSets } from '../../support/stores.ts';
import { ACCOUNT, openTestStore, sampleMessage, sleep } from './mail-fixtures.ts';

for (const adapters of adapterSets) {
  describe(`messages on ${adapters.name}`, () => {
    it('appends with UIDs and MODSEQs from the mailbox item, and keeps what FETCH needs', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const inbox = await getMailboxByName(store, ACCOUNT, 'INBOX');
      const first = await appendMessage(
        store,
        inbox,
        sampleMessage(1, { flags: ['\\seen', 'Important', 'important'] }),
      );
      const second = await appendMessage(store, inbox, sampleMessage(2));
      assert.deepEqual(first, { uid: 1, modseq: 2, uidValidity: inbox.uidValidity, duplicate: false });
      assert.deepEqual(second, { uid: 2, modseq: 3, uidValidity: inbox.uidValidity, duplicate: false });

      const state = await getMessage(store, inbox.id, 1);
      assert.ok(state);
      assert.deepEqual(state.flags, ['\\Seen', 'Important'], 'system flags canonical, keywords deduplicated');
      assert.equal(state.size, 1001);
      assert.equal(state.blobKey, 'msg/test/1');
      assert.equal(state.internalDate.getTime(), sampleMessage(1).internalDate.getTime());
      assert.equal(state.expunged, false);
      const details = await getMessageDetails(store, inbox.id, 1);
      assert.deepEqual(details?.envelope, sampleMessage(1).envelope);
      assert.deepEqual(details?.bodyStructure, sampleMessage(1).bodyStructure);
      assert.deepEqual(details?.search, sampleMessage(1).search);

      const mailbox = await getMailbox(store, inbox.id);
      assert.equal(mailbox.uidNext, 3);
      assert.equal(mailbox.highestModseq, 3);
      assert.equal(mailbox.messages, 2);
      assert.equal(mailbox.unseen, 1);
      assert.equal(mailbox.size, 1001 + 1002);
      assert.equal(await blobReferenceCount(store, 'msg/test/1'), 1);
    });

    it('validates what it is given', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const inbox = await getMailboxByName(store, ACCOUNT, 'INBOX');
      const bad = [
        sampleMessage(1, { blobKey: '../etc/passwd' }),
        sampleMessage(1, { size: -1 }),
        sampleMessage(1, { size: 1.5 }),
        sampleMessage(1, { internalDate: new Date('nonsense') }),
        sampleMessage(1, { envelope: 'x'.repeat(400_000) }),
      ];
      for (const message of bad) await assert.rejects(appendMessage(store, inbox, message), InvalidMessageError);
      await assert.rejects(appendMessage(store, inbox, sampleMessage(1, { flags: ['\\Recent'] })), InvalidFlagError);
      await assert.rejects(appendMessage(store, inbox, sampleMessage(1, { flags: ['a b'] })), InvalidFlagError);
      await assert.rejects(
        appendMessage(store, { id: 'no-such-mailbox', account: ACCOUNT }, sampleMessage(1)),
        MailboxNotFoundError,
      );
      assert.equal((await getMailbox(store, inbox.id)).uidNext, 1, 'nothing was allocated');
    });

    it('lists by UID range, paged, skipping expunged entries unless asked', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const box = await createMailbox(store, ACCOUNT, 'Range');
      for (let index = 1; index <= 25; index++) await appendMessage(store, box, sampleMessage(index));
      await expungeMessages(store, box, [3, 4, 10]);

      const uidsOf = (page: { messages: { uid: number }[] }) => page.messages.map((message) => message.uid);
      assert.deepEqual(uidsOf(await listMessages(store, box.id, { fromUid: 2, toUid: 6 })), [2, 5, 6]);
      assert.deepEqual(
        uidsOf(await listMessages(store, box.id, { fromUid: 2, toUid: 6, includeExpunged: true })),
        [2, 3, 4, 5, 6],
      );
      const seen: number[] = [];
      let after: number | undefined;
      let pages = 0;
      do {
        const page = await listMessages(store, box.id, { limit: 7, ...(after ? { after } : {}) });
        assert.ok(page.messages.length <= 7);
        seen.push(...uidsOf(page));
        after = page.next;
        pages++;
      } while (after !== undefined);
      assert.deepEqual(
        seen,
        Array.from({ length: 25 }, (_, index) => index + 1).filter((uid) => ![3, 4, 10].includes(uid)),
      );
      assert.ok(pages >= 3);
      const details = await listMessageDetails(store, box.id, { fromUid: 20, toUid: 22 });
      assert.deepEqual(
        details.messages.map((message) => message.uid),
        [20, 21, 22],
      );
      assert.equal(await getMessage(store, box.id, 99), undefined);
    });

    it('changes flags with a new, increasing MODSEQ per change and keeps the unseen counter', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const box = await createMailbox(store, ACCOUNT, 'Flags');
      for (let index = 1; index <= 3; index++) await appendMessage(store, box, sampleMessage(index));
      const before = await getMailbox(store, box.id);
      assert.equal(before.unseen, 3);

      const seen = await updateFlags(store, box, [1, 2], { mode: 'add', flags: ['\\Seen'] });
      assert.deepEqual(
        seen.updated.map((entry) => [entry.uid, entry.flags]),
        [
          [1, ['\\Seen']],
          [2, ['\\Seen']],
        ],
      );
      const firstModseq = seen.updated[0]!.modseq;
      assert.ok(firstModseq > before.highestModseq);
      assert.equal(seen.updated[1]!.modseq, firstModseq, 'one STORE takes one MODSEQ');

      const flagged = await updateFlags(store, box, [2, 3, 77], { mode: 'add', flags: ['\\Flagged', '$Label1'] });
      assert.deepEqual(
        flagged.updated.map((entry) => entry.uid),
        [2, 3],
      );
      assert.ok(flagged.updated[0]!.modseq > firstModseq);

      const noop = await updateFlags(store, box, [1], { mode: 'add', flags: ['\\Seen'] });
      assert.deepEqual(noop.updated, []);
      assert.deepEqual(noop.unchanged, [{ uid: 1, modseq: firstModseq, flags: ['\\Seen'] }], 'no-op keeps MODSEQ');

      const removed = await updateFlags(store, box, [2], { mode: 'remove', flags: ['\\seen', '$label1'] });
      assert.deepEqual(removed.updated[0]!.flags, ['\\Flagged']);
      const replaced = await updateFlags(store, box, [3], { mode: 'set', flags: ['\\Answered'] });
      assert.deepEqual(replaced.updated[0]!.flags, ['\\Answered']);

      const after = await getMailbox(store, box.id);
      assert.equal(after.unseen, 2, 'uid 2 unseen again, uid 3 never seen');
      assert.equal(after.highestModseq, replaced.updated[0]!.modseq);
      const states = (await listMessages(store, box.id)).messages;
      assert.deepEqual(
        states.map((state) => state.modseq),
        [firstModseq, removed.updated[0]!.modseq, replaced.updated[0]!.modseq],
      );
    });

    it('honours CONDSTORE UNCHANGEDSINCE (RFC 7162 §3.1.3)', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const box = await createMailbox(store, ACCOUNT, 'Cond');
      for (let index = 1; index <= 3; index++) await appendMessage(store, box, sampleMessage(index));
      const baseline = (await getMailbox(store, box.id)).highestModseq;
      const other = await updateFlags(store, box, [2], { mode: 'add', flags: ['\\Flagged'] });
      const result = await updateFlags(store, box, [1, 2, 3], {
        mode: 'add',
        flags: ['\\Deleted'],
        unchangedSince: baseline,
      });
      assert.deepEqual(result.failed, [2], 'changed after UNCHANGEDSINCE: MODIFIED');
      assert.deepEqual(
        result.updated.map((entry) => entry.uid),
        [1, 3],
      );
      assert.deepEqual((await getMessage(store, box.id, 2))?.flags, ['\\Flagged']);
      assert.equal((await getMessage(store, box.id, 2))?.modseq, other.updated[0]!.modseq);
      const zero = await updateFlags(store, box, [1], { mode: 'add', flags: ['x'], unchangedSince: 0 });
      assert.deepEqual(zero.failed, [1], 'UNCHANGEDSINCE 0 always fails for existing messages');
    });

    it('marks expunged entries, keeps them, releases counters and lists them by expunge time', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const box = await createMailbox(store, ACCOUNT, 'Expunge');
      for (let index = 1; index <= 4; index++) await appendMessage(store, box, sampleMessage(index, { size: 100 }));
      const start = new Date();
      const result = await expungeMessages(store, box, [2, 3, 3, 42]);
      assert.deepEqual(result.expunged, [2, 3]);
      assert.ok(result.modseq);
      const again = await expungeMessages(store, box, [2]);
      assert.deepEqual(again, { expunged: [] }, 'expunging twice changes nothing');

      const state = await getMessage(store, box.id, 2);
      assert.equal(state?.expunged, true);
      assert.equal(state?.modseq, result.modseq);
      assert.ok(state?.expungedAt && state.expungedAt.getTime() >= start.getTime() - 1000);
      assert.deepEqual(
        await updateFlags(store, box, [2], { mode: 'add', flags: ['\\Seen'] }),
        { updated: [], unchanged: [], failed: [] },
        'expunged entries are not STOREd to',
      );
      const mailbox = await getMailbox(store, box.id);
      assert.equal(mailbox.messages, 2);
      assert.equal(mailbox.size, 200);
      assert.equal(mailbox.unseen, 2);

      const since = await listExpungedSince(store, box.id, start);
      assert.deepEqual(
        since.messages.map((message) => message.uid),
        [2, 3],
      );
      assert.deepEqual((await listExpungedSince(store, box.id, new Date(Date.now() + 60_000))).messages, []);
    });

    it('reports changes since a MODSEQ: flag changes, new messages, expunges (QRESYNC VANISHED)', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const box = await createMailbox(store, ACCOUNT, 'Sync');
      for (let index = 1; index <= 5; index++) await appendMessage(store, box, sampleMessage(index));
      const known = await changesSince(store, box.id, 0);
      assert.deepEqual(
        known.changed.map((state) => state.uid),
        [1, 2, 3, 4, 5],
      );
      assert.equal(known.uidNext, 6);
      const checkpoint = known.highestModseq;

      await updateFlags(store, box, [2], { mode: 'add', flags: ['\\Seen'] });
      await expungeMessages(store, box, [4]);
      await appendMessage(store, box, sampleMessage(6));
      await updateFlags(store, box, [6], { mode: 'add', flags: ['\\Flagged'] });

      const changes = await changesSince(store, box.id, checkpoint);
      assert.deepEqual(
        changes.changed.map((state) => [state.uid, state.flags]),
        [
          [2, ['\\Seen']],
          [6, ['\\Flagged']],
        ],
      );
      assert.deepEqual(changes.vanished, [4]);
      assert.equal(changes.uidNext, 7);
      assert.equal(changes.highestModseq, (await getMailbox(store, box.id)).highestModseq);
      assert.equal(changes.vanishedComplete, true);
      assert.equal(changes.next, undefined);

      const nothing = await changesSince(store, box.id, changes.highestModseq);
      assert.deepEqual([nothing.changed, nothing.vanished], [[], []]);

      // Paging: a small limit returns the same set over several calls.
      const paged: number[] = [];
      let cursor: string | undefined;
      do {
        const page = await changesSince(store, box.id, 0, { limit: 2, ...(cursor ? { cursor } : {}) });
        paged.push(...page.changed.map((state) => state.uid), ...page.vanished);
        cursor = page.next;
      } while (cursor);
      assert.deepEqual(
        paged.sort((a, b) => a - b),
        [1, 2, 3, 4, 5, 6],
      );
    });

    it('copies and moves entries to new UIDs in the target, sharing the blob', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const source = await createMailbox(store, ACCOUNT, 'Source');
      const target = await createMailbox(store, ACCOUNT, 'Target');
      await appendMessage(store, target, sampleMessage(100));
      for (let index = 1; index <= 4; index++) {
        await appendMessage(store, source, sampleMessage(index, { flags: index === 1 ? ['\\Seen', 'Work'] : [] }));
      }
      await expungeMessages(store, source, [4]);

      const copied = await copyMessages(store, source, [1, 2, 4, 9], target);
      assert.equal(copied.uidValidity, target.uidValidity);
      assert.deepEqual(copied.mapping, [
        { source: 1, target: 2 },
        { source: 2, target: 3 },
      ]);
      const copy = await getMessage(store, target.id, 2);
      assert.deepEqual(copy?.flags, ['\\Seen', 'Work']);
      assert.equal(copy?.blobKey, 'msg/test/1');
      assert.equal(copy?.internalDate.getTime(), sampleMessage(1).internalDate.getTime());
      assert.deepEqual((await getMessageDetails(store, target.id, 2))?.envelope, sampleMessage(1).envelope);
      assert.equal(await blobReferenceCount(store, 'msg/test/1'), 2);
      assert.equal((await listMessages(store, source.id)).messages.length, 3, 'COPY leaves the source');

      const moved = await moveMessages(store, source, [3], target);
      assert.deepEqual(moved.mapping, [{ source: 3, target: 4 }]);
      assert.deepEqual(moved.expunged, [3]);
      assert.equal((await getMessage(store, source.id, 3))?.expunged, true);
      assert.equal((await getMessage(store, target.id, 4))?.blobKey, 'msg/test/3');
      const targetBox = await getMailbox(store, target.id);
      assert.equal(targetBox.messages, 4);
      assert.equal(targetBox.unseen, 3);
      const sourceBox = await getMailbox(store, source.id);
      assert.equal(sourceBox.messages, 2);

      await deleteMailbox(store, ACCOUNT, 'Target');
      await assert.rejects(copyMessages(store, source, [1], target), MailboxNotFoundError);
    });

    it('unexpunges as new entries with new UIDs, once', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const box = await createMailbox(store, ACCOUNT, 'Restore');
      await appendMessage(store, box, sampleMessage(1, { flags: ['\\Seen'] }));
      await appendMessage(store, box, sampleMessage(2));
      await expungeMessages(store, box, [1, 2]);
      const restored = await unexpungeMessages(store, box, [1]);
      assert.deepEqual(restored.mapping, [{ source: 1, target: 3 }]);
      const state = await getMessage(store, box.id, 3);
      assert.deepEqual(state?.flags, ['\\Seen']);
      assert.equal(state?.blobKey, 'msg/test/1');
      assert.equal((await getMessage(store, box.id, 1))?.restoredAs, 3);
      assert.deepEqual((await unexpungeMessages(store, box, [1])).mapping, [], 'not restored twice');
      assert.equal(await blobReferenceCount(store, 'msg/test/1'), 2, 'the expunged entry still holds its reference');
      assert.equal((await getMailboxStatus(store, box.id)).messages, 1);
    });

    it('does not report a write that is still in flight, and gives up on a crashed one after settling', async (t) => {
      const settleMs = 300;
      const { store, stores } = await openTestStore(t, adapters, { settleMs });
      const box = await createMailbox(store, ACCOUNT, 'Settle');
      await appendMessage(store, box, sampleMessage(1));
      const settledBefore = await getMailboxStatus(store, box.id);
      // What a writer that died right after taking its UID leaves behind: the allocation only.
      await stores.metadata.update(`mbox#${box.id}`, 'mailbox', {
        add: { uidnext: 1, highestmodseq: 1, messages: 1, unseen: 1, size: 10 },
        set: { changedAt: Date.now() },
      });
      const landedAfter = await appendMessage(store, box, sampleMessage(3));
      const early = await changesSince(store, box.id, settledBefore.highestModseq);
      assert.equal(early.highestModseq, settledBefore.highestModseq, 'the gap holds the settled MODSEQ back');
      assert.equal(early.uidNext, 2, 'UID 3 is not announced while UID 2 may still appear');
      assert.deepEqual(early.changed, []);

      await sleep(settleMs + 50);
      const late = await changesSince(store, box.id, settledBefore.highestModseq);
      assert.equal(late.highestModseq, landedAfter.modseq);
      assert.equal(late.uidNext, 4);
      assert.deepEqual(
        late.changed.map((state) => state.uid),
        [3],
      );
      assert.equal((await getMailboxStatus(store, box.id)).highestModseq, landedAfter.modseq);
    });
  });
}
