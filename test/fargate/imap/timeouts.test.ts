/**
 * The session and connection timeouts of fargate/imap/limits.ts, waited out over real sockets with
 * short values set through the configuration: silence before and after login, an IDLE past its limit,
 * a client that stops reading a large FETCH, and TLS handshakes that never start.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type ImapTestServer, startImapTestServer, USERS } from './imap-test-server.ts';
import { RawImapClient } from './raw-imap-client.ts';

const UNAUTHENTICATED_MS = 400;
const AUTHENTICATED_MS = 1_200;
const IDLE_COMMAND_MS = 2_400;
const WRITE_STALL_MS = 300;
const TLS_HANDSHAKE_MS = 300;
/** Room for a loaded machine: a timeout must have struck by then. */
const SLACK_MS = 4_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('IMAP session timeouts', () => {
  let server: ImapTestServer;
  const clients: RawImapClient[] = [];

  async function connectClient(): Promise<RawImapClient> {
    const client = await RawImapClient.connect(server.port);
    clients.push(client);
    assert.match((await client.readLine()) ?? '', /^\* OK /);
    return client;
  }

  before(async () => {
    server = await startImapTestServer({
      MARMOT_IMAP_UNAUTHENTICATED_IDLE_TIMEOUT: `${UNAUTHENTICATED_MS}ms`,
      MARMOT_IMAP_AUTHENTICATED_IDLE_TIMEOUT: `${AUTHENTICATED_MS}ms`,
      MARMOT_IMAP_IDLE_COMMAND_TIMEOUT: `${IDLE_COMMAND_MS}ms`,
    });
  });

  after(async () => {
    for (const client of clients) client.close();
    await server.stop();
  });

  it('says BYE to a silent client that never logs in, and closes', async () => {
    const started = Date.now();
    const client = await connectClient();
    const lines = await client.linesUntilClosed(UNAUTHENTICATED_MS + SLACK_MS);
    assert.ok(Date.now() - started >= UNAUTHENTICATED_MS - 50);
    assert.deepEqual(lines, [`* BYE Autologout; idle for ${UNAUTHENTICATED_MS} ms without logging in`]);
  });

  it('applies the pre-login timeout after STARTTLS too', async () => {
    const client = await connectClient();
    assert.equal((await client.command('STARTTLS')).status, 'OK');
    await client.startTls(server.certificate);
    const lines = await client.linesUntilClosed(UNAUTHENTICATED_MS + SLACK_MS);
    assert.deepEqual(lines, [`* BYE Autologout; idle for ${UNAUTHENTICATED_MS} ms without logging in`]);
  });

  it('gives a logged-in client the longer timeout, then says BYE', async () => {
    const client = await connectClient();
    await client.login(USERS.alice.user, USERS.alice.pass);
    await sleep(UNAUTHENTICATED_MS * 2);
    assert.equal((await client.command('SELECT INBOX')).status, 'OK', 'closed on the pre-login timeout');
    const silentSince = Date.now();
    const lines = await client.linesUntilClosed(AUTHENTICATED_MS + SLACK_MS);
    assert.ok(Date.now() - silentSince >= AUTHENTICATED_MS - 50);
    assert.deepEqual(lines, [`* BYE Autologout; idle for ${AUTHENTICATED_MS} ms`]);
  });

  it('lets IDLE outlast the authenticated timeout, and ends it with BYE past its own', async () => {
    const client = await connectClient();
    await client.login(USERS.alice.user, USERS.alice.pass);
    await client.command('SELECT INBOX');
    client.write('i1 IDLE\r\n');
    assert.equal(await client.readLine(), '+ idling');
    const idleSince = Date.now();
    const lines = await client.linesUntilClosed(IDLE_COMMAND_MS + SLACK_MS);
    assert.ok(Date.now() - idleSince >= IDLE_COMMAND_MS - 50, 'IDLE ended on the authenticated timeout');
    assert.deepEqual(lines, [`* BYE Autologout; idle for ${IDLE_COMMAND_MS} ms in IDLE (re-issue IDLE sooner)`]);
  });
});

describe('IMAP transport timeouts', () => {
  let server: ImapTestServer;
  const clients: RawImapClient[] = [];

  before(async () => {
    server = await startImapTestServer({
      MARMOT_IMAP_WRITE_STALL_TIMEOUT: `${WRITE_STALL_MS}ms`,
      MARMOT_IMAP_TLS_HANDSHAKE_TIMEOUT: `${TLS_HANDSHAKE_MS}ms`,
    });
  });

  after(async () => {
    for (const client of clients) client.close();
    await server.stop();
  });

  it('drops a client that stops reading a large FETCH after the write-stall timeout', async () => {
    // Two 16 MB messages: far more than the socket buffers on both sides hold.
    const setup = await RawImapClient.loggedIn(server.port, USERS.bob);
    clients.push(setup);
    const body = Buffer.alloc(16 * 1024 * 1024, 'x\r\n');
    const message = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), body]);
    setup.write(`a1 APPEND INBOX {${message.length}}\r\n`);
    assert.match((await setup.readLine()) ?? '', /^\+/);
    setup.write(Buffer.concat([message, Buffer.from('\r\n')]));
    assert.match((await setup.untilTagged('a1', 30_000)).line, /^a1 OK/);
    assert.equal((await setup.command('SELECT INBOX')).status, 'OK');
    assert.equal((await setup.command('COPY 1 INBOX')).status, 'OK');
    setup.close();

    const socket = connect({ host: server.host, port: server.port });
    let received = 0;
    let tail = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      tail = (tail + chunk.toString('latin1')).slice(-4096);
    });
    socket.on('error', () => {});
    const closing = new Promise<boolean>((resolve) => socket.on('close', () => resolve(true)));
    const until = async (what: string) => {
      const deadline = Date.now() + 10_000;
      while (!tail.includes(what)) {
        assert.ok(Date.now() < deadline, `no ${what}; got ${JSON.stringify(tail)}`);
        await sleep(10);
      }
    };
    socket.write(`l LOGIN "${USERS.bob.user}" "${USERS.bob.pass}"\r\ns SELECT INBOX\r\n`);
    await until('s OK');
    socket.write('f FETCH 1:* BODY.PEEK[]\r\n');
    socket.pause();
    await sleep(WRITE_STALL_MS * 5);
    socket.resume();
    const closed = await Promise.race([closing, sleep(SLACK_MS).then(() => false)]);
    socket.destroy();
    assert.ok(closed, `still connected after ${received} bytes`);
    assert.ok(!tail.includes('f OK'), 'the FETCH completed');
    assert.ok(received < 2 * message.length, `${received} bytes received`);
  });

  it('closes an implicit-TLS connection whose handshake never starts', async () => {
    const socket = connect({ host: server.host, port: server.tlsPort });
    socket.on('error', () => {});
    const started = Date.now();
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    const closed = await Promise.race([
      new Promise<boolean>((resolve) => socket.on('close', () => resolve(true))),
      sleep(TLS_HANDSHAKE_MS + SLACK_MS).then(() => false),
    ]);
    socket.destroy();
    assert.ok(closed, 'still connected');
    assert.ok(Date.now() - started >= TLS_HANDSHAKE_MS - 50);
    assert.equal(received, 0);
  });

  it('closes a connection that asks for STARTTLS and never starts the handshake', async () => {
    const client = await RawImapClient.connect(server.port);
    clients.push(client);
    await client.readLine();
    assert.equal((await client.command('STARTTLS')).status, 'OK');
    const lines = await client.linesUntilClosed(TLS_HANDSHAKE_MS + SLACK_MS);
    assert.deepEqual(lines, []);
  });
});
