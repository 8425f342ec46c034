/**
 * Message index operations: append (with idempotent delivery), get and list by UID, flag changes with
 * CONDSTORE UNCHANGEDSINCE, expunge-marking, unexpunge, copy and move. The write order and what each
 * crash point leaves behind are described in mail-store.ts; the short version per operation:
 *
 *   append:  quota charge → (blob reference +n ∥ allocate UIDs+MODSEQ+counters) →
 *            ([delivery marker] ∥ change log ∥ details items) → state items → [log done]
 *            (∥: independent writes issued together, one round trip; the state items, which make the
 *            messages visible, still come after everything else)
 *   flags:   read states → allocate MODSEQ (+ predicted unseen delta) → change log → conditional state
 *            updates (on the MODSEQ read, so concurrent writers never interleave) → compensate conflicts
 *   expunge: read states → quota release → allocate MODSEQ (+ counter deltas) → change log → conditional
 *            marks → compensate conflicts
 *
 * Inputs (blob keys, sizes, dates, flags, opaque JSON) come from protocol code that parsed client or
 * SMTP data; they are validated here before they become items.
 */
import { assertBlobKey } from '../store/blob.ts';
import { ConditionFailedError } from '../store/errors.ts';
import type { Item, Update } from '../store/metadata.ts';
import { addBlobReferences, releaseBlobReferences } from './blob-references.ts';
import {
  type Allocation,
  adjustCounters,
  allocate,
  type CounterDelta,
  deadlinePassed,
  finishChange,
  NO_COUNTER_CHANGE,
  voidChange,
  writeChange,
} from './changes.ts';
import { assertDeliveryKey, claimDeliveryMarker, type DeliveryMarker, readDeliveryMarker } from './delivery-markers.ts';
import {
  ConcurrentModificationError,
  DeliveryInProgressError,
  InvalidMessageError,
  WriteDeadlineExceededError,
} from './errors.ts';
import { type MailStore, mapBounded } from './mail-store.ts';
import { type MailboxRef, readMailboxItem } from './mailbox-record.ts';
import {
  type JsonValue,
  type MessageDetails,
  type MessageState,
  type SearchFields,
  searchFieldsToStore,
  toMessageDetails,
  toMessageState,
} from './message-record.ts';
import { applyFlagChange, normalizeFlags, SEEN, sameFlags } from './names.ts';
import { chargeQuota, type QuotaLimit, type QuotaUsage, releaseQuota } from './quota.ts';
import { detailSk, MAX_UID, mailboxPk, numberOf, SCHEMA_VERSION, StoreItemError, stateSk } from './schema.ts';

/** UIDs one MODSEQ covers at most: bounds the change-log item and the work between two checkpoints. */
export const MAX_UIDS_PER_CHANGE = 500;
export const DEFAULT_LIST_LIMIT = 500;
export const MAX_LIST_LIMIT = 5000;
/** Envelope + body structure + search fields of one message, serialized (DynamoDB items stop at 400 KB). */
export const MAX_DETAILS_BYTES = 300_000;
/** Rounds of re-reading entries that another writer changed under us before giving up. */
const MAX_CONFLICT_ROUNDS = 8;

export interface NewMessage {
  /** Key of the raw message in the blob store; the caller stored it. */
  blobKey: string;
  /** RFC822.SIZE in bytes. */
  size: number;
  internalDate: Date;
  flags?: readonly string[];
  envelope: JsonValue;
  bodyStructure: JsonValue;
  search?: SearchFields;
}

export interface AppendOptions {
  quota?: QuotaLimit;
  /**
   * Makes the append idempotent: SMTP transaction id + recipient, for example. A retry with the same key
   * returns the first attempt's entry (`duplicate: true`) instead of making a second one.
   */
  deliveryKey?: string;
}

export interface AppendResult {
  uid: number;
  modseq: number;
  /** For APPENDUID (RFC 4315). */
  uidValidity: number;
  /** True when an earlier attempt with the same delivery key had already made the entry. */
  duplicate: boolean;
}

