/**
 * What happens to a message after DATA: scan → filter → deliver, then the SMTP reply.
 *
 *   scan     (invoker: the scan step) may reject the message; a failing or late step fails it (451).
 *   filter   (invoker: the filter step) places each account recipient's copy: plus addressing today,
 *            Sieve later; failing or late: 451.
 *   deliver  one index entry per recipient mailbox, all pointing at the one spooled blob (a bulk alias's
 *            recipients share a second blob with `Precedence: bulk`), each with its account's quota
 *            checked, idempotent per transaction (transaction-key.ts); remote recipients go to the
 *            outbound queue.
 * The result says what the sender must be told. The caller answers 250 only for `accepted`, and only
 * after this resolved, so every durable write is done by then.
 *
 * Blobs: the spool blob is the message blob. When certainly nothing references it (rejected, a step
 * failed, every mailbox was full or already had the message from an earlier attempt: the mailbox module
 * guarantees those leave no entry), it is deleted here: it was never visible to anyone. After any other
 * failure it stays (at worst unreferenced, for the expire job). Everything else about blob lifetime
 * belongs to the mailbox module and the expire job.
 *
 * Trusts: the resolved recipients (the RCPT checks made them); step results only as far as
 * shared/delivery/steps.ts validates them.
 */

import { Readable } from 'node:stream';
import type { Invoker } from '../invoker/invoker.ts';
import type { Logger } from '../log/logger.ts';
import {
  appendMessage,
  DeliveryInProgressError,
  getMailboxByName,
  INBOX,
  type JsonValue,
  type MailStore,
  OverQuotaError,
} from '../mailbox/index.ts';
import { indexSearchFields } from '../mailbox/index-search-fields.ts';
import { MimeStructureScanner } from '../mime/mime-structure.ts';
import type { MessageStructure } from '../mime/structure-types.ts';
import type { OutboundQueue } from '../outbound-queue/outbound-queue.ts';
import type { BlobStore } from '../store/blob.ts';
import type { MailboxTarget, ResolvedRecipient } from './recipient-resolution.ts';
import {
  FILTER_FUNCTION,
  type FilterRequest,
  parseFilterResult,
  parseScanVerdict,
  SCAN_FUNCTION,
  type ScanRequest,
} from './steps.ts';
import { PRECEDENCE_BULK_HEADER } from './trace-headers.ts';
import { outboundQueueId, transactionKey } from './transaction-key.ts';

/** Mailboxes written at once for one message (store round trips overlap; DynamoDB gains, SQLite is indifferent). */
const DELIVERY_CONCURRENCY = 16;
/** A header section longer than this is not searched for an existing Precedence: field. */
const MAX_HEADER_SCAN_BYTES = 64 * 1024;

export interface PipelineDependencies {
  blobs: BlobStore;
  mailStore: MailStore;
  invoker: Invoker;
  outboundQueue: OutboundQueue;
  stepTimeoutMs: number;
  logger: Logger;
}

export interface InboundMessage {
  /** Our id for the transaction (logs, Received:). */
  id: string;
  /** The spooled blob: our trace headers, then the content. */
  blobKey: string;
  size: number;
  /** SHA-256 of the content as received, hex. */
  contentSha256: string;
  /** Length of the `Return-Path:` line at the start of the blob (remote copies go without it). */
  returnPathBytes: number;
  /** Length of all our trace headers at the start of the blob. */
  traceBytes: number;
  /** The blob's MIME structure (computed while it was spooled). */
  structure: MessageStructure;
  mailFrom: string;
  recipients: ResolvedRecipient[];
  client: { address: string; helo: string };
  /** The authenticated account, or the client address. */
  submittedBy: string;
  receivedAt: Date;
}

export type DeliveryFailure =
  /** The scan or filter step failed or missed its deadline: the sender should retry (451 4.3.0). */
  | { kind: 'step-failed'; detail: string }
  /** The scan step refused the message (554 5.7.1). */
  | { kind: 'rejected'; detail: string }
  /** Every recipient's mailbox is full (552 5.2.2). */
  | { kind: 'mailbox-full' }
  /** Some were delivered, some mailboxes are full: the retry delivers only the rest (452 4.2.2). */
  | { kind: 'some-mailboxes-full' }
  /** Another attempt of this transaction is still writing, or a store failed: retry (451 4.3.0). */
  | { kind: 'temporary'; detail: string };

