/**
 * The messages that carry \Recent in one session (RFC 3501 §2.3.2): those this session was the first to
 * learn of, by SELECT or by a new EXISTS while selected. Which session is first is settled across
 * processes by the mailbox's recent watermark (shared/mailbox/recent.ts); the session keeps what it
 * claimed in memory only.
 *
 * A read-write SELECT claims. EXAMINE (and a SELECT the rights make read-only) must leave \Recent to
 * others (RFC 3501 §6.3.2): it shows the messages nobody has claimed as recent without claiming them.
 * An IMAP4rev2 session has no \Recent at all (RFC 9051 dropped it).
 *
 * Kept as UID ranges: claims only move forward, so a session's recent messages are one range unless
 * other sessions claimed messages between its claims.
 */
import { MailboxNotFoundError } from '../../shared/mailbox/errors.ts';
import type { MailStore } from '../../shared/mailbox/mail-store.ts';
import { claimRecent } from '../../shared/mailbox/recent.ts';
import type { MessageView } from './message-view.ts';

export const RECENT_FLAG = '\\Recent';

export type RecentMode = 'claim' | 'observe' | 'none';

export class RecentMessages {
  /** Inclusive UID ranges, ascending and disjoint: first, last, first, last, ... */
  private readonly ranges: number[] = [];

  constructor(readonly mode: RecentMode) {}

  /**
   * The session learns of the mailbox's messages up to `highestUid` (settled). `watermark` is the
   * mailbox item's recent watermark as last read.
   */
  async learn(mail: MailStore, mailboxId: string, watermark: number, highestUid: number): Promise<void> {
    if (this.mode === 'none' || highestUid <= watermark) return;
    if (this.mode === 'observe') {
      this.add(watermark, highestUid);
      return;
    }
    try {
      const claimedFrom = await claimRecent(mail, mailboxId, watermark, highestUid);
      if (claimedFrom !== undefined) this.add(claimedFrom, highestUid);
    } catch (error) {
      // Deleted meanwhile: nothing to claim; the session's next sync finds the mailbox gone.
      if (!(error instanceof MailboxNotFoundError)) throw error;
    }
  }

  has(uid: number): boolean {
    for (let index = 0; index < this.ranges.length; index += 2) {
      if (uid < this.ranges[index]!) return false;
      if (uid <= this.ranges[index + 1]!) return true;
    }
    return false;
  }

  /** How many of the view's messages are recent here (`* n RECENT`). */
  count(view: MessageView): number {
    if (this.ranges.length === 0) return 0;
    const ranges = [];
    for (let index = 0; index < this.ranges.length; index += 2) {
      ranges.push({ start: this.ranges[index]!, end: this.ranges[index + 1]! });
    }
    return view.resolve({ kind: 'ranges', ranges }, true).length;
  }

  /** A message's flags as this session shows them: with \Recent when it is recent here. */
  flagsOf(uid: number, flags: readonly string[]): readonly string[] {
    return this.has(uid) ? [...flags, RECENT_FLAG] : flags;
  }

  /** UIDs in (after, upTo] become recent here; ones already held are not added twice. */
  private add(after: number, upTo: number): void {
    const last = this.ranges.length === 0 ? 0 : this.ranges[this.ranges.length - 1]!;
    const first = Math.max(after, last) + 1;
    if (first > upTo) return;
    if (this.ranges.length > 0 && first === last + 1) this.ranges[this.ranges.length - 1] = upTo;
    else this.ranges.push(first, upTo);
  }
}

/** A flag list from a client without \Recent, which only the server sets (RFC 3501 §2.3.2). */
export function withoutRecent(flags: readonly string[]): string[] {
  return flags.filter((flag) => flag !== RECENT_FLAG);
}
