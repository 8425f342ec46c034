/**
 * MODSEQ allocation, the per-mailbox change log, settling, and "what changed since MODSEQ m"
 * (CONDSTORE/QRESYNC, RFC 7162; IDLE and NOOP updates). Why a change log and why settling: see the
 * header of mail-store.ts.
 *
 * Writers: `allocate` (one atomic add on the mailbox item: MODSEQ, UIDs, counters) → `writeChange`
 * (the `chg#<modseq>` item naming the UIDs, stamped with the allocation time) → the entries →
 * `finishChange` for multi-entry changes. A writer that gives up after allocating calls `voidChange`.
 *
 * Readers: `settle` computes the highest MODSEQ below which nothing can still land, and the UIDNEXT that
 * goes with it; `changesSince` and `getMailboxStatus` report only settled state.
 */
import { ConditionFailedError } from '../store/errors.ts';
import type { Item } from '../store/metadata.ts';
import { MailboxNotFoundError, UidSpaceExhaustedError } from './errors.ts';
import { type MailStore, mapBounded } from './mail-store.ts';
import { type MailboxRef, readMailboxItem } from './mailbox-record.ts';
import { type MessageState, toMessageState } from './message-record.ts';
import {
  changeSk,
  checkVersion,
  MAILBOX_SK,
  MAX_UID,
  mailboxPk,
  numberOf,
  numbersOf,
  SCHEMA_VERSION,
  stateSk,
  stringOf,
} from './schema.ts';

/** Change-log items read per query while settling or listing changes. */
const CHANGE_PAGE = 500;
/** Pages one settle call reads at most; the rest settles on the next call. */
const MAX_SETTLE_PAGES = 20;
export const DEFAULT_CHANGES_LIMIT = 1000;
export const MAX_CHANGES_LIMIT = 10_000;

export interface CounterDelta {
  messages: number;
  unseen: number;
  size: number;
}

export const NO_COUNTER_CHANGE: CounterDelta = { messages: 0, unseen: 0, size: 0 };

export interface Allocation {
  modseq: number;
  /** First of the `uids` UIDs taken (uidNext when none were asked for). */
  firstUid: number;
  /** The mailbox's UIDNEXT right after this allocation. */
  uidNext: number;
  uidValidity: number;
  /** Time the allocation had certainly happened by; the change log item carries it. */
  at: number;
}

/** Takes one MODSEQ and `uids` UIDs, and applies the counter delta, with one atomic add. */
export async function allocate(
  store: MailStore,
  mailbox: MailboxRef,
  uids: number,
  counters: CounterDelta,
): Promise<Allocation> {
  let item: Item;
  try {
    item = await store.metadata.update(mailboxPk(mailbox.id), MAILBOX_SK, {
      add: { uidnext: uids, highestmodseq: 1, ...counters },
      set: { changedAt: Date.now() },
      conditions: [
        { attribute: 'deletedAt', op: 'notExists' },
        { attribute: 'account', op: '=', value: mailbox.account },
        { attribute: 'uidnext', op: '<=', value: MAX_UID + 1 - uids },
      ],
    });
  } catch (error) {
    if (!(error instanceof ConditionFailedError)) throw error;
    const current = await store.metadata.get(mailboxPk(mailbox.id), MAILBOX_SK);
    if (!current || current.deletedAt !== undefined || current.account !== mailbox.account) {
      throw new MailboxNotFoundError(mailbox.id);
    }
    throw new UidSpaceExhaustedError(mailbox.id);
  }
  const uidNext = numberOf(item, 'uidnext');
  return {
    modseq: numberOf(item, 'highestmodseq'),
    firstUid: uidNext - uids,
    uidNext,
    uidValidity: numberOf(item, 'uidvalidity'),
    at: Date.now(),
  };
}

/** Compensates counters (a failed or partly failed write); stamps changedAt so reconciliation waits. */
export async function adjustCounters(store: MailStore, mailboxId: string, counters: CounterDelta): Promise<void> {
  if (counters.messages === 0 && counters.unseen === 0 && counters.size === 0) return;
  await store.metadata.update(mailboxPk(mailboxId), MAILBOX_SK, {
    add: { ...counters },
    set: { changedAt: Date.now() },
  });
}

export async function writeChange(
  store: MailStore,
  mailboxId: string,
  allocation: Allocation,
  uids: number[],
): Promise<void> {
  await store.metadata.put({
    pk: mailboxPk(mailboxId),
    sk: changeSk(allocation.modseq),
    v: SCHEMA_VERSION,
    modseq: allocation.modseq,
    uids,
    uidnext: allocation.uidNext,
    at: allocation.at,
  });
}

/** Marks a change landed, naming the UIDs that really carry its MODSEQ. */
export async function finishChange(
  store: MailStore,
  mailboxId: string,
  modseq: number,
  appliedUids: number[],
): Promise<void> {
  await store.metadata.update(mailboxPk(mailboxId), changeSk(modseq), {
    set: { uids: appliedUids, done: true },
  });
}