export type DeliveryResult =
  | { accepted: true; delivered: number; duplicates: number; queued: number }
  | { accepted: false; failure: DeliveryFailure };

interface Placement {
  target: MailboxTarget;
  mailbox: string;
}

export class DeliveryPipeline {
  constructor(private readonly deps: PipelineDependencies) {}

  async deliver(message: InboundMessage): Promise<DeliveryResult> {
    const log = this.deps.logger.child({ transaction: message.id });
    const unreferenced = new Set([message.blobKey]);
    try {
      const scanned = await this.scan(message);
      if (scanned) return { accepted: false, failure: scanned };

      const placed = await this.place(message);
      if (!placed.ok) return { accepted: false, failure: placed.failure };

      const key = transactionKey(message.mailFrom, message.contentSha256);
      const bulk = placed.placements.some((placement) => placement.target.bulk)
        ? await this.writeBulkCopy(message)
        : undefined;
      if (bulk) unreferenced.add(bulk.blobKey);

      let delivered = 0;
      let duplicates = 0;
      let full = 0;
      let temporary: string | undefined;
      await forEachBounded(placed.placements, async (placement) => {
        const copy = placement.target.bulk && bulk ? bulk : { blobKey: message.blobKey, structure: message.structure };
        const { blobKey, structure } = copy;
        try {
          const mailbox = await getMailboxByName(this.deps.mailStore, placement.target.owner, placement.mailbox);
          const result = await appendMessage(
            this.deps.mailStore,
            mailbox,
            {
              blobKey,
              size: structure.size,
              internalDate: message.receivedAt,
              envelope: structure.envelope as unknown as JsonValue,
              bodyStructure: structure.body as unknown as JsonValue,
              search: indexSearchFields(structure.search),
            },
            { quota: placement.target.quota, deliveryKey: key },
          );
          if (result.duplicate) duplicates++;
          else {
            delivered++;
            unreferenced.delete(blobKey);
          }
        } catch (error) {
          if (error instanceof OverQuotaError) {
            full++;
            log.info('mailbox full', { recipient: placement.target.address, resource: error.resource });
          } else if (error instanceof DeliveryInProgressError) {
            temporary ??= 'delivery in progress';
          } else {
            // The append may have written its entry before failing: the blob must stay.
            unreferenced.delete(blobKey);
            temporary ??= 'store failure';
            log.error('delivery failed', { recipient: placement.target.address, error });
          }
        }
      });

      const remote = [...new Set(message.recipients.flatMap((recipient) => recipient.remote))];
      let queued = 0;
      if (remote.length > 0 && temporary === undefined) {
        try {
          await this.deps.outboundQueue.enqueue({
            id: outboundQueueId(key, remote),
            mailFrom: message.mailFrom,
            recipients: remote,
            body: await this.deps.blobs.get(message.blobKey, { offset: message.returnPathBytes }),
            submittedBy: message.submittedBy,
          });
          queued = remote.length;
        } catch (error) {
          temporary = 'outbound queue failure';
          log.error('queueing failed', { error });
        }
      }

      if (temporary !== undefined) return { accepted: false, failure: { kind: 'temporary', detail: temporary } };
      if (full > 0) {
        const failure = delivered + duplicates + queued === 0 ? 'mailbox-full' : 'some-mailboxes-full';
        return { accepted: false, failure: { kind: failure } };
      }
      log.info('delivered', { delivered, duplicates, queued, size: message.size });
      return { accepted: true, delivered, duplicates, queued };
    } finally {
      await Promise.allSettled([...unreferenced].map((blobKey) => this.deps.blobs.delete(blobKey)));
    }
  }

