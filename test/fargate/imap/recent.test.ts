/**
 * \Recent (RFC 3501 §2.3.2) over real sockets: a message is recent in exactly one session, the first to
 * SELECT the mailbox after it arrived or the selected session that first learns of it; EXAMINE shows
 * recent messages without taking them; STATUS RECENT, SEARCH RECENT/NEW/OLD, and \Recent in FETCH FLAGS
 * follow; clients cannot set or clear it.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { type ImapTestServer, startImapTestServer, USERS } from './imap-test-server.ts';
import { RawImapClient } from './raw-imap-client.ts';

const message = (subject: string) =>
  `From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: ${subject}\r\n\r\nhello\r\n`;

/** The number of a `* n RECENT` line among untagged responses; undefined when there is none. */
function recentCount(untagged: readonly string[]): number | undefined {
  const line = untagged.find((each) => /^\* \d+ RECENT$/.test(each));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

/** UID → flags from FETCH responses. */
function flagsByUid(untagged: readonly string[]): Map<number, string[]> {
  const flags = new Map<number, string[]>();
  for (const line of untagged) {
    const match = /UID (\d+).*FLAGS \(([^)]*)\)|FLAGS \(([^)]*)\).*UID (\d+)/.exec(line);
    if (!match) continue;
    const uid = Number(match[1] ?? match[4]);
    const list = match[2] ?? match[3] ?? '';
    flags.set(uid, list === '' ? [] : list.split(' '));
  }
  return flags;
}

