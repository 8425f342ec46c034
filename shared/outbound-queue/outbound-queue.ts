/**
 * The outbound queue: messages accepted for remote recipients (from submission, from relay hosts, and
 * alias targets outside our domains), held durably in the store ports until the outbound worker
 * (shared/outbound/outbound-worker.ts: DKIM signing, delivery with retries, DSNs) has dealt with every
 * recipient.
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
 * Delivery state (the outbound worker, shared/outbound/): an entry is `queued` until a worker claims it
 * with a conditional write (`claim`: only if it is still queued and due, or its previous claim's lease ran
 * out), which makes it `sending` under that worker's token for a lease. Only the token's holder records
 * an attempt's outcome, per recipient (`pending`, `sent`, `failed`), and either releases the entry back to
 * `queued` with its next attempt time or, once no recipient is pending, removes it (entry first, then the
 * blob). So two workers never send the same entry at once, and an entry leaves the queue only after every
 * recipient was accepted or given up on. A worker that dies mid-send leaves its claim to expire; the next
 * claim sends again (SMTP's at-least-once). Entries written before these fields existed read as queued
 * with every recipient pending.
 *
 * Trusts its callers (the SMTP pipeline) for the addresses, which were checked at RCPT time; ids are
 * checked here because they become keys.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { BlobStore } from '../store/blob.ts';
import { ConditionFailedError } from '../store/errors.ts';
import type { AttributeValue, Condition, Item, MetadataStore } from '../store/metadata.ts';

export const OUTBOUND_PK = 'outbound';
const ENTRY_PREFIX = 'msg#';
const BLOB_PREFIX = 'outbound/';
const SCHEMA_VERSION = 1;
const QUEUE_ID = /^[A-Za-z0-9_-]{16,128}$/;
export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;
/** Entries read per page while looking for due ones. */
const DUE_SCAN_PAGE = 500;
/** A blob under outbound/ without an entry is removed only when older than this (an enqueue may be between its two writes). */
export const ORPHAN_BLOB_MIN_AGE_MS = 60 * 60 * 1000;
/** What a recipient's outcome keeps of the next hop's reply. */
const MAX_STORED_REPLY_CHARS = 512;

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

/** `queued`: waiting for its next attempt; `sending`: claimed by a worker until `leaseUntil`. */
export type OutboundState = 'queued' | 'sending';

export type RecipientStatus = 'pending' | 'sent' | 'failed';

export interface RecipientState {
  address: string;
  status: RecipientStatus;
  /** The last reply about this recipient (the acceptance, the refusal, or why the attempt failed). */
  reply?: string;
  /** RFC 3463 code of that reply. */
  enhancedStatus?: string;
  remoteMta?: string;
  /** When that reply came. */
  at?: Date;
}

export interface OutboundMessage {
  id: string;
  mailFrom: string;
  recipients: string[];
  submittedBy: string;
  blobKey: string;
  size: number;
  state: OutboundState;
  /** Attempts started (claims taken). */
  attempts: number;
  enqueuedAt: Date;
  nextAttemptAt: Date;
  /** One per recipient, in the order of `recipients`. */
  recipientStates: RecipientState[];
  /** Until when the current claim holds (state `sending`). */
  leaseUntil?: Date;
  lastAttemptAt?: Date;
  /** When the delay warning went to the sender. */
  warnedAt?: Date;
  /** The DKIM-Signature field made on the first attempt, so every attempt sends the same bytes. */
  dkimSignature?: string;
}

/** A claimed entry: the token proves the claim when the outcome is recorded. */
export interface OutboundClaim {
  message: OutboundMessage;
  token: string;
}

export interface AttemptRecord {
  recipientStates: RecipientState[];
  warnedAt?: Date;
  /** Release the claim with this next attempt time; absent: keep the claim (the caller removes the entry). */
  nextAttemptAt?: Date;
}

/** The claim was lost: its lease ran out and another worker claimed the entry (or it was removed). */
export class ClaimLostError extends Error {
  override name = 'ClaimLostError';
  constructor(readonly id: string) {
    super(`the claim on outbound message ${id} was lost`);
  }
}

export class QueueEntryNotFoundError extends Error {
  override name = 'QueueEntryNotFoundError';
  constructor(readonly id: string) {
    super(`no outbound message ${id}`);
  }
}

/** The entry is being sent by a worker whose claim still holds. */
export class QueueEntryBusyError extends Error {
  override name = 'QueueEntryBusyError';
  constructor(
    readonly id: string,
    readonly leaseUntil: Date,
  ) {
    super(`outbound message ${id} is being sent (claimed until ${leaseUntil.toISOString()})`);
  }
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

