/**
 * The outbound queue: messages accepted for remote recipients (from submission, from relay hosts, and
 * alias targets outside our domains), held durably in the store ports until the outbound transport
 * (a later issue: DKIM signing, delivery with retries, DSNs) takes them.
 *
 * Layout: metadata pk `outbound`, sk `msg#<id>` holds the envelope and delivery state; blob
 * `outbound/<id>` holds the message exactly as it will be sent (our Received: on top, no Return-Path:,
 * which only the final delivery adds, RFC 5321 §4.4).
 *
 * Idempotent: the id is chosen by the caller from the SMTP transaction (see shared/delivery), so a
 * transaction retried after a crash finds its entry and adds nothing. The blob is written before the
 * entry, so an entry never names a missing blob; a crash between the two leaves an unnamed blob under
 * `outbound/`, which the delivery job removes (and a retry of the same transaction overwrites).
 *
 * Trusts its callers (the SMTP pipeline) for the addresses, which were checked at RCPT time; ids are
 * checked here because they become keys.
 */
import type { Readable } from 'node:stream';
import type { BlobStore } from '../store/blob.ts';
import { ConditionFailedError } from '../store/errors.ts';
import type { Item, MetadataStore } from '../store/metadata.ts';

export const OUTBOUND_PK = 'outbound';
const ENTRY_PREFIX = 'msg#';
const BLOB_PREFIX = 'outbound/';
const SCHEMA_VERSION = 1;
const QUEUE_ID = /^[A-Za-z0-9_-]{16,128}$/;
export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;

export interface NewOutboundMessage {
  /** Chosen by the caller so that the same transaction always maps to the same id. */
  id: string;
  /** Envelope sender; '' for the null sender. */
  mailFrom: string;
  recipients: string[];
  body: Buffer | Readable;
  /** Who handed it to us: the authenticated account, or the relay host's address. */
  submittedBy: string;
}

export type OutboundState = 'queued';

export interface OutboundMessage {
  id: string;
  mailFrom: string;
  recipients: string[];
  submittedBy: string;
  blobKey: string;
  size: number;
  state: OutboundState;
  attempts: number;
  enqueuedAt: Date;
  nextAttemptAt: Date;
}

export interface OutboundPage {
  messages: OutboundMessage[];
  /** Present when more may follow. */
  cursor?: string;
}

export class InvalidQueueIdError extends Error {
  override name = 'InvalidQueueIdError';
}

export class OutboundQueue {
  constructor(
    private readonly metadata: MetadataStore,
    private readonly blobs: BlobStore,
  ) {}

  /** Queues the message; `duplicate` when an entry with this id already exists (nothing is rewritten). */
  async enqueue(message: NewOutboundMessage): Promise<{ message: OutboundMessage; duplicate: boolean }> {
    assertQueueId(message.id);
    if (message.recipients.length === 0) throw new RangeError('an outbound message needs a recipient');
    const existing = await this.get(message.id);
    if (existing) {
      if (!Buffer.isBuffer(message.body)) message.body.destroy();
      return { message: existing, duplicate: true };
    }
    const blobKey = BLOB_PREFIX + message.id;
    const { size } = await this.blobs.put(blobKey, message.body);
    const now = Date.now();
    const item: Item = {
      pk: OUTBOUND_PK,
      sk: ENTRY_PREFIX + message.id,
      v: SCHEMA_VERSION,
      id: message.id,
      mailFrom: message.mailFrom,
      recipients: message.recipients,
      submittedBy: message.submittedBy,
      blobKey,
      size,
      state: 'queued',
      attempts: 0,
      enqueuedAt: now,
      nextAttemptAt: now,
    };
    try {
      await this.metadata.put(item, [{ attribute: 'pk', op: 'notExists' }]);
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      // A concurrent attempt of the same transaction won; its entry stands.
      const winner = await this.get(message.id);
      if (winner) return { message: winner, duplicate: true };
      throw error;
    }
    return { message: decode(item), duplicate: false };
  }

  async get(id: string): Promise<OutboundMessage | undefined> {
    assertQueueId(id);
    const item = await this.metadata.get(OUTBOUND_PK, ENTRY_PREFIX + id);
    return item ? decode(item) : undefined;
  }

  /** Entries in id order (not time order), a page at a time. */
  async list(options: { cursor?: string; limit?: number } = {}): Promise<OutboundPage> {
    const limit = Math.min(Math.max(1, options.limit ?? DEFAULT_LIST_LIMIT), MAX_LIST_LIMIT);
    const page = await this.metadata.query(OUTBOUND_PK, {
      beginsWith: ENTRY_PREFIX,
      limit,
      ...(options.cursor ? { startAfter: options.cursor } : {}),
    });
    return { messages: page.items.map(decode), ...(page.next ? { cursor: page.next } : {}) };
  }

  /** The message as it will be sent. */
  async readBody(id: string): Promise<Readable> {
    const message = await this.get(id);
    if (!message) throw new RangeError(`no outbound message ${id}`);
    return this.blobs.get(message.blobKey);
  }
}

export function assertQueueId(id: string): void {
  if (typeof id !== 'string' || !QUEUE_ID.test(id)) {
    throw new InvalidQueueIdError(`invalid outbound queue id ${JSON.stringify(String(id).slice(0, 140))}`);
  }
}

function decode(item: Item): OutboundMessage {
  if (item.v !== SCHEMA_VERSION) {
    throw new Error(`outbound entry ${item.sk} has schema version ${String(item.v)}, not ${SCHEMA_VERSION}`);
  }
  return {
    id: item.id as string,
    mailFrom: item.mailFrom as string,
    recipients: item.recipients as string[],
    submittedBy: item.submittedBy as string,
    blobKey: item.blobKey as string,
    size: item.size as number,
    state: item.state as OutboundState,
    attempts: item.attempts as number,
    enqueuedAt: new Date(item.enqueuedAt as number),
    nextAttemptAt: new Date(item.nextAttemptAt as number),
  };
}
