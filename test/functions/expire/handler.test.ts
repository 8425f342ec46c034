/**
 * The expire Lambda handler as the scheduler invokes it: middy with Powertools, a local data directory
 * from the environment, a mocked clock; it purges what is past retention, reports its outcome, emits the
 * ExpiredItems metric, and a second invocation the same day is not due.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Directory } from '../../../shared/directory/directory.ts';
import type { ExpireOutcome } from '../../../shared/expire/expire-job.ts';
import { LocalKeyVault } from '../../../shared/keyvault/local-key-vault.ts';
import {
  appendMessage,
  expungeMessages,
  getMailboxByName,
  getMessage,
  openMailStore,
} from '../../../shared/mailbox/index.ts';
import { FileBlobStore } from '../../../shared/store/files/file-blob-store.ts';
import { SqliteMetadataStore } from '../../../shared/store/sqlite/sqlite-metadata-store.ts';

const DAY = 86_400_000;
const T0 = Date.UTC(2030, 0, 10);
let dataDir: string;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'marmot-expire-fn-'));
  process.env.MARMOT_DATA_DIR = dataDir;
  delete process.env.MARMOT_STORE;
});

after(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

function lambdaContext(remainingMs: number) {
  return {
    functionName: 'marmot-expire',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:marmot-expire',
    memoryLimitInMB: '1024',
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
    logGroupName: '/aws/lambda/marmot-expire',
    logStreamName: 'stream',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => remainingMs,
    done() {},
    fail() {},
    succeed() {},
  };
}

/** Runs `work` and returns it with what it printed on stdout (Powertools logs and EMF metrics). */
async function capturingStdout<T>(work: () => Promise<T>): Promise<{ result: T; printed: string }> {
  const write = process.stdout.write.bind(process.stdout);
  let printed = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    printed += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    return { result: await work(), printed };
  } finally {
    process.stdout.write = write;
  }
}

test('the scheduled invocation purges past retention and emits ExpiredItems', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: T0 });
  const metadata = new SqliteMetadataStore(join(dataDir, 'metadata.sqlite'));
  const blobs = await FileBlobStore.open(join(dataDir, 'blobs'));
  const store = openMailStore(metadata);
  const directory = new Directory(metadata, { keyVault: await LocalKeyVault.open(dataDir) });
  await directory.addDomain('example.com');
  const account = await directory.addAccount('alice@example.com', { password: 'a long enough password' });
  const inbox = await getMailboxByName(store, account.id, 'INBOX');
  await blobs.put('msg/2030-01-10/one', Buffer.from('Subject: one\r\n\r\none\r\n'));
  const { uid } = await appendMessage(store, inbox, {
    blobKey: 'msg/2030-01-10/one',
    size: 20,
    internalDate: new Date(),
    envelope: null,
    bodyStructure: null,
  });
  await expungeMessages(store, inbox, [uid]);
  await metadata.close();

  t.mock.timers.setTime(T0 + 31 * DAY);
  const { handler } = await import('../../../functions/expire/handler.ts');
  const event = { source: 'schedule', job: 'expire' };
  const first = await capturingStdout(() => handler(event, lambdaContext(600_000) as never) as Promise<ExpireOutcome>);
  assert.equal(first.result.status, 'complete');
  assert.equal(first.result.totals.messagesPurged, 1);
  assert.equal(first.result.totals.blobsDeleted, 1);
  const emf = first.printed
    .split('\n')
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.equal(emf.length, 1, first.printed);
  assert.equal(emf[0]!.ExpiredItems, 2);
  assert.equal(emf[0]!.service, 'expire');
  assert.match(first.printed, /"message":"expire invocation"/);

  const second = await capturingStdout(() => handler(event, lambdaContext(600_000) as never) as Promise<ExpireOutcome>);
  assert.equal(second.result.status, 'not-due');

  const reopened = new SqliteMetadataStore(join(dataDir, 'metadata.sqlite'));
  t.after(() => reopened.close());
  assert.equal(await getMessage(openMailStore(reopened), inbox.id, uid), undefined);
  assert.equal(await blobs.head('msg/2030-01-10/one'), undefined);
});
