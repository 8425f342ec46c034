/**
 * Reads index entries (state and details) for a set of UIDs of the selected mailbox with range queries:
 * UIDs next to each other in the session's view are read as one UID range, so FETCH 1:* over a big
 * mailbox is a few paged queries rather than one read per message.
 */
import type { MessageDetails, MessageState } from '../../shared/mailbox/message-record.ts';
import { listMessageDetails, listMessages, MAX_LIST_LIMIT, type MessagePage } from '../../shared/mailbox/messages.ts';
import type { BodyPart, Envelope, MessageStructure } from '../../shared/mime/structure-types.ts';
import type { CachedDetails } from './details-cache.ts';
import type { MessageView } from './message-view.ts';
import type { ImapServerContext } from './server-context.ts';

/** Runs of UIDs that are adjacent in the view: each is one UID range in the store. */
export function adjacentRuns(view: MessageView, uids: readonly number[]): number[][] {
  const runs: number[][] = [];
  let run: number[] = [];
  let previous = -2;
  for (const uid of uids) {
    const sequence = view.sequenceOf(uid) ?? -2;
    if (run.length > 0 && sequence !== previous + 1) {
      runs.push(run);
      run = [];
    }
    run.push(uid);
    previous = sequence;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

/**
 * Reads the items of `missing` UIDs a page at a time, one UID range per run of UIDs adjacent in the
 * view, handing each item of a wanted UID to `keep`.
 */
async function readInRuns<T extends { uid: number }>(
  view: MessageView,
  missing: readonly number[],
  readPage: (fromUid: number, toUid: number, after: number | undefined) => Promise<MessagePage<T>>,
  keep: (item: T) => void,
): Promise<void> {
  const wanted = new Set(missing);
  for (const run of adjacentRuns(view, missing)) {
    let after: number | undefined;
    for (;;) {
      const page = await readPage(run[0]!, run.at(-1)!, after);
      for (const item of page.messages) if (wanted.has(item.uid)) keep(item);
      if (page.next === undefined) break;
      after = page.next;
    }
  }
}

/**
 * State items of these UIDs: from the mailbox's snapshot, and from the index for UIDs the snapshot no
 * longer has (expunged meanwhile, not yet announced to this session). Shared objects: do not modify.
 */
export async function loadStates(
  server: ImapServerContext,
  mailboxId: string,
  view: MessageView,
  uids: readonly number[],
): Promise<Map<number, MessageState>> {
  const snapshot = await server.snapshots.current(mailboxId);
  const states = new Map<number, MessageState>();
  const missing: number[] = [];
  for (const uid of uids) {
    const state = snapshot.states.get(uid);
    if (state) states.set(uid, state);
    else missing.push(uid);
  }
  await readInRuns(
    view,
    missing,
    (fromUid, toUid, after) =>
      listMessages(server.mail, mailboxId, {
        fromUid,
        toUid,
        includeExpunged: true,
        limit: MAX_LIST_LIMIT,
        ...(after !== undefined ? { after } : {}),
      }),
    (state) => states.set(state.uid, state),
  );
  return states;
}

/** Detail items of these UIDs, from the process-wide cache where it has them. */
export async function loadDetails(
  server: ImapServerContext,
  mailboxId: string,
  view: MessageView,
  uids: readonly number[],
): Promise<Map<number, CachedDetails>> {
  const details = new Map<number, CachedDetails>();
  const missing: number[] = [];
  const cache = server.detailsCache.mailbox(mailboxId);
  for (const uid of uids) {
    const cached = cache?.get(uid);
    if (cached) details.set(uid, cached);
    else missing.push(uid);
  }
  await readInRuns(
    view,
    missing,
    (fromUid, toUid, after) =>
      listMessageDetails(server.mail, mailboxId, {
        fromUid,
        toUid,
        limit: MAX_LIST_LIMIT,
        ...(after !== undefined ? { after } : {}),
      }),
    (detail) => details.set(detail.uid, server.detailsCache.set(mailboxId, detail)),
  );
  return details;
}

/**
 * The envelope and body structure as the MIME module computed them at delivery or APPEND. The index
 * stores them as opaque JSON; every writer stores shared/mime's shapes.
 */
export function structureOf(details: MessageDetails): { envelope: Envelope; body: BodyPart } {
  return { envelope: details.envelope as unknown as Envelope, body: details.bodyStructure as unknown as BodyPart };
}

/**
 * The stored structure in the shape protocol/body-section.ts takes. It reads only `size` and `body`;
 * the index does not keep the MIME module's search fields in that shape, so they are left out.
 */
export function sectionStructureOf(details: MessageDetails, size: number): MessageStructure {
  return { ...structureOf(details), size } as unknown as MessageStructure;
}
