/**
 * The ACL module: rights syntax (RFC 4314 §2.1.1 `c`/`d`, SETACL's +/-), identifiers, mailbox paths, and
 * the rights matrix — every right × every operation × owner / another account / anyone / anonymous /
 * admin / a negative entry — through ACLs really stored on mailbox items on every adapter set.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import {
  type Accessor,
  ALL_RIGHTS,
  aclEntries,
  allows,
  anyoneMayPost,
  deleteMailboxRights,
  effectiveRights,
  formatMailboxPath,
  formatRights,
  InvalidIdentifierError,
  InvalidRightsError,
  inheritAcl,
  listableRights,
  listGrantedMailboxes,
  MAX_ACL_ENTRIES,
  type MailboxOperation,
  modifyRights,
  normalizeIdentifier,
  OPERATION_RIGHTS,
  OwnerRightsError,
  parseMailboxPath,
  parseRights,
  parseRightsModification,
  permittedFlags,
  resolveMailboxOwner,
  resolveSessionName,
  type SessionMailbox,
  sessionNameOf,
  setMailboxRights,
  sharedMailboxOwner,
  TooManyAclEntriesError,
  UnknownIdentifierError,
} from '../../../shared/acl/index.ts';
import { Directory } from '../../../shared/directory/directory.ts';
import { AccountNotFoundError, DomainNotFoundError } from '../../../shared/directory/errors.ts';
import {
  createMailbox,
  deleteMailbox,
  getMailbox,
  getMailboxByName,
  InvalidMailboxNameError,
  type Mailbox,
  MailboxNotFoundError,
  type MailStore,
  openMailStore,
  renameMailbox,
} from '../../../shared/mailbox/index.ts';
import { keyVaultFor } from '../../support/key-vaults.ts';
import { adapterSets } from '../../support/stores.ts';

const PASSWORD = 'a long enough password';

describe('rights syntax (RFC 4314 §2.1, §2.1.1, §3.1)', () => {
  it('expands c to k and d to x t e, keeps one canonical order, and adds c/d back on output', () => {
    assert.equal(parseRights('lrswida'), 'lrswixtea');
    assert.equal(parseRights('c'), 'k');
    assert.equal(parseRights('d'), 'xte');
    assert.equal(parseRights('aelrrl'), 'lrea');
    assert.equal(parseRights(''), '');
    // The RFC's own examples: "lrswida" comes back with d; "lrswikda" with c and d.
    assert.equal(formatRights(parseRights('lrswida')), 'lrswixtead');
    assert.equal(formatRights(parseRights('lrswikda')), 'lrswikxteacd');
    assert.equal(formatRights('lr'), 'lr');
    assert.equal(formatRights('t'), 'td');
    assert.equal(formatRights(ALL_RIGHTS), 'lrswipkxteacd');
  });

  it('refuses unknown, upper-case, digit and overlong rights instead of ignoring them', () => {
    for (const bad of ['lrQ', 'q', '0', 'l r', 'x'.repeat(65)]) {
      assert.throws(() => parseRights(bad), InvalidRightsError, bad);
    }
  });

  it('applies SETACL modifications: replace, +add, -remove', () => {
    assert.deepEqual(parseRightsModification('+cda'), { mode: 'add', rights: 'kxtea' });
    assert.deepEqual(parseRightsModification('-w'), { mode: 'remove', rights: 'w' });
    assert.equal(modifyRights('lrswi', parseRightsModification('+cda')), 'lrswikxtea');
    assert.equal(modifyRights('lrswi', parseRightsModification('-sw')), 'lri');
    assert.equal(modifyRights('lrswi', parseRightsModification('lr')), 'lr');
    assert.equal(modifyRights('lrswi', parseRightsModification('')), '');
    assert.throws(() => parseRightsModification('+lrZ'), InvalidRightsError);
  });
});

describe('identifiers and mailbox paths', () => {
  it('normalizes identifiers and refuses anything else', () => {
    assert.equal(normalizeIdentifier('Anyone'), 'anyone');
    assert.equal(normalizeIdentifier('ANONYMOUS'), 'anonymous');
    assert.equal(normalizeIdentifier('Bob@Example.COM'), 'bob@example.com');
    assert.equal(normalizeIdentifier('-bob@example.com'), '-bob@example.com');
    assert.equal(normalizeIdentifier('-anyone'), '-anyone');
    for (const bad of ['', '-', 'bob', 'group:staff', 'bob@', 'a b@example.com', '--bob@example.com']) {
      assert.throws(() => normalizeIdentifier(bad), InvalidIdentifierError, bad);
    }
  });

  it('parses personal paths in both spellings and shared paths, and prints them canonically', () => {
    const cases: [string, string | undefined, string][] = [
      ['user/Bob@Example.com', undefined, 'user/bob@example.com'],
      ['user/bob@example.com/Sent', undefined, 'user/bob@example.com/Sent'],
      ['user/bob/Lists/ietf@example.com', undefined, 'user/bob@example.com/Lists/ietf'],
      ['user/bob', 'example.com', 'user/bob@example.com'],
      ['user/bob/inbox/x', 'example.com', 'user/bob@example.com/INBOX/x'],
      ['news@example.com', undefined, 'news@example.com'],
      ['news/2024@Example.com', undefined, 'news/2024@example.com'],
      ['news', 'example.com', 'news@example.com'],
    ];
    for (const [text, domain, canonical] of cases) {
      assert.equal(formatMailboxPath(parseMailboxPath(text, domain)), canonical, text);
    }
    assert.deepEqual(parseMailboxPath('user/bob@example.com'), {
      kind: 'personal',
      address: 'bob@example.com',
      name: 'INBOX',
    });
    const bad = [
      '',
      'user',
      'user/',
      'user/bob',
      'news',
      'user/bob@example.com//x',
      'a*b@example.com',
      'inbox@x.example',
    ];
    for (const text of [...bad, 'INBOX/news@example.com']) {
      assert.throws(() => parseMailboxPath(text), InvalidMailboxNameError, text);
    }
  });

  it('maps session names in the three namespaces both ways', () => {
    const user = { address: 'alice@example.com', domain: 'example.com' };
    const cases: [string, SessionMailbox, string][] = [
      ['INBOX', { kind: 'own', name: 'INBOX' }, 'INBOX'],
      ['inbox/Lists', { kind: 'own', name: 'INBOX/Lists' }, 'INBOX/Lists'],
      ['Projects/2024', { kind: 'own', name: 'Projects/2024' }, 'Projects/2024'],
      ['user/alice@example.com/Sent', { kind: 'own', name: 'Sent' }, 'Sent'],
      ['user/Bob@example.com', { kind: 'personal', address: 'bob@example.com', name: 'INBOX' }, 'user/bob@example.com'],
      ['user/bob/Sent', { kind: 'personal', address: 'bob@example.com', name: 'Sent' }, 'user/bob@example.com/Sent'],
      [
        'user/carol@other.example/x',
        { kind: 'personal', address: 'carol@other.example', name: 'x' },
        'user/carol@other.example/x',
      ],
      ['Shared/news', { kind: 'shared', domain: 'example.com', name: 'news' }, 'Shared/news'],
      [
        'Shared/news/2024@example.com',
        { kind: 'shared', domain: 'example.com', name: 'news/2024' },
        'Shared/news/2024',
      ],
    ];
    for (const [name, target, shown] of cases) {
      assert.deepEqual(resolveSessionName(name, user), target, name);
      assert.equal(sessionNameOf(target), shown, name);
    }
    for (const bad of ['user', 'Shared', 'Shared/INBOX', 'Shared/news@other.example', 'user/', 'Shared/user/bob']) {
      assert.throws(() => resolveSessionName(bad, user), InvalidMailboxNameError, bad);
    }
  });

  it('lists the rights an identifier can be given (LISTRIGHTS)', () => {
    assert.deepEqual(listableRights('bob@example.com', 'alice@example.com'), {
      required: '',
      optional: [...ALL_RIGHTS, 'c', 'd'],
    });
    assert.deepEqual(listableRights('Alice@example.com', 'alice@example.com'), {
      required: 'lrswipkxteacd',
      optional: [],
    });
  });

  it('drops the flags a missing right does not allow (APPEND, COPY, STORE)', () => {
    const flags = ['\\Seen', '\\Deleted', '\\Answered', '$Forwarded'];
    assert.deepEqual(permittedFlags('s', flags), ['\\Seen']);
    assert.deepEqual(permittedFlags('t', flags), ['\\Deleted']);
    assert.deepEqual(permittedFlags('w', flags), ['\\Answered', '$Forwarded']);
    assert.deepEqual(permittedFlags('lrswit', flags), flags);
    assert.deepEqual(permittedFlags('lri', flags), []);
  });
});

interface World {
  store: MailStore;
  directory: Directory;
  alice: Accessor & { kind: 'account' };
  bob: Accessor & { kind: 'account' };
  boss: Accessor & { kind: 'account' };
  mailbox: Mailbox;
}

async function openWorld(t: TestContext, adapters: (typeof adapterSets)[number]): Promise<World> {
  const stores = await adapters.open();
  t.after(() => stores.cleanup());
  const store = openMailStore(stores.metadata);
  const directory = new Directory(stores.metadata, { keyVault: await keyVaultFor(adapters) });
  await directory.addDomain('example.com');
  const accessor = async (address: string, admin = false) => {
    const account = await directory.addAccount(address, { password: PASSWORD, admin });
    return { kind: 'account' as const, id: account.id, address: account.address, admin };
  };
  const alice = await accessor('alice@example.com');
  const bob = await accessor('bob@example.com');
  const boss = await accessor('boss@example.com', true);
  const mailbox = await createMailbox(store, alice.id, 'Projects');
  return { store, directory, alice, bob, boss, mailbox };
}

const OPERATIONS = Object.keys(OPERATION_RIGHTS) as MailboxOperation[];
const needs = (operation: MailboxOperation, rights: string) =>
  [...OPERATION_RIGHTS[operation]].every((right) => rights.includes(right));

for (const adapters of adapterSets) {
  describe(`stored ACLs on ${adapters.name}`, () => {
    it('matrix: each right × each operation × owner, another account, anyone, anonymous, admin, negative', async (t) => {
      const { store, directory, alice, bob, boss, mailbox } = await openWorld(t, adapters);
      const anonymous: Accessor = { kind: 'anonymous' };
      const read = () => getMailbox(store, mailbox.id);

      // Nobody but the owner and the admin has anything on a fresh mailbox.
      for (const operation of OPERATIONS) {
        const fresh = await read();
        assert.equal(allows(effectiveRights(fresh, alice), operation), true, `owner ${operation}`);
        assert.equal(allows(effectiveRights(fresh, boss), operation), true, `admin ${operation}`);
        assert.equal(allows(effectiveRights(fresh, bob), operation), false, `other ${operation}`);
        assert.equal(allows(effectiveRights(fresh, anonymous), operation), false, `anonymous ${operation}`);
      }

      for (const right of ALL_RIGHTS) {
        // The right granted to bob alone.
        assert.equal(await setMailboxRights(store, mailbox.id, 'bob@example.com', right, directory), right);
        let current = await read();
        for (const operation of OPERATIONS) {
          const expected = needs(operation, right);
          assert.equal(allows(effectiveRights(current, bob), operation), expected, `bob:${right} ${operation}`);
          assert.equal(allows(effectiveRights(current, anonymous), operation), false, `anon, bob:${right}`);
          assert.equal(allows(effectiveRights(current, alice), operation), true, `owner, bob:${right}`);
        }
        await deleteMailboxRights(store, mailbox.id, 'bob@example.com');

        // The right granted to anyone: bob and the anonymous sender both get it.
        await setMailboxRights(store, mailbox.id, 'anyone', right, directory);
        current = await read();
        for (const operation of OPERATIONS) {
          const expected = needs(operation, right);
          assert.equal(allows(effectiveRights(current, bob), operation), expected, `anyone:${right} bob ${operation}`);
          assert.equal(allows(effectiveRights(current, anonymous), operation), expected, `anyone:${right} anon`);
        }
        assert.equal(anyoneMayPost(current), right === 'p');

        // Everything to anyone, but this right taken from bob by a negative entry.
        await setMailboxRights(store, mailbox.id, 'anyone', ALL_RIGHTS, directory);
        await setMailboxRights(store, mailbox.id, '-bob@example.com', right, directory);
        current = await read();
        for (const operation of OPERATIONS) {
          const expected = !OPERATION_RIGHTS[operation].includes(right);
          assert.equal(allows(effectiveRights(current, bob), operation), expected, `-bob:${right} ${operation}`);
          assert.equal(allows(effectiveRights(current, anonymous), operation), true, `-bob:${right} anon`);
          assert.equal(allows(effectiveRights(current, boss), operation), true, `-bob:${right} admin`);
        }
        await deleteMailboxRights(store, mailbox.id, 'anyone');
        await deleteMailboxRights(store, mailbox.id, '-bob@example.com');
      }
      assert.deepEqual((await read()).acl, {});
    });

    it('SETACL, DELETEACL and GETACL: modifications, owner first, c/d on output, bad input changes nothing', async (t) => {
      const { store, directory, mailbox } = await openWorld(t, adapters);
      assert.equal(await setMailboxRights(store, mailbox.id, 'Bob@Example.com', 'lrswida', directory), 'lrswixtea');
      assert.equal(await setMailboxRights(store, mailbox.id, 'bob@example.com', '-da', directory), 'lrswi');
      assert.equal(await setMailboxRights(store, mailbox.id, 'anyone', '+p', directory), 'p');
      assert.deepEqual(aclEntries(await getMailbox(store, mailbox.id), 'alice@example.com'), [
        { identifier: 'alice@example.com', rights: 'lrswipkxteacd' },
        { identifier: 'anyone', rights: 'p' },
        { identifier: 'bob@example.com', rights: 'lrswi' },
      ]);
      const before = await getMailbox(store, mailbox.id);
      await assert.rejects(
        setMailboxRights(store, mailbox.id, 'bob@example.com', 'lrX', directory),
        InvalidRightsError,
      );
      await assert.rejects(
        setMailboxRights(store, mailbox.id, 'nobody@example.com', 'lr', directory),
        UnknownIdentifierError,
      );
      await assert.rejects(setMailboxRights(store, mailbox.id, 'alice@example.com', 'lr', directory), OwnerRightsError);
      await assert.rejects(setMailboxRights(store, mailbox.id, 'staff', 'lr', directory), InvalidIdentifierError);
      assert.deepEqual((await getMailbox(store, mailbox.id)).acl, before.acl);
      // Rights that end up empty remove the entry.
      assert.equal(await setMailboxRights(store, mailbox.id, 'anyone', '-p', directory), '');
      assert.equal(await deleteMailboxRights(store, mailbox.id, 'BOB@example.com'), true);
      assert.equal(await deleteMailboxRights(store, mailbox.id, 'bob@example.com'), false);
      assert.deepEqual((await getMailbox(store, mailbox.id)).acl, {});
    });

    it('concurrent SETACLs on one mailbox all land', async (t) => {
      const { store, directory, mailbox } = await openWorld(t, adapters);
      await Promise.all([
        setMailboxRights(store, mailbox.id, 'bob@example.com', 'lr', directory),
        setMailboxRights(store, mailbox.id, 'anyone', 'p', directory),
        setMailboxRights(store, mailbox.id, 'anonymous', 'l', directory),
        setMailboxRights(store, mailbox.id, 'boss@example.com', 'lra', directory),
      ]);
      assert.deepEqual((await getMailbox(store, mailbox.id)).acl, {
        'bob@example.com': 'lr',
        anyone: 'p',
        anonymous: 'l',
        'boss@example.com': 'lra',
      });
    });

    it('a grant binds to the account: the same address created again inherits nothing', async (t) => {
      const { store, directory, bob, mailbox } = await openWorld(t, adapters);
      await setMailboxRights(store, mailbox.id, 'bob@example.com', 'lr', directory);
      assert.equal(effectiveRights(await getMailbox(store, mailbox.id), bob), 'lr');
      await directory.removeAccount('bob@example.com');
      const again = await directory.addAccount('bob@example.com', { password: PASSWORD });
      const newBob: Accessor = { kind: 'account', id: again.id, address: again.address, admin: false };
      assert.equal(effectiveRights(await getMailbox(store, mailbox.id), newBob), '');
      // A new grant replaces the stale one rather than adding to it.
      assert.equal(await setMailboxRights(store, mailbox.id, 'bob@example.com', '+w', directory), 'w');
      assert.equal(effectiveRights(await getMailbox(store, mailbox.id), newBob), 'w');
    });

    it('RENAME keeps the ACL, DELETE takes it along, CREATE can inherit the parent ACL', async (t) => {
      const { store, directory, alice, mailbox } = await openWorld(t, adapters);
      await setMailboxRights(store, mailbox.id, 'bob@example.com', 'lr', directory);
      const renamed = await renameMailbox(store, alice.id, 'Projects', 'Work');
      assert.deepEqual(renamed.acl, { 'bob@example.com': 'lr' });
      const child = await createMailbox(store, alice.id, 'Work/2024');
      await inheritAcl(store, renamed, child);
      assert.deepEqual((await getMailbox(store, child.id)).acl, { 'bob@example.com': 'lr' });
      await deleteMailbox(store, alice.id, 'Work/2024');
      await assert.rejects(setMailboxRights(store, child.id, 'anyone', 'p', directory), MailboxNotFoundError);
    });

    it('bounds the number of entries', async (t) => {
      const { store, directory, mailbox } = await openWorld(t, adapters);
      const metadata = store.metadata;
      const acl = Object.fromEntries(
        Array.from({ length: MAX_ACL_ENTRIES - 1 }, (_, i) => [`-u${i}@example.com`, 'l']),
      );
      acl.anonymous = 'l';
      await metadata.update(`mbox#${mailbox.id}`, 'mailbox', { set: { acl } });
      await assert.rejects(setMailboxRights(store, mailbox.id, 'anyone', 'l', directory), TooManyAclEntriesError);
      // Changing an existing entry is still possible.
      assert.equal(await setMailboxRights(store, mailbox.id, 'anonymous', 'lr', directory), 'lr');
    });

    it("indexes grants so the grantee finds other accounts' mailboxes, checked against the live ACL", async (t) => {
      const { store, directory, alice, bob, mailbox } = await openWorld(t, adapters);
      const carol = await directory.addAccount('carol@example.com', { password: PASSWORD });
      const carolAccessor: Accessor & { kind: 'account' } = {
        kind: 'account',
        id: carol.id,
        address: carol.address,
        admin: false,
      };
      const names = async (accessor: Accessor & { kind: 'account' }) =>
        (await listGrantedMailboxes(store, accessor))
          .map((granted) => `${granted.ownerAddress}:${granted.mailbox.name}:${granted.rights}`)
          .sort();
      assert.deepEqual(await names(bob), []);
      await setMailboxRights(store, mailbox.id, 'bob@example.com', 'lr', directory, 'alice@example.com');
      const secret = await createMailbox(store, alice.id, 'Secret');
      await setMailboxRights(store, secret.id, 'bob@example.com', 'r', directory, 'alice@example.com');
      const open = await createMailbox(store, alice.id, 'Open');
      await setMailboxRights(store, open.id, 'anyone', 'lrs', directory, 'alice@example.com');
      // Renamed after the grant: listed under its current name.
      await renameMailbox(store, alice.id, 'Projects', 'Work');
      assert.deepEqual(await names(bob), ['alice@example.com:Open:lrs', 'alice@example.com:Work:lr']);
      assert.deepEqual(await names(carolAccessor), ['alice@example.com:Open:lrs']);
      assert.deepEqual(await names(alice), [], 'the owner sees her own mailboxes elsewhere');
      // Revoked, negated, deleted: gone from the listing.
      await setMailboxRights(store, mailbox.id, 'bob@example.com', '-l', directory, 'alice@example.com');
      await setMailboxRights(store, open.id, '-carol@example.com', 'l', directory, 'alice@example.com');
      assert.deepEqual(await names(bob), ['alice@example.com:Open:lrs']);
      assert.deepEqual(await names(carolAccessor), []);
      await deleteMailbox(store, alice.id, 'Open');
      assert.deepEqual(await names(bob), []);
      // A child created below a shared folder inherits the ACL and is indexed too.
      await setMailboxRights(store, mailbox.id, 'bob@example.com', 'lr', directory, 'alice@example.com');
      const child = await createMailbox(store, alice.id, 'Work/2024');
      await inheritAcl(store, await getMailbox(store, mailbox.id), child, 'alice@example.com');
      assert.deepEqual(await names(bob), ['alice@example.com:Work/2024:lr', 'alice@example.com:Work:lr']);
    });

    it('resolves paths to store owners through the directory', async (t) => {
      const { store, directory, alice } = await openWorld(t, adapters);
      const personal = await resolveMailboxOwner(directory, parseMailboxPath('user/alice@example.com/Projects'));
      assert.equal(personal.id, alice.id);
      assert.equal(personal.account?.address, 'alice@example.com');
      const shared = await resolveMailboxOwner(directory, parseMailboxPath('news@example.com'));
      assert.deepEqual(shared, { id: sharedMailboxOwner('example.com'), domain: 'example.com' });
      const news = await createMailbox(store, shared.id, 'news');
      assert.equal((await getMailboxByName(store, 'shared@example.com', 'news')).id, news.id);
      await assert.rejects(
        resolveMailboxOwner(directory, parseMailboxPath('user/carol@example.com')),
        AccountNotFoundError,
      );
      await assert.rejects(
        resolveMailboxOwner(directory, parseMailboxPath('news@nowhere.example')),
        DomainNotFoundError,
      );
    });
  });
}