  /**
   * Entries a worker may claim now (queued and due, or claimed with the lease run out), oldest attempt
   * time first, at most `limit`; with the size and age of the whole queue, for the metrics.
   */
  async due(now: Date, limit: number): Promise<{ due: OutboundMessage[]; depth: number; oldest?: Date }> {
    const due: OutboundMessage[] = [];
    let depth = 0;
    let oldest: Date | undefined;
    let startAfter: string | undefined;
    do {
      const page = await this.metadata.query(OUTBOUND_PK, {
        beginsWith: ENTRY_PREFIX,
        limit: DUE_SCAN_PAGE,
        ...(startAfter ? { startAfter } : {}),
      });
      for (const item of page.items) {
        const message = decode(item);
        depth++;
        if (!oldest || message.enqueuedAt < oldest) oldest = message.enqueuedAt;
        if (claimable(message, now)) due.push(message);
      }
      startAfter = page.next;
    } while (startAfter !== undefined);
    due.sort((a, b) => readyTime(a) - readyTime(b));
    return { due: due.slice(0, limit), depth, ...(oldest ? { oldest } : {}) };
  }

  /**
   * Claims the entry as read, with one conditional write: it must still be in the state it was read in
   * (queued and due, or the same expired claim). Undefined when another worker was first or it changed.
   */
  async claim(message: OutboundMessage, now: Date, leaseMs: number): Promise<OutboundClaim | undefined> {
    if (!claimable(message, now)) return undefined;
    const token = randomUUID();
    const conditions: Condition[] =
      message.state === 'queued'
        ? [
            { attribute: 'state', op: '=', value: 'queued' },
            { attribute: 'nextAttemptAt', op: '=', value: message.nextAttemptAt.getTime() },
            { attribute: 'attempts', op: '=', value: message.attempts },
          ]
        : [
            { attribute: 'state', op: '=', value: 'sending' },
            { attribute: 'leaseUntil', op: '=', value: message.leaseUntil?.getTime() ?? 0 },
          ];
    try {
      const item = await this.metadata.update(OUTBOUND_PK, ENTRY_PREFIX + message.id, {
        set: { state: 'sending', claim: token, leaseUntil: now.getTime() + leaseMs, lastAttemptAt: now.getTime() },
        add: { attempts: 1 },
        conditions: [{ attribute: 'pk', op: 'exists' }, ...conditions],
      });
      return { message: decode(item), token };
    } catch (error) {
      if (error instanceof ConditionFailedError) return undefined;
      throw error;
    }
  }

  /** Records an attempt's outcome under the claim; throws ClaimLostError when the claim no longer holds. */
  async recordAttempt(claim: OutboundClaim, record: AttemptRecord): Promise<OutboundMessage> {
    const set: Record<string, AttributeValue> = { recipientStates: record.recipientStates.map(encodeRecipientState) };
    const remove: string[] = [];
    if (record.warnedAt) set.warnedAt = record.warnedAt.getTime();
    if (record.nextAttemptAt) {
      set.state = 'queued';
      set.nextAttemptAt = record.nextAttemptAt.getTime();
      remove.push('claim', 'leaseUntil');
    }
    try {
      const item = await this.metadata.update(OUTBOUND_PK, ENTRY_PREFIX + claim.message.id, {
        set,
        ...(remove.length > 0 ? { remove } : {}),
        conditions: [{ attribute: 'claim', op: '=', value: claim.token }],
      });
      return decode(item);
    } catch (error) {
      if (error instanceof ConditionFailedError) throw new ClaimLostError(claim.message.id);
      throw error;
    }
  }

  /**
   * Keeps the DKIM-Signature field made for this entry, before it is first sent: every later attempt,
   * including one after a crash mid-send, sends the same bytes.
   */
  async saveSignature(claim: OutboundClaim, dkimSignature: string): Promise<void> {
    try {
      await this.metadata.update(OUTBOUND_PK, ENTRY_PREFIX + claim.message.id, {
        set: { dkimSignature },
        conditions: [{ attribute: 'claim', op: '=', value: claim.token }],
      });
    } catch (error) {
      if (error instanceof ConditionFailedError) throw new ClaimLostError(claim.message.id);
      throw error;
    }
  }

  /** Removes a finished entry under its claim: the entry, then its blob. */
  async complete(claim: OutboundClaim): Promise<void> {
    try {
      await this.metadata.delete(OUTBOUND_PK, ENTRY_PREFIX + claim.message.id, [
        { attribute: 'claim', op: '=', value: claim.token },
      ]);
    } catch (error) {
      if (error instanceof ConditionFailedError) throw new ClaimLostError(claim.message.id);
      throw error;
    }
    await this.blobs.delete(claim.message.blobKey);
  }

  /** `marmot queue retry`: the next attempt now. Refused while a worker's claim holds. */
  async retryNow(id: string, now = new Date()): Promise<OutboundMessage> {
    const message = await this.get(id);
    if (!message) throw new QueueEntryNotFoundError(id);
    if (message.state === 'sending' && message.leaseUntil && message.leaseUntil > now) {
      throw new QueueEntryBusyError(id, message.leaseUntil);
    }
    try {
      const item = await this.metadata.update(OUTBOUND_PK, ENTRY_PREFIX + id, {
        set: { state: 'queued', nextAttemptAt: now.getTime() },
        remove: ['claim', 'leaseUntil'],
        conditions: [
          { attribute: 'state', op: '=', value: message.state },
          { attribute: 'attempts', op: '=', value: message.attempts },
        ],
      });
      return decode(item);
    } catch (error) {
      if (error instanceof ConditionFailedError) throw new QueueEntryBusyError(id, message.leaseUntil ?? now);
      throw error;
    }
  }