interface Draft {
  blobKey: string;
  size: number;
  internalDate: number;
  flags: string[];
  envelope: JsonValue;
  bodyStructure: JsonValue;
  search: Record<string, JsonValue>;
}

interface Inserted {
  uids: number[];
  modseq: number;
  uidValidity: number;
}

interface InsertOptions {
  /** 'new': the first references to a just-stored blob; 'existing': copies of entries that hold one. */
  blobs: 'new' | 'existing';
  /** Limit to charge against, or 'precharged' when the caller charged the quota for the whole batch. */
  quota: QuotaLimit | 'precharged';
  claim?: { key: string; replacing?: DeliveryMarker };
}

/** Appends one message (IMAP APPEND, SMTP delivery). OverQuotaError leaves nothing behind. */
export async function appendMessage(
  store: MailStore,
  mailbox: MailboxRef,
  message: NewMessage,
  options: AppendOptions = {},
): Promise<AppendResult> {
  const draft = prepareDraft(message);
  const quota = options.quota ?? {};
  if (options.deliveryKey === undefined) {
    const inserted = await insertMessages(store, mailbox, [draft], { blobs: 'new', quota });
    if (!inserted) throw new Error('append without a delivery key cannot lose a claim');
    return { uid: inserted.uids[0]!, modseq: inserted.modseq, uidValidity: inserted.uidValidity, duplicate: false };
  }
  const key = options.deliveryKey;
  assertDeliveryKey(key);
  // Twice at most: a lost claim means another attempt just recorded its UID, which the second read sees.
  for (let attempt = 0; attempt < 2; attempt++) {
    const marker = await readDeliveryMarker(store, mailbox.id, key);
    let replacing: DeliveryMarker | undefined;
    if (marker) {
      const state = await store.metadata.get(mailboxPk(mailbox.id), stateSk(marker.uid));
      if (state) {
        const item = await readMailboxItem(store, mailbox.id, true);
        return { uid: marker.uid, modseq: marker.modseq, uidValidity: numberOf(item, 'uidvalidity'), duplicate: true };
      }
      if (Date.now() - marker.at <= store.writeDeadlineMs) throw new DeliveryInProgressError(key);
      replacing = marker;
    }
    const claim = replacing ? { key, replacing } : { key };
    const inserted = await insertMessages(store, mailbox, [draft], { blobs: 'new', quota, claim });
    if (inserted) {
      return { uid: inserted.uids[0]!, modseq: inserted.modseq, uidValidity: inserted.uidValidity, duplicate: false };
    }
  }
  throw new DeliveryInProgressError(key);
}

function prepareDraft(message: NewMessage): Draft {
  try {
    assertBlobKey(message.blobKey);
  } catch {
    throw new InvalidMessageError(`invalid blob key ${JSON.stringify(message.blobKey)}`);
  }
  if (!Number.isSafeInteger(message.size) || message.size < 0) {
    throw new InvalidMessageError(`invalid size ${message.size}`);
  }
  if (!(message.internalDate instanceof Date) || Number.isNaN(message.internalDate.getTime())) {
    throw new InvalidMessageError('invalid internal date');
  }
  const search = searchFieldsToStore(message.search);
  const serialized = JSON.stringify([message.envelope ?? null, message.bodyStructure ?? null, search]);
  if (Buffer.byteLength(serialized) > MAX_DETAILS_BYTES) {
    throw new InvalidMessageError(`envelope, body structure and search fields exceed ${MAX_DETAILS_BYTES} bytes`);
  }
  return {
    blobKey: message.blobKey,
    size: message.size,
    internalDate: message.internalDate.getTime(),
    flags: normalizeFlags(message.flags ?? []),
    envelope: message.envelope ?? null,
    bodyStructure: message.bodyStructure ?? null,
    search,
  };
}

/**
 * Makes entries for drafts under consecutive new UIDs sharing one MODSEQ. Returns undefined (having
 * given everything back) when `claim` lost to another delivery attempt.
 */
