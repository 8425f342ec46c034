/**
 * Child process of crash.test.ts: appends a burst of messages to a local store (SQLite + files), a few
 * at a time, printing `acked <uid> <blob key>` as each append resolves, until it is killed.
 * Arguments: data directory, account, mailbox id, number of messages.
 */
import { join } from 'node:path';
import { openMailStore } from '../../../shared/mailbox/mail-store.ts';
import { appendMessage } from '../../../shared/mailbox/messages.ts';
import { FileBlobStore } from '../../../shared/store/files/file-blob-store.ts';
import { SqliteMetadataStore } from '../../../shared/store/sqlite/sqlite-metadata-store.ts';

const IN_FLIGHT = 8;

const [dataDir, account, mailboxId, countText] = process.argv.slice(2);
if (!dataDir || !account || !mailboxId || !countText)
  throw new Error('usage: crash-child <dir> <account> <mailbox> <count>');
const metadata = new SqliteMetadataStore(join(dataDir, 'metadata.sqlite'));
const blobs = await FileBlobStore.open(join(dataDir, 'blobs'));
const store = openMailStore(metadata);
const mailbox = { id: mailboxId, account };
const count = Number(countText);
let next = 0;

async function worker(): Promise<void> {
  while (next < count) {
    const index = next++;
    const body = Buffer.from(`Subject: crash ${index}\r\n\r\nbody of message ${index}\r\n`);
    const blobKey = `msg/crash/${index}`;
    await blobs.put(blobKey, body);
    const { uid } = await appendMessage(store, mailbox, {
      blobKey,
      size: body.length,
      internalDate: new Date(),
      flags: index % 2 ? ['\\Seen'] : [],
      envelope: { subject: `crash ${index}` },
      bodyStructure: { type: 'text', subtype: 'plain' },
    });
    process.stdout.write(`acked ${uid} ${blobKey}\n`);
  }
}

process.stdout.write('ready\n');
await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