  /** `marmot queue delete`: drops the entry without a DSN. Refused while a worker's claim holds. */
  async remove(id: string, now = new Date()): Promise<OutboundMessage> {
    const message = await this.get(id);
    if (!message) throw new QueueEntryNotFoundError(id);
    if (message.state === 'sending' && message.leaseUntil && message.leaseUntil > now) {
      throw new QueueEntryBusyError(id, message.leaseUntil);
    }
    try {
      await this.metadata.delete(OUTBOUND_PK, ENTRY_PREFIX + id, [
        { attribute: 'state', op: '=', value: message.state },
        { attribute: 'attempts', op: '=', value: message.attempts },
      ]);
    } catch (error) {
      if (error instanceof ConditionFailedError) throw new QueueEntryBusyError(id, message.leaseUntil ?? now);
      throw error;
    }
    await this.blobs.delete(message.blobKey);
    return message;
  }

  /** Deletes blobs under outbound/ that no entry names and that are older than ORPHAN_BLOB_MIN_AGE_MS. */
  async sweepOrphanBlobs(now = new Date()): Promise<number> {
    let removed = 0;
    let cursor: string | undefined;
    do {
      const page = await this.blobs.list(BLOB_PREFIX, { ...(cursor ? { cursor } : {}), limit: DUE_SCAN_PAGE });
      for (const blob of page.blobs) {
        if (now.getTime() - blob.modified.getTime() < ORPHAN_BLOB_MIN_AGE_MS) continue;
        const id = blob.key.slice(BLOB_PREFIX.length);
        if (!QUEUE_ID.test(id) || (await this.metadata.get(OUTBOUND_PK, ENTRY_PREFIX + id))) continue;
        await this.blobs.delete(blob.key);
        removed++;
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
    return removed;
  }
}

function claimable(message: OutboundMessage, now: Date): boolean {
  if (message.state === 'queued') return message.nextAttemptAt <= now;
  return message.leaseUntil === undefined || message.leaseUntil <= now;
}

function readyTime(message: OutboundMessage): number {
  return (message.state === 'queued' ? message.nextAttemptAt : (message.leaseUntil ?? message.nextAttemptAt)).getTime();
}

function encodeRecipientState(state: RecipientState): AttributeValue {
  return {
    address: state.address,
    status: state.status,
    ...(state.reply !== undefined ? { reply: state.reply.slice(0, MAX_STORED_REPLY_CHARS) } : {}),
    ...(state.enhancedStatus !== undefined ? { enhancedStatus: state.enhancedStatus } : {}),
    ...(state.remoteMta !== undefined ? { remoteMta: state.remoteMta } : {}),
    ...(state.at ? { at: state.at.getTime() } : {}),
  };
}

function decodeRecipientStates(item: Item, recipients: string[]): RecipientState[] {
  const stored = Array.isArray(item.recipientStates) ? item.recipientStates : [];
  return recipients.map((address) => {
    const found = stored.find(
      (entry): entry is Record<string, AttributeValue> =>
        typeof entry === 'object' && entry !== null && !Array.isArray(entry) && entry.address === address,
    );
    const status = found?.status;
    if (!found || (status !== 'pending' && status !== 'sent' && status !== 'failed')) {
      return { address, status: 'pending' };
    }
    return {
      address,
      status,
      ...(typeof found.reply === 'string' ? { reply: found.reply } : {}),
      ...(typeof found.enhancedStatus === 'string' ? { enhancedStatus: found.enhancedStatus } : {}),
      ...(typeof found.remoteMta === 'string' ? { remoteMta: found.remoteMta } : {}),
      ...(typeof found.at === 'number' ? { at: new Date(found.at) } : {}),
    };
  });
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
  const recipients = item.recipients as string[];
  const date = (name: string) => (typeof item[name] === 'number' ? new Date(item[name]) : undefined);
  const leaseUntil = date('leaseUntil');
  const lastAttemptAt = date('lastAttemptAt');
  const warnedAt = date('warnedAt');
  return {
    id: item.id as string,
    mailFrom: item.mailFrom as string,
    recipients,
    submittedBy: item.submittedBy as string,
    blobKey: item.blobKey as string,
    size: item.size as number,
    state: item.state === 'sending' ? 'sending' : 'queued',
    attempts: item.attempts as number,
    enqueuedAt: new Date(item.enqueuedAt as number),
    nextAttemptAt: new Date(item.nextAttemptAt as number),
    recipientStates: decodeRecipientStates(item, recipients),
    ...(leaseUntil ? { leaseUntil } : {}),
    ...(lastAttemptAt ? { lastAttemptAt } : {}),
    ...(warnedAt ? { warnedAt } : {}),
    ...(typeof item.dkimSignature === 'string' ? { dkimSignature: item.dkimSignature } : {}),
  };
}
