/**
 * FETCH and UID FETCH (RFC 9051 §6.4.5), with CONDSTORE's MODSEQ and CHANGEDSINCE (RFC 7162 §3.1.4),
 * QRESYNC's VANISHED modifier (§3.2.6), BINARY (RFC 3516) and SAVEDATE (RFC 8514).
 *
 * Flags, sizes and dates come from the index state; ENVELOPE and BODYSTRUCTURE from the index details
 * (computed once at delivery); body sections are ranged reads of the blob at the part offsets the index
 * keeps, and large ones are streamed from the blob as the client takes them. Messages are answered in
 * pages, and the session waits for the client to take what it was sent, so a FETCH of a whole mailbox
 * holds little in memory.
 */
import type { MessageDetails, MessageState } from '../../../shared/mailbox/message-record.ts';
import { updateFlags } from '../../../shared/mailbox/messages.ts';
import type { MessageStructure } from '../../../shared/mime/structure-types.ts';
import { decodeTransferEncoding } from '../../../shared/mime/transfer-encoding.ts';
import { bad, type CommandOf, type Completion, ok } from '../completion.ts';
import type { CachedDetails } from '../details-cache.ts';
import { INDEX_PAGE_SIZE, OUTPUT_FLUSH_BYTES, STREAM_BODY_BYTES } from '../limits.ts';
import { loadDetails, loadStates, sectionStructureOf } from '../message-loader.ts';
import { binaryPart, bodySectionRange, filterHeaderFields } from '../protocol/body-section.ts';
import type { FetchItem, PartialRange, SequenceSet } from '../protocol/command-types.ts';
import { type FetchAttribute, fetchResponse, formatSection, vanishedResponse } from '../protocol/response-writer.ts';
import { rangesContain, resolveSequenceSet } from '../protocol/sequence-set.ts';
import type { SelectedMailbox } from '../selected-mailbox.ts';
import type { ImapSession } from '../session.ts';

const SEEN = '\\Seen';

export async function runFetch(session: ImapSession, command: CommandOf<'FETCH'>): Promise<Completion> {
  const selected = session.selected!;
  if (!command.uid && !selected.view.sequenceSetInRange(command.sequenceSet)) {
    return bad('Message sequence number out of range');
  }
  if (command.vanished && (!command.uid || command.changedSince === undefined || !session.qresync)) {
    return bad('VANISHED needs UID FETCH with CHANGEDSINCE and QRESYNC enabled (RFC 7162 §3.2.6)');
  }
  // RFC 7162 §3.1: a client that uses CHANGEDSINCE or asks for MODSEQ has enabled CONDSTORE.
  const wantsModseq = command.changedSince !== undefined || command.items.some((item) => item.kind === 'MODSEQ');
  if (wantsModseq) session.enabled.add('CONDSTORE');

  const items: FetchItem[] = [...command.items];
  if (command.uid && !items.some((item) => item.kind === 'UID')) items.unshift({ kind: 'UID' });
  if (wantsModseq && !items.some((item) => item.kind === 'MODSEQ')) items.push({ kind: 'MODSEQ' });
  const needsDetails = items.some(
    (item) =>
      item.kind === 'ENVELOPE' ||
      item.kind === 'BODY' ||
      item.kind === 'BODYSTRUCTURE' ||
      item.kind === 'RFC822.HEADER' ||
      item.kind === 'RFC822.TEXT' ||
      item.kind === 'BINARY[]' ||
      item.kind === 'BINARY.SIZE' ||
      (item.kind === 'BODY[]' && (item.section.part.length > 0 || item.section.text !== undefined)),
  );
  // RFC 4314 §4: a FETCH that would set \Seen does not without the `s` right.
  const marksSeen =
    !selected.readOnly &&
    selected.rights.includes('s') &&
    items.some(
      (item) =>
        ((item.kind === 'BODY[]' || item.kind === 'BINARY[]') && !item.peek) ||
        item.kind === 'RFC822' ||
        item.kind === 'RFC822.TEXT',
    );

  if (command.vanished) await sendVanished(session, selected, command.sequenceSet, command.changedSince!);

  const uids = selected.view.resolve(command.sequenceSet, command.uid, session.savedSearch);
  let written = 0;
  for (let start = 0; start < uids.length; start += INDEX_PAGE_SIZE) {
    const page = uids.slice(start, start + INDEX_PAGE_SIZE);
    const states = await loadStates(session.server, selected.id, selected.view, page);
    let listed = page.filter((uid) => states.has(uid));
    if (command.changedSince !== undefined) {
      const since = command.changedSince;
      listed = listed.filter((uid) => states.get(uid)!.modseq > since);
    }
    const seen = marksSeen ? await markSeen(session, selected, listed, states) : new Map<number, MessageState>();
    const details = needsDetails
      ? await loadDetails(session.server, selected.id, selected.view, listed)
      : new Map<number, CachedDetails>();
    for (const uid of listed) {
      const sequence = selected.view.sequenceOf(uid);
      if (sequence === undefined) continue;
      const marked = seen.get(uid);
      const state = marked ?? states.get(uid)!;
      const { attributes, streamed } = await fetchAttributes(session, items, state, details.get(uid)?.details);
      if (marked && !items.some((item) => item.kind === 'FLAGS')) {
        attributes.push({ kind: 'FLAGS', flags: selected.recent.flagsOf(uid, state.flags) });
        if (session.condstore && !items.some((item) => item.kind === 'MODSEQ')) {
          attributes.push({ kind: 'MODSEQ', modSeq: state.modseq });
        }
      }
      written += await sendFetch(session, sequence, attributes, streamed, state.blobKey);
      if (written >= OUTPUT_FLUSH_BYTES) {
        written = 0;
        await session.flush();
        if (session.isClosed) return ok('FETCH aborted');
      }
    }
  }
  return ok('FETCH completed');
}

