/**
 * Process-wide snapshots of mailboxes' index state (every message's UID, flags, size, dates), shared by
 * all sessions and kept current from the change log: a session that needs the whole mailbox (SELECT,
 * SEARCH on flags, EXPUNGE, FETCH 1:*) reads the mailbox item once and, when it moved, only what changed
 * since the snapshot's MODSEQ, instead of every entry. Dovecot keeps its index in memory for the same
 * reason.
 *
 * A snapshot holds the settled state (see shared/mailbox/changes.ts): non-expunged entries below the
 * settled UIDNEXT. Snapshots are bounded by the number of messages they hold in total; the least
 * recently used mailboxes are dropped first and rebuilt from the index when needed again.
 */
import { changesSince, getMailboxStatus, type MessageChanges } from '../../shared/mailbox/changes.ts';
import type { MailStore } from '../../shared/mailbox/mail-store.ts';
import { getMailbox } from '../../shared/mailbox/mailbox-record.ts';
import type { MessageState } from '../../shared/mailbox/message-record.ts';
import { listMessages, MAX_LIST_LIMIT } from '../../shared/mailbox/messages.ts';
import type { MailboxVersion } from './change-notifier.ts';

/** Messages all snapshots of a process hold together (a few hundred bytes each). */
export const MAX_SNAPSHOT_MESSAGES = 200_000;

export interface MailboxSnapshot {
  readonly mailboxId: string;
  readonly uidValidity: number;
  /** The settled MODSEQ and UIDNEXT the snapshot reflects. */
  readonly highestModseq: number;
  readonly uidNext: number;
  /** The mailbox item's raw counters when the snapshot was last brought up to date. */
  readonly version: MailboxVersion;
  /** Non-expunged entries below `uidNext`, by UID. Shared: callers must not modify them. */
  readonly states: ReadonlyMap<number, MessageState>;
}

export class MailboxSnapshots {
  /** Least recently used first. */
  private readonly entries = new Map<string, MailboxSnapshot>();
  private readonly pending = new Map<string, Promise<MailboxSnapshot>>();
  private heldMessages = 0;

  constructor(
    private readonly mail: MailStore,
    private readonly maxMessages = MAX_SNAPSHOT_MESSAGES,
  ) {}

  /**
   * The mailbox's snapshot, brought up to date (one store read when nothing changed). Reflects at least
   * every change made before the call: a refresh already under way may have read the mailbox earlier,
   * so callers wait for it and share the next one.
   */
  async current(mailboxId: string): Promise<MailboxSnapshot> {
    const earlier = this.pending.get(mailboxId);
    if (earlier) {
      await earlier.catch(() => undefined);
      const later = this.pending.get(mailboxId);
      if (later && later !== earlier) return later;
    }
    const refreshing = this.refresh(mailboxId, this.entries.get(mailboxId)).then((snapshot) => {
      this.store(snapshot);
      return snapshot;
    });
    this.pending.set(mailboxId, refreshing);
    try {
      return await refreshing;
    } finally {
      if (this.pending.get(mailboxId) === refreshing) this.pending.delete(mailboxId);
    }
  }

  /** Messages held by all snapshots (for tests and metrics). */
  get messages(): number {
    return this.heldMessages;
  }

  private async refresh(mailboxId: string, previous: MailboxSnapshot | undefined): Promise<MailboxSnapshot> {
    const mailbox = await getMailbox(this.mail, mailboxId);
    const version = { highestModseq: mailbox.highestModseq, uidNext: mailbox.uidNext };
    if (previous && previous.uidValidity === mailbox.uidValidity) {
      if (previous.version.highestModseq === version.highestModseq && previous.version.uidNext === version.uidNext) {
        return previous;
      }
      return this.update(previous, version);
    }
    return this.build(mailboxId, version);
  }

  private async build(mailboxId: string, version: MailboxVersion): Promise<MailboxSnapshot> {
    const status = await getMailboxStatus(this.mail, mailboxId);
    const states = new Map<number, MessageState>();
    let after: number | undefined;
    for (;;) {
      const page = await listMessages(this.mail, mailboxId, {
        toUid: status.uidNext - 1,
        limit: MAX_LIST_LIMIT,
        ...(after !== undefined ? { after } : {}),
      });
      for (const state of page.messages) states.set(state.uid, state);
      if (page.next === undefined) break;
      after = page.next;
    }
    const settled = status.highestModseq >= version.highestModseq;
    return {
      mailboxId,
      uidValidity: status.uidValidity,
      highestModseq: status.highestModseq,
      uidNext: status.uidNext,
      // Until the counters have settled, the next caller looks again.
      version: settled ? version : { highestModseq: status.highestModseq, uidNext: status.uidNext },
      states,
    };
  }

  private async update(previous: MailboxSnapshot, version: MailboxVersion): Promise<MailboxSnapshot> {
    const states = new Map(previous.states);
    const changes = await allChangesSince(this.mail, previous.mailboxId, previous.highestModseq);
    for (const uid of changes.vanished) states.delete(uid);
    for (const state of changes.changed) states.set(state.uid, state);
    const highestModseq = Math.max(previous.highestModseq, changes.highestModseq);
    return {
      mailboxId: previous.mailboxId,
      uidValidity: previous.uidValidity,
      highestModseq,
      uidNext: Math.max(previous.uidNext, changes.uidNext),
      version: highestModseq >= version.highestModseq ? version : previous.version,
      states,
    };
  }

  private store(snapshot: MailboxSnapshot): void {
    const old = this.entries.get(snapshot.mailboxId);
    if (old) {
      this.heldMessages -= old.states.size;
      this.entries.delete(snapshot.mailboxId);
    }
    // Re-inserting keeps the map in least-recently-used order.
    this.entries.set(snapshot.mailboxId, snapshot);
    this.heldMessages += snapshot.states.size;
    for (const [mailboxId, held] of this.entries) {
      if (this.heldMessages <= this.maxMessages || mailboxId === snapshot.mailboxId) break;
      this.entries.delete(mailboxId);
      this.heldMessages -= held.states.size;
    }
  }
}

/** Every change after `since` (shared/mailbox/changes.ts), all pages of it. */
export async function allChangesSince(mail: MailStore, mailboxId: string, since: number): Promise<MessageChanges> {
  let page = await changesSince(mail, mailboxId, since);
  const all: MessageChanges = { ...page, changed: [...page.changed], vanished: [...page.vanished] };
  while (page.next) {
    page = await changesSince(mail, mailboxId, since, { cursor: page.next });
    all.changed.push(...page.changed);
    all.vanished.push(...page.vanished);
  }
  delete all.next;
  return all;
}