async function insertMessages(
  store: MailStore,
  mailbox: MailboxRef,
  drafts: Draft[],
  options: InsertOptions,
): Promise<Inserted | undefined> {
  const startedAt = Date.now();
  const usage = usageOf(drafts);
  const counters: CounterDelta = {
    messages: drafts.length,
    unseen: drafts.filter((draft) => !draft.flags.includes(SEEN)).length,
    size: usage.bytes,
  };
  if (options.quota !== 'precharged') await chargeQuota(store, mailbox.account, usage, options.quota);
  const referenced = new Map<string, number>();
  const giveBack = async (allocation: Allocation | undefined) => {
    // Best effort: a failure here only over-counts, which reconciliation repairs.
    await Promise.allSettled([
      options.quota === 'precharged' ? undefined : releaseQuota(store, mailbox.account, usage),
      ...[...referenced].map(([key, count]) => releaseBlobReferences(store, key, count)),
      allocation
        ? adjustCounters(store, mailbox.id, {
            messages: -counters.messages,
            unseen: -counters.unseen,
            size: -counters.size,
          })
        : undefined,
      allocation ? voidChange(store, mailbox.id, allocation) : undefined,
    ]);
  };
  // The blob references and the allocation do not depend on each other: one round trip for both.
  const [referencing, allocating] = await Promise.allSettled([
    Promise.all(
      [...countBlobs(drafts)].map(async ([key, count]) => {
        await addBlobReferences(store, key, count, options.blobs);
        referenced.set(key, count);
      }),
    ),
    allocate(store, mailbox, drafts.length, counters),
  ]);
  if (referencing.status === 'rejected' || allocating.status === 'rejected') {
    await giveBack(allocating.status === 'fulfilled' ? allocating.value : undefined);
    throw referencing.status === 'rejected' ? referencing.reason : (allocating as PromiseRejectedResult).reason;
  }
  const allocation = allocating.value;
  const abandon = () => giveBack(allocation);
  const uids = drafts.map((_, index) => allocation.firstUid + index);
  const savedAt = Date.now();
  const claiming = options.claim
    ? claimDeliveryMarker(
        store,
        mailbox.id,
        options.claim.key,
        { uid: uids[0]!, modseq: allocation.modseq, at: allocation.at },
        options.claim.replacing,
      )
    : Promise.resolve(true);
  // The delivery claim, the change log item and the details (read only by UID, once an entry exists) in
  // one round trip; the entries, which make the messages visible, only after all three.
  const written = await Promise.allSettled([
    claiming,
    writeChange(store, mailbox.id, allocation, uids),
    mapBounded(
      drafts.map((draft, index) => ({ draft, uid: uids[index]! })),
      ({ draft, uid }) =>
        store.metadata.put({
          pk: mailboxPk(mailbox.id),
          sk: detailSk(uid),
          v: SCHEMA_VERSION,
          uid,
          envelope: draft.envelope,
          bodyStructure: draft.bodyStructure,
          search: draft.search,
        }),
    ),
  ]);
  const failed = written.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failed || !(written[0].status === 'fulfilled' && written[0].value)) {
    // A lost claim or a failed write: nothing is visible yet; give everything back, details included.
    await Promise.allSettled([
      abandon(),
      mapBounded(uids, (uid) => store.metadata.delete(mailboxPk(mailbox.id), detailSk(uid))),
    ]);
    if (failed) throw failed.reason;
    return undefined;
  }
  // Checked once: a batch of entry writes takes far less than the margin between deadline and settling.
  if (deadlinePassed(store, startedAt)) {
    await abandon();
    throw new WriteDeadlineExceededError(mailbox.id);
  }
  await mapBounded(
    drafts.map((draft, index) => ({ draft, uid: uids[index]! })),
    ({ draft, uid }) =>
      store.metadata.put(
        {
          pk: mailboxPk(mailbox.id),
          sk: stateSk(uid),
          v: SCHEMA_VERSION,
          uid,
          modseq: allocation.modseq,
          flags: draft.flags,
          size: draft.size,
          internalDate: draft.internalDate,
          savedAt,
          blobKey: draft.blobKey,
        },
        [{ attribute: 'pk', op: 'notExists' }],
      ),
  );
  // A single entry proves itself to readers (changes.ts); a batch needs the mark.
  if (drafts.length > 1) await finishChange(store, mailbox.id, allocation.modseq, uids);
  return { uids, modseq: allocation.modseq, uidValidity: allocation.uidValidity };
}

