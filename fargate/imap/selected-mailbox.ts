/**
 * The selected mailbox of one session and how the session learns what others changed in it: new
 * messages (EXISTS), expunges (EXPUNGE, or VANISHED under QRESYNC) and flag changes (FETCH), whether
 * the change came from another session here, another process, or SMTP delivery (RFC 9051 §7.4, §5.2).
 *
 * `sync` compares the mailbox item's counters with what the session saw last (one store read when
 * nothing changed), and otherwise reads the change log from its last MODSEQ. During FETCH, STORE and
 * SEARCH expunges must not be announced (RFC 9051 §7.5.1): they are held back until a command that may
 * announce them.
 */
import { ALL_RIGHTS } from '../../shared/acl/index.ts';
import type { MessageChanges } from '../../shared/mailbox/changes.ts';
import { MailboxNotFoundError } from '../../shared/mailbox/errors.ts';
import type { MailStore } from '../../shared/mailbox/mail-store.ts';
import { getMailbox, type Mailbox } from '../../shared/mailbox/mailbox-record.ts';
import type { MessageState } from '../../shared/mailbox/message-record.ts';
import type { MailboxVersion } from './change-notifier.ts';
import { allChangesSince } from './mailbox-snapshots.ts';
import type { MessageView } from './message-view.ts';
import {
  type FetchAttribute,
  fetchResponse,
  messageCountResponse,
  vanishedResponse,
} from './protocol/response-writer.ts';
import { RecentMessages } from './recent-messages.ts';

/** What the session tells its client; implemented by ImapSession. */
export interface UpdateSink {
  send(response: Buffer): void;
  readonly condstore: boolean;
  readonly qresync: boolean;
}

export class MailboxGoneError extends Error {
  override name = 'MailboxGoneError';
}

export class SelectedMailbox {
  /** The settled MODSEQ everything up to which the client has been told. */
  highestModseq: number;
  uidNext: number;
  /** The mailbox item's raw counters at the last sync: unchanged counters mean nothing to read. */
  private seen: MailboxVersion;
  /** Expunged UIDs not yet announced (held back during FETCH, STORE, SEARCH). */
  private readonly pendingExpunges = new Set<number>();
  /** Flag changes this session already reported itself (STORE), by UID: the MODSEQ reported. */
  private readonly reported = new Map<number, number>();
  /** The session's rights on the mailbox as of SELECT (RFC 4314 §5.1.1); the owner's are all of them. */
  rights: string = ALL_RIGHTS;
  /** The messages that are \Recent in this session; SELECT decides how it takes part. */
  recent = new RecentMessages('none');

  constructor(
    private readonly mail: MailStore,
    readonly mailbox: Mailbox,
    readonly readOnly: boolean,
    readonly view: MessageView,
    settled: { highestModseq: number; uidNext: number },
    raw: MailboxVersion,
  ) {
    this.highestModseq = settled.highestModseq;
    this.uidNext = settled.uidNext;
    this.seen = raw;
  }

  get id(): string {
    return this.mailbox.id;
  }

  /** The raw version last seen, for the change notifier. */
  get version(): MailboxVersion {
    return this.seen;
  }

  /** Remembers that the client was told this UID's flags as of this MODSEQ (by STORE). */
  noteReported(uid: number, modseq: number): void {
    this.reported.set(uid, modseq);
  }

  /**
   * Tells the client what changed since it last heard. `expunges: false` holds expunges back (FETCH,
   * STORE, SEARCH). Throws MailboxGoneError when the mailbox was deleted meanwhile.
   */
  async sync(sink: UpdateSink, options: { expunges: boolean }): Promise<void> {
    let current: Mailbox;
    try {
      current = await getMailbox(this.mail, this.mailbox.id);
    } catch (error) {
      if (error instanceof MailboxNotFoundError) throw new MailboxGoneError(this.mailbox.name);
      throw error;
    }
    const unchanged = current.highestModseq === this.seen.highestModseq && current.uidNext === this.seen.uidNext;
    if (!unchanged) {
      const changes = await this.readChanges(this.highestModseq);
      await this.apply(sink, changes, current.recentUid);
      // Counters not yet settled are looked at again next time.
      if (changes.highestModseq >= current.highestModseq) {
        this.seen = { highestModseq: current.highestModseq, uidNext: current.uidNext };
      }
    }
    if (options.expunges) this.announceExpunges(sink);
    this.reported.clear();
  }

  /** Every change after `since`, all pages. */
  readChanges(since: number): Promise<MessageChanges> {
    return allChangesSince(this.mail, this.mailbox.id, since);
  }

  private async apply(sink: UpdateSink, changes: MessageChanges, recentWatermark: number): Promise<void> {
    for (const uid of changes.vanished) if (this.view.has(uid)) this.pendingExpunges.add(uid);
    const fresh: number[] = [];
    const flagChanges: MessageState[] = [];
    for (const state of changes.changed) {
      if (state.uid > this.view.highestUid) fresh.push(state.uid);
      else if (this.view.has(state.uid) && !this.pendingExpunges.has(state.uid)) {
        const reported = this.reported.get(state.uid);
        if (reported === undefined || reported < state.modseq) flagChanges.push(state);
      }
    }
    if (fresh.length > 0) {
      this.view.append(fresh);
      await this.recent.learn(this.mail, this.mailbox.id, recentWatermark, this.view.highestUid);
      sink.send(messageCountResponse(this.view.count, 'EXISTS'));
      // RFC 3501 §7.3.2: RECENT goes with each new EXISTS (IMAP4rev2 has neither the response nor the flag).
      if (this.recent.mode !== 'none') sink.send(messageCountResponse(this.recent.count(this.view), 'RECENT'));
    }
    for (const state of flagChanges) {
      const sequence = this.view.sequenceOf(state.uid);
      if (sequence === undefined) continue;
      const attributes: FetchAttribute[] = [
        { kind: 'UID', uid: state.uid },
        { kind: 'FLAGS', flags: this.recent.flagsOf(state.uid, state.flags) },
      ];
      if (sink.condstore) attributes.push({ kind: 'MODSEQ', modSeq: state.modseq });
      sink.send(fetchResponse(sequence, attributes));
    }
    this.highestModseq = Math.max(this.highestModseq, changes.highestModseq);
    this.uidNext = Math.max(this.uidNext, changes.uidNext);
  }

  /** Announces expunges this session removed itself (EXPUNGE, MOVE) or held back. */
  announceExpunged(sink: UpdateSink, uids: readonly number[]): void {
    for (const uid of uids) if (this.view.has(uid)) this.pendingExpunges.add(uid);
    this.announceExpunges(sink);
  }

  private announceExpunges(sink: UpdateSink): void {
    if (this.pendingExpunges.size === 0) return;
    const uids = [...this.pendingExpunges].sort((a, b) => a - b);
    this.pendingExpunges.clear();
    if (sink.qresync) {
      const known = uids.filter((uid) => this.view.has(uid));
      this.view.removeAll(new Set(known));
      if (known.length > 0) sink.send(vanishedResponse(known, false));
      return;
    }
    // Each EXPUNGE renumbers the messages after it; announcing from the highest keeps numbers simple.
    for (let index = uids.length - 1; index >= 0; index--) {
      const sequence = this.view.remove(uids[index]!);
      if (sequence !== undefined) sink.send(messageCountResponse(sequence, 'EXPUNGE'));
    }
  }
}