/** Records that an allocated MODSEQ changed nothing, so readers need not wait for it. */
export async function voidChange(store: MailStore, mailboxId: string, allocation: Allocation): Promise<void> {
  await store.metadata.put({
    pk: mailboxPk(mailboxId),
    sk: changeSk(allocation.modseq),
    v: SCHEMA_VERSION,
    modseq: allocation.modseq,
    uids: [],
    uidnext: allocation.uidNext,
    at: allocation.at,
    done: true,
  });
}

/** Whether a writer that started at `startedAt` must abandon its visible write (mail-store.ts, "Settling"). */
export function deadlinePassed(store: MailStore, startedAt: number): boolean {
  return Date.now() - startedAt > store.writeDeadlineMs;
}

export interface SettledState {
  /** Every change with a MODSEQ up to this one is visible (or will never be). */
  highestModseq: number;
  /** Every UID below this one is visible (or will never be); no lower UID can appear later. */
  uidNext: number;
}

/** The settled point of a mailbox, from its item; advances the point cached on the item. */
export async function settle(store: MailStore, mailboxItem: Item): Promise<SettledState> {
  const mailboxId = stringOf(mailboxItem, 'id');
  const highest = numberOf(mailboxItem, 'highestmodseq');
  const cached = numberOf(mailboxItem, 'settledModseq');
  let settled = cached;
  let uidNext = numberOf(mailboxItem, 'settledUidnext');
  const now = Date.now();
  const dead = (at: number) => now - at > store.settleMs;
  let startAfter: string | undefined;
  pages: for (let page = 0; settled < highest && page < MAX_SETTLE_PAGES; page++) {
    const result = await store.metadata.query(mailboxPk(mailboxId), {
      from: changeSk(settled + 1),
      to: changeSk(highest),
      limit: CHANGE_PAGE,
      ...(startAfter ? { startAfter } : {}),
    });
    for (const change of result.items) {
      const modseq = numberOf(change, 'modseq');
      const at = numberOf(change, 'at');
      // A gap before this item was allocated before it, so it is dead once this item is old enough.
      if (modseq > settled + 1 && !dead(at)) break pages;
      if (!dead(at) && !(await changeLanded(store, mailboxId, change))) break pages;
      settled = modseq;
      uidNext = numberOf(change, 'uidnext');
    }
    if (!result.next) {
      // Only a gap is left, allocated by `changedAt` at the latest.
      if (dead(numberOf(mailboxItem, 'changedAt'))) settled = highest;
      break;
    }
    startAfter = result.next;
  }
  if (settled === highest) uidNext = numberOf(mailboxItem, 'uidnext');
  if (settled > cached) {
    try {
      await store.metadata.update(mailboxPk(mailboxId), MAILBOX_SK, {
        set: { settledModseq: settled, settledUidnext: uidNext },
        conditions: [{ attribute: 'settledModseq', op: '<', value: settled }],
      });
    } catch (error) {
      // Another reader cached a later point already.
      if (!(error instanceof ConditionFailedError)) throw error;
    }
  }
  return { highestModseq: settled, uidNext };
}

async function changeLanded(store: MailStore, mailboxId: string, change: Item): Promise<boolean> {
  if (change.done === true) return true;
  const uids = numbersOf(change, 'uids');
  if (uids.length === 0) return true;
  // Single-entry changes skip the `done` write: their entry carrying the MODSEQ is the proof.
  if (uids.length > 1) return false;
  const state = await store.metadata.get(mailboxPk(mailboxId), stateSk(uids[0]!));
  return state !== undefined && numberOf(state, 'modseq') >= numberOf(change, 'modseq');
}

export interface MailboxStatus {
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  messages: number;
  unseen: number;
  size: number;
}

/** STATUS (RFC 9051 §6.3.11) values, with the settled UIDNEXT and HIGHESTMODSEQ. */
export async function getMailboxStatus(store: MailStore, mailboxId: string): Promise<MailboxStatus> {
  const item = await readMailboxItem(store, mailboxId);
  const settled = await settle(store, item);
  return {
    uidValidity: numberOf(item, 'uidvalidity'),
    uidNext: settled.uidNext,
    highestModseq: settled.highestModseq,
    messages: numberOf(item, 'messages'),
    unseen: numberOf(item, 'unseen'),
    size: numberOf(item, 'size'),
  };
}

export interface MessageChanges {
  /** Entries not expunged whose MODSEQ is above `since` (new messages included), in UID order. */
  changed: MessageState[];
  /** UIDs expunged with a MODSEQ above `since`, ascending: QRESYNC VANISHED (RFC 7162 §3.2.10). */
  vanished: number[];
  /** The settled HIGHESTMODSEQ the answer is complete up to; remember it for the next call. */
  highestModseq: number;
  /** The settled UIDNEXT: no entry at or above it was reported; none below it can appear later. */
  uidNext: number;
  /**
   * False when expunged entries with a MODSEQ above `since` were already purged after retention, so
   * `vanished` may miss UIDs; QRESYNC then falls back to the client's known UIDs (RFC 7162 §3.2.5.2).
   */
  vanishedComplete: boolean;
  /** More to come: pass as `cursor` with the same `since`. */
  next?: string;
}