  private async scan(message: InboundMessage): Promise<DeliveryFailure | undefined> {
    const request: ScanRequest = {
      blobKey: message.blobKey,
      size: message.size,
      mailFrom: message.mailFrom,
      recipients: message.recipients.map((recipient) => recipient.address),
      client: message.client,
    };
    try {
      const verdict = parseScanVerdict(
        await this.deps.invoker.invoke(SCAN_FUNCTION, request, { timeoutMs: this.deps.stepTimeoutMs }),
      );
      return verdict.verdict === 'reject' ? { kind: 'rejected', detail: verdict.reason } : undefined;
    } catch (error) {
      this.deps.logger.warn('scan step failed', { transaction: message.id, error });
      return { kind: 'step-failed', detail: 'scan' };
    }
  }

  /** Every local target with its mailbox: shared ones as resolved, account ones as the filter says. */
  private async place(
    message: InboundMessage,
  ): Promise<{ ok: true; placements: Placement[] } | { ok: false; failure: DeliveryFailure }> {
    const targets = message.recipients.flatMap((recipient) => recipient.local);
    const accounts = targets.filter((target) => target.kind === 'account');
    const placements: Placement[] = targets
      .filter((target) => target.kind === 'shared')
      .map((target) => ({ target, mailbox: target.mailbox ?? INBOX }));
    if (accounts.length > 0) {
      const request: FilterRequest = {
        blobKey: message.blobKey,
        recipients: accounts.map((target) => ({
          owner: target.owner,
          ...(target.mailbox ? { requestedMailbox: target.mailbox } : {}),
        })),
      };
      try {
        const result = parseFilterResult(
          await this.deps.invoker.invoke(FILTER_FUNCTION, request, { timeoutMs: this.deps.stepTimeoutMs }),
          accounts.length,
        );
        for (const [index, target] of accounts.entries()) {
          placements.push({ target, mailbox: result.placements[index]!.mailbox });
        }
      } catch (error) {
        this.deps.logger.warn('filter step failed', { transaction: message.id, error });
        return { ok: false, failure: { kind: 'step-failed', detail: 'filter' } };
      }
    }
    return { ok: true, placements: distinctPlacements(placements) };
  }

  /** The copy for bulk-alias recipients: our trace headers, `Precedence: bulk`, the content. */
  private async writeBulkCopy(
    message: InboundMessage,
  ): Promise<{ blobKey: string; structure: MessageStructure } | undefined> {
    const head = await this.deps.blobs.read(message.blobKey, {
      offset: message.traceBytes,
      length: MAX_HEADER_SCAN_BYTES,
    });
    if (hasPrecedenceField(head)) return undefined;
    const blobKey = `${message.blobKey}.bulk`;
    const trace = await this.deps.blobs.read(message.blobKey, { offset: 0, length: message.traceBytes });
    const content = await this.deps.blobs.get(message.blobKey, { offset: message.traceBytes });
    const scanner = new MimeStructureScanner();
    const body = Readable.from(
      (async function* () {
        for (const part of [trace, Buffer.from(PRECEDENCE_BULK_HEADER)]) {
          scanner.write(part);
          yield part;
        }
        for await (const chunk of content) {
          scanner.write(chunk as Buffer);
          yield chunk as Buffer;
        }
      })(),
    );
    await this.deps.blobs.put(blobKey, body);
    return { blobKey, structure: scanner.end() };
  }
}

/** Runs `work` for every input with at most DELIVERY_CONCURRENCY in flight. */
async function forEachBounded<T>(inputs: readonly T[], work: (input: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < inputs.length) await work(inputs[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(DELIVERY_CONCURRENCY, inputs.length) }, worker));
}

/** One copy per mailbox; a copy that is both bulk and direct is direct. */
function distinctPlacements(placements: Placement[]): Placement[] {
  const byMailbox = new Map<string, Placement>();
  for (const placement of placements) {
    const key = `${placement.target.owner}\u0000${placement.mailbox}`;
    const existing = byMailbox.get(key);
    if (!existing) byMailbox.set(key, placement);
    else if (existing.target.bulk && !placement.target.bulk) byMailbox.set(key, placement);
  }
  return [...byMailbox.values()];
}

/** Whether the header section (up to the first empty line) has a Precedence: field already. */
function hasPrecedenceField(head: Buffer): boolean {
  const end = head.indexOf('\r\n\r\n');
  const header = head.subarray(0, end < 0 ? head.length : end).toString('latin1');
  return /(^|\r\n)precedence[ \t]*:/i.test(header);
}
