import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getMailboxStatus } from '../../../shared/mailbox/changes.ts';
import {
  InvalidMailboxNameError,
  MailboxExistsError,
  MailboxNotFoundError,
  MailboxOperationNotAllowedError,
} from '../../../shared/mailbox/errors.ts';
import { getMailbox } from '../../../shared/mailbox/mailbox-record.ts';
import {
  createDefaultMailboxes,
  createMailbox,
  deleteMailbox,
  getMailboxByName,
  listDeletedMailboxes,
  listMailboxes,
  listSubscriptions,
  renameMailbox,
  subscribe,
  undeleteMailbox,
  unsubscribe,
} from '../../../shared/mailbox/mailboxes.ts';
import { appendMessage, listMessages } from '../../../shared/mailbox/messages.ts';
import { getQuotaUsage } from '../../../shared/mailbox/quota.ts';
import { adapterSets } from '../../support/stores.ts';
import { ACCOUNT, openTestStore, sampleMessage } from './mail-fixtures.ts';

for (const adapters of adapterSets) {
  describe(`mailboxes on ${adapters.name}`, () => {
    it('creates the default mailboxes with their special uses, subscribed, idempotently', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const first = await createDefaultMailboxes(store, ACCOUNT);
      const again = await createDefaultMailboxes(store, ACCOUNT);
      assert.deepEqual(
        first.map((mailbox) => [mailbox.name, mailbox.specialUse]),
        [
          ['INBOX', undefined],
          ['Sent', '\\Sent'],
          ['Drafts', '\\Drafts'],
          ['Trash', '\\Trash'],
          ['Junk', '\\Junk'],
          ['Archive', '\\Archive'],
        ],
      );
      assert.deepEqual(
        again.map((mailbox) => mailbox.id),
        first.map((mailbox) => mailbox.id),
      );
      const listed = await listMailboxes(store, ACCOUNT);
      assert.deepEqual(listed.map((mailbox) => mailbox.name).sort(), [
        'Archive',
        'Drafts',
        'INBOX',
        'Junk',
        'Sent',
        'Trash',
      ]);
      assert.deepEqual((await listSubscriptions(store, ACCOUNT)).sort(), [
        'Archive',
        'Drafts',
        'INBOX',
        'Junk',
        'Sent',
        'Trash',
      ]);
      const uidValidities = new Set(listed.map((mailbox) => mailbox.uidValidity));
      assert.equal(uidValidities.size, listed.length, 'UIDVALIDITY is unique per account');
    });

    it('treats INBOX case-insensitively, creates it on first use, and keeps other names exact', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const inbox = await getMailboxByName(store, ACCOUNT, 'inbox');
      assert.equal(inbox.name, 'INBOX');
      assert.equal((await getMailboxByName(store, ACCOUNT, 'InBoX')).id, inbox.id);
      await createMailbox(store, ACCOUNT, 'inbox/Lists');
      assert.equal((await getMailboxByName(store, ACCOUNT, 'INBOX/Lists')).name, 'INBOX/Lists');
      await createMailbox(store, ACCOUNT, 'Work');
      await assert.rejects(getMailboxByName(store, ACCOUNT, 'work'), MailboxNotFoundError);
      await assert.rejects(createMailbox(store, ACCOUNT, 'Work'), MailboxExistsError);
      await assert.rejects(createMailbox(store, ACCOUNT, 'INBOX'), MailboxExistsError);
      // UTF-8 names, normalized to NFC: the decomposed spelling finds the composed one.
      const composed = await createMailbox(store, ACCOUNT, 'Entw\u00fcrfe');
      assert.equal((await getMailboxByName(store, ACCOUNT, 'Entwu\u0308rfe')).id, composed.id);
    });

    it('rejects malformed names with InvalidMailboxNameError', async (t) => {
      const { store } = await openTestStore(t, adapters);
      for (const name of ['', '/a', 'a/', 'a//b', 'a\u0000b', 'a*', 'a%b', 'x'.repeat(600), `${'a/'.repeat(40)}a`]) {
        await assert.rejects(createMailbox(store, ACCOUNT, name), InvalidMailboxNameError, JSON.stringify(name));
      }
    });

    it('creates missing superior names (RFC 9051 §6.3.4)', async (t) => {
      const { store } = await openTestStore(t, adapters);
      await createMailbox(store, ACCOUNT, 'Projects/2024/Q1');
      const names = (await listMailboxes(store, ACCOUNT)).map((mailbox) => mailbox.name);
      assert.deepEqual(names.sort(), ['INBOX', 'Projects', 'Projects/2024', 'Projects/2024/Q1']);
    });

    it('renames a mailbox with its inferiors, keeping ids, messages and subscriptions', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const parent = await createMailbox(store, ACCOUNT, 'Work');
      const child = await createMailbox(store, ACCOUNT, 'Work/Clients');
      const grandchild = await createMailbox(store, ACCOUNT, 'Work/Clients/Acme');
      const sibling = await createMailbox(store, ACCOUNT, 'Workshop');
      await appendMessage(store, child, sampleMessage(1));
      await subscribe(store, ACCOUNT, 'Work/Clients');
      await subscribe(store, ACCOUNT, 'Workshop');

      const renamed = await renameMailbox(store, ACCOUNT, 'Work', 'Archive/Old Work');
      assert.equal(renamed.id, parent.id);
      assert.equal(renamed.uidValidity, parent.uidValidity);
      assert.equal((await getMailboxByName(store, ACCOUNT, 'Archive/Old Work/Clients')).id, child.id);
      assert.equal((await getMailboxByName(store, ACCOUNT, 'Archive/Old Work/Clients/Acme')).id, grandchild.id);
      assert.equal(
        (await getMailboxByName(store, ACCOUNT, 'Workshop')).id,
        sibling.id,
        'a sibling sharing the prefix stays',
      );
      await assert.rejects(getMailboxByName(store, ACCOUNT, 'Work'), MailboxNotFoundError);
      await assert.rejects(getMailboxByName(store, ACCOUNT, 'Work/Clients'), MailboxNotFoundError);
      assert.equal((await listMessages(store, child.id)).messages.length, 1);
      const names = (await listMailboxes(store, ACCOUNT)).map((mailbox) => mailbox.name).sort();
      assert.deepEqual(names, [
        'Archive',
        'Archive/Old Work',
        'Archive/Old Work/Clients',
        'Archive/Old Work/Clients/Acme',
        'INBOX',
        'Workshop',
      ]);
      assert.deepEqual((await listSubscriptions(store, ACCOUNT)).sort(), ['Archive/Old Work/Clients', 'Workshop']);
      // The old name is free again and gets a new UIDVALIDITY.
      const reused = await createMailbox(store, ACCOUNT, 'Work');
      assert.notEqual(reused.id, parent.id);
      assert.notEqual(reused.uidValidity, parent.uidValidity);
    });

    it('refuses renames onto existing names, into themselves, or of missing mailboxes', async (t) => {
      const { store } = await openTestStore(t, adapters);
      await createMailbox(store, ACCOUNT, 'A/B');
      await createMailbox(store, ACCOUNT, 'C/B');
      await assert.rejects(renameMailbox(store, ACCOUNT, 'A', 'C'), MailboxExistsError, 'an inferior would collide');
      await assert.rejects(renameMailbox(store, ACCOUNT, 'A', 'A/X'), MailboxOperationNotAllowedError);
      await assert.rejects(renameMailbox(store, ACCOUNT, 'Nope', 'Other'), MailboxNotFoundError);
      assert.ok(await getMailboxByName(store, ACCOUNT, 'A/B'), 'nothing changed');
    });

    it('renaming INBOX moves its messages into a new mailbox and leaves INBOX empty (RFC 3501 §6.3.5)', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const inbox = await getMailboxByName(store, ACCOUNT, 'INBOX');
      const inboxChild = await createMailbox(store, ACCOUNT, 'INBOX/Receipts');
      for (let index = 1; index <= 3; index++) {
        await appendMessage(store, inbox, sampleMessage(index, { flags: index === 2 ? ['\\Seen'] : [] }));
      }
      const moved = await renameMailbox(store, ACCOUNT, 'INBOX', 'Old Mail');
      assert.equal(moved.name, 'Old Mail');
      assert.notEqual(moved.id, inbox.id);
      const movedMessages = (await listMessages(store, moved.id)).messages;
      assert.deepEqual(
        movedMessages.map((message) => [message.blobKey, message.flags]),
        [
          ['msg/test/1', []],
          ['msg/test/2', ['\\Seen']],
          ['msg/test/3', []],
        ],
      );
      const inboxAfter = await getMailboxByName(store, ACCOUNT, 'INBOX');
      assert.equal(inboxAfter.id, inbox.id, 'INBOX keeps its identity');
      assert.equal((await listMessages(store, inbox.id)).messages.length, 0);
      assert.equal(inboxAfter.messages, 0);
      assert.equal(
        (await getMailboxByName(store, ACCOUNT, 'INBOX/Receipts')).id,
        inboxChild.id,
        'inferiors unaffected',
      );
      assert.equal((await getQuotaUsage(store, ACCOUNT)).messages, 3, 'moving does not change usage');
    });

    it('deletes into the hidden DELETED/ namespace, keeps inferiors, and can undelete', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const parent = await createMailbox(store, ACCOUNT, 'Travel');
      const child = await createMailbox(store, ACCOUNT, 'Travel/2023');
      await appendMessage(store, parent, sampleMessage(1));
      await appendMessage(store, parent, sampleMessage(2));
      await subscribe(store, ACCOUNT, 'Travel');
      assert.equal((await getQuotaUsage(store, ACCOUNT)).messages, 2);

      await deleteMailbox(store, ACCOUNT, 'Travel');
      await assert.rejects(getMailboxByName(store, ACCOUNT, 'Travel'), MailboxNotFoundError);
      await assert.rejects(getMailbox(store, parent.id), MailboxNotFoundError);
      await assert.rejects(appendMessage(store, parent, sampleMessage(3)), MailboxNotFoundError);
      const visible = (await listMailboxes(store, ACCOUNT)).map((mailbox) => mailbox.name).sort();
      assert.deepEqual(visible, ['INBOX', 'Travel/2023'], 'the inferior stays (RFC 9051 §6.3.9)');
      assert.equal((await getMailboxByName(store, ACCOUNT, 'Travel/2023')).id, child.id);
      assert.deepEqual(await listSubscriptions(store, ACCOUNT), ['Travel'], 'subscriptions stay');
      assert.deepEqual(await getQuotaUsage(store, ACCOUNT), { bytes: 0, messages: 0 }, 'deleted mail does not count');

      const deleted = await listDeletedMailboxes(store, ACCOUNT);
      assert.equal(deleted.length, 1);
      assert.equal(deleted[0]!.mailboxId, parent.id);
      assert.equal(deleted[0]!.name, 'Travel');
      assert.equal(deleted[0]!.messages, 2);
      assert.ok(Date.now() - deleted[0]!.deletedAt.getTime() < 60_000);
      // Messages are kept in the deleted mailbox.
      assert.equal((await listMessages(store, parent.id)).messages.length, 2);

      // The name can be reused at once; the new mailbox is a different one.
      const reused = await createMailbox(store, ACCOUNT, 'Travel');
      assert.notEqual(reused.uidValidity, parent.uidValidity);
      await assert.rejects(undeleteMailbox(store, ACCOUNT, parent.id), MailboxExistsError);
      const restored = await undeleteMailbox(store, ACCOUNT, parent.id, 'Travel (restored)');
      assert.equal(restored.id, parent.id);
      assert.equal(restored.uidValidity, parent.uidValidity);
      assert.equal(restored.messages, 2);
      assert.deepEqual(await listDeletedMailboxes(store, ACCOUNT), []);
      assert.equal((await getQuotaUsage(store, ACCOUNT)).messages, 2, 'undelete charges the quota again');
    });

    it('refuses to delete INBOX or a missing mailbox', async (t) => {
      const { store } = await openTestStore(t, adapters);
      await assert.rejects(deleteMailbox(store, ACCOUNT, 'inbox'), MailboxOperationNotAllowedError);
      await assert.rejects(deleteMailbox(store, ACCOUNT, 'Missing'), MailboxNotFoundError);
    });

    it('subscribes and unsubscribes any valid name', async (t) => {
      const { store } = await openTestStore(t, adapters);
      await subscribe(store, ACCOUNT, 'Not/Created/Yet');
      await subscribe(store, ACCOUNT, 'inbox');
      await subscribe(store, ACCOUNT, 'INBOX');
      assert.deepEqual(await listSubscriptions(store, ACCOUNT), ['INBOX', 'Not/Created/Yet']);
      assert.equal(await unsubscribe(store, ACCOUNT, 'Not/Created/Yet'), true);
      assert.equal(await unsubscribe(store, ACCOUNT, 'Not/Created/Yet'), false);
      assert.deepEqual(await listSubscriptions(store, ACCOUNT), ['INBOX']);
    });

    it('keeps accounts apart', async (t) => {
      const { store } = await openTestStore(t, adapters);
      await createMailbox(store, ACCOUNT, 'Private');
      await assert.rejects(getMailboxByName(store, 'bob@example.com', 'Private'), MailboxNotFoundError);
      const bobInbox = await getMailboxByName(store, 'bob@example.com', 'INBOX');
      const aliceInbox = await getMailboxByName(store, ACCOUNT, 'INBOX');
      assert.notEqual(bobInbox.id, aliceInbox.id);
      // A message op naming the wrong account for a mailbox is refused.
      await assert.rejects(
        appendMessage(store, { id: aliceInbox.id, account: 'bob@example.com' }, sampleMessage(1)),
        MailboxNotFoundError,
      );
    });

    it('reports STATUS counters', async (t) => {
      const { store } = await openTestStore(t, adapters);
      const box = await createMailbox(store, ACCOUNT, 'Status');
      await appendMessage(store, box, sampleMessage(1, { size: 100 }));
      await appendMessage(store, box, sampleMessage(2, { size: 200, flags: ['\\Seen'] }));
      const status = await getMailboxStatus(store, box.id);
      assert.deepEqual(status, {
        uidValidity: box.uidValidity,
        uidNext: 3,
        highestModseq: 3,
        messages: 2,
        unseen: 1,
        size: 300,
      });
    });
  });
}
