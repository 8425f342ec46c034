/**
 * Quotas (RFC 9208) end to end on the real mail system: an administrator sets limits over IMAP, the
 * user reads them (GETQUOTAROOT, GETQUOTA), and they are enforced on APPEND, COPY and SMTP delivery
 * (NO [OVERQUOTA], 552 5.2.2); mail expunged but kept for unexpunge no longer counts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestMailSystem, type TestMailSystem } from '../../support/mail-system.ts';
import { openTransaction } from '../smtp/raw-smtp.ts';
import { RawImapClient } from './raw-imap-client.ts';

const DOMAIN = 'example.com';
const ADMIN = { user: `boss@${DOMAIN}`, pass: 'boss secret 4' };
const DAVE = { user: `dave@${DOMAIN}`, pass: 'dave secret 6' };
const ROOT = `user/${DAVE.user}`;

/** A message of exactly `size` bytes. */
function messageOf(size: number, subject: string): string {
  const head = `From: x@remote.example\r\nTo: ${DAVE.user}\r\nSubject: ${subject}\r\n\r\n`;
  return `${head}${'x'.repeat(size - head.length - 2)}\r\n`;
}

describe('quota over IMAP and SMTP', () => {
  let system: TestMailSystem;
  let admin: RawImapClient;
  let dave: RawImapClient;

  async function login(credentials: { user: string; pass: string }): Promise<RawImapClient> {
    const client = await RawImapClient.connect(system.ports.imap!);
    await client.readLine();
    await client.login(credentials.user, credentials.pass);
    return client;
  }

  async function append(client: RawImapClient, mailbox: string, text: string) {
    return client.command(`APPEND ${mailbox} {${text.length}+}\r\n${text}`);
  }

  async function smtpDeliver(text: string): Promise<string> {
    const { client, replies } = await openTransaction(system.ports.smtp!, 'x@remote.example', [DAVE.user]);
    try {
      const rcpt = replies.at(-1)!;
      if (rcpt.code !== 250) return `${rcpt.code} ${rcpt.text}`;
      const data = await client.command('DATA');
      assert.equal(data?.code, 354);
      client.write(`${text}.\r\n`);
      const reply = (await client.read())!;
      return `${reply.code} ${reply.text}`;
    } finally {
      client.close();
    }
  }

  before(async () => {
    system = await startTestMailSystem({ MARMOT_IMAP_PLAINTEXT_AUTH: '1' });
    await system.directory.addDomain(DOMAIN);
    await system.directory.addAccount(ADMIN.user, { password: ADMIN.pass, admin: true });
    await system.directory.addAccount(DAVE.user, { password: DAVE.pass });
    admin = await login(ADMIN);
  });

  after(async () => {
    admin?.close();
    dave?.close();
    await system.stop();
  });

  it('SETQUOTA by an admin, GETQUOTAROOT and GETQUOTA by the user, refusals', async () => {
    const set = await admin.command(`SETQUOTA ${ROOT} (STORAGE 4 MESSAGE 3)`);
    assert.equal(set.status, 'OK', set.line);
    assert.deepEqual(set.untagged, [`* QUOTA "${ROOT}" (STORAGE 0 4 MESSAGE 0 3)`]);
    dave = await login(DAVE);
    const root = await dave.command('GETQUOTAROOT INBOX');
    assert.deepEqual(root.untagged, [`* QUOTAROOT "INBOX" "${ROOT}"`, `* QUOTA "${ROOT}" (STORAGE 0 4 MESSAGE 0 3)`]);
    assert.equal((await dave.command(`GETQUOTA ${ROOT}`)).status, 'OK');
    assert.match((await dave.command(`SETQUOTA ${ROOT} (STORAGE 100)`)).line, /NO \[NOPERM\]/);
    assert.match((await dave.command(`GETQUOTA user/${ADMIN.user}`)).line, /NO \[NOPERM\]/);
    assert.match((await admin.command(`SETQUOTA ${ROOT} (LEVEL 3)`)).line, /NO .*unsupported resource/);
    assert.match((await admin.command(`GETQUOTA user/nobody@${DOMAIN}`)).line, /NO \[NONEXISTENT\]/);
    const advertised = (await dave.command('CAPABILITY')).untagged[0]!.split(' ');
    for (const capability of ['QUOTA', 'QUOTA=RES-STORAGE', 'QUOTA=RES-MESSAGE', 'QUOTASET', 'ACL', 'RIGHTS=kxte']) {
      assert.ok(advertised.includes(capability), capability);
    }
  });

  it('enforces STORAGE on APPEND, COPY and SMTP; expunged mail stops counting', async () => {
    assert.equal((await append(dave, 'INBOX', messageOf(3000, 'first'))).status, 'OK');
    const refused = await append(dave, 'INBOX', messageOf(1500, 'second'));
    assert.match(refused.line, /NO \[OVERQUOTA\]/);
    assert.match(await smtpDeliver(messageOf(1500, 'by smtp')), /^552 5\.2\.2/);
    await dave.command('SELECT INBOX');
    assert.match((await dave.command('COPY 1 Archive')).line, /NO \[OVERQUOTA\]/);
    // MOVE within the account frees what it takes.
    assert.equal((await dave.command('MOVE 1 Archive')).status, 'OK');
    await dave.command('SELECT Archive');
    await dave.command('STORE 1 +FLAGS (\\Deleted)');
    await dave.command('EXPUNGE');
    const quota = await dave.command(`GETQUOTA ${ROOT}`);
    assert.deepEqual(quota.untagged, [`* QUOTA "${ROOT}" (STORAGE 0 4 MESSAGE 0 3)`]);
    assert.match(await smtpDeliver(messageOf(1500, 'by smtp again')), /^250 /);
    assert.equal((await append(dave, 'INBOX', messageOf(1500, 'third'))).status, 'OK');
  });

  it('enforces MESSAGE; SMTP refuses at RCPT once the mailbox is full', async () => {
    const set = await admin.command(`SETQUOTA ${ROOT} (MESSAGE 2)`);
    assert.deepEqual(set.untagged, [`* QUOTA "${ROOT}" (MESSAGE 2 2)`]);
    assert.match(await smtpDeliver(messageOf(200, 'one too many')), /^552 5\.2\.2/);
    // The session's limits were read at login: a new session sees the new ones.
    dave.close();
    dave = await login(DAVE);
    assert.match((await append(dave, 'INBOX', messageOf(200, 'also too many'))).line, /NO \[OVERQUOTA\]/);
    assert.equal((await admin.command(`SETQUOTA ${ROOT} ()`)).status, 'OK');
    dave.close();
    dave = await login(DAVE);
    assert.equal((await append(dave, 'INBOX', messageOf(200, 'no limits now'))).status, 'OK');
  });
});
