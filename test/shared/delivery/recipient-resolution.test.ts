/**
 * Every RCPT TO rule of recipient-resolution.ts, against the real directory and mail store on the
 * local adapters. The same rules are driven end to end over SMTP in test/fargate/smtp.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setMailboxRights, sharedMailboxOwner } from '../../../shared/acl/index.ts';
import {
  MAX_ALIAS_DEPTH,
  type Resolution,
  type ResolutionDependencies,
  resolveRecipient,
} from '../../../shared/delivery/recipient-resolution.ts';
import { MailStoreRecipients } from '../../../shared/delivery/shared-mailboxes.ts';
import { Directory } from '../../../shared/directory/directory.ts';
import { appendMessage, createMailbox, getMailboxByName, openMailStore } from '../../../shared/mailbox/index.ts';
import { temporaryKeyVault } from '../../support/key-vaults.ts';
import { localAdapters, type StoreSet } from '../../support/stores.ts';

describe('recipient resolution', () => {
  let stores: StoreSet;
  let deps: ResolutionDependencies;
  const ids: Record<string, string> = {};

  before(async () => {
    stores = await localAdapters.open();
    const directory = new Directory(stores.metadata, { keyVault: await temporaryKeyVault() });
    const mailStore = openMailStore(stores.metadata);
    const recipients = new MailStoreRecipients(mailStore);
    deps = { directory, sharedMailboxes: recipients, quota: recipients, primaryDomain: 'example.com' };
    await directory.addDomain('example.com');
    await directory.addDomain('example.net');
    for (const name of ['alice', 'bob', 'postmaster']) {
      ids[name] = (await directory.addAccount(`${name}@example.com`, { password: 'correct horse battery' })).id;
    }
    ids.full = (
      await directory.addAccount('full@example.com', { password: 'correct horse battery', quota: { messages: 1 } })
    ).id;
    const fullInbox = await getMailboxByName(mailStore, ids.full, 'INBOX');
    await stores.blobs.put('msg/test/filler', Buffer.from('Subject: filler\r\n\r\nx\r\n'));
    await appendMessage(mailStore, fullInbox, {
      blobKey: 'msg/test/filler',
      size: 22,
      internalDate: new Date(),
      envelope: null,
      bodyStructure: null,
    });
    await directory.addAlias('sales@example.com', ['alice@example.com', 'bob@example.com']);
    await directory.addAlias('team@example.com', ['alice@example.com'], { suffixes: true });
    await directory.addAlias('news@example.com', ['alice@example.com', 'carol@remote.example'], { bulk: true });
    await directory.addAlias('all@example.com', ['sales@example.com', 'news@example.com']);
    await directory.addAlias('ring1@example.com', ['ring2@example.com']);
    await directory.addAlias('ring2@example.com', ['ring1@example.com', 'bob@example.com']);
    await directory.addAlias('gone@example.com', ['nobody@example.com']);
    await directory.addAlias('stuffed@example.com', ['full@example.com']);
    for (let level = 0; level <= MAX_ALIAS_DEPTH; level++) {
      await directory.addAlias(`deep${level}@example.com`, [`deep${level + 1}@example.com`]);
    }
    const owner = sharedMailboxOwner('example.com');
    const open = await createMailbox(mailStore, owner, 'support');
    await setMailboxRights(mailStore, open.id, 'anyone', 'p', directory);
    await createMailbox(mailStore, owner, 'private');
  });

  after(() => stores.cleanup());

  const resolve = (address: string, mayRelay = false) => resolveRecipient(address, { mayRelay }, deps);
  const accepted = (resolution: Resolution) => {
    assert.ok(resolution.accepted, `rejected: ${JSON.stringify(resolution)}`);
    return resolution.recipient;
  };
  const rejected = (resolution: Resolution) => {
    assert.ok(!resolution.accepted, `accepted: ${JSON.stringify(resolution)}`);
    return resolution.reason;
  };

  it('an account: its INBOX, whatever the case of the address', async () => {
    const recipient = accepted(await resolve('Alice@Example.COM'));
    assert.deepEqual(recipient.local, [
      { kind: 'account', owner: ids.alice, address: 'alice@example.com', bulk: false, quota: {} },
    ]);
    assert.deepEqual(recipient.remote, []);
  });

  it('plus addressing: the detail names the mailbox the filter step will consider, case kept, nesting allowed', async () => {
    assert.equal(accepted(await resolve('alice+Lists@example.com')).local[0]!.mailbox, 'Lists');
    assert.equal(accepted(await resolve('alice+lists/rust@example.com')).local[0]!.mailbox, 'lists/rust');
    assert.equal(accepted(await resolve('alice+@example.com')).local[0]!.mailbox, undefined);
  });

  it('`--` and `__` are rewritten to `+` first', async () => {
    assert.equal(accepted(await resolve('alice--lists@example.com')).local[0]!.mailbox, 'lists');
    assert.equal(accepted(await resolve('alice__lists@example.com')).local[0]!.mailbox, 'lists');
    assert.equal(accepted(await resolve('team--anything@example.com')).local[0]!.owner, ids.alice);
  });

  it('an alias: its targets, each mailbox once', async () => {
    const recipient = accepted(await resolve('sales@example.com'));
    assert.deepEqual(
      recipient.local.map((target) => target.owner),
      [ids.alice, ids.bob],
    );
  });

  it('an alias with suffixes takes local+anything and drops the suffix; one without does not', async () => {
    const recipient = accepted(await resolve('team+whatever@example.com'));
    assert.deepEqual(recipient.local, [
      { kind: 'account', owner: ids.alice, address: 'alice@example.com', bulk: false, quota: {} },
    ]);
    assert.equal(rejected(await resolve('sales+x@example.com')), 'unknown-recipient');
  });

  it('a bulk alias marks its local targets bulk and forwards its remote ones', async () => {
    const recipient = accepted(await resolve('news@example.com'));
    assert.deepEqual(recipient.local, [
      { kind: 'account', owner: ids.alice, address: 'alice@example.com', bulk: true, quota: {} },
    ]);
    assert.deepEqual(recipient.remote, ['carol@remote.example']);
  });

  it('nested aliases expand, and a mailbox reached directly as well as through bulk is not bulk', async () => {
    const recipient = accepted(await resolve('all@example.com'));
    assert.deepEqual(
      recipient.local.map((target) => [target.owner, target.bulk]),
      [
        [ids.alice, false],
        [ids.bob, false],
      ],
    );
    assert.deepEqual(recipient.remote, ['carol@remote.example']);
  });

  it('alias cycles end; nesting deeper than the limit is refused', async () => {
    assert.deepEqual(
      accepted(await resolve('ring1@example.com')).local.map((target) => target.owner),
      [ids.bob],
    );
    assert.equal(rejected(await resolve('deep0@example.com')), 'alias-loop');
  });

  it('an alias whose targets are all gone is unknown', async () => {
    assert.equal(rejected(await resolve('gone@example.com')), 'unknown-recipient');
  });

  it('`+name/@domain`: the shared mailbox, only if anyone may post there', async () => {
    assert.deepEqual(accepted(await resolve('+support/@example.com')).local, [
      {
        kind: 'shared',
        owner: sharedMailboxOwner('example.com'),
        address: '+support/@example.com',
        mailbox: 'support',
        bulk: false,
        quota: {},
      },
    ]);
    assert.equal(rejected(await resolve('+private/@example.com')), 'unknown-recipient');
    assert.equal(rejected(await resolve('+missing/@example.com')), 'unknown-recipient');
    assert.equal(rejected(await resolve('+INBOX/@example.com')), 'unknown-recipient');
    assert.equal(rejected(await resolve('+support@example.com')), 'unknown-recipient');
  });

  it('unknown names, and names no account could have, are unknown', async () => {
    for (const address of ['nobody@example.com', 'a.-b@example.com', '.x@example.com', 'x..y@example.com']) {
      assert.equal(rejected(await resolve(address)), 'unknown-recipient', address);
    }
  });

  it('the percent hack, bang paths and quoted local parts are refused for our domains', async () => {
    assert.equal(rejected(await resolve('alice%remote.example@example.com')), 'relay-syntax');
    assert.equal(rejected(await resolve('remote.example!alice@example.com')), 'relay-syntax');
    assert.equal(rejected(await resolve('"alice@remote.example"@example.com')), 'quoted-local-part');
    assert.equal(rejected(await resolve('"alice"@example.com')), 'quoted-local-part');
  });

  it('another domain: relay denied unless the client may relay', async () => {
    assert.equal(rejected(await resolve('someone@remote.example')), 'relay-denied');
    assert.equal(rejected(await resolve('alice%example.com@remote.example')), 'relay-denied');
    assert.deepEqual(accepted(await resolve('Someone@Remote.Example', true)).remote, ['Someone@remote.example']);
  });

  it('an account whose quota is used up is refused at RCPT time, directly or through an alias', async () => {
    assert.equal(rejected(await resolve('full@example.com')), 'mailbox-full');
    assert.equal(rejected(await resolve('stuffed@example.com')), 'mailbox-full');
  });

  it('domainless postmaster (RFC 5321 §4.1.1.3) is the primary domain’s postmaster', async () => {
    assert.equal(accepted(await resolve('Postmaster')).local[0]!.owner, ids.postmaster);
  });

  it('malformed domains are refused as bad addresses', async () => {
    assert.equal(rejected(await resolve('a@[192.0.2.1]')), 'invalid-address');
    assert.equal(rejected(await resolve('a@exa mple.com')), 'invalid-address');
    assert.equal(rejected(await resolve('a@')), 'invalid-address');
  });
});
