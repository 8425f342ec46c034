/**
 * The mailbox administration commands of `marmot` — mailbox, acl, quota, unexpunge, undelete, expire —
 * run as the real program (runMarmot, in this process so the clock can be mocked and the runs stay
 * fast) against a temporary local data directory; one run goes through the real executable. What they
 * did is checked through the mailbox, ACL and directory modules on the same store.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { effectiveRights } from '../../shared/acl/index.ts';
import { type Account, Directory } from '../../shared/directory/directory.ts';
import { RunLease } from '../../shared/expire/run-state.ts';
import { LocalKeyVault } from '../../shared/keyvault/local-key-vault.ts';
import {
  appendMessage,
  expungeMessages,
  getMailboxByName,
  getMessage,
  listDeletedMailboxes,
  listMessages,
  type Mailbox,
  type MailStore,
  openMailStore,
} from '../../shared/mailbox/index.ts';
import { FileBlobStore } from '../../shared/store/files/file-blob-store.ts';
import { SqliteMetadataStore } from '../../shared/store/sqlite/sqlite-metadata-store.ts';
import { marmotInProcess } from '../support/marmot-in-process.ts';

const ROOT = join(import.meta.dirname, '..', '..');
let dataDir: string;
let metadata: SqliteMetadataStore;
let blobs: FileBlobStore;
let store: MailStore;
let directory: Directory;
let bob: Account;
let alice: Account;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function marmot(...args: string[]): Promise<Outcome> {
  return marmotInProcess(dataDir, args);
}

async function ok(...args: string[]): Promise<Outcome> {
  const outcome = await marmot(...args);
  assert.equal(outcome.code, 0, `${args.join(' ')}: ${outcome.stderr}`);
  return outcome;
}

async function deliver(mailbox: Mailbox, subject: string, flags: string[] = []): Promise<number> {
  const blobKey = `msg/2030-01-01/${subject.replace(/\W/g, '')}-${mailbox.id.slice(0, 8)}`;
  await blobs.put(blobKey, Buffer.from(`Subject: ${subject}\r\n\r\nbody\r\n`));
  const appended = await appendMessage(store, mailbox, {
    blobKey,
    size: 1000,
    internalDate: new Date(),
    flags,
    envelope: null,
    bodyStructure: null,
    search: { subject },
  });
  return appended.uid;
}

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'marmot-admin-cli-'));
  metadata = new SqliteMetadataStore(join(dataDir, 'metadata.sqlite'));
  blobs = await FileBlobStore.open(join(dataDir, 'blobs'));
  store = openMailStore(metadata);
  directory = new Directory(metadata, { keyVault: await LocalKeyVault.open(dataDir) });
  await directory.addDomain('example.com');
  bob = await directory.addAccount('bob@example.com', { password: 'a long enough password' });
  alice = await directory.addAccount('alice@example.com', { password: 'a long enough password' });
});

after(async () => {
  await metadata.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('marmot mailbox, acl, quota', () => {
  test('the real executable lists the new command groups', () => {
    const help = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'cli', 'marmot.ts'), '--help'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(help.status, 0, help.stderr);
    for (const group of ['mailbox', 'acl', 'quota', 'unexpunge', 'undelete', 'expire']) {
      assert.match(help.stdout, new RegExp(`\\n {2}${group}\\b`), group);
    }
  });

  test('mailbox create/list/rename/delete for an account tree and a shared mailbox', async () => {
    let outcome = await ok('mailbox', 'create', 'user/bob@example.com');
    assert.match(outcome.stderr, /created user\/bob@example\.com, user\/bob@example\.com\/Sent,/);
    await ok('mailbox', 'create', 'user/bob/Projects/2024@example.com');
    await ok('mailbox', 'create', 'News@Example.com');
    outcome = await ok('mailbox', 'list', 'user/bob@example.com', '--json');
    const listed = (JSON.parse(outcome.stdout) as { mailbox: string }[]).map((row) => row.mailbox);
    assert.deepEqual(listed, [
      'user/bob@example.com',
      'user/bob@example.com/Archive',
      'user/bob@example.com/Drafts',
      'user/bob@example.com/Junk',
      'user/bob@example.com/Projects',
      'user/bob@example.com/Projects/2024',
      'user/bob@example.com/Sent',
      'user/bob@example.com/Trash',
    ]);
    outcome = await ok('mailbox', 'list', 'example.com');
    assert.match(outcome.stdout, /^MAILBOX +MESSAGES +UNSEEN +SIZE +SPECIAL-USE\nNews@example\.com +0 +0 +0\n$/);
    await ok('mailbox', 'rename', 'user/bob@example.com/Projects', 'user/bob@example.com/Work');
    assert.equal((await getMailboxByName(store, bob.id, 'Work/2024')).name, 'Work/2024');

    const failures: [string[], number, RegExp][] = [
      [['mailbox', 'create', 'user/bob@example.com/Work'], 1, /already exists/],
      [['mailbox', 'create', 'user/carol@example.com/X'], 1, /^marmot: no account carol@example\.com$/m],
      [['mailbox', 'create', 'news@nowhere.example'], 1, /no domain nowhere\.example/],
      [['mailbox', 'create', 'INBOX/x@example.com'], 2, /a shared mailbox cannot be called INBOX/],
      [['mailbox', 'create', 'user/bob@example.com/a*b'], 2, /invalid mailbox name/],
      [['mailbox', 'delete', 'user/bob@example.com'], 1, /INBOX cannot be deleted/],
      [['mailbox', 'rename', 'News@example.com', 'user/bob@example.com/News'], 2, /within its account or domain/],
    ];
    for (const [args, code, message] of failures) {
      const failed = await marmot(...args);
      assert.equal(failed.code, code, `${args.join(' ')}: ${failed.stderr}`);
      assert.match(failed.stderr, message);
      assert.doesNotMatch(failed.stderr, /unexpected/);
    }
    await ok('mailbox', 'delete', 'user/bob@example.com/Work/2024');
    assert.deepEqual(
      (await listDeletedMailboxes(store, bob.id)).map((deleted) => deleted.name),
      ['Work/2024'],
    );
  });

  test('acl set/list/delete with cyradm rights, +/- changes, negative entries and inheritance', async () => {
    await ok('acl', 'set', 'News@example.com', 'anyone', 'lrsp');
    await ok('acl', 'set', 'News@example.com', 'Alice@Example.com', 'lrswida');
    await ok('acl', 'set', 'News@example.com', 'alice@example.com', '-da');
    await ok('acl', 'set', 'News@example.com', '-anyone', 's');
    let outcome = await ok('acl', 'list', 'News@example.com');
    assert.equal(
      outcome.stdout,
      'IDENTIFIER         RIGHTS\n-anyone            s\nalice@example.com  lrswi\nanyone             lrsp\n',
    );
    const news = await getMailboxByName(store, 'shared@example.com', 'News');
    const aliceAccessor = { kind: 'account' as const, id: alice.id, address: alice.address, admin: false };
    assert.equal(effectiveRights(news, aliceAccessor), 'lrwip');

    // A folder created below one with an ACL inherits it; the owner is listed first.
    await ok('acl', 'set', 'user/bob@example.com/Work', 'alice@example.com', 'lr');
    await ok('mailbox', 'create', 'user/bob@example.com/Work/Reports');
    outcome = await ok('acl', 'list', 'user/bob@example.com/Work/Reports', '--json');
    assert.deepEqual(JSON.parse(outcome.stdout), [
      { identifier: 'bob@example.com', rights: 'lrswipkxteacd' },
      { identifier: 'alice@example.com', rights: 'lr' },
    ]);

    outcome = await ok('acl', 'delete', 'News@example.com', '-anyone');
    assert.match(outcome.stderr, /removed -anyone from News@example\.com/);
    for (const [args, code, message] of [
      [['acl', 'set', 'News@example.com', 'alice@example.com', 'lrQ'], 2, /unknown right "Q"/],
      [['acl', 'set', 'News@example.com', 'nobody@example.com', 'lr'], 1, /no account nobody@example\.com/],
      [['acl', 'set', 'News@example.com', 'group:staff', 'lr'], 2, /invalid identifier/],
      [['acl', 'set', 'user/bob@example.com', 'bob@example.com', 'lr'], 1, /always has every right/],
      [['acl', 'list', 'user/bob@example.com/Nope'], 1, /no mailbox "Nope"/],
    ] as [string[], number, RegExp][]) {
      const failed = await marmot(...args);
      assert.equal(failed.code, code, `${args.join(' ')}: ${failed.stderr}`);
      assert.match(failed.stderr, message);
    }
  });

  test('quota set/get in kilobytes and messages, usage without expunged mail', async () => {
    const inbox = await getMailboxByName(store, bob.id, 'INBOX');
    const gone = await deliver(inbox, 'quota one');
    await deliver(inbox, 'quota two');
    await expungeMessages(store, inbox, [gone]);
    await ok('quota', 'set', 'user/bob@example.com', 'STORAGE', '100000', 'message', '50');
    assert.deepEqual((await directory.getAccount('bob@example.com'))?.quota, {
      storageBytes: 102_400_000,
      messages: 50,
    });
    let outcome = await ok('quota', 'get', 'user/bob@example.com', '--json');
    assert.deepEqual(JSON.parse(outcome.stdout), {
      name: 'user/bob@example.com',
      resources: [
        { name: 'STORAGE', usage: 1, limit: 100_000 },
        { name: 'MESSAGE', usage: 1, limit: 50 },
      ],
    });
    await ok('quota', 'set', 'user/bob@example.com', 'MESSAGE', 'none');
    outcome = await ok('quota', 'get', 'user/bob@example.com');
    assert.match(
      outcome.stdout,
      /^ROOT +RESOURCE +USAGE +LIMIT +PERCENT\nuser\/bob@example\.com +STORAGE +1 +100000 +0%\n$/,
    );
    for (const [args, code, message] of [
      [['quota', 'set', 'user/bob@example.com', 'STORAGE'], 2, /pairs/],
      [['quota', 'set', 'user/bob@example.com', 'LEVEL', '3'], 2, /unknown quota resource LEVEL/],
      [['quota', 'set', 'user/bob@example.com', 'STORAGE', '0'], 2, /positive whole number/],
      [['quota', 'get', 'user/carol@example.com'], 1, /no quota root/],
      [['quota', 'get', 'News@example.com'], 1, /no quota root/],
    ] as [string[], number, RegExp][]) {
      const failed = await marmot(...args);
      assert.equal(failed.code, code, `${args.join(' ')}: ${failed.stderr}`);
      assert.match(failed.stderr, message);
    }
  });
});

describe('marmot unexpunge, undelete, expire', () => {
  test('unexpunge lists, restores as new UIDs (optionally without \\Deleted), whole tree or one mailbox', async (t) => {
    const start = Date.now();
    t.mock.timers.enable({ apis: ['Date'], now: start });
    const sent = await getMailboxByName(store, bob.id, 'Sent');
    const inbox = await getMailboxByName(store, bob.id, 'INBOX');
    const old = await deliver(sent, 'sent long ago', ['\\Deleted', '\\Seen']);
    await expungeMessages(store, sent, [old]);
    t.mock.timers.setTime(start + 3 * 3_600_000);
    const recent = await deliver(sent, 'sent recently', ['\\Deleted']);
    const inboxed = await deliver(inbox, 'inbox recently', ['\\Deleted']);
    await expungeMessages(store, sent, [recent]);
    await expungeMessages(store, inbox, [inboxed]);

    let outcome = await ok('unexpunge', 'user/bob@example.com', '--list', '--json');
    const listed = JSON.parse(outcome.stdout) as { mailbox: string; uid: number; subject: string }[];
    assert.deepEqual(
      listed.map((row) => [row.mailbox, row.subject]),
      [
        ['user/bob@example.com', 'quota one'],
        ['user/bob@example.com', 'inbox recently'],
        ['user/bob@example.com/Sent', 'sent long ago'],
        ['user/bob@example.com/Sent', 'sent recently'],
      ],
    );
    assert.equal((await getMessage(store, sent.id, old))?.restoredAs, undefined, '--list changes nothing');

    // One UID of one mailbox, clearing \Deleted.
    outcome = await ok('unexpunge', 'user/bob@example.com/Sent', '--uid', String(old), '--undelete');
    const restoredOld = (await getMessage(store, sent.id, old))?.restoredAs;
    assert.ok(restoredOld !== undefined && restoredOld > recent, 'a new UID above every earlier one');
    assert.match(outcome.stdout, new RegExp(`user/bob@example\\.com/Sent +${old} +${restoredOld} .*sent long ago`));
    assert.deepEqual((await getMessage(store, sent.id, restoredOld))?.flags, ['\\Seen']);

    // The whole account, expunged within the last hour: keeps \Deleted without --undelete.
    outcome = await ok('unexpunge', 'user/bob@example.com', '--since', '1h');
    assert.match(outcome.stderr, /restored 2 messages/);
    const restoredInbox = (await getMessage(store, inbox.id, inboxed))?.restoredAs;
    assert.ok(restoredInbox !== undefined);
    assert.deepEqual((await getMessage(store, inbox.id, restoredInbox))?.flags, ['\\Deleted']);
    assert.equal((await getMessage(store, inbox.id, 1))?.restoredAs, undefined, 'expunged 3 hours ago: not restored');
    outcome = await ok('unexpunge', 'user/bob@example.com', '--since', '1h', '--list');
    assert.match(outcome.stderr, /nothing to restore/);

    for (const [args, message] of [
      [['unexpunge', 'user/bob@example.com', '--uid', '1'], /one mailbox/],
      [['unexpunge', 'user/bob@example.com', '--since', 'yesterday'], /duration/],
      [['unexpunge', 'user/bob@example.com/Sent', '--since', '1d', '--uid', '1'], /exclude each other/],
    ] as [string[], RegExp][]) {
      const failed = await marmot(...args);
      assert.equal(failed.code, 2, `${args.join(' ')}: ${failed.stderr}`);
      assert.match(failed.stderr, message);
    }
  });

  test('undelete lists DELETED/ and restores with messages, under a new name when the old one is taken', async () => {
    const archive = await getMailboxByName(store, bob.id, 'Archive');
    const kept = await deliver(archive, 'archived');
    await ok('mailbox', 'delete', 'user/bob@example.com/Archive');
    await ok('mailbox', 'create', 'user/bob@example.com/Archive');
    let outcome = await ok('undelete', 'user/bob@example.com', '--json');
    const deleted = JSON.parse(outcome.stdout) as { mailbox: string; messages: number; id: string }[];
    assert.deepEqual(
      deleted.map((row) => [row.mailbox, row.messages]),
      [
        ['user/bob@example.com/Work/2024', 0],
        ['user/bob@example.com/Archive', 1],
      ],
    );
    outcome = await ok('undelete', 'user/bob@example.com', 'Archive');
    const restoredName = outcome.stdout.trim().slice('user/bob@example.com/'.length);
    assert.match(restoredName, /^Archive \(restored \d{4}-\d{2}-\d{2}\)$/);
    const restored = await getMailboxByName(store, bob.id, restoredName);
    assert.equal(restored.id, archive.id, 'the same mailbox: id, UIDs and UIDVALIDITY kept');
    assert.deepEqual(
      (await listMessages(store, restored.id)).messages.map((message) => message.uid),
      [kept],
    );
    outcome = await ok('undelete', 'user/bob@example.com', deleted[0]!.id, '--as', 'Old 2024');
    assert.equal(outcome.stdout, 'user/bob@example.com/Old 2024\n');
    const failed = await marmot('undelete', 'user/bob@example.com', 'Archive');
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /in DELETED\//);
    outcome = await ok('undelete', 'example.com');
    assert.match(outcome.stderr, /no deleted folders/);
  });

  test('expire --dry-run reports, expire purges past retention, a busy run is refused', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 40 * 86_400_000 });
    let outcome = await ok('expire', '--dry-run', '--json');
    const preview = JSON.parse(outcome.stdout) as { totals: { messagesPurged: number } };
    assert.ok(preview.totals.messagesPurged >= 1, outcome.stdout);
    const inbox = await getMailboxByName(store, bob.id, 'INBOX');
    assert.equal((await getMessage(store, inbox.id, 1))?.expunged, true, 'the dry run purged nothing');

    const held = await RunLease.acquire(metadata, Date.now);
    outcome = await marmot('expire');
    assert.equal(outcome.code, 1);
    assert.match(outcome.stderr, /another expire run is in progress/);
    await held?.release();

    outcome = await ok('expire');
    assert.match(outcome.stderr, /directory\.\.\.\norphans\.\.\./);
    assert.match(outcome.stdout, new RegExp(`expunged messages purged: ${preview.totals.messagesPurged}\\n`));
    assert.equal(await getMessage(store, inbox.id, 1), undefined);
  });
});
