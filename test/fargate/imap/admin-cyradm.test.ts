/**
 * The admin workflow of the old Cyrus tool, driven with the real `cyradm` (Debian's cyrus-admin) over
 * a pseudo-terminal (it reads commands only from a terminal): create an account's mailbox tree and
 * folders, set and list ACLs, set and read quotas, create a shared mailbox, rename, delete, list. What
 * it did is checked in the store as well as in cyradm's own output.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { effectiveRights, sharedMailboxOwner } from '../../../shared/acl/index.ts';
import { getMailboxByName, listDeletedMailboxes, listExistingMailboxes } from '../../../shared/mailbox/index.ts';
import { DOMAIN, type ImapTestServer, startImapTestServer, USERS } from './imap-test-server.ts';

const ADMIN = { user: `admin@${DOMAIN}`, pass: 'admin secret 5' };
const CAROL = `carol@${DOMAIN}`;
const PROMPT = /127\.0\.0\.1> $/;
const SESSION_TIMEOUT_MS = 20_000;

/**
 * Runs cyradm on a pseudo-terminal, sending each command once the shell prompts for it. Returns each command's output (escape sequences and prompts removed).
 */
async function cyradm(port: number, commands: string[]): Promise<Map<string, string>> {
  // -w gives the password on the command line (a test password), instead of a prompt racing with stty.
  const line = `cyradm --user ${ADMIN.user} -w '${ADMIN.pass}' --auth PLAIN --notls --port ${port} 127.0.0.1`;
  const child = spawn('script', ['-qec', line, '/dev/null'], { env: { ...process.env, TERM: 'dumb' } });
  const outputs = new Map<string, string>();
  const pending = [...commands, 'quit'];
  let current: string | undefined;
  let buffer = '';
  const clean = (text: string) =>
    text
      .replace(/\x1b\[[?0-9;]*[a-zA-Z]/g, '')
      .replace(/\r/g, '')
      .trim();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`cyradm stalled; output so far: ${JSON.stringify(buffer)}`));
    }, SESSION_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      if (!PROMPT.test(`${clean(buffer)} `)) return;
      if (current !== undefined) {
        // The terminal echoes the command line first.
        const text = clean(buffer.replace(PROMPT, '')).split('\n').slice(1).join('\n');
        outputs.set(current, text.replace(/127\.0\.0\.1>$/, '').trim());
      }
      buffer = '';
      current = pending.shift();
      if (current !== undefined) child.stdin.write(`${current}\r`);
    });
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      if (pending.length > 0) reject(new Error(`cyradm ended early; output: ${JSON.stringify(buffer)}`));
      else resolve(outputs);
    });
  });
}

describe('cyradm', () => {
  let server: ImapTestServer;

  before(async () => {
    const found = spawnSync('cyradm', ['--help'], { encoding: 'utf8' });
    assert.ok(!found.error, 'cyradm is missing: apt-get install -y cyrus-admin');
    server = await startImapTestServer();
    await server.directory.addAccount(ADMIN.user, { password: ADMIN.pass, admin: true });
    await server.directory.addAccount(CAROL, { password: 'carol secret 3' });
  });

  after(async () => {
    await server?.stop();
  });

  it('drives the admin workflow end to end', async () => {
    const carolRoot = `user/${CAROL}`;
    const out = await cyradm(server.port, [
      `cm ${carolRoot}`,
      `cm ${carolRoot}/Projects`,
      `cm ${carolRoot}/Projects/2024`,
      `sam ${carolRoot}/Projects ${USERS.bob.user} lrswi`,
      `sam ${carolRoot}/Projects anyone lr`,
      `lam ${carolRoot}/Projects`,
      `sq ${carolRoot} STORAGE 100000`,
      `lq ${carolRoot}`,
      'cm Shared/news',
      'sam Shared/news anyone lrp',
      'lam Shared/news',
      `renm ${carolRoot}/Projects/2024 ${carolRoot}/Projects/Archive-2024`,
      `dm ${carolRoot}/Projects/Archive-2024`,
      `lm ${carolRoot}*`,
      'lm Shared/*',
      `dam ${carolRoot}/Projects anyone`,
      `lam ${carolRoot}/Projects`,
      `cm ${carolRoot}`,
    ]);
    const carol = (await server.directory.getAccount(CAROL))!;

    // The account's tree, with the default special-use folders.
    const names = (await listExistingMailboxes(server.mail, carol.id)).map((mailbox) => mailbox.name).sort();
    assert.deepEqual(names, ['Archive', 'Drafts', 'INBOX', 'Junk', 'Projects', 'Sent', 'Trash']);
    assert.deepEqual(
      (await listDeletedMailboxes(server.mail, carol.id)).map((deleted) => deleted.name),
      ['Projects/Archive-2024'],
    );
    assert.equal(out.get(`cm ${carolRoot}`), 'createmailbox: [ALREADYEXISTS] Mailbox already exists');

    // ACLs as cyradm prints them, and as the store holds them.
    // cyradm keeps the entries in a Perl hash: their order is its own.
    const lines = (command: string) => (out.get(command) ?? '').split('\n').sort();
    assert.deepEqual(lines(`lam ${carolRoot}/Projects`), [`${USERS.bob.user} lrswi`, `${CAROL} lrswipkxteacd`]);
    const projects = await getMailboxByName(server.mail, carol.id, 'Projects');
    const bob = (await server.directory.getAccount(USERS.bob.user))!;
    assert.equal(
      effectiveRights(projects, { kind: 'account', id: bob.id, address: bob.address, admin: false }),
      'lrswi',
    );
    assert.deepEqual(projects.acl, { [USERS.bob.user]: 'lrswi' });

    // Quota: STORAGE in kilobytes.
    assert.match(out.get(`lq ${carolRoot}`) ?? '', /STORAGE 0\/100000 \(0%\)/);
    assert.deepEqual((await server.directory.getAccount(CAROL))?.quota, { storageBytes: 102_400_000 });

    // A shared mailbox of the domain that anyone may post to.
    assert.equal(out.get('lam Shared/news'), 'anyone lrp');
    const news = await getMailboxByName(server.mail, sharedMailboxOwner(DOMAIN), 'news');
    assert.deepEqual(news.acl, { anyone: 'lrp' });

    // Listings in the other-users and shared namespaces.
    const listed = out.get(`lm ${carolRoot}*`) ?? '';
    for (const name of ['Archive', 'Drafts', 'Junk', 'Projects', 'Sent', 'Trash']) {
      assert.match(listed, new RegExp(`${carolRoot}/${name} `), listed);
    }
    assert.doesNotMatch(listed, /Archive-2024/);
    assert.match(out.get('lm Shared/*') ?? '', /^Shared\/news \(\\HasNoChildren\)/);
  });
});