describe('IMAP \\Recent', () => {
  let server: ImapTestServer;
  const clients: RawImapClient[] = [];

  async function login(): Promise<RawImapClient> {
    const client = await RawImapClient.loggedIn(server.port, USERS.alice);
    clients.push(client);
    return client;
  }

  async function append(client: RawImapClient, mailbox: string, subject: string, flags = ''): Promise<void> {
    const text = message(subject);
    const result = await client.command(`APPEND ${mailbox} (${flags}) {${Buffer.byteLength(text)}+}\r\n${text}`);
    assert.equal(result.status, 'OK', result.line);
  }

  async function search(client: RawImapClient, criteria: string): Promise<string> {
    const result = await client.command(`UID SEARCH ${criteria}`);
    assert.equal(result.status, 'OK', result.line);
    return result.untagged
      .find((line) => line.startsWith('* SEARCH'))!
      .slice('* SEARCH'.length)
      .trim();
  }

  before(async () => {
    server = await startImapTestServer();
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  after(async () => {
    await server.stop();
  });

  it('the first SELECT takes the recent messages; a second session sees none, and EXAMINE takes nothing', async () => {
    const writer = await login();
    await writer.command('CREATE Fresh');
    await append(writer, 'Fresh', 'one');
    await append(writer, 'Fresh', 'two', '\\Seen');
    assert.match((await writer.command('STATUS Fresh (MESSAGES RECENT)')).untagged[0]!, /MESSAGES 2 RECENT 2/);

    const examiner = await login();
    const examined = await examiner.command('EXAMINE Fresh');
    assert.equal(recentCount(examined.untagged), 2);
    assert.match((await writer.command('STATUS Fresh (RECENT)')).untagged[0]!, /RECENT 2/);

    const first = await login();
    const selected = await first.command('SELECT Fresh');
    assert.equal(selected.status, 'OK', selected.line);
    assert.equal(recentCount(selected.untagged), 2);
    const flags = flagsByUid((await first.command('FETCH 1:* (UID FLAGS)')).untagged);
    assert.deepEqual(flags.get(1), ['\\Recent']);
    assert.deepEqual(flags.get(2), ['\\Seen', '\\Recent']);
    assert.equal(await search(first, 'RECENT'), '1 2');
    assert.equal(await search(first, 'NEW'), '1');
    assert.equal(await search(first, 'OLD'), '');

    const second = await login();
    const again = await second.command('SELECT Fresh');
    assert.equal(recentCount(again.untagged), 0);
    const secondFlags = flagsByUid((await second.command('FETCH 1:* (UID FLAGS)')).untagged);
    assert.deepEqual(secondFlags.get(1), []);
    assert.deepEqual(secondFlags.get(2), ['\\Seen']);
    assert.equal(await search(second, 'RECENT'), '');
    assert.equal(await search(second, 'OLD'), '1 2');
    // Taken: nobody else gets them, and STATUS says so.
    assert.match((await writer.command('STATUS Fresh (RECENT)')).untagged[0]!, /RECENT 0/);
    // The session that holds them counts them in its own STATUS.
    assert.match((await first.command('STATUS Fresh (RECENT)')).untagged[0]!, /RECENT 2/);
  });

  it('a message delivered while two sessions are selected is recent to the one that learns of it first', async () => {
    const writer = await login();
    await writer.command('CREATE Arrivals');
    await append(writer, 'Arrivals', 'old');
    const first = await login();
    const second = await login();
    assert.equal(recentCount((await first.command('SELECT Arrivals')).untagged), 1);
    assert.equal(recentCount((await second.command('SELECT Arrivals')).untagged), 0);

    await append(writer, 'Arrivals', 'new');
    const noticed = await first.command('NOOP');
    assert.ok(noticed.untagged.includes('* 2 EXISTS'), noticed.untagged.join('|'));
    // RECENT counts every message recent in the session: the first one from SELECT, and the new one.
    assert.equal(recentCount(noticed.untagged), 2);
    const late = await second.command('NOOP');
    assert.ok(late.untagged.includes('* 2 EXISTS'), late.untagged.join('|'));
    assert.equal(recentCount(late.untagged), 0);

    assert.deepEqual(flagsByUid((await first.command('UID FETCH 2 (FLAGS)')).untagged).get(2), ['\\Recent']);
    assert.deepEqual(flagsByUid((await second.command('UID FETCH 2 (FLAGS)')).untagged).get(2), []);
    assert.equal(await search(first, 'RECENT'), '1 2');
    assert.equal(await search(second, 'RECENT'), '');

    // A message the session appends itself is recent to it: it learns of it right after the APPEND.
    const text = message('own');
    const own = await second.command(`APPEND Arrivals {${text.length}+}\r\n${text}`);
    assert.ok(own.untagged.includes('* 3 EXISTS'), own.untagged.join('|'));
    assert.equal(recentCount(own.untagged), 1);
    assert.equal(await search(second, 'RECENT'), '3');
  });

  it('an idling session is told RECENT with the new EXISTS', async () => {
    const writer = await login();
    await writer.command('CREATE Idle');
    const idler = await login();
    await idler.command('SELECT Idle');
    idler.write('i1 IDLE\r\n');
    assert.match((await idler.readLine())!, /^\+ /);
    await append(writer, 'Idle', 'while idling');
    assert.equal(await idler.readLine(), '* 1 EXISTS');
    assert.equal(await idler.readLine(), '* 1 RECENT');
    idler.write('DONE\r\n');
    assert.equal((await idler.untilTagged('i1')).status, 'OK');
  });

  it('clients cannot set or clear \\Recent', async () => {
    const client = await login();
    await client.command('CREATE Sticky');
    await append(client, 'Sticky', 'appended recent', '\\Recent \\Flagged');
    await client.command('SELECT Sticky');
    const added = await client.command('UID STORE 1 +FLAGS (\\Recent \\Seen)');
    assert.equal(added.status, 'OK', added.line);
    assert.deepEqual(flagsByUid(added.untagged).get(1), ['\\Flagged', '\\Seen', '\\Recent']);
    const removed = await client.command('UID STORE 1 -FLAGS (\\Recent)');
    assert.equal(removed.status, 'OK', removed.line);
    assert.deepEqual(flagsByUid((await client.command('UID FETCH 1 (FLAGS)')).untagged).get(1), [
      '\\Flagged',
      '\\Seen',
      '\\Recent',
    ]);
    const replaced = await client.command('UID STORE 1 FLAGS (\\Recent)');
    assert.equal(replaced.status, 'OK', replaced.line);
    assert.deepEqual(flagsByUid(replaced.untagged).get(1), ['\\Recent']);
    // Another session sees what was stored: no \Recent.
    const other = await login();
    await other.command('EXAMINE Sticky');
    assert.deepEqual(flagsByUid((await other.command('UID FETCH 1 (FLAGS)')).untagged).get(1), []);
  });
});
