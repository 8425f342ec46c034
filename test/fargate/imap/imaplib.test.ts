/**
 * End to end with Python's imaplib (Debian python3) over STARTTLS: mailbox management, APPEND, FETCH,
 * \Recent, SEARCH, SORT, THREAD, STORE, COPY, MOVE, EXPUNGE, and an IMAP4rev2 session. The session script
 * is imaplib_session.py.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type ImapTestServer, startImapTestServer, USERS } from './imap-test-server.ts';

const run = promisify(execFile);
const SCRIPT = join(import.meta.dirname, 'imaplib_session.py');

describe('IMAP with Python imaplib', () => {
  let server: ImapTestServer;
  let result: Record<string, string[]>;

  before(async () => {
    server = await startImapTestServer({ MARMOT_IMAP_PLAINTEXT_AUTH: '0' });
    const caFile = join(server.context.config.dataDir, 'ca.pem');
    await writeFile(caFile, server.certificate);
    const { stdout } = await run(
      'python3',
      [SCRIPT, server.host, String(server.port), USERS.bob.user, USERS.bob.pass, caFile],
      { timeout: 30_000 },
    );
    result = JSON.parse(stdout) as Record<string, string[]>;
  });

  after(async () => {
    await server.stop();
  });

  it('offers STARTTLS and refuses plaintext login before it, then logs in over TLS', () => {
    assert.ok(result.greeting_capabilities!.includes('STARTTLS'));
    assert.ok(result.greeting_capabilities!.includes('LOGINDISABLED'));
    assert.ok(!result.greeting_capabilities!.includes('AUTH=PLAIN'));
    assert.match(String(result.plaintext_login), /PRIVACYREQUIRED/);
    for (const capability of ['IDLE', 'UIDPLUS', 'MOVE', 'SORT', 'THREAD=REFERENCES', 'CONDSTORE', 'NAMESPACE']) {
      assert.ok(result.capabilities!.includes(capability), capability);
    }
  });

  it('creates, renames (with children), deletes and subscribes', () => {
    assert.deepEqual(result.list_after_rename, ['(\\HasChildren) "/" "Python"', '(\\HasNoChildren) "/" "Python/Sub"']);
    assert.deepEqual(result.list_after_delete, ['(\\HasNoChildren) "/" "Python"']);
    assert.deepEqual(result.lsub, ['() "/" "Python"']);
    assert.deepEqual(result.namespace, ['(("" "/")) (("user/" "/")) (("Shared/" "/"))']);
  });

  it('appends and fetches', () => {
    assert.match(result.appenduid!.join(' '), /\d+ 4/);
    assert.ok(result.select!.includes('4'));
    const items = result.fetch_items!.join('');
    assert.match(items, /UID 1 /);
    // The session selected the mailbox first: its messages are \Recent to it.
    assert.match(items, /FLAGS \(\\Flagged \\Recent\)/);
    assert.match(items, /INTERNALDATE " 2-Mar-2026 \d\d:00:00 \+0000"/);
    assert.match(
      items,
      /ENVELOPE \("Mon, 2 Mar 2026 10:00:00 \+0000" "Plans" \(\("Carol" NIL "carol" "example.test"\)\)/,
    );
    assert.match(
      items,
      /BODYSTRUCTURE \("text" "plain" \("charset" "us-ascii"\) NIL NIL "7bit" 10 1 NIL NIL NIL NIL\)/i,
    );
    assert.match(items, /Subject: Plans\r\n\r\n/);
    assert.match(result.fetch_text!.join(''), /RFC822.TEXT \{8\}agreed/);
    assert.match(result.flags_after_text!.join(''), /\\Seen/);
    assert.match(result.fetch_partial!.join(''), /BODY\[TEXT\]<0> \{3\}str/);
  });

  it('shows \\Recent to the first session that selects, and to no other', () => {
    assert.match(result.status_recent!.join(''), /MESSAGES 4 RECENT 4/);
    assert.deepEqual(result.recent, ['4']);
    assert.deepEqual(result.search_recent, ['1 2 3 4']);
    // 2 was read by RFC822.TEXT before this search: not new any more.
    assert.deepEqual(result.search_new, ['1 3 4']);
    assert.deepEqual(result.second_recent, ['0']);
    assert.match(result.second_flags!.join(''), /FLAGS \(\\Flagged\)/);
    assert.deepEqual(result.second_search_recent, ['']);
  });

  it('searches', () => {
    assert.deepEqual(result.search_unseen, ['1 3 4']);
    assert.deepEqual(result.search_or, ['1 3']);
    assert.deepEqual(result.search_not, ['2 3']);
    assert.deepEqual(result.search_utf8, ['3']);
    assert.deepEqual(result.search_since, ['3 4']);
  });

  it('sorts and threads', () => {
    // Base subjects: PLANS (1, 2, 4 by date), ZEBRA FACTS (3).
    assert.deepEqual(result.sort_subject, ['1 2 4 3']);
    assert.deepEqual(result.sort_reverse_date, ['4 3 2 1']);
    // carol (1, 4), dave (2) ... bob (3) sorts first.
    assert.deepEqual(result.uid_sort_from, ['3 1 4 2']);
    assert.deepEqual(result.thread_references, ['(1 2 4)(3)']);
    assert.deepEqual(result.thread_orderedsubject, ['(1 (2)(4))(3)']);
  });

  it('stores, copies, moves and expunges', () => {
    assert.match(result.store!.join(''), /3 \(FLAGS \(\\Deleted \\Recent\)\)/);
    assert.match(result.copyuid!.join(' '), /\d+ 1 1/);
    assert.equal(result.move![0], 'OK');
    assert.deepEqual(result.search_after, ['1 2']);
    assert.match(result.status_archive!.join(''), /MESSAGES 1 UIDNEXT 2 UNSEEN 1/);
  });

  it('gives an IMAP4rev2 session a LIST line instead of RECENT, and ESEARCH for SEARCH', () => {
    assert.deepEqual(result.rev2_enabled, ['IMAP4rev2']);
    assert.ok(!result.rev2_select!.includes('RECENT'), result.rev2_select!.join());
    assert.deepEqual(result.rev2_select_list, ['(\\HasNoChildren) "/" "Python"']);
    assert.deepEqual(result.rev2_esearch!.length, 1);
    assert.match(result.rev2_esearch![0]!, /^\(TAG "\w+"\) ALL 1:2$/);
  });
});
