/**
 * Crash safety of appends on the local adapters: a child process appends a burst, printing each UID as
 * its append resolves; we SIGKILL it mid-burst, reopen the store, and check that every acknowledged entry
 * (and its blob) is there, the mailbox settles past the crash, and appends go on with higher UIDs.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { it } from 'node:test';
import { changesSince } from '../../../shared/mailbox/changes.ts';
import { openMailStore } from '../../../shared/mailbox/mail-store.ts';
import { getMailboxByName } from '../../../shared/mailbox/mailboxes.ts';
import { appendMessage, getMessage, getMessageDetails } from '../../../shared/mailbox/messages.ts';
import { FileBlobStore } from '../../../shared/store/files/file-blob-store.ts';
import { SqliteMetadataStore } from '../../../shared/store/sqlite/sqlite-metadata-store.ts';
import { ACCOUNT, sampleMessage, sleep } from './mail-fixtures.ts';

const BURST = 5000;
const KILL_AFTER_ACKS = 60;
const SETTLE_MS = 300;
const REPO_ROOT = join(import.meta.dirname, '..', '..', '..');

it('every acknowledged append survives a SIGKILL mid-burst, and the store goes on', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'marmot-crash-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const open = async () => {
    const metadata = new SqliteMetadataStore(join(dir, 'metadata.sqlite'));
    const blobs = await FileBlobStore.open(join(dir, 'blobs'));
    return { metadata, blobs, store: openMailStore(metadata, { settleMs: SETTLE_MS }) };
  };
  const before = await open();
  const inbox = await getMailboxByName(before.store, ACCOUNT, 'INBOX');
  await before.metadata.close();
  await before.blobs.close();

  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'crash-child.ts'), dir, ACCOUNT, inbox.id, String(BURST)],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  const acked = new Map<number, string>();
  for await (const line of createInterface({ input: child.stdout })) {
    const match = /^acked (\d+) (\S+)$/.exec(line);
    if (!match) continue;
    acked.set(Number(match[1]), match[2]!);
    if (acked.size === KILL_AFTER_ACKS) child.kill('SIGKILL');
  }
  assert.equal(await exited, 'SIGKILL', 'the child was killed mid-burst, not finished');
  assert.ok(acked.size >= KILL_AFTER_ACKS);

  const after = await open();
  t.after(() => Promise.all([after.metadata.close(), after.blobs.close()]));
  for (const [uid, blobKey] of acked) {
    const state = await getMessage(after.store, inbox.id, uid);
    assert.ok(state, `acknowledged UID ${uid} is present`);
    assert.equal(state.blobKey, blobKey);
    assert.equal(state.expunged, false);
    const body = await after.blobs.read(blobKey);
    assert.equal(body.length, state.size);
    assert.match(body.toString(), new RegExp(`^Subject: crash ${blobKey.split('/').at(-1)}\\r\\n`));
    assert.ok(await getMessageDetails(after.store, inbox.id, uid));
  }

  const next = await appendMessage(after.store, inbox, sampleMessage(1));
  assert.ok(next.uid > Math.max(...acked.keys()), 'new appends get higher UIDs');
  // Writes the kill interrupted are declared dead after settling; then everything up to now is settled.
  await sleep(SETTLE_MS + 50);
  const changes = await changesSince(after.store, inbox.id, 0, { limit: 10_000 });
  assert.equal(changes.uidNext, next.uid + 1);
  assert.equal(changes.highestModseq, next.modseq);
  const reported = new Set(changes.changed.map((state) => state.uid));
  for (const uid of acked.keys()) assert.ok(reported.has(uid), `UID ${uid} is reported by changesSince`);
  assert.ok(reported.has(next.uid));
});