function usageOf(drafts: readonly Draft[]): QuotaUsage {
  return { bytes: drafts.reduce((sum, draft) => sum + draft.size, 0), messages: drafts.length };
}

function countBlobs(drafts: readonly Draft[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const draft of drafts) counts.set(draft.blobKey, (counts.get(draft.blobKey) ?? 0) + 1);
  return counts;
}

/** One entry's state, expunged or not; undefined when the UID has no entry. */
export async function getMessage(store: MailStore, mailboxId: string, uid: number): Promise<MessageState | undefined> {
  assertUid(uid);
  const item = await store.metadata.get(mailboxPk(mailboxId), stateSk(uid));
  return item ? toMessageState(item) : undefined;
}

/** Envelope, body structure and search fields of one entry. */
export async function getMessageDetails(
  store: MailStore,
  mailboxId: string,
  uid: number,
): Promise<MessageDetails | undefined> {
  assertUid(uid);
  const item = await store.metadata.get(mailboxPk(mailboxId), detailSk(uid));
  return item ? toMessageDetails(item) : undefined;
}

export interface ListOptions {
  /** Inclusive UID range; defaults to everything. */
  fromUid?: number;
  toUid?: number;
  /** Continue after this UID (the `next` of the previous page). */
  after?: number;
  limit?: number;
  includeExpunged?: boolean;
}

export interface MessagePage<T> {
  messages: T[];
  /** Present when more may follow: pass as `after`. */
  next?: number;
}

/** Entries by UID range in UID order, paged; expunged ones only when asked. */
export async function listMessages(
  store: MailStore,
  mailboxId: string,
  options: ListOptions = {},
): Promise<MessagePage<MessageState>> {
  const keep = options.includeExpunged ? () => true : (state: MessageState) => !state.expunged;
  return pageStates(store, mailboxId, options, keep);
}

/** Entries expunged at or after `since`, for unexpunge and the expire job (reads the whole mailbox). */
export async function listExpungedSince(
  store: MailStore,
  mailboxId: string,
  since: Date,
  options: Omit<ListOptions, 'includeExpunged'> = {},
): Promise<MessagePage<MessageState>> {
  const from = since.getTime();
  return pageStates(store, mailboxId, options, (state) => state.expunged && (state.expungedAt?.getTime() ?? 0) >= from);
}

async function pageStates(
  store: MailStore,
  mailboxId: string,
  options: ListOptions,
  keep: (state: MessageState) => boolean,
): Promise<MessagePage<MessageState>> {
  const range = uidRange(options);
  const limit = listLimit(options.limit);
  const messages: MessageState[] = [];
  if (!range) return { messages };
  let startAfter: string | undefined;
  while (messages.length < limit) {
    const page = await store.metadata.query(mailboxPk(mailboxId), {
      from: stateSk(range.from),
      to: stateSk(range.to),
      limit: limit - messages.length,
      ...(startAfter ? { startAfter } : {}),
    });
    messages.push(...page.items.map(toMessageState).filter(keep));
    if (!page.next) return { messages };
    startAfter = page.next;
  }
  return { messages, next: messages.at(-1)!.uid };
}

/** Details of entries by UID range (FETCH ENVELOPE / BODYSTRUCTURE over many messages), paged. */
export async function listMessageDetails(
  store: MailStore,
  mailboxId: string,
  options: Omit<ListOptions, 'includeExpunged'> = {},
): Promise<MessagePage<MessageDetails>> {
  const range = uidRange(options);
  if (!range) return { messages: [] };
  const page = await store.metadata.query(mailboxPk(mailboxId), {
    from: detailSk(range.from),
    to: detailSk(range.to),
    limit: listLimit(options.limit),
  });
  const messages = page.items.map(toMessageDetails);
  return page.next ? { messages, next: messages.at(-1)!.uid } : { messages };
}