/** RFC 7162 §3.2.6: UIDs in the set expunged after CHANGEDSINCE, as VANISHED (EARLIER). */
async function sendVanished(
  session: ImapSession,
  selected: SelectedMailbox,
  set: SequenceSet,
  changedSince: number,
): Promise<void> {
  if (set.kind === 'saved') return;
  const changes = await selected.readChanges(changedSince);
  const ranges = resolveSequenceSet(set, selected.uidNext - 1);
  const vanished = changes.vanished.filter((uid) => rangesContain(ranges, uid));
  if (vanished.length > 0) session.send(vanishedResponse(vanished, true));
}

/**
 * RFC 9051 §6.4.5: fetching a body section without .PEEK sets \Seen; the new flags go in the response.
 * Returns the states as they are now for the messages it changed (the loaded states are shared).
 */
async function markSeen(
  session: ImapSession,
  selected: SelectedMailbox,
  uids: readonly number[],
  states: Map<number, MessageState>,
): Promise<Map<number, MessageState>> {
  const unseen = uids.filter((uid) => {
    const state = states.get(uid)!;
    return !state.expunged && !state.flags.includes(SEEN);
  });
  const marked = new Map<number, MessageState>();
  if (unseen.length === 0) return marked;
  const result = await updateFlags(session.server.mail, selected.mailbox, unseen, { mode: 'add', flags: [SEEN] });
  for (const updated of result.updated) {
    marked.set(updated.uid, { ...states.get(updated.uid)!, flags: updated.flags, modseq: updated.modseq });
    selected.noteReported(updated.uid, updated.modseq);
  }
  session.server.notifier.changed(selected.id);
  return marked;
}

/** A body literal too large to hold in memory: sent straight from the blob after the other attributes. */
interface StreamedLiteral {
  /** The attribute name as the response carries it: `RFC822`, `BODY[1.2]<0>` ... */
  label: string;
  offset: number;
  length: number;
}

