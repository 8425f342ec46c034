import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ANYONE,
  createMailbox,
  getMailboxByName,
  grantsRight,
  InvalidAclError,
  MailboxNotFoundError,
  openMailStore,
  setMailboxRights,
} from '../../../shared/mailbox/index.ts';
import { adapterSets } from '../../support/stores.ts';

for (const adapters of adapterSets) {
  describe(`mailbox ACL (${adapters.name})`, () => {
    it('stores rights per identifier on the mailbox, read back with it', async () => {
      const stores = await adapters.open();
      try {
        const store = openMailStore(stores.metadata);
        const mailbox = await createMailbox(store, 'acct-1', 'lists');
        assert.deepEqual(mailbox.acl, {});
        assert.equal(grantsRight(mailbox, ANYONE, 'p'), false);
        await setMailboxRights(store, mailbox.id, ANYONE, 'pl');
        await setMailboxRights(store, mailbox.id, 'acct-2', 'lrs');
        const read = await getMailboxByName(store, 'acct-1', 'lists');
        assert.deepEqual(read.acl, { anyone: 'lp', 'acct-2': 'lrs' });
        assert.equal(grantsRight(read, ANYONE, 'p'), true);
        assert.equal(grantsRight(read, 'acct-2', 'p'), false);
        await setMailboxRights(store, mailbox.id, ANYONE, '');
        assert.deepEqual((await getMailboxByName(store, 'acct-1', 'lists')).acl, { 'acct-2': 'lrs' });
      } finally {
        await stores.cleanup();
      }
    });

    it('keeps both of two concurrent changes', async () => {
      const stores = await adapters.open();
      try {
        const store = openMailStore(stores.metadata);
        const mailbox = await createMailbox(store, 'acct-1', 'team');
        await Promise.all(['a', 'b', 'c', 'd'].map((who) => setMailboxRights(store, mailbox.id, who, 'r')));
        assert.deepEqual(Object.keys((await getMailboxByName(store, 'acct-1', 'team')).acl).sort(), [
          'a',
          'b',
          'c',
          'd',
        ]);
      } finally {
        await stores.cleanup();
      }
    });

    it('refuses bad identifiers, unknown rights and missing mailboxes', async () => {
      const stores = await adapters.open();
      try {
        const store = openMailStore(stores.metadata);
        const mailbox = await createMailbox(store, 'acct-1', 'x');
        await assert.rejects(setMailboxRights(store, mailbox.id, '', 'p'), InvalidAclError);
        await assert.rejects(setMailboxRights(store, mailbox.id, 'a b', 'p'), InvalidAclError);
        await assert.rejects(setMailboxRights(store, mailbox.id, ANYONE, 'pz'), InvalidAclError);
        await assert.rejects(setMailboxRights(store, 'no-such-id', ANYONE, 'p'), MailboxNotFoundError);
      } finally {
        await stores.cleanup();
      }
    });
  });
}
