/**
 * What the outbound tests share: stores of an adapter set with the local key vault, domains with active
 * DKIM keys (RSA and Ed25519) and one without, sender accounts, the queue, a scripted SMTP sink as the
 * smarthost, and workers wired as the mail system wires them (in-process dkim-sign step, DSNs into local
 * mailboxes), with short timings.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDkimSignHandler } from '../../../functions/dkim-sign/handler.ts';
import { Directory } from '../../../shared/directory/directory.ts';
import { DkimKeys } from '../../../shared/dkim/dkim-keys.ts';
import { dkimRecordName, splitTxtStrings } from '../../../shared/dkim/dns-record.ts';
import { DKIM_SIGN_FUNCTION } from '../../../shared/dkim/sign-step.ts';
import { InProcessInvoker, type StepHandler } from '../../../shared/invoker/in-process-invoker.ts';
import { LocalKeyVault } from '../../../shared/keyvault/local-key-vault.ts';
import { Logger } from '../../../shared/log/logger.ts';
import { getMailboxByName, INBOX, listMessages, type MailStore, openMailStore } from '../../../shared/mailbox/index.ts';
import { deliverDsn } from '../../../shared/outbound/dsn-delivery.ts';
import { OutboundWorker, type OutboundWorkerSettings } from '../../../shared/outbound/outbound-worker.ts';
import { OutboundQueue } from '../../../shared/outbound-queue/outbound-queue.ts';
import type { OutboundTransport } from '../../../shared/outbound-transport/outbound-transport.ts';
import { SmtpTransport } from '../../../shared/outbound-transport/smtp-transport.ts';
import type { AdapterSet, StoreSet } from '../../support/stores.ts';
import type { TxtRecords } from '../dkim/independent-verifiers.ts';
import { type SmtpSink, startSmtpSink } from '../outbound-transport/smtp-sink.ts';

export const HOSTNAME = 'mx.test.example';

export const FAST_SETTINGS: OutboundWorkerSettings = {
  hostname: HOSTNAME,
  signTimeoutMs: 5_000,
  lifetimeMs: 60_000,
  retryMinMs: 30,
  retryMaxMs: 200,
  pollMs: 20,
  leaseMs: 5_000,
  concurrency: 4,
};

export interface OutboundFixture {
  stores: StoreSet;
  queue: OutboundQueue;
  directory: Directory;
  mailStore: MailStore;
  keys: DkimKeys;
  sink: SmtpSink;
  smarthost: OutboundTransport;
  /** The published DKIM records, for the verifiers. */
  records: TxtRecords;
  /** Account ids by address. */
  accounts: Record<string, string>;
  /** The dkim-sign handler the workers invoke (tests may swap it). */
  signStep: { handler: StepHandler };
  worker(settings?: Partial<OutboundWorkerSettings>, transport?: OutboundTransport): OutboundWorker;
  enqueue(mailFrom: string, recipients: string[], body: Buffer, submittedBy?: string): Promise<string>;
  inbox(address: string): Promise<Buffer[]>;
  close(): Promise<void>;
}

export function message(from: string, to: string, subject: string): Buffer {
  return Buffer.from(
    `Received: from client.example by ${HOSTNAME}; Mon, 02 Mar 2026 10:00:00 +0000\r\n` +
      `From: ${from}\r\nTo: ${to}\r\nSubject: ${subject}\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n` +
      `Message-ID: <${randomBytes(6).toString('hex')}@test>\r\nMIME-Version: 1.0\r\n` +
      'Content-Type: text/plain; charset=utf-8\r\n\r\nHello from the queue.\r\nGrüße\r\n',
  );
}

export async function openOutboundFixture(adapters: AdapterSet): Promise<OutboundFixture> {
  const stores = await adapters.open();
  const vaultDir = await mkdtemp(join(tmpdir(), 'marmot-vault-'));
  const keyVault = await LocalKeyVault.open(vaultDir);
  const keys = new DkimKeys(stores.metadata, keyVault);
  const directory = new Directory(stores.metadata, { keyVault });
  const mailStore = openMailStore(stores.metadata);
  const queue = new OutboundQueue(stores.metadata, stores.blobs);
  const records: TxtRecords = {};
  const accounts: Record<string, string> = {};
  for (const [domain, algorithm] of [
    ['example.org', 'rsa-2048'],
    ['ed.example', 'ed25519'],
    ['nokey.example', undefined],
  ] as const) {
    await directory.addDomain(domain);
    const account = await directory.addAccount(`sender@${domain}`, { password: 'a long enough password' });
    accounts[account.address] = account.id;
    if (!algorithm) continue;
    const key = await keys.create(domain, { selector: 'out', algorithm });
    await keys.activate(domain, 'out');
    records[dkimRecordName('out', domain)] = splitTxtStrings(`v=DKIM1; k=${key.keyType}; p=${key.publicKey}`);
  }
  const sink = await startSmtpSink();
  const smarthost = SmtpTransport.smarthost({ host: '127.0.0.1', port: sink.port, tls: 'none', heloName: HOSTNAME });
  const signStep = { handler: createDkimSignHandler(keys, stores.blobs) as unknown as StepHandler };
  const logger = new Logger(process.env.MARMOT_TEST_LOG_LEVEL === 'debug' ? 'debug' : 'error', {}, process.stderr);
  const workers: OutboundWorker[] = [];
  return {
    stores,
    queue,
    directory,
    mailStore,
    keys,
    sink,
    smarthost,
    records,
    accounts,
    signStep,
    worker(settings = {}, transport = smarthost) {
      const worker = new OutboundWorker({
        queue: new OutboundQueue(stores.metadata, stores.blobs),
        blobs: stores.blobs,
        transport,
        invoker: new InProcessInvoker({ [DKIM_SIGN_FUNCTION]: (event, context) => signStep.handler(event, context) }),
        deliverDsn: (letter) => deliverDsn({ directory, mailStore, blobs: stores.blobs, queue }, letter),
        logger,
        settings: { ...FAST_SETTINGS, ...settings },
      });
      workers.push(worker);
      return worker;
    },
    async enqueue(mailFrom, recipients, body, submittedBy = mailFrom) {
      const id = randomBytes(16).toString('hex');
      await queue.enqueue({ id, mailFrom, recipients, body, submittedBy });
      return id;
    },
    async inbox(address) {
      const accountId = accounts[address];
      if (!accountId) throw new Error(`no test account ${address}`);
      const inbox = await getMailboxByName(mailStore, accountId, INBOX);
      const page = await listMessages(mailStore, inbox.id);
      return Promise.all(page.messages.map((entry) => stores.blobs.read(entry.blobKey)));
    },
    async close() {
      await Promise.all(workers.map((worker) => worker.stop()));
      await sink.close();
      await stores.cleanup();
      await rm(vaultDir, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` holds (or fails the test after `timeoutMs`). */
export async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
