/**
 * The IMAP extensions over a raw socket, where the exact responses matter: COMPRESS=DEFLATE, UIDPLUS,
 * MULTIAPPEND, LITERAL+, ESEARCH and SEARCHRES, LIST-EXTENDED and LIST-STATUS, SPECIAL-USE with CREATE
 * (USE), UTF8=ACCEPT, CONDSTORE (UNCHANGEDSINCE, MODIFIED, MODSEQ search), QRESYNC (UID FETCH VANISHED),
 * BINARY, SAVEDATE, UNSELECT, ID, and the per-account session limit.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { createDeflateRaw, createInflateRaw, constants as zlib } from 'node:zlib';
import { type ImapTestServer, startImapTestServer, USERS } from './imap-test-server.ts';
import { RawImapClient } from './raw-imap-client.ts';

const SESSION_LIMIT = 4;

const message = (subject: string, body = 'hello') =>
  `From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: ${subject}\r\n\r\n${body}\r\n`;

describe('IMAP extensions', () => {
  let server: ImapTestServer;
  const clients: RawImapClient[] = [];

  async function login(user: keyof typeof USERS = 'alice'): Promise<RawImapClient> {
    const client = await RawImapClient.loggedIn(server.port, USERS[user]);
    clients.push(client);
    return client;
  }

  async function append(client: RawImapClient, mailbox: string, text: string, flags = ''): Promise<string> {
    const result = await client.command(`APPEND ${mailbox} (${flags}) {${Buffer.byteLength(text)}+}\r\n${text}`);
    assert.equal(result.status, 'OK', result.line);
    return result.line;
  }

  before(async () => {
    server = await startImapTestServer({ MARMOT_IMAP_MAX_CONNECTIONS_PER_ACCOUNT: String(SESSION_LIMIT) });
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    // Let the server see the closes, so the next test's logins find free session slots.
    await new Promise((resolve) => setTimeout(resolve, 50));
  });

  after(async () => {
    await server.stop();
  });

  it('UIDPLUS, MULTIAPPEND and LITERAL+: APPENDUID and COPYUID', async () => {
    const client = await login();
    await client.command('CREATE Multi');
    const first = message('one');
    const second = message('two');
    const result = await client.command(
      `APPEND Multi (\\Seen) {${first.length}+}\r\n${first} {${second.length}+}\r\n${second}`,
    );
    assert.match(result.line, /OK \[APPENDUID (\d+) 1:2\]/);
    await client.command('SELECT Multi');
    const copied = await client.command('UID COPY 1:2 Trash');
    assert.match(copied.line, /OK \[COPYUID \d+ 1:2 \d+:\d+\]/);
  });

  it('ESEARCH with MIN MAX COUNT ALL, and SEARCHRES: SAVE then $', async () => {
    const client = await login();
    await client.command('CREATE Esearch');
    for (const subject of ['alpha', 'beta', 'alpha two', 'gamma', 'alpha three']) {
      await append(client, 'Esearch', message(subject));
    }
    await client.command('SELECT Esearch');
    const esearch = await client.command('SEARCH RETURN (MIN MAX COUNT ALL) SUBJECT alpha');
    assert.match(esearch.untagged.join('|'), /^\* ESEARCH \(TAG "t\d+"\) MIN 1 MAX 5 ALL 1,3,5 COUNT 3$/);
    const saved = await client.command('UID SEARCH RETURN (SAVE) SUBJECT alpha');
    assert.deepEqual(saved.untagged, []);
    const fetched = await client.command('UID FETCH $ (UID)');
    assert.deepEqual(
      fetched.untagged.map((line) => /UID (\d+)/.exec(line)?.[1]),
      ['1', '3', '5'],
    );
    const narrowed = await client.command('SEARCH $ SUBJECT two');
    assert.deepEqual(narrowed.untagged, ['* SEARCH 3']);
  });

  it('LIST-EXTENDED, LIST-STATUS, SPECIAL-USE and CREATE with USE', async () => {
    const client = await login('bob');
    assert.match((await client.command('CREATE Receipts (USE (\\Important))')).line, /NO \[USEATTR\]/);
    assert.match((await client.command('CREATE Everything (USE (\\All))')).line, /OK/);
    const special = await client.command('LIST (SPECIAL-USE) "" "*"');
    assert.ok(
      special.untagged.some((line) => /\\All\) "\/" "Everything"$/.test(line)),
      special.untagged.join('|'),
    );
    assert.ok(special.untagged.every((line) => /\\(Sent|Drafts|Trash|Junk|Archive|All)\)/.test(line)));
    await client.command('SUBSCRIBE Wanted/Inner');
    await client.command('CREATE Wanted/Inner');
    await client.command('UNSUBSCRIBE Wanted');
    const subscribed = await client.command('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)');
    // Wanted is not subscribed, but listed because an inferior is (RFC 5258 §3.5).
    assert.ok(
      subscribed.untagged.some((line) => line === '* LIST (\\HasChildren) "/" "Wanted" (CHILDINFO ("SUBSCRIBED"))'),
      subscribed.untagged.join('|'),
    );
    const status = await client.command('LIST "" "INBOX" RETURN (STATUS (MESSAGES UIDNEXT SIZE))');
    assert.deepEqual(status.untagged, [
      '* LIST (\\HasNoChildren) "/" "INBOX"',
      '* STATUS "INBOX" (MESSAGES 0 UIDNEXT 1 SIZE 0)',
    ]);
  });

  it('modified UTF-7 names, and UTF-8 names after ENABLE UTF8=ACCEPT', async () => {
    const client = await login();
    assert.equal((await client.command('CREATE "Caf&AOk-"')).status, 'OK');
    const listed = await client.command('LIST "" "Caf*"');
    assert.deepEqual(listed.untagged, ['* LIST (\\HasNoChildren) "/" "Caf&AOk-"']);
    assert.equal((await client.command('CREATE "Caf&Jjo"')).status, 'BAD');
    const utf8 = await login();
    assert.deepEqual((await utf8.command('ENABLE UTF8=ACCEPT')).untagged, ['* ENABLED UTF8=ACCEPT']);
    const listedUtf8 = await utf8.command('LIST "" "Caf*"');
    // UTF-8 goes as a literal (RFC 6855 allows it quoted too; the writer quotes only 7-bit text).
    assert.deepEqual(listedUtf8.untagged, ['* LIST (\\HasNoChildren) "/" {5}\r\nCafé']);
  });

  it('CONDSTORE: MODSEQ in FETCH and SEARCH, UNCHANGEDSINCE answered with MODIFIED', async () => {
    const client = await login();
    await client.command('CREATE Cond');
    for (let i = 0; i < 3; i++) await append(client, 'Cond', message(`c${i}`));
    const selected = await client.command('SELECT Cond (CONDSTORE)');
    const highest = Number(/HIGHESTMODSEQ (\d+)/.exec(selected.untagged.join(' '))?.[1]);
    assert.ok(highest > 0);
    const stored = await client.command(`STORE 1 (UNCHANGEDSINCE ${highest}) +FLAGS (\\Flagged)`);
    const modseq = Number(/MODSEQ \((\d+)\)/.exec(stored.untagged.join(' '))?.[1]);
    assert.ok(modseq > highest, stored.untagged.join('|'));
    const conflict = await client.command(`STORE 1,2 (UNCHANGEDSINCE ${highest}) +FLAGS (\\Seen)`);
    assert.match(conflict.line, /OK \[MODIFIED 1\]/);
    const search = await client.command(`SEARCH MODSEQ ${modseq}`);
    assert.match(search.untagged.join(' '), /\* SEARCH 1 2 \(MODSEQ \d+\)/);
    const fetched = await client.command(`FETCH 1:* (FLAGS) (CHANGEDSINCE ${highest})`);
    assert.equal(fetched.untagged.length, 2);
    assert.ok(fetched.untagged.every((line) => /MODSEQ \(\d+\)/.test(line)));
  });

  it('QRESYNC: UID FETCH with VANISHED reports expunges since a MODSEQ', async () => {
    const client = await login();
    await client.command('ENABLE QRESYNC');
    await client.command('CREATE Vanish');
    for (let i = 0; i < 4; i++) await append(client, 'Vanish', message(`v${i}`));
    const selected = await client.command('SELECT Vanish');
    const highest = Number(/HIGHESTMODSEQ (\d+)/.exec(selected.untagged.join(' '))?.[1]);
    await client.command('STORE 2,3 +FLAGS.SILENT (\\Deleted)');
    const expunged = await client.command('EXPUNGE');
    assert.deepEqual(expunged.untagged, ['* VANISHED 2:3']);
    const fetched = await client.command(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${highest} VANISHED)`);
    assert.equal(fetched.untagged[0], '* VANISHED (EARLIER) 2:3');
  });

  it('BINARY, UNSELECT, ID and COMPRESS=DEFLATE', async () => {
    const client = await login();
    await client.command('CREATE Bin');
    const encoded = Buffer.from('binary content').toString('base64');
    await append(
      client,
      'Bin',
      `Subject: bin\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${encoded}\r\n`,
    );
    await client.command('SELECT Bin');
    const binary = await client.command('FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1])');
    assert.match(binary.untagged[0] ?? '', /BINARY.SIZE\[1\] 14 BINARY\[1\] \{14\}\r\nbinary content/);
    assert.equal((await client.command('UNSELECT')).status, 'OK');
    assert.equal((await client.command('FETCH 1 FLAGS')).status, 'BAD');
    assert.deepEqual((await client.command('ID NIL')).untagged, ['* ID ("name" "Marmot Mail")']);

    // COMPRESS: after the OK, both directions are raw DEFLATE.
    const compressed = await RawImapClient.connect(server.port);
    clients.push(compressed);
    await compressed.readLine();
    await compressed.login(USERS.alice.user, USERS.alice.pass);
    const socket = (compressed as unknown as { socket: import('node:net').Socket }).socket;
    socket.removeAllListeners('data');
    socket.write('c1 COMPRESS DEFLATE\r\n');
    const afterOk: Buffer[] = [];
    const collect = (chunk: Buffer) => afterOk.push(chunk);
    const okLine = await new Promise<string>((resolve) =>
      socket.once('data', (chunk: Buffer) => {
        const end = chunk.indexOf('\r\n') + 2;
        afterOk.push(chunk.subarray(end));
        socket.on('data', collect);
        resolve(chunk.subarray(0, end).toString());
      }),
    );
    assert.match(okLine, /^c1 OK/);
    // Nothing follows the OK until the client speaks, not even an empty deflate block: a client reading
    // the OK with more bytes behind it cannot tell where its inflater should start (imapflow gives up).
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.off('data', collect);
    assert.equal(Buffer.concat(afterOk).length, 0);
    const deflate = createDeflateRaw();
    const inflate = createInflateRaw();
    deflate.pipe(socket);
    socket.pipe(inflate);
    let received = '';
    inflate.on('data', (chunk: Buffer) => {
      received += chunk.toString();
    });
    deflate.write('c2 SELECT Bin\r\n');
    deflate.flush(zlib.Z_SYNC_FLUSH);
    const deadline = Date.now() + 5_000;
    while (!received.includes('c2 OK') && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    assert.match(received, /\* 1 EXISTS/);
    assert.match(received, /c2 OK \[READ-WRITE\]/);
    deflate.write('c3 COMPRESS DEFLATE\r\n');
    deflate.flush(zlib.Z_SYNC_FLUSH);
    while (!received.includes('c3 ') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.match(received, /c3 NO \[COMPRESSIONACTIVE\]/);
  });

  it('SAVEDATE: when a message was saved in the mailbox, apart from its internal date', async () => {
    const client = await login();
    await client.command('CREATE Saved');
    const text = message('from the archive');
    const appended = await client.command(
      `APPEND Saved "01-Jan-2020 10:00:00 +0000" {${Buffer.byteLength(text)}+}\r\n${text}`,
    );
    assert.equal(appended.status, 'OK', appended.line);
    await client.command('SELECT Saved');
    const fetched = await client.command('FETCH 1 (INTERNALDATE SAVEDATE)');
    const match = /INTERNALDATE " 1-Jan-2020 10:00:00 \+0000" SAVEDATE "( ?\d{1,2}-\w{3}-\d{4}) [\d:]{8} \+0000"/.exec(
      fetched.untagged[0] ?? '',
    );
    assert.ok(match, fetched.untagged.join('|'));
    const savedOn = match[1]!.trim();
    assert.notEqual(savedOn, '1-Jan-2020');
    const search = async (criteria: string) => (await client.command(`SEARCH ${criteria}`)).untagged[0];
    assert.equal(await search(`SAVEDON ${savedOn}`), '* SEARCH 1');
    assert.equal(await search(`SAVEDBEFORE ${savedOn}`), '* SEARCH');
    assert.equal(await search('SAVEDSINCE 1-Jan-2021'), '* SEARCH 1');
    assert.equal(await search('SINCE 1-Jan-2021'), '* SEARCH');
    assert.equal(await search('SAVEDATESUPPORTED'), '* SEARCH 1');
  });

  it('streams large bodies from the blob store, whole and partial', async () => {
    const client = await login();
    await client.command('CREATE Large');
    const line = `${'0123456789'.repeat(7)}\r\n`;
    const big = `Subject: large\r\n\r\n${line.repeat(10_000)}`;
    await append(client, 'Large', big);
    await client.command('SELECT Large');
    const fetched = await client.command('FETCH 1 (UID RFC822.SIZE BODY.PEEK[] BODY.PEEK[TEXT]<10.300000>)');
    const response = fetched.untagged[0] ?? '';
    assert.ok(response.startsWith(`* 1 FETCH (UID 1 RFC822.SIZE ${big.length} BODY[] {${big.length}}\r\n${big}`));
    const text = big.slice(big.indexOf('\r\n\r\n') + 4);
    assert.ok(response.endsWith(` BODY[TEXT]<10> {300000}\r\n${text.slice(10, 300_010)})`), response.slice(-80));
    // The connection is still in step.
    assert.equal((await client.command('NOOP')).status, 'OK');
  });

  it('refuses an account more sessions than its limit', async () => {
    const sessions: RawImapClient[] = [];
    let refused: string | undefined;
    for (let i = 0; i <= SESSION_LIMIT && refused === undefined; i++) {
      const client = await RawImapClient.connect(server.port);
      clients.push(client);
      sessions.push(client);
      await client.readLine();
      const result = await client.command(`LOGIN "${USERS.bob.user}" "${USERS.bob.pass}"`);
      if (result.status !== 'OK') refused = result.line;
    }
    assert.match(refused ?? '', /NO \[LIMIT\]/);
    assert.equal(sessions.length, SESSION_LIMIT + 1);
  });
});