export interface ChangesOptions {
  cursor?: string;
  /** Entries (changed + vanished) per page, at most MAX_CHANGES_LIMIT. */
  limit?: number;
}

type Cursor = { mode: 'log' | 'scan'; after: number; highestModseq: number; uidNext: number };

/**
 * Everything that changed after MODSEQ `since` up to the settled point, from the change log (or, when
 * `since` is older than the trimmed log, from a scan of the entries), paged.
 */
export async function changesSince(
  store: MailStore,
  mailboxId: string,
  since: number,
  options: ChangesOptions = {},
): Promise<MessageChanges> {
  if (!Number.isSafeInteger(since) || since < 0) throw new RangeError(`invalid MODSEQ ${since}`);
  const limit = Math.min(Math.max(1, options.limit ?? DEFAULT_CHANGES_LIMIT), MAX_CHANGES_LIMIT);
  const item = await readMailboxItem(store, mailboxId);
  const vanishedComplete = since >= numberOf(item, 'purgedModseq');
  let cursor: Cursor;
  if (options.cursor !== undefined) cursor = parseCursor(options.cursor);
  else {
    const settled = await settle(store, item);
    const mode = since >= numberOf(item, 'changeLogFloor') ? 'log' : 'scan';
    cursor = { mode, after: mode === 'log' ? since : 0, ...settled };
  }
  const base = { highestModseq: cursor.highestModseq, uidNext: cursor.uidNext, vanishedComplete };
  if (since >= cursor.highestModseq) return { changed: [], vanished: [], ...base };
  const page =
    cursor.mode === 'log'
      ? await readLog(store, mailboxId, cursor, limit)
      : await scan(store, mailboxId, cursor, limit);
  const changed: MessageState[] = [];
  const vanished: number[] = [];
  for (const state of page.states) {
    if (state.modseq <= since || state.uid >= cursor.uidNext) continue;
    // A later page covers the entry's latest change; report it there only, so pages do not repeat UIDs.
    if (cursor.mode === 'log' && page.after !== undefined && state.modseq > page.after) continue;
    if (state.expunged) vanished.push(state.uid);
    else changed.push(state);
  }
  changed.sort((a, b) => a.uid - b.uid);
  vanished.sort((a, b) => a - b);
  const next = page.after === undefined ? undefined : formatCursor({ ...cursor, after: page.after });
  return { changed, vanished, ...base, ...(next ? { next } : {}) };
}

async function readLog(
  store: MailStore,
  mailboxId: string,
  cursor: Cursor,
  limit: number,
): Promise<{ states: MessageState[]; after?: number }> {
  const uids = new Set<number>();
  let after = cursor.after;
  let more = true;
  while (uids.size < limit && more) {
    const page = await store.metadata.query(mailboxPk(mailboxId), {
      from: changeSk(after + 1),
      to: changeSk(cursor.highestModseq),
      limit: CHANGE_PAGE,
    });
    more = page.next !== undefined;
    for (const change of page.items) {
      checkVersion(change);
      for (const uid of numbersOf(change, 'uids')) uids.add(uid);
      after = numberOf(change, 'modseq');
      if (uids.size >= limit) {
        more = after < cursor.highestModseq;
        break;
      }
    }
    if (page.items.length === 0) more = false;
  }
  const items = await mapBounded([...uids], (uid) => store.metadata.get(mailboxPk(mailboxId), stateSk(uid)));
  const states = items.filter((found): found is Item => found !== undefined).map(toMessageState);
  return more ? { states, after } : { states };
}

async function scan(
  store: MailStore,
  mailboxId: string,
  cursor: Cursor,
  limit: number,
): Promise<{ states: MessageState[]; after?: number }> {
  if (cursor.uidNext <= 1) return { states: [] };
  const page = await store.metadata.query(mailboxPk(mailboxId), {
    from: stateSk(cursor.after + 1),
    to: stateSk(cursor.uidNext - 1),
    limit,
  });
  const states = page.items.map(toMessageState);
  const last = states.at(-1);
  return page.next && last ? { states, after: last.uid } : { states };
}

function formatCursor(cursor: Cursor): string {
  return [cursor.mode, cursor.after, cursor.highestModseq, cursor.uidNext].join(':');
}

function parseCursor(text: string): Cursor {
  const match = /^(log|scan):(\d{1,16}):(\d{1,16}):(\d{1,10})$/.exec(text);
  if (!match) throw new RangeError('invalid changes cursor');
  return {
    mode: match[1] as Cursor['mode'],
    after: Number(match[2]),
    highestModseq: Number(match[3]),
    uidNext: Number(match[4]),
  };
}
