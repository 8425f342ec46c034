/**
 * IMAP4rev2 (RFC 9051) next to IMAP4rev1: both are advertised, a session turns rev2 on with ENABLE, and
 * from then on gets rev2's behaviour where the two differ (Appendix E): ESEARCH answers to SEARCH, no
 * \Recent (no RECENT response, flag, search key or status item), a LIST line on SELECT instead of RECENT
 * and UNSEEN, UTF-8 mailbox names, \NonExistent in LIST, STATUS DELETED and SIZE, and BINARY fetches.
 * Over a raw socket where the exact responses matter, and with imapflow.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { type ImapTestServer, startImapTestServer, USERS } from './imap-test-server.ts';
import { RawImapClient } from './raw-imap-client.ts';

const message = (subject: string) =>
  `From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: ${subject}\r\n\r\nhello\r\n`;

/** Bytes that only survive a correct base64 decode and a literal8: NUL, CR, LF, high bytes. */
const PAYLOAD = Buffer.from([0x00, 0x01, 0x0d, 0x0a, 0x7f, 0x80, 0xc3, 0xa9, 0xff, 0x00, 0x42]);

const WITH_ATTACHMENT = [
  'From: Bob <bob@example.test>',
  'To: alice@example.test',
  'Subject: attachment',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b"',
  '',
  '--b',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'caf=C3=A9',
  '--b',
  'Content-Type: application/octet-stream; name="payload.bin"',
  'Content-Transfer-Encoding: base64',
  '',
  PAYLOAD.toString('base64'),
  '--b--',
  '',
].join('\r\n');