async function fetchAttributes(
  session: ImapSession,
  items: readonly FetchItem[],
  state: MessageState,
  details: MessageDetails | undefined,
): Promise<{ attributes: FetchAttribute[]; streamed: StreamedLiteral[] }> {
  const attributes: FetchAttribute[] = [];
  const streamed: StreamedLiteral[] = [];
  const stream = (label: string, offset: number, length: number) => {
    if (length <= STREAM_BODY_BYTES) return false;
    streamed.push({ label, offset, length });
    return true;
  };
  const structure = details ? sectionStructureOf(details, state.size) : undefined;
  const blobs = session.server.blobs;
  const readSpan = (offset: number, length: number) =>
    length <= 0 ? Promise.resolve(Buffer.alloc(0)) : blobs.read(state.blobKey, { offset, length });
  // The message's own header section (not a part's) is what clients fetch most; it comes from the cache.
  const readSpanOrHeader = (offset: number, length: number) =>
    offset === 0 && structure && length === structure.body.bodyOffset
      ? session.server.headerCache.get(state.blobKey, length, () => readSpan(0, length))
      : readSpan(offset, length);
  for (const item of items) {
    switch (item.kind) {
      case 'UID':
        attributes.push({ kind: 'UID', uid: state.uid });
        break;
      case 'FLAGS':
        attributes.push({ kind: 'FLAGS', flags: session.selected!.recent.flagsOf(state.uid, state.flags) });
        break;
      case 'INTERNALDATE':
        attributes.push({ kind: 'INTERNALDATE', time: state.internalDate.getTime() });
        break;
      case 'SAVEDATE':
        attributes.push({ kind: 'SAVEDATE', time: state.savedAt.getTime() });
        break;
      case 'RFC822.SIZE':
        attributes.push({ kind: 'RFC822.SIZE', size: state.size });
        break;
      case 'MODSEQ':
        attributes.push({ kind: 'MODSEQ', modSeq: state.modseq });
        break;
      case 'ENVELOPE':
        if (structure) attributes.push({ kind: 'ENVELOPE', envelope: structure.envelope });
        break;
      case 'BODY':
      case 'BODYSTRUCTURE':
        if (structure) attributes.push({ kind: item.kind, body: structure.body });
        break;
      case 'RFC822':
        if (!stream('RFC822', 0, state.size)) {
          attributes.push({ kind: 'RFC822', data: await readSpan(0, state.size) });
        }
        break;
      case 'RFC822.HEADER':
      case 'RFC822.TEXT': {
        if (!structure) break;
        const body = structure.body;
        if (item.kind === 'RFC822.TEXT' && stream(item.kind, body.bodyOffset, body.bodyEnd - body.bodyOffset)) break;
        const data =
          item.kind === 'RFC822.HEADER'
            ? await readSpanOrHeader(body.headerOffset, body.bodyOffset - body.headerOffset)
            : await readSpan(body.bodyOffset, body.bodyEnd - body.bodyOffset);
        attributes.push({ kind: item.kind, data });
        break;
      }
      case 'BODY[]': {
        const range = structure ? bodySectionRange(structure, item.section) : { start: 0, end: state.size };
        let data: Buffer;
        if (!range) data = Buffer.alloc(0);
        else if (item.section.text === 'HEADER.FIELDS' || item.section.text === 'HEADER.FIELDS.NOT') {
          const header = await readSpanOrHeader(range.start, range.end - range.start);
          const filtered = filterHeaderFields(
            header,
            item.section.fields ?? [],
            item.section.text === 'HEADER.FIELDS.NOT',
          );
          const part = partialSpan(filtered.length, item.partial);
          data = filtered.subarray(part.offset, part.offset + part.length);
        } else {
          const part = partialSpan(range.end - range.start, item.partial);
          const origin = item.partial ? `<${item.partial.offset}>` : '';
          if (stream(`BODY[${formatSection(item.section)}]${origin}`, range.start + part.offset, part.length)) break;
          data =
            item.section.text === 'HEADER' && !item.partial
              ? await readSpanOrHeader(range.start, range.end - range.start)
              : await readSpan(range.start + part.offset, part.length);
        }
        attributes.push({
          kind: 'BODY[]',
          section: item.section,
          data,
          ...(item.partial ? { origin: item.partial.offset } : {}),
        });
        break;
      }
      case 'BINARY[]':
      case 'BINARY.SIZE': {
        const decoded = structure ? await decodedPart(structure, item.part, readSpan) : undefined;
        if (item.kind === 'BINARY.SIZE') {
          attributes.push({ kind: 'BINARY.SIZE', part: item.part, size: decoded?.length ?? 0 });
          break;
        }
        const bytes = decoded ?? Buffer.alloc(0);
        const part = partialSpan(bytes.length, item.partial);
        attributes.push({
          kind: 'BINARY[]',
          part: item.part,
          data: bytes.subarray(part.offset, part.offset + part.length),
          ...(item.partial ? { origin: item.partial.offset } : {}),
        });
        break;
      }
    }
  }
  return { attributes, streamed };
}

/**
 * Sends one FETCH response. Literals listed in `streamed` come last, read from the blob in pieces and
 * written as the client takes them; the response writer's own output ends in `)\r\n`, which is
 * written after them. A blob failing half-way leaves a literal short: the connection must then close.
 * Returns the bytes queued and not yet flushed.
 */
async function sendFetch(
  session: ImapSession,
  sequence: number,
  attributes: readonly FetchAttribute[],
  streamed: readonly StreamedLiteral[],
  blobKey: string,
): Promise<number> {
  const response = fetchResponse(sequence, attributes);
  if (streamed.length === 0) {
    session.send(response);
    return response.length;
  }
  let head = response.subarray(0, response.length - 3);
  try {
    for (const literal of streamed) {
      const separator = head.length > 0 && head.at(-1) === 0x28 ? '' : ' ';
      session.send(
        Buffer.concat([head, Buffer.from(`${separator}${literal.label} {${literal.length}}\r\n`, 'latin1')]),
      );
      head = Buffer.alloc(0);
      const body = await session.server.blobs.get(blobKey, { offset: literal.offset, length: literal.length });
      for await (const chunk of body) {
        session.send(chunk as Buffer);
        await session.flush();
      }
    }
  } catch (error) {
    session.transport.destroy();
    throw error;
  }
  session.send(Buffer.from(')\r\n'));
  return 3;
}

/** RFC 3516: a leaf part's content with its Content-Transfer-Encoding undone. */
async function decodedPart(
  structure: MessageStructure,
  path: readonly number[],
  readSpan: (offset: number, length: number) => Promise<Buffer>,
): Promise<Buffer | undefined> {
  const part = binaryPart(structure, path);
  if (!part) return undefined;
  return decodeTransferEncoding(await readSpan(part.start, part.end - part.start), part.encoding);
}

/** The bytes of a partial fetch `<offset.length>` within a section of `total` bytes (RFC 9051 §6.4.5). */
function partialSpan(total: number, partial: PartialRange | undefined): { offset: number; length: number } {
  if (!partial) return { offset: 0, length: total };
  const offset = Math.min(partial.offset, total);
  return { offset, length: Math.min(partial.length, total - offset) };
}
