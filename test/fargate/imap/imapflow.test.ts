/**
 * End to end with imapflow (the Node IMAP client) against the running IMAP listeners, in IMAP4rev2
 * sessions (imapflow ENABLEs it): login over STARTTLS and implicit TLS, mailbox management, APPEND, FETCH of every item, SEARCH, STORE, COPY, MOVE,
 * EXPUNGE, IDLE with changes from a second session, and CONDSTORE/QRESYNC resynchronisation.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import { type ImapTestServer, startImapTestServer, USERS } from './imap-test-server.ts';

const MULTIPART = [
  'From: =?utf-8?q?J=C3=B6rg?= <jorg@example.test>',
  'To: Alice <alice@example.test>, bob@example.test',
  'Cc: carol@example.test',
  'Subject: =?utf-8?q?Quarterly_r=C3=A9sum=C3=A9?=',
  'Date: Tue, 3 Mar 2026 10:00:00 +0100',
  'Message-ID: <q1@example.test>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="outer"',
  '',
  '--outer',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'The numbers are in: caf=C3=A9 budget approved.',
  '--outer',
  'Content-Type: application/octet-stream; name="data.bin"',
  'Content-Disposition: attachment; filename="data.bin"',
  'Content-Transfer-Encoding: base64',
  '',
  Buffer.from('binary attachment payload').toString('base64'),
  '--outer--',
  '',
].join('\r\n');

function plain(subject: string, body: string, extra: string[] = []): string {
  return [
    'From: Bob <bob@example.test>',
    'To: alice@example.test',
    `Subject: ${subject}`,
    'Date: Wed, 4 Mar 2026 09:00:00 +0000',
    ...extra,
    '',
    body,
    '',
  ].join('\r\n');
}

describe('IMAP with imapflow', () => {
  let server: ImapTestServer;
  const clients: ImapFlow[] = [];

  async function client(options: Partial<ImapFlowOptions> = {}): Promise<ImapFlow> {
    const created = new ImapFlow({
      host: server.host,
      port: server.port,
      secure: false,
      doSTARTTLS: true,
      tls: { ca: server.certificate, servername: 'localhost' },
      auth: USERS.alice,
      logger: false,
      ...options,
    });
    clients.push(created);
    await created.connect();
    return created;
  }

  before(async () => {
    server = await startImapTestServer();
  });

  after(async () => {
    await Promise.allSettled(clients.map((each) => each.logout()));
    await server.stop();
  });

  it('logs in over STARTTLS and implicit TLS, and refuses a wrong password', async () => {
    const overStartTls = await client();
    assert.equal(overStartTls.secureConnection, true);
    assert.ok(overStartTls.capabilities.has('IDLE'));
    assert.ok(overStartTls.capabilities.has('CONDSTORE'));
    // Both revisions are offered; imapflow turns IMAP4rev2 on, so the other tests run in rev2 sessions.
    assert.ok(overStartTls.capabilities.has('IMAP4rev1') && overStartTls.capabilities.has('IMAP4rev2'));
    assert.ok(overStartTls.enabled.has('IMAP4REV2'));
    const implicit = await client({ port: server.tlsPort, secure: true, doSTARTTLS: undefined });
    assert.equal(implicit.secureConnection, true);
    await assert.rejects(client({ auth: { user: USERS.alice.user, pass: 'wrong' } }), (error: Error) => {
      assert.equal((error as { serverResponseCode?: string }).serverResponseCode, 'AUTHENTICATIONFAILED');
      return true;
    });
  });

  it('lists the special-use folders of a new account and creates, renames and deletes folders', async () => {
    const imap = await client();
    const listed = await imap.list();
    const byUse = Object.fromEntries(
      listed.filter((box) => box.specialUseSource === 'extension').map((box) => [box.specialUse, box.path]),
    );
    assert.deepEqual(byUse, {
      '\\Sent': 'Sent',
      '\\Drafts': 'Drafts',
      '\\Trash': 'Trash',
      '\\Junk': 'Junk',
      '\\Archive': 'Archive',
    });
    assert.ok(listed.some((box) => box.path === 'INBOX'));

    await imap.mailboxCreate(['Projects', 'Zürich']);
    let paths = (await imap.list()).map((box) => box.path);
    assert.ok(paths.includes('Projects/Zürich'), paths.join());
    await imap.mailboxRename('Projects', 'Work');
    paths = (await imap.list()).map((box) => box.path);
    assert.ok(paths.includes('Work/Zürich') && !paths.includes('Projects/Zürich'), paths.join());
    await imap.mailboxDelete('Work/Zürich');
    paths = (await imap.list()).map((box) => box.path);
    assert.ok(!paths.includes('Work/Zürich'), paths.join());
    await assert.rejects(imap.mailboxDelete('INBOX'));
  });

  it('appends and fetches every item', async () => {
    const imap = await client();
    await imap.mailboxCreate('Fetch');
    const date = new Date('2026-03-03T09:30:00Z');
    const appended = await imap.append('Fetch', MULTIPART, ['$Important'], date);
    assert.ok(appended && appended.uid === 1);
    const lock = await imap.getMailboxLock('Fetch');
    try {
      const message = await imap.fetchOne(
        '1',
        {
          uid: true,
          flags: true,
          envelope: true,
          bodyStructure: true,
          internalDate: true,
          size: true,
          source: true,
          headers: ['subject', 'message-id'],
          bodyParts: ['1', '2', '1.mime'],
        },
        {},
      );
      assert.ok(message);
      assert.equal(message.uid, 1);
      // imapflow enables IMAP4rev2: no \Recent, though this session was the first to select.
      assert.deepEqual([...(message.flags ?? [])], ['$Important']);
      assert.equal(message.size, Buffer.byteLength(MULTIPART));
      assert.equal(message.source?.toString(), MULTIPART);
      assert.equal((message.internalDate as Date).toISOString(), date.toISOString());
      assert.equal(message.envelope?.subject, 'Quarterly résumé');
      assert.equal(message.envelope?.from?.[0]?.name, 'Jörg');
      assert.equal(message.envelope?.to?.length, 2);
      assert.equal(message.envelope?.messageId, '<q1@example.test>');
      assert.equal(message.bodyStructure?.type, 'multipart/mixed');
      assert.equal(message.bodyStructure?.childNodes?.[0]?.type, 'text/plain');
      assert.equal(message.bodyStructure?.childNodes?.[1]?.disposition, 'attachment');
      assert.match(message.headers?.toString() ?? '', /^Subject: =\?utf-8\?q\?Quarterly/m);
      assert.doesNotMatch(message.headers?.toString() ?? '', /^To:/m);
      assert.equal(message.bodyParts?.get('1')?.toString(), 'The numbers are in: caf=C3=A9 budget approved.');
      assert.match(message.bodyParts?.get('1.mime')?.toString() ?? '', /Content-Type: text\/plain/);
      // BODY.PEEK leaves \Seen alone; a download of the decoded attachment reads BINARY/BODY[2].
      const after = await imap.fetchOne('1', { flags: true });
      assert.ok(after && !after.flags?.has('\\Seen'));
      const download = await imap.download('1', '2');
      const chunks: Buffer[] = [];
      assert.ok(download.content);
      for await (const chunk of download.content) chunks.push(chunk as Buffer);
      assert.equal(Buffer.concat(chunks).toString(), 'binary attachment payload');
    } finally {
      lock.release();
    }
  });

  it('searches by flags, addresses, subject, body text, dates and size', async () => {
    const imap = await client();
    await imap.mailboxCreate('Search');
    await imap.append('Search', plain('Lunch on Friday', 'Shall we try the new noodle place?'), ['\\Seen']);
    await imap.append('Search', plain('Budget', 'Numbers attached'), ['\\Flagged']);
    await imap.append('Search', MULTIPART, []);
    const lock = await imap.getMailboxLock('Search');
    try {
      assert.deepEqual(await imap.search({ seen: true }, { uid: true }), [1]);
      assert.deepEqual(await imap.search({ flagged: true }), [2]);
      assert.deepEqual(await imap.search({ seen: false }), [2, 3]);
      assert.deepEqual(await imap.search({ subject: 'lunch' }), [1]);
      assert.deepEqual(await imap.search({ from: 'jörg' }), [3]);
      assert.deepEqual(await imap.search({ to: 'bob@example.test' }), [3]);
      assert.deepEqual(await imap.search({ body: 'NOODLE' }), [1]);
      // TEXT sees decoded quoted-printable text.
      assert.deepEqual(await imap.search({ body: 'café' }), [3]);
      assert.deepEqual(await imap.search({ header: { 'message-id': 'q1@example' } }), [3]);
      assert.deepEqual(await imap.search({ sentBefore: new Date('2026-03-04') }), [3]);
      assert.deepEqual(await imap.search({ larger: 400 }), [3]);
      assert.deepEqual(await imap.search({ or: [{ flagged: true }, { seen: true }] }), [1, 2]);
      assert.deepEqual(await imap.search({ not: { seen: true }, from: 'bob' }), [2]);
      assert.deepEqual(await imap.search({ uid: '2:*' }), [2, 3]);
    } finally {
      lock.release();
    }
  });

  it('searches the bodies of many messages, whose reads overlap, in mailbox order', async () => {
    const imap = await client();
    await imap.mailboxCreate('Many');
    for (let index = 1; index <= 40; index++) {
      const words = [index % 3 === 0 ? 'needle' : 'hay', index % 5 === 0 ? 'thread' : 'straw'];
      await imap.append('Many', plain(`Message ${index}`, `Line one.\r\nThe ${words.join(' and ')} here.`), []);
    }
    const lock = await imap.getMailboxLock('Many');
    try {
      const every = (step: number) => Array.from({ length: Math.floor(40 / step) }, (_, index) => (index + 1) * step);
      assert.deepEqual(await imap.search({ body: 'needle' }), every(3));
      assert.deepEqual(
        await imap.search({ or: [{ body: 'needle' }, { body: 'thread' }] }),
        [...new Set([...every(3), ...every(5)])].sort((a, b) => a - b),
      );
      assert.deepEqual(await imap.search({ body: 'needle', text: 'thread' }), every(15));
    } finally {
      lock.release();
    }
  });

  it('stores flags, copies, moves and expunges', async () => {
    const imap = await client();
    await imap.mailboxCreate('Flags');
    for (let i = 1; i <= 4; i++) await imap.append('Flags', plain(`message ${i}`, `body ${i}`));
    const lock = await imap.getMailboxLock('Flags');
    try {
      await imap.messageFlagsAdd('1:2', ['\\Seen', '$Label']);
      await imap.messageFlagsRemove('2', ['$Label']);
      await imap.messageFlagsSet('3', ['\\Answered']);
      const flags = new Map<number, string[]>();
      for await (const message of imap.fetch('1:*', { flags: true, uid: true })) {
        flags.set(message.uid, [...(message.flags ?? [])].sort());
      }
      assert.deepEqual(flags.get(1), ['$Label', '\\Seen']);
      assert.deepEqual(flags.get(2), ['\\Seen']);
      assert.deepEqual(flags.get(3), ['\\Answered']);
      assert.deepEqual(flags.get(4), []);

      const copied = await imap.messageCopy('1:2', 'Trash', { uid: true });
      assert.ok(copied);
      assert.deepEqual([...(copied.uidMap?.keys() ?? [])], [1, 2]);
      const moved = await imap.messageMove('3', 'Archive', { uid: true });
      assert.ok(moved);
      assert.ok(moved.uidMap?.has(3));
      assert.ok(imap.mailbox);
      assert.equal(imap.mailbox.exists, 3);
      await imap.messageDelete('1', { uid: true });
      const left = await imap.search({ all: true }, { uid: true });
      assert.deepEqual(left, [2, 4]);
    } finally {
      lock.release();
    }
    const trash = await imap.status('Trash', { messages: true });
    assert.ok(trash && trash.messages === 2);
    const archive = await imap.status('Archive', { messages: true, unseen: true });
    assert.ok(archive && archive.messages === 1);
  });

  it('tells an idling session about messages, flag changes and expunges from another session', async () => {
    const watcher = await client();
    const writer = await client();
    await writer.mailboxCreate('Shared view');
    await writer.append('Shared view', plain('first', 'one'));
    await watcher.mailboxOpen('Shared view');
    const existsEvent = once(watcher, 'exists');
    const idling = watcher.idle();
    await writer.append('Shared view', plain('second', 'two'));
    const [exists] = (await existsEvent) as [{ count: number; prevCount: number }];
    assert.equal(exists.count, 2);

    const flagsEvent = once(watcher, 'flags');
    await writer.mailboxOpen('Shared view');
    await writer.messageFlagsAdd('1', ['\\Flagged']);
    const [flags] = (await flagsEvent) as [{ seq: number; flags: Set<string> }];
    assert.equal(flags.seq, 1);
    assert.ok(flags.flags.has('\\Flagged'));

    const expungeEvent = once(watcher, 'expunge');
    await writer.messageDelete('1');
    const [expunged] = (await expungeEvent) as [{ seq: number }];
    assert.equal(expunged.seq, 1);
    await watcher.noop();
    await idling;
    assert.ok(watcher.mailbox);
    assert.equal(watcher.mailbox.exists, 1);
  });

  it('resynchronises with CONDSTORE and QRESYNC after changes made while away', async () => {
    const first = await client({ qresync: true });
    await first.mailboxCreate('Resync');
    for (let i = 1; i <= 5; i++) await first.append('Resync', plain(`resync ${i}`, `body ${i}`));
    const opened = await first.mailboxOpen('Resync');
    const modseq = opened.highestModseq!;
    const uidValidity = opened.uidValidity;
    assert.ok(modseq > 0n);
    await first.logout();

    const other = await client();
    await other.mailboxOpen('Resync');
    await other.messageFlagsAdd('2', ['\\Seen']);
    await other.messageDelete('4');
    await other.append('Resync', plain('resync 6', 'new one'));

    // CONDSTORE: FETCH CHANGEDSINCE returns only what changed.
    const changed: number[] = [];
    for await (const message of other.fetch('1:*', { uid: true, flags: true }, { uid: true, changedSince: modseq })) {
      changed.push(message.uid);
    }
    assert.deepEqual(changed.sort(), [2, 6]);

    // QRESYNC: SELECT with the old state reports the vanished UID and the changed flags.
    const resync = await client({ qresync: true });
    const vanished: number[] = [];
    resync.on('expunge', (event: { uid?: number; vanished?: boolean }) => {
      if (event.uid !== undefined) vanished.push(event.uid);
    });
    const flagUpdates: number[] = [];
    resync.on('flags', (event: { uid?: number }) => {
      if (event.uid !== undefined) flagUpdates.push(event.uid);
    });
    const reopened = await resync.mailboxOpen('Resync', { changedSince: modseq, uidValidity } as never);
    assert.equal(reopened.exists, 5);
    assert.ok(reopened.highestModseq! > modseq);
    assert.deepEqual(vanished, [4]);
    assert.ok(flagUpdates.includes(2), JSON.stringify(flagUpdates));
  });
});