function uidRange(options: ListOptions): { from: number; to: number } | undefined {
  for (const value of [options.fromUid, options.toUid, options.after]) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0))
      throw new RangeError(`invalid UID ${value}`);
  }
  const from = Math.max(options.fromUid ?? 1, (options.after ?? 0) + 1, 1);
  const to = Math.min(options.toUid ?? MAX_UID, MAX_UID);
  return from <= to ? { from, to } : undefined;
}

function listLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIST_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`invalid limit ${limit}`);
  return Math.min(limit, MAX_LIST_LIMIT);
}

export interface FlagChange {
  mode: 'set' | 'add' | 'remove';
  flags: readonly string[];
  /** CONDSTORE (RFC 7162 §3.1.3): only change messages whose MODSEQ is at most this. */
  unchangedSince?: number;
}

export interface FlagState {
  uid: number;
  modseq: number;
  flags: string[];
}

export interface FlagUpdateResult {
  /** Changed by this call, each with its new MODSEQ. */
  updated: FlagState[];
  /** Already as asked: untouched, no new MODSEQ. */
  unchanged: FlagState[];
  /** Not changed because their MODSEQ was above `unchangedSince` (the MODIFIED response code). */
  failed: number[];
}

/**
 * STORE: sets, adds or removes flags on the entries with these UIDs. UIDs without an entry, or
 * expunged, are skipped (IMAP ignores them). Each batch of up to MAX_UIDS_PER_CHANGE takes one MODSEQ.
 */
export async function updateFlags(
  store: MailStore,
  mailbox: MailboxRef,
  uids: readonly number[],
  change: FlagChange,
): Promise<FlagUpdateResult> {
  const flags = normalizeFlags(change.flags);
  const { unchangedSince } = change;
  if (unchangedSince !== undefined && (!Number.isSafeInteger(unchangedSince) || unchangedSince < 0)) {
    throw new RangeError(`invalid UNCHANGEDSINCE ${unchangedSince}`);
  }
  const result: FlagUpdateResult = { updated: [], unchanged: [], failed: [] };
  for (const batch of batches(normalizeUids(uids))) {
    let pending = batch;
    for (let round = 0; pending.length > 0; round++) {
      if (round === MAX_CONFLICT_ROUNDS) throw new ConcurrentModificationError('flags kept changing under STORE');
      const startedAt = Date.now();
      const candidates: { state: MessageState; flags: string[] }[] = [];
      for (const state of await readStates(store, mailbox.id, pending)) {
        if (state.expunged) continue;
        const current = { uid: state.uid, modseq: state.modseq, flags: state.flags };
        if (unchangedSince !== undefined && state.modseq > unchangedSince) result.failed.push(state.uid);
        else {
          const next = applyFlagChange(state.flags, change.mode, flags);
          if (sameFlags(next, state.flags)) result.unchanged.push(current);
          else candidates.push({ state, flags: next });
        }
      }
      if (candidates.length === 0) break;
      const unseenDelta = (candidate: (typeof candidates)[number]) =>
        Number(!candidate.flags.includes(SEEN)) - Number(!candidate.state.flags.includes(SEEN));
      const counters = { ...NO_COUNTER_CHANGE, unseen: sum(candidates.map(unseenDelta)) };
      const outcome = await changeEntries(store, mailbox, candidates, counters, startedAt, (candidate, modseq) => ({
        set: { flags: candidate.flags, modseq },
        conditions: [
          { attribute: 'modseq', op: '=', value: candidate.state.modseq },
          { attribute: 'expunged', op: 'notExists' },
        ],
      }));
      const conflicted = outcome.conflicted;
      if (conflicted.length > 0) {
        await adjustCounters(store, mailbox.id, { ...NO_COUNTER_CHANGE, unseen: -sum(conflicted.map(unseenDelta)) });
      }
      for (const candidate of outcome.applied) {
        result.updated.push({ uid: candidate.state.uid, modseq: outcome.modseq, flags: candidate.flags });
      }
      pending = conflicted.map((candidate) => candidate.state.uid);
    }
  }
  for (const list of [result.updated, result.unchanged]) list.sort((a, b) => a.uid - b.uid);
  result.failed.sort((a, b) => a - b);
  return result;
}

