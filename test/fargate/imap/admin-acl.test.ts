/**
 * RFC 4314 over raw IMAP: the rights matrix (each right × each command, for another account granted it
 * by address and for everyone granted it through `anyone`, with the owner and an administrator as the
 * controls), the ACL commands and their responses (c/d, LISTRIGHTS, MYRIGHTS, negative rights), the
 * three namespaces in NAMESPACE and LIST, shared mailboxes, and SMTP-style `p` being IMAP-inert.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ALL_RIGHTS } from '../../../shared/acl/index.ts';
import { DOMAIN, type ImapTestServer, startImapTestServer, USERS } from './imap-test-server.ts';
import { RawImapClient } from './raw-imap-client.ts';

const CAROL = { user: `carol@${DOMAIN}`, pass: 'carol secret 3' };
const BOSS = { user: `boss@${DOMAIN}`, pass: 'boss secret 4' };
const ALICE_ROOT = `user/alice@${DOMAIN}`;
const message = (subject: string) => `From: a@${DOMAIN}\r\nSubject: ${subject}\r\n\r\nbody of ${subject}\r\n`;

describe('IMAP ACL', () => {
  let server: ImapTestServer;
  let alice: RawImapClient;
  let bob: RawImapClient;
  let carol: RawImapClient;
  let boss: RawImapClient;

  async function login(credentials: { user: string; pass: string }): Promise<RawImapClient> {
    return RawImapClient.loggedIn(server.port, credentials);
  }

  async function ok(client: RawImapClient, command: string) {
    const result = await client.command(command);
    assert.equal(result.status, 'OK', `${command}: ${result.line}`);
    return result;
  }

  async function append(client: RawImapClient, mailbox: string, subject: string, flags = '') {
    const text = message(subject);
    return client.command(`APPEND "${mailbox}" (${flags}) {${text.length}+}\r\n${text}`);
  }

  before(async () => {
    server = await startImapTestServer();
    await server.directory.addAccount(CAROL.user, { password: CAROL.pass });
    await server.directory.addAccount(BOSS.user, { password: BOSS.pass, admin: true });
    alice = await login(USERS.alice);
    bob = await login(USERS.bob);
    carol = await login(CAROL);
    boss = await login(BOSS);
    for (const client of [bob, carol]) assert.equal((await append(client, 'INBOX', 'mine')).status, 'OK');
  });

  after(async () => {
    for (const client of [alice, bob, carol, boss]) client?.close();
    await server.stop();
  });

  /** Outcome of each authenticated-state command for a grantee on `user/alice/<name>`. */
  async function authenticatedOutcomes(client: RawImapClient, name: string): Promise<Record<string, string>> {
    const full = `${ALICE_ROOT}/${name}`;
    const outcome = (result: { status: string; line: string }) => {
      const code = /\[([A-Z-]+)/.exec(result.line)?.[1];
      return code && result.status !== 'OK' ? `${result.status} ${code}` : result.status;
    };
    const listed = await client.command(`LIST "" "${ALICE_ROOT}/*"`);
    const results: Record<string, string> = {
      LIST: listed.untagged.some((line) => line.endsWith(`"${full}"`)) ? 'OK' : 'absent',
      MYRIGHTS: outcome(await client.command(`MYRIGHTS "${full}"`)),
      STATUS: outcome(await client.command(`STATUS "${full}" (MESSAGES)`)),
      EXAMINE: outcome(await client.command(`EXAMINE "${full}"`)),
    };
    if (results.EXAMINE === 'OK') await client.command('UNSELECT');
    results.APPEND = outcome(await append(client, full, 'appended'));
    results.CREATE = outcome(await client.command(`CREATE "${full}/sub"`));
    results.GETACL = outcome(await client.command(`GETACL "${full}"`));
    results.LISTRIGHTS = outcome(await client.command(`LISTRIGHTS "${full}" anyone`));
    results.DELETE = outcome(await client.command(`DELETE "${full}"`));
    return results;
  }

  /** What RFC 4314 §4 says each command needs, given exactly the rights `rights`. */
  function expectedAuthenticated(rights: string): Record<string, string> {
    const visible = rights.includes('l');
    const denied = visible ? 'NO NOPERM' : 'NO NONEXISTENT';
    const needs = (right: string) => (rights.includes(right) ? 'OK' : denied);
    return {
      LIST: visible ? 'OK' : 'absent',
      MYRIGHTS: [...'lrikxa'].some((right) => rights.includes(right)) ? 'OK' : 'NO NONEXISTENT',
      STATUS: needs('r'),
      EXAMINE: needs('r'),
      APPEND: rights.includes('i') ? 'OK' : visible ? 'NO NOPERM' : 'NO TRYCREATE',
      // Without `k` CREATE is refused the same way whether the parent can be seen or not.
      CREATE: rights.includes('k') ? 'OK' : 'NO NOPERM',
      GETACL: needs('a'),
      LISTRIGHTS: needs('a'),
      DELETE: needs('x'),
    };
  }

  it('matrix: each right alone × the authenticated-state commands, by address and through anyone', async () => {
    for (const right of ALL_RIGHTS) {
      for (const [grantee, identifier, client] of [
        ['bob', USERS.bob.user, bob],
        ['carol', 'anyone', carol],
      ] as const) {
        const name = `m-${right}-${grantee}`;
        await ok(alice, `CREATE "${name}"`);
        assert.equal((await append(alice, name, 'seed')).status, 'OK');
        await ok(alice, `SETACL "${name}" ${identifier} ${right}`);
        assert.deepEqual(
          await authenticatedOutcomes(client, name),
          expectedAuthenticated(right),
          `${right} ${grantee}`,
        );
      }
    }
  });

  it('matrix: owner and administrator may do everything on a mailbox with an empty ACL', async () => {
    for (const [who, client, prefix] of [
      ['owner', alice, ''],
      ['admin', boss, `${ALICE_ROOT}/`],
    ] as const) {
      await ok(alice, `CREATE "x-${who}"`);
      await ok(alice, `CREATE "x-${who}/child"`);
      const full = `${prefix}x-${who}`;
      for (const command of [
        `MYRIGHTS "${full}"`,
        `STATUS "${full}" (MESSAGES)`,
        `GETACL "${full}"`,
        `LISTRIGHTS "${full}" anyone`,
        `SETACL "${full}" anyone +l`,
        `CREATE "${full}/sub"`,
        `SELECT "${full}"`,
        'CLOSE',
        `DELETE "${full}/child"`,
      ]) {
        await ok(client, command);
      }
      assert.equal((await append(client, full, 'by owner or admin')).status, 'OK');
      const rights = await ok(client, `MYRIGHTS "${full}"`);
      assert.equal(rights.untagged[0], `* MYRIGHTS ${full} lrswipkxteacd`);
    }
  });

  it('matrix: selected-state commands need s, w, t, e (with l r to select), COPY into needs i', async () => {
    for (const extra of ['', 's', 'w', 't', 'e', 'te', 'i']) {
      const name = `sel-${extra || 'none'}`;
      const full = `${ALICE_ROOT}/${name}`;
      await ok(alice, `CREATE "${name}"`);
      assert.equal((await append(alice, name, 'first')).status, 'OK');
      assert.equal((await append(alice, name, 'second', '\\Deleted')).status, 'OK');
      await ok(alice, `SETACL "${name}" ${USERS.bob.user} lr${extra}`);
      const has = (right: string) => extra.includes(right);
      const selected = await ok(bob, `SELECT "${full}"`);
      const readWrite = [...'swtie'].some(has);
      assert.match(selected.line, readWrite ? /\[READ-WRITE\]/ : /\[READ-ONLY\]/, name);
      const permanent = selected.untagged.find((line) => line.includes('PERMANENTFLAGS'))!;
      assert.equal(permanent.includes('\\Seen'), has('s') && readWrite, `${name}: ${permanent}`);
      assert.equal(permanent.includes('\\Deleted'), has('t') && readWrite, `${name}: ${permanent}`);
      assert.equal(permanent.includes('\\*'), has('w') && readWrite, `${name}: ${permanent}`);

      await ok(bob, 'FETCH 1 BODY[]');
      const flags = (await ok(bob, 'FETCH 1 (FLAGS)')).untagged.join(' ');
      assert.equal(flags.includes('\\Seen'), has('s'), `${name}: FETCH sets \\Seen only with s: ${flags}`);
      if (readWrite) {
        const flagged = await bob.command('STORE 1 +FLAGS (\\Flagged)');
        assert.equal(flagged.status, has('w') ? 'OK' : 'NO', `${name}: ${flagged.line}`);
        const deleted = await bob.command('STORE 1 +FLAGS (\\Deleted)');
        assert.equal(deleted.status, has('t') ? 'OK' : 'NO', `${name}: ${deleted.line}`);
        const moved = await bob.command('MOVE 1 INBOX');
        assert.equal(moved.status, has('t') && has('e') ? 'OK' : 'NO', `${name}: ${moved.line}`);
        const expunged = await bob.command('EXPUNGE');
        assert.equal(expunged.status, has('e') ? 'OK' : 'NO', `${name}: ${expunged.line}`);
      }
      await bob.command('CLOSE');
      await ok(bob, 'SELECT INBOX');
      const copied = await bob.command(`COPY 1 "${full}"`);
      assert.equal(copied.status, has('i') ? 'OK' : 'NO', `${name}: ${copied.line}`);
      await bob.command('CLOSE');
    }
  });

  it('ACL commands: c/d on output, +/- changes, negative rights, LISTRIGHTS, BAD input', async () => {
    await ok(alice, 'CREATE Drafts2');
    await ok(alice, `SETACL Drafts2 ${USERS.bob.user} lrswida`);
    let acl = await ok(alice, 'GETACL Drafts2');
    assert.equal(acl.untagged[0], `* ACL Drafts2 alice@${DOMAIN} lrswipkxteacd bob@${DOMAIN} lrswixtead`);
    await ok(alice, `SETACL Drafts2 ${USERS.bob.user} -xte`);
    await ok(alice, `SETACL Drafts2 ${USERS.bob.user} +c`);
    await ok(alice, 'SETACL Drafts2 anyone lr');
    await ok(alice, `SETACL Drafts2 -${USERS.bob.user} r`);
    acl = await ok(alice, 'GETACL Drafts2');
    assert.equal(
      acl.untagged[0],
      `* ACL Drafts2 alice@${DOMAIN} lrswipkxteacd -bob@${DOMAIN} r anyone lr bob@${DOMAIN} lrswikac`,
    );
    const mine = await ok(bob, `MYRIGHTS "${ALICE_ROOT}/Drafts2"`);
    assert.equal(mine.untagged[0], `* MYRIGHTS ${ALICE_ROOT}/Drafts2 lswikac`);
    assert.equal((await bob.command(`SELECT "${ALICE_ROOT}/Drafts2"`)).status, 'NO', 'r taken away by -bob');
    const listed = await ok(alice, 'LISTRIGHTS Drafts2 Bob@Example.Test');
    assert.equal(listed.untagged[0], '* LISTRIGHTS Drafts2 Bob@Example.Test "" l r s w i p k x t e a c d');
    const owner = await ok(alice, `LISTRIGHTS Drafts2 alice@${DOMAIN}`);
    assert.equal(owner.untagged[0], `* LISTRIGHTS Drafts2 alice@${DOMAIN} lrswipkxteacd`);

    assert.match((await alice.command('SETACL Drafts2 anyone lrQ')).line, /^t\d+ BAD .*unknown right "Q"/);
    assert.match((await alice.command('SETACL Drafts2 group:staff lr')).line, /^t\d+ BAD .*invalid identifier/);
    assert.match((await alice.command(`SETACL Drafts2 nobody@${DOMAIN} lr`)).line, /^t\d+ NO \[NONEXISTENT\]/);
    assert.match((await alice.command(`SETACL Drafts2 alice@${DOMAIN} lr`)).line, /^t\d+ NO \[CANNOT\]/);
    await ok(alice, `DELETEACL Drafts2 -${USERS.bob.user}`);
    const restored = await ok(bob, `SELECT "${ALICE_ROOT}/Drafts2"`);
    assert.match(restored.line, /\[READ-WRITE\]/);
    await bob.command('CLOSE');
  });

  it('NAMESPACE and LIST show the three namespaces; shared mailboxes by their ACL', async () => {
    const namespace = await ok(bob, 'NAMESPACE');
    assert.equal(namespace.untagged[0], '* NAMESPACE (("" "/")) (("user/" "/")) (("Shared/" "/"))');
    await ok(boss, 'CREATE Shared/news');
    await ok(boss, 'CREATE Shared/staff');
    await ok(boss, 'SETACL Shared/news anyone lrs');
    await ok(boss, `SETACL Shared/staff ${USERS.bob.user} lrsip`);
    const bobList = (await ok(bob, 'LIST "" "Shared/*"')).untagged;
    assert.deepEqual(bobList, [
      '* LIST (\\HasNoChildren) "/" "Shared/news"',
      '* LIST (\\HasNoChildren) "/" "Shared/staff"',
    ]);
    const carolList = (await ok(carol, 'LIST "" "Shared/*"')).untagged;
    assert.deepEqual(carolList, ['* LIST (\\HasNoChildren) "/" "Shared/news"']);
    // LIST-STATUS gives STATUS only where the user has `r`.
    await ok(boss, 'CREATE Shared/lookup-only');
    await ok(boss, 'SETACL Shared/lookup-only anyone l');
    const withStatus = (await ok(carol, 'LIST "" "Shared/*" RETURN (STATUS (MESSAGES))')).untagged;
    assert.deepEqual(withStatus, [
      '* LIST (\\HasNoChildren) "/" "Shared/lookup-only"',
      '* LIST (\\HasNoChildren) "/" "Shared/news"',
      '* STATUS "Shared/news" (MESSAGES 0)',
    ]);
    // Shared mailboxes take mail from those with `i`; readers with `r` see it.
    assert.equal((await append(bob, 'Shared/staff', 'to the staff')).status, 'OK');
    assert.equal((await append(carol, 'Shared/staff', 'not staff')).status, 'NO');
    const status = await ok(bob, 'STATUS Shared/staff (MESSAGES)');
    assert.equal(status.untagged[0], '* STATUS "Shared/staff" (MESSAGES 1)');
    // Top-level shared mailboxes are made by administrators only.
    assert.match((await bob.command('CREATE Shared/mine')).line, /NO \[NOPERM\]/);
    // Subscriptions keep names in any namespace; LSUB shows those the user can see.
    await ok(bob, 'SUBSCRIBE Shared/news');
    await ok(bob, `SUBSCRIBE "${ALICE_ROOT}/Drafts2"`);
    const lsub = (await ok(bob, 'LSUB "" "*"')).untagged;
    assert.ok(lsub.includes('* LSUB () "/" "Shared/news"'), lsub.join('\n'));
    assert.ok(lsub.includes(`* LSUB () "/" "${ALICE_ROOT}/Drafts2"`), lsub.join('\n'));
    // LIST "" % shows the namespace roots as structure.
    const top = (await ok(bob, 'LIST "" %')).untagged;
    assert.ok(top.includes('* LIST (\\Noselect \\HasChildren) "/" "Shared"'), top.join('\n'));
    assert.ok(top.includes('* LIST (\\Noselect \\HasChildren) "/" "user"'), top.join('\n'));
  });
});
