/**
 * Hostile and broken input over raw sockets: huge literal announcements before login, over-long lines,
 * deep nesting, garbage, pipelined input after STARTTLS, connection floods, password guessing. Each
 * gets BAD (or NO) and, where it must, a closed connection; the server keeps serving everyone else.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ImapTestServer, startImapTestServer, USERS } from './imap-test-server.ts';
import { RawImapClient } from './raw-imap-client.ts';

describe('IMAP under hostile input', () => {
  let server: ImapTestServer;
  const clients: RawImapClient[] = [];

  async function connect(): Promise<RawImapClient> {
    const client = await RawImapClient.connect(server.port);
    clients.push(client);
    const greeting = await client.readLine();
    assert.match(greeting ?? '', /^\* OK /);
    return client;
  }

  async function assertServerServes(): Promise<void> {
    const client = await connect();
    await client.login(USERS.alice.user, USERS.alice.pass);
    const result = await client.command('SELECT INBOX');
    assert.equal(result.status, 'OK');
    client.close();
  }

  before(async () => {
    server = await startImapTestServer({ MARMOT_IMAP_MAX_CONNECTIONS_PER_IP: '20' });
  });

  after(async () => {
    for (const client of clients) client.close();
    await server.stop();
  });

  it('refuses a huge synchronizing literal before login without asking for it', async () => {
    const client = await connect();
    client.write('a1 LOGIN {4000000000}\r\n');
    const line = await client.readLine();
    assert.match(line ?? '', /^a1 (BAD|NO) \[TOOBIG\]/);
    // The connection is still usable: the literal was never requested.
    const result = await client.command('CAPABILITY');
    assert.equal(result.status, 'OK');
  });

  it('closes on a non-synchronizing literal beyond LITERAL- before login', async () => {
    const client = await connect();
    client.write(`a1 LOGIN {5000+}\r\n${'x'.repeat(100)}`);
    const lines = await client.linesUntilClosed(3_000);
    assert.ok(
      lines.some((line) => line.startsWith('* BYE')),
      JSON.stringify(lines),
    );
  });

  it('closes on an endless line', async () => {
    const client = await connect();
    client.write(`a1 LOGIN ${'A'.repeat(200_000)}`);
    const lines = await client.linesUntilClosed(3_000);
    assert.ok(
      lines.some((line) => /BYE|BAD/.test(line)),
      JSON.stringify(lines),
    );
  });

  it('answers deep nesting with BAD and stays usable', async () => {
    const client = await connect();
    await client.login(USERS.alice.user, USERS.alice.pass);
    await client.command('SELECT INBOX');
    const deep = `${'('.repeat(5_000)}ALL${')'.repeat(5_000)}`;
    const result = await client.command(`SEARCH ${deep}`);
    assert.equal(result.status, 'BAD');
    assert.equal((await client.command('NOOP')).status, 'OK');
  });

  it('answers garbage with BAD and closes after too much of it', async () => {
    const client = await connect();
    const bad = await client.command('FROBNICATE now');
    assert.equal(bad.status, 'BAD');
    client.write('\x00\x01\x02 garbage\r\n');
    assert.match((await client.readLine()) ?? '', /BAD/);
    for (let i = 0; i < 12; i++) client.write(`x${i} ${'%'.repeat(i + 1)}\r\n`);
    const lines = await client.linesUntilClosed(3_000);
    assert.ok(
      lines.some((line) => line.startsWith('* BYE')),
      JSON.stringify(lines),
    );
  });

  it('refuses commands that are not valid in the current state', async () => {
    const client = await connect();
    assert.equal((await client.command('SELECT INBOX')).status, 'BAD');
    assert.equal((await client.command('FETCH 1 FLAGS')).status, 'BAD');
    await client.login(USERS.alice.user, USERS.alice.pass);
    assert.equal((await client.command('FETCH 1 FLAGS')).status, 'BAD');
    await client.command('SELECT INBOX');
    assert.equal((await client.command('FETCH 99 FLAGS')).status, 'BAD');
    assert.equal((await client.command('LOGIN a b')).status, 'BAD');
  });

  it('does not run commands pipelined behind STARTTLS (CVE-2011-0411)', async () => {
    const client = await connect();
    client.write('a1 STARTTLS\r\na2 LOGIN alice@example.test x\r\n');
    assert.match((await client.readLine()) ?? '', /^a1 OK/);
    await client.startTls(server.certificate);
    const result = await client.command('NOOP');
    assert.equal(result.status, 'OK');
    assert.ok(!result.untagged.some((line) => line.startsWith('a2')), JSON.stringify(result.untagged));
  });

  it('closes the connection after repeated failed logins', async () => {
    const client = await connect();
    for (let i = 0; i < 2; i++) {
      const result = await client.command(`LOGIN "${USERS.bob.user}" "guess${i}"`);
      assert.match(result.line, /NO \[AUTHENTICATIONFAILED\]/);
    }
    client.write('a9 LOGIN "bob@example.test" "guess3"\r\n');
    const lines = await client.linesUntilClosed(3_000);
    assert.ok(
      lines.some((line) => line.startsWith('* BYE')),
      JSON.stringify(lines),
    );
  });

  it('authenticates with AUTHENTICATE PLAIN, with and without an initial response, and can be cancelled', async () => {
    const plain = Buffer.from(`\0${USERS.bob.user}\0${USERS.bob.pass}`).toString('base64');
    const first = await connect();
    assert.match((await first.command(`AUTHENTICATE PLAIN ${plain}`)).line, /OK \[CAPABILITY /);
    const second = await connect();
    second.write('a1 AUTHENTICATE PLAIN\r\n');
    assert.equal(await second.readLine(), '+ ');
    second.write(`${plain}\r\n`);
    assert.match((await second.untilTagged('a1')).line, /^a1 OK/);
    const third = await connect();
    third.write('a1 AUTHENTICATE PLAIN\r\n');
    await third.readLine();
    third.write('*\r\n');
    assert.match((await third.untilTagged('a1')).line, /^a1 BAD/);
    assert.match((await third.command('AUTHENTICATE GSSAPI')).line, /NO/);
  });

  it('caps connections from one address', async () => {
    const flood: RawImapClient[] = [];
    let refused: string | undefined;
    for (let i = 0; i < 25 && refused === undefined; i++) {
      const client = await RawImapClient.connect(server.port);
      flood.push(client);
      const line = await client.readLine();
      if (line?.startsWith('* BYE')) refused = line;
    }
    assert.match(refused ?? '', /Too many connections/);
    for (const client of flood) client.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
  });

  it('still serves well-behaved clients', async () => {
    await assertServerServes();
  });
});