export interface ExpungeResult {
  /** UIDs this call marked expunged, ascending. */
  expunged: number[];
  /** The highest MODSEQ the marks took (undefined when nothing was expunged). */
  modseq?: number;
}

/**
 * Marks entries expunged (they stay for the retention period: QRESYNC VANISHED, unexpunge) and gives
 * their size back to the account's quota. Which UIDs to expunge (\Deleted ones, MOVE's sources) is the
 * caller's choice. UIDs without an entry or already expunged are skipped.
 */
export async function expungeMessages(
  store: MailStore,
  mailbox: MailboxRef,
  uids: readonly number[],
): Promise<ExpungeResult> {
  const result: ExpungeResult = { expunged: [] };
  for (const batch of batches(normalizeUids(uids))) {
    let pending = batch;
    for (let round = 0; pending.length > 0; round++) {
      if (round === MAX_CONFLICT_ROUNDS) throw new ConcurrentModificationError('entries kept changing under EXPUNGE');
      const startedAt = Date.now();
      const candidates = (await readStates(store, mailbox.id, pending))
        .filter((state) => !state.expunged)
        .map((state) => ({ state }));
      if (candidates.length === 0) break;
      const countersOf = (list: typeof candidates): CounterDelta => ({
        messages: -list.length,
        unseen: -list.filter((candidate) => !candidate.state.flags.includes(SEEN)).length,
        size: -sum(list.map((candidate) => candidate.state.size)),
      });
      const usageOfStates = (list: typeof candidates): QuotaUsage => ({
        bytes: sum(list.map((candidate) => candidate.state.size)),
        messages: list.length,
      });
      // Quota first (quota.ts): a crash from here on under-counts until reconciliation.
      await releaseQuota(store, mailbox.account, usageOfStates(candidates));
      const expungedAt = Date.now();
      let outcome: Awaited<ReturnType<typeof changeEntries<(typeof candidates)[number]>>>;
      try {
        outcome = await changeEntries(
          store,
          mailbox,
          candidates,
          countersOf(candidates),
          startedAt,
          (candidate, modseq) => ({
            set: { expunged: true, expungedAt, modseq },
            conditions: [
              { attribute: 'modseq', op: '=', value: candidate.state.modseq },
              { attribute: 'expunged', op: 'notExists' },
            ],
          }),
        );
      } catch (error) {
        await chargeQuota(store, mailbox.account, usageOfStates(candidates));
        throw error;
      }
      const conflicted = outcome.conflicted;
      if (conflicted.length > 0) {
        const back = countersOf(conflicted);
        await adjustCounters(store, mailbox.id, { messages: -back.messages, unseen: -back.unseen, size: -back.size });
        await chargeQuota(store, mailbox.account, usageOfStates(conflicted));
      }
      if (outcome.applied.length > 0) {
        result.expunged.push(...outcome.applied.map((candidate) => candidate.state.uid));
        result.modseq = outcome.modseq;
      }
      pending = conflicted.map((candidate) => candidate.state.uid);
    }
  }
  result.expunged.sort((a, b) => a - b);
  return result;
}

/**
 * The shared middle of flag changes and expunges: one MODSEQ with its counter delta, the change log,
 * the conditional entry updates, the `done` mark. A deadline miss gives the MODSEQ and counters back.
 */