describe('IMAP4rev2', () => {
  let server: ImapTestServer;
  const clients: RawImapClient[] = [];
  const flows: ImapFlow[] = [];

  async function login(): Promise<RawImapClient> {
    const client = await RawImapClient.loggedIn(server.port, USERS.alice);
    clients.push(client);
    return client;
  }

  async function rev2(): Promise<RawImapClient> {
    const client = await login();
    const enabled = await client.command('ENABLE IMAP4rev2');
    assert.equal(enabled.status, 'OK', enabled.line);
    assert.deepEqual(enabled.untagged, ['* ENABLED IMAP4rev2']);
    return client;
  }

  async function append(client: RawImapClient, mailbox: string, text: string, flags = ''): Promise<void> {
    const result = await client.command(`APPEND ${mailbox} (${flags}) {${Buffer.byteLength(text)}+}\r\n${text}`);
    assert.equal(result.status, 'OK', result.line);
  }

  before(async () => {
    server = await startImapTestServer();
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await Promise.allSettled(flows.splice(0).map((flow) => flow.logout()));
  });

  after(async () => {
    await server.stop();
  });

  it('advertises both revisions and turns rev2 on with ENABLE, once', async () => {
    const client = await RawImapClient.connect(server.port);
    clients.push(client);
    assert.match((await client.readLine())!, /\[CAPABILITY IMAP4rev1 IMAP4rev2 /);
    await client.login(USERS.alice.user, USERS.alice.pass);
    const capabilities = (await client.command('CAPABILITY')).untagged[0]!.split(' ');
    for (const capability of ['IMAP4rev1', 'IMAP4rev2', 'ENABLE', 'ESEARCH', 'STATUS=SIZE', 'LIST-STATUS']) {
      assert.ok(capabilities.includes(capability), capability);
    }
    // Any case; ENABLED names what this command turned on, so a second ENABLE names nothing.
    assert.deepEqual((await client.command('ENABLE imap4REV2')).untagged, ['* ENABLED IMAP4rev2']);
    assert.deepEqual((await client.command('ENABLE IMAP4rev2')).untagged, ['* ENABLED']);
  });

  it('SELECT sends LIST instead of RECENT and UNSEEN, and leaves \\Recent to rev1 sessions', async () => {
    const writer = await login();
    await writer.command('CREATE Shared4/Child');
    await writer.command('CREATE Shared4');
    await append(writer, 'Shared4', message('one'), '\\Seen');
    await append(writer, 'Shared4', message('two'));

    const modern = await rev2();
    const selected = await modern.command('SELECT Shared4');
    assert.equal(selected.status, 'OK', selected.line);
    assert.ok(selected.untagged.includes('* 2 EXISTS'));
    assert.ok(selected.untagged.includes('* LIST (\\HasChildren) "/" "Shared4"'), selected.untagged.join('|'));
    assert.ok(!selected.untagged.some((line) => / RECENT$|\[UNSEEN /.test(line)), selected.untagged.join('|'));
    const flags = await modern.command('FETCH 1:* (FLAGS)');
    assert.deepEqual(flags.untagged, ['* 1 FETCH (FLAGS (\\Seen))', '* 2 FETCH (FLAGS ())']);

    // The rev2 session took nothing: the first rev1 session to select still gets both as recent.
    const classic = await login();
    assert.ok((await classic.command('SELECT Shared4')).untagged.includes('* 2 RECENT'));

    // A delivery while both are selected: RECENT only for the rev1 session, whichever learns first.
    await append(writer, 'Shared4', message('three'));
    const modernNoop = await modern.command('NOOP');
    assert.deepEqual(modernNoop.untagged, ['* 3 EXISTS']);
    const classicNoop = await classic.command('NOOP');
    assert.deepEqual(classicNoop.untagged, ['* 3 EXISTS', '* 3 RECENT']);

    // The LIST line carries the special use too.
    const special = await (await rev2()).command('EXAMINE Trash');
    assert.ok(special.untagged.includes('* LIST (\\HasNoChildren \\Trash) "/" "Trash"'), special.untagged.join('|'));
  });

  it('answers SEARCH with ESEARCH, and refuses the \\Recent keys and STATUS RECENT', async () => {
    const writer = await login();
    await writer.command('CREATE Esearch4');
    for (const subject of ['alpha', 'beta', 'alpha two']) await append(writer, 'Esearch4', message(subject));
    const client = await rev2();
    await client.command('SELECT Esearch4');
    const search = await client.command('SEARCH SUBJECT alpha');
    assert.equal(search.status, 'OK', search.line);
    assert.deepEqual(search.untagged, [`* ESEARCH (TAG "${search.line.split(' ')[0]}") ALL 1,3`]);
    const uidSearch = await client.command('UID SEARCH ALL');
    assert.match(uidSearch.untagged.join('|'), /^\* ESEARCH \(TAG "t\d+"\) UID ALL 1:3$/);
    const none = await client.command('UID SEARCH SUBJECT nothing-matches');
    assert.match(none.untagged.join('|'), /^\* ESEARCH \(TAG "t\d+"\) UID$/);
    const counted = await client.command('SEARCH RETURN (COUNT) ALL');
    assert.match(counted.untagged.join('|'), /^\* ESEARCH \(TAG "t\d+"\) COUNT 3$/);

    for (const key of ['RECENT', 'NEW', 'OLD', 'NOT RECENT', 'OR SEEN NEW']) {
      assert.equal((await client.command(`SEARCH ${key}`)).status, 'BAD', key);
    }
    assert.equal((await client.command('SORT (SUBJECT) UTF-8 RECENT')).status, 'BAD');
    assert.equal((await client.command('STATUS INBOX (MESSAGES RECENT)')).status, 'BAD');
    assert.equal((await client.command('LIST "" "Esearch4" RETURN (STATUS (RECENT))')).status, 'BAD');
    // The same keys in a rev1 session are fine.
    const classic = await login();
    await classic.command('EXAMINE Esearch4');
    assert.deepEqual((await classic.command('SEARCH OLD')).untagged, ['* SEARCH']);
  });

  it('STATUS DELETED and SIZE, and LIST-STATUS', async () => {
    const writer = await login();
    await writer.command('CREATE Sizes4');
    await append(writer, 'Sizes4', message('kept'));
    await append(writer, 'Sizes4', message('doomed'), '\\Deleted');
    const size = 2 * Buffer.byteLength(message('kept')) + 2;
    const client = await rev2();
    const status = await client.command('STATUS Sizes4 (MESSAGES DELETED SIZE)');
    assert.deepEqual(status.untagged, [`* STATUS "Sizes4" (MESSAGES 2 DELETED 1 SIZE ${size})`]);
    const listed = await client.command('LIST "" Sizes4 RETURN (STATUS (DELETED SIZE))');
    assert.deepEqual(listed.untagged, [
      '* LIST (\\HasNoChildren) "/" "Sizes4"',
      `* STATUS "Sizes4" (DELETED 1 SIZE ${size})`,
    ]);
  });

  it('names mailboxes in UTF-8, not modified UTF-7, and lists a missing parent as \\NonExistent', async () => {
    const client = await rev2();
    const created = await client.command('CREATE "Städte/Zürich"');
    assert.equal(created.status, 'OK', created.line);
    const listed = await client.command('LIST "" "Städte*"');
    assert.deepEqual(listed.untagged, [
      '* LIST (\\HasChildren) "/" {7}\r\nStädte',
      '* LIST (\\HasNoChildren) "/" {15}\r\nStädte/Zürich',
    ]);
    assert.equal((await client.command('DELETE "Städte"')).status, 'OK');
    const orphan = await client.command('LIST "" "St*"');
    assert.deepEqual(orphan.untagged, [
      '* LIST (\\NonExistent \\HasChildren) "/" {7}\r\nStädte',
      '* LIST (\\HasNoChildren) "/" {15}\r\nStädte/Zürich',
    ]);
    const selected = await client.command('SELECT "Städte/Zürich"');
    assert.equal(selected.status, 'OK', selected.line);
    assert.ok(selected.untagged.includes('* LIST (\\HasNoChildren) "/" {15}\r\nStädte/Zürich'));

    // A rev1 session sees the same mailbox in modified UTF-7, and the missing parent as \Noselect.
    const classic = await login();
    assert.deepEqual((await classic.command('LIST "" "St*"')).untagged, [
      '* LIST (\\Noselect \\HasChildren) "/" "St&AOQ-dte"',
      '* LIST (\\HasNoChildren) "/" "St&AOQ-dte/Z&APw-rich"',
    ]);
  });

  it('BINARY, BINARY.PEEK and BINARY.SIZE decode a base64 part, over a raw socket and with imapflow', async () => {
    const writer = await login();
    await writer.command('CREATE Binary4');
    await append(writer, 'Binary4', WITH_ATTACHMENT);
    const client = await rev2();
    await client.command('SELECT Binary4');
    const sized = await client.command('FETCH 1 (BINARY.SIZE[2] BINARY.SIZE[1])');
    assert.deepEqual(sized.untagged, [`* 1 FETCH (BINARY.SIZE[2] ${PAYLOAD.length} BINARY.SIZE[1] 5)`]);
    // The decoded payload holds NULs, so it comes as a literal8.
    const fetched = await client.command('FETCH 1 (BINARY.PEEK[2])');
    assert.match(fetched.untagged[0]!, new RegExp(`^\\* 1 FETCH \\(BINARY\\[2\\] ~\\{${PAYLOAD.length}\\}\\r\\n`));
    const text = await client.command('FETCH 1 (BINARY.PEEK[1])');
    assert.deepEqual(text.untagged, ['* 1 FETCH (BINARY[1] {5}\r\ncafé)']);
    // Not PEEK: the message is \Seen afterwards.
    const read = await client.command('FETCH 1 (BINARY[1]<0.3>)');
    assert.match(read.untagged.join('|'), /BINARY\[1\]<0> \{3\}\r\ncaf/);
    assert.match(read.untagged.join('|'), /FLAGS \(\\Seen\)/);

    // imapflow in its rev2 session fetches BINARY[2] and hands back the decoded bytes exactly.
    const flow = new ImapFlow({
      host: server.host,
      port: server.port,
      secure: false,
      doSTARTTLS: false,
      auth: USERS.alice,
      logger: false,
    });
    flows.push(flow);
    await flow.connect();
    assert.ok(flow.enabled.has('IMAP4REV2'));
    const lock = await flow.getMailboxLock('Binary4');
    try {
      const fetchedByFlow = await flow.fetchOne('1', { bodyParts: ['2'] }, { binary: true });
      assert.ok(fetchedByFlow);
      assert.deepEqual(fetchedByFlow.bodyParts?.get('2'), PAYLOAD);
    } finally {
      lock.release();
    }
  });
});