async function changeEntries<C extends { state: MessageState }>(
  store: MailStore,
  mailbox: MailboxRef,
  candidates: C[],
  counters: CounterDelta,
  startedAt: number,
  updateOf: (candidate: C, modseq: number) => Update,
): Promise<{ modseq: number; applied: C[]; conflicted: C[] }> {
  const allocation = await allocate(store, mailbox, 0, counters);
  const uids = candidates.map((candidate) => candidate.state.uid);
  const abandon = async () => {
    await Promise.allSettled([
      voidChange(store, mailbox.id, allocation),
      adjustCounters(store, mailbox.id, {
        messages: -counters.messages,
        unseen: -counters.unseen,
        size: -counters.size,
      }),
    ]);
  };
  try {
    await writeChange(store, mailbox.id, allocation, uids);
  } catch (error) {
    await abandon();
    throw error;
  }
  if (deadlinePassed(store, startedAt)) {
    await abandon();
    throw new WriteDeadlineExceededError(mailbox.id);
  }
  const outcomes = await mapBounded(candidates, async (candidate) => {
    try {
      await store.metadata.update(
        mailboxPk(mailbox.id),
        stateSk(candidate.state.uid),
        updateOf(candidate, allocation.modseq),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionFailedError) return false;
      throw error;
    }
  });
  const applied = candidates.filter((_, index) => outcomes[index]);
  const conflicted = candidates.filter((_, index) => !outcomes[index]);
  // A single landed entry proves itself to readers (its MODSEQ); anything else needs the mark.
  if (candidates.length > 1 || conflicted.length > 0) {
    await finishChange(
      store,
      mailbox.id,
      allocation.modseq,
      applied.map((candidate) => candidate.state.uid),
    );
  }
  return { modseq: allocation.modseq, applied, conflicted };
}

export interface CopyResult {
  /** UIDVALIDITY of the target, for COPYUID (RFC 4315). */
  uidValidity: number;
  /** Source UID → new target UID, in source UID order. */
  mapping: { source: number; target: number }[];
}

/**
 * COPY: new entries in the target (new UIDs, same blobs, flags and internal dates). All or nothing for
 * the client (RFC 9051 §6.4.7): the quota is charged for the whole copy first, and entries already made
 * when a later batch fails are expunged again (a crash, or a store failure inside a batch, can still
 * leave some copies, as with any write interrupted there). Expunged or missing source UIDs are skipped.
 */
export async function copyMessages(
  store: MailStore,
  source: MailboxRef,
  uids: readonly number[],
  target: MailboxRef,
  options: { quota?: QuotaLimit } = {},
): Promise<CopyResult> {
  const states = (await readStates(store, source.id, normalizeUids(uids))).filter((state) => !state.expunged);
  const total: QuotaUsage = { bytes: sum(states.map((state) => state.size)), messages: states.length };
  await chargeQuota(store, target.account, total, options.quota ?? {});
  const mapping: CopyResult['mapping'] = [];
  let uidValidity: number | undefined;
  let done = 0;
  try {
    for (const batch of batches(states)) {
      const drafts = await draftsFrom(store, source.id, batch);
      const inserted = await insertMessages(store, target, drafts, { blobs: 'existing', quota: 'precharged' });
      if (!inserted) throw new Error('a copy cannot lose a delivery claim');
      uidValidity = inserted.uidValidity;
      batch.forEach((state, index) => {
        mapping.push({ source: state.uid, target: inserted.uids[index]! });
      });
      done += batch.length;
    }
  } catch (error) {
    const left = states.slice(done);
    await Promise.allSettled([
      releaseQuota(store, target.account, { bytes: sum(left.map((state) => state.size)), messages: left.length }),
      expungeMessages(
        store,
        target,
        mapping.map((pair) => pair.target),
      ),
    ]);
    throw error;
  }
  uidValidity ??= numberOf(await readMailboxItem(store, target.id), 'uidvalidity');
  return { uidValidity, mapping };
}

/**
 * MOVE (RFC 6851): copy, then expunge the sources. Not charged against a quota limit, since it frees as
 * much as it takes. A crash between the two leaves the messages in both mailboxes, never in neither.
 */
export async function moveMessages(
  store: MailStore,
  source: MailboxRef,
  uids: readonly number[],
  target: MailboxRef,
): Promise<CopyResult & ExpungeResult> {
  const copied = await copyMessages(store, source, uids, target);
  const expunged = await expungeMessages(
    store,
    source,
    copied.mapping.map((pair) => pair.source),
  );
  return { ...copied, ...expunged };
}

/**
 * Restores expunged entries (`marmot unexpunge`) as new entries with new UIDs, since clients already
 * saw the old UIDs vanish; the old entries stay expunged and record `restoredAs`. Charges the quota.
 */
export async function unexpungeMessages(
  store: MailStore,
  mailbox: MailboxRef,
  uids: readonly number[],
  options: { quota?: QuotaLimit } = {},
): Promise<CopyResult> {
  const mapping: CopyResult['mapping'] = [];
  let uidValidity: number | undefined;
  for (const batch of batches(normalizeUids(uids))) {
    const states = (await readStates(store, mailbox.id, batch)).filter(
      (state) => state.expunged && state.restoredAs === undefined,
    );
    if (states.length === 0) continue;
    const drafts = await draftsFrom(store, mailbox.id, states);
    const inserted = await insertMessages(store, mailbox, drafts, { blobs: 'existing', quota: options.quota ?? {} });
    if (!inserted) throw new Error('a restore cannot lose a delivery claim');
    uidValidity = inserted.uidValidity;
    // After the new entries: a crash in between restores twice on a rerun, never loses the message.
    const pairs = states.map((state, index) => ({ source: state.uid, target: inserted.uids[index]! }));
    await mapBounded(pairs, (pair) =>
      store.metadata.update(mailboxPk(mailbox.id), stateSk(pair.source), {
        set: { restoredAs: pair.target },
        conditions: [{ attribute: 'expunged', op: '=', value: true }],
      }),
    );
    mapping.push(...pairs);
  }
  mapping.sort((a, b) => a.source - b.source);
  uidValidity ??= numberOf(await readMailboxItem(store, mailbox.id), 'uidvalidity');
  return { uidValidity, mapping };
}

async function draftsFrom(store: MailStore, mailboxId: string, states: MessageState[]): Promise<Draft[]> {
  return mapBounded(states, async (state) => {
    const item = await store.metadata.get(mailboxPk(mailboxId), detailSk(state.uid));
    if (!item) throw new StoreItemError({ pk: mailboxPk(mailboxId), sk: detailSk(state.uid) }, 'details missing');
    const details = toMessageDetails(item);
    return {
      blobKey: state.blobKey,
      size: state.size,
      internalDate: state.internalDate.getTime(),
      flags: state.flags,
      envelope: details.envelope,
      bodyStructure: details.bodyStructure,
      search: searchFieldsToStore(details.search),
    };
  });
}

/** States of these UIDs that have an entry, in UID order. */
async function readStates(store: MailStore, mailboxId: string, uids: readonly number[]): Promise<MessageState[]> {
  const items = await mapBounded(uids, (uid) => store.metadata.get(mailboxPk(mailboxId), stateSk(uid)));
  return items.filter((item): item is Item => item !== undefined).map(toMessageState);
}

function normalizeUids(uids: readonly number[]): number[] {
  if (!Array.isArray(uids)) throw new RangeError('UIDs must be a list');
  for (const uid of uids) assertUid(uid);
  return [...new Set(uids)].sort((a, b) => a - b);
}

function assertUid(uid: number): void {
  if (!Number.isSafeInteger(uid) || uid < 1 || uid > MAX_UID) throw new RangeError(`invalid UID ${uid}`);
}

function batches<T>(list: readonly T[]): T[][] {
  const result: T[][] = [];
  for (let index = 0; index < list.length; index += MAX_UIDS_PER_CHANGE) {
    result.push(list.slice(index, index + MAX_UIDS_PER_CHANGE));
  }
  return result;
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
