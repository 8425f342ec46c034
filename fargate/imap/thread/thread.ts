/**
 * THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 §3): the thread trees, which the response
 * writer's `threadResponse` puts in the RFC 5256 §4 syntax. Pure functions over what the message index
 * keeps; no I/O.
 *
 * The input comes from messages (untrusted): reference chains may loop, repeat or be absurdly long,
 * so every walk here is iterative and loop-checked, and references per message are bounded.
 */
import { isReplyOrForward } from '../../../shared/mime/search-fields.ts';
import type { ThreadNode } from '../protocol/response-writer.ts';
import { asciiCasemap } from '../sort/sort.ts';

/** What threading needs of one message. */
export interface ThreadableMessage {
  /** What the response names the message by: its UID or its sequence number. */
  id: number;
  /** Message-ID header value (raw). */
  messageId?: string | undefined;
  /** In-Reply-To header value (raw). */
  inReplyTo?: string | undefined;
  /** References header value (raw). */
  references?: string | undefined;
  /** Subject, decoded from encoded words (tells replies and forwards). */
  subject: string;
  /** RFC 5256 §2.1 base subject, as indexed (case kept). */
  baseSubject: string;
  /** The sent date (RFC 5256 §2.2: the Date header, else the internal date), ms since the epoch. */
  sentDate: number;
}

/** Long References headers are truncated by clients anyway; beyond this only the last ones matter. */
export const MAX_REFERENCES_PER_MESSAGE = 256;

/**
 * Compares two messages by sent date, ties by their order in the mailbox (RFC 5256 §2.2).
 * `order` is the position of the message in the input, which is mailbox (sequence) order.
 */
function bySentDate(a: { sentDate: number; order: number }, b: { sentDate: number; order: number }): number {
  return a.sentDate - b.sentDate || a.order - b.order;
}

/**
 * RFC 5256 §3 ORDEREDSUBJECT: messages sorted by base subject, then sent date; each subject is one
 * thread whose first message is the parent of all the others; threads ordered by their first message.
 * `messages` must be in mailbox order.
 */
export function threadOrderedSubject(messages: readonly ThreadableMessage[]): ThreadNode[] {
  const groups = new Map<string, Array<{ message: ThreadableMessage; sentDate: number; order: number }>>();
  messages.forEach((message, order) => {
    const key = asciiCasemap(message.baseSubject);
    let group = groups.get(key);
    if (!group) {
      group = [];
      groups.set(key, group);
    }
    group.push({ message, sentDate: message.sentDate, order });
  });
  const threads = [...groups.values()].map((group) => {
    group.sort(bySentDate);
    const first = group[0]!;
    return {
      sentDate: first.sentDate,
      order: first.order,
      node: {
        id: first.message.id,
        children: group.slice(1).map((entry): ThreadNode => ({ id: entry.message.id, children: [] })),
      } satisfies ThreadNode,
    };
  });
  threads.sort(bySentDate);
  return threads.map((thread) => thread.node);
}

interface Container {
  message: ThreadableMessage | undefined;
  /** Position of the message in the input (mailbox order); for dummies, Infinity until sorted. */
  order: number;
  parent: Container | undefined;
  children: Container[];
}

/** The msg-ids in a header value: `<...>` tokens, as compared case-sensitively (§3 step 1.A note). */
export function messageIdsIn(value: string | undefined, max = MAX_REFERENCES_PER_MESSAGE): string[] {
  if (!value) return [];
  const ids = value.match(/<[^<>\s]+>/g) ?? [];
  return ids.length > max ? ids.slice(ids.length - max) : ids;
}

/** True when `ancestor` is `node` or above it. */
function isAncestorOrSelf(ancestor: Container, node: Container): boolean {
  for (let current: Container | undefined = node; current; current = current.parent) {
    if (current === ancestor) return true;
  }
  return false;
}

function unlink(child: Container): void {
  const parent = child.parent;
  if (!parent) return;
  const index = parent.children.indexOf(child);
  if (index !== -1) parent.children.splice(index, 1);
  child.parent = undefined;
}

/** Makes `child` a child of `parent`, unless that would make a loop. */
function link(parent: Container, child: Container): void {
  if (isAncestorOrSelf(child, parent)) return;
  unlink(child);
  child.parent = parent;
  parent.children.push(child);
}

/** RFC 5256 §3 REFERENCES. `messages` must be in mailbox order. */
export function threadReferences(messages: readonly ThreadableMessage[]): ThreadNode[] {
  const byId = new Map<string, Container>();
  const containers: Container[] = [];
  const dummy = (): Container => ({
    message: undefined,
    order: Number.POSITIVE_INFINITY,
    parent: undefined,
    children: [],
  });
  const containerFor = (id: string): Container => {
    let container = byId.get(id);
    if (!container) {
      container = dummy();
      byId.set(id, container);
    }
    return container;
  };

  // Step 1: link messages by their references.
  messages.forEach((message, order) => {
    const [ownId] = messageIdsIn(message.messageId, 1);
    let container: Container;
    const existing = ownId === undefined ? undefined : byId.get(ownId);
    if (ownId !== undefined && existing && existing.message === undefined) {
      container = existing;
    } else {
      // No (valid) Message-ID, or a duplicate: the message gets a unique id of its own (§3 step 1.A).
      container = dummy();
      if (ownId !== undefined && !existing) byId.set(ownId, container);
    }
    container.message = message;
    container.order = order;
    containers.push(container);

    let references = messageIdsIn(message.references);
    if (references.length === 0) references = messageIdsIn(message.inReplyTo, 1);
    // Step 1.A: chain the references, never changing a link already made (which keeps the links of
    // step 1.B, made for earlier messages, as the note to step 1.B requires).
    for (let i = 0; i + 1 < references.length; i++) {
      const parent = containerFor(references[i]!);
      const child = containerFor(references[i + 1]!);
      if (child.parent === undefined && parent !== child) link(parent, child);
    }
    // Step 1.B: the last reference is this message's parent, replacing a link made by 1.A; a message
    // without references has no parent. No link that would make a loop.
    unlink(container);
    const last = references.at(-1);
    if (last !== undefined) link(containerFor(last), container);
  });

  // Step 2: the roots.
  const seen = new Set<Container>();
  const roots: Container[] = [];
  for (const container of [...byId.values(), ...containers]) {
    if (seen.has(container)) continue;
    seen.add(container);
    if (!container.parent) roots.push(container);
  }
  roots.sort((a, b) => a.order - b.order);

  // Step 3: prune dummies.
  const pruned = pruneDummies(roots);

  // Step 4: sort the top level by sent date; a dummy sorts its children and goes by the first.
  for (const root of pruned) if (!root.message) root.children.sort(bySentKey);
  pruned.sort(bySentKey);

  // Step 5: merge threads with the same base subject.
  const threadSubject = (container: Container): string => {
    const message = container.message ?? container.children[0]?.message;
    return message ? asciiCasemap(message.baseSubject) : '';
  };
  const isReply = (container: Container) =>
    container.message !== undefined && isReplyOrForward(container.message.subject);
  const table = new Map<string, Container>();
  for (const root of pruned) {
    const subject = threadSubject(root);
    if (subject === '') continue;
    const current = table.get(subject);
    if (!current) table.set(subject, root);
    else if (current.message && (!root.message || (isReply(current) && !isReply(root)))) table.set(subject, root);
  }
  const merged: Container[] = [];
  for (const root of pruned) {
    // A root merged under another thread's message earlier in this loop is placed already.
    if (root.parent) continue;
    const subject = threadSubject(root);
    const holder = subject === '' ? undefined : table.get(subject);
    if (!holder || holder === root) {
      merged.push(root);
      continue;
    }
    if (!holder.message && !root.message) {
      for (const child of root.children) child.parent = holder;
      holder.children.push(...root.children);
      root.children = [];
    } else if (!holder.message || (isReply(root) && !isReply(holder))) {
      root.parent = holder;
      holder.children.push(root);
    } else {
      const replacement = dummy();
      replacement.children = [holder, root];
      holder.parent = replacement;
      root.parent = replacement;
      const index = merged.indexOf(holder);
      if (index !== -1) merged[index] = replacement;
      else merged.push(replacement);
      table.set(subject, replacement);
    }
  }

  // Step 6: sort siblings by sent date at every level (children before their dummy parents use them).
  const stack = [...merged];
  const order: Container[] = [];
  while (stack.length > 0) {
    const container = stack.pop()!;
    order.push(container);
    stack.push(...container.children);
  }
  for (let i = order.length - 1; i >= 0; i--) {
    const container = order[i]!;
    if (container.children.length > 1) container.children.sort(bySentKey);
  }
  merged.sort(bySentKey);
  return merged.map(toNode);
}

/** A message's sent date and mailbox position; a dummy's are its first child's (§3 steps 4 and 6). */
function sentKey(container: Container): { sentDate: number; order: number } {
  let current: Container | undefined = container;
  while (current && !current.message) current = current.children[0];
  return current?.message
    ? { sentDate: current.message.sentDate, order: current.order }
    : { sentDate: Number.POSITIVE_INFINITY, order: Number.POSITIVE_INFINITY };
}

function bySentKey(a: Container, b: Container): number {
  return bySentDate(sentKey(a), sentKey(b));
}

/**
 * §3 step 3: a dummy without children goes; a dummy with children is replaced by them, except that at
 * the top level it stays unless it has exactly one child. Iterative: the depth is up to the messages.
 */
function pruneDummies(roots: Container[]): Container[] {
  const top = pruneLevel(roots, undefined);
  const stack = [...top];
  while (stack.length > 0) {
    const container = stack.pop()!;
    container.children = pruneLevel(container.children, container);
    stack.push(...container.children);
  }
  return top;
}

function pruneLevel(level: Container[], parent: Container | undefined): Container[] {
  const result: Container[] = [];
  const work = [...level];
  while (work.length > 0) {
    const container = work.shift()!;
    if (!container.message) {
      if (container.children.length === 0) continue;
      if (parent || container.children.length === 1) {
        // Promote the children into the dummy's place; each is examined in turn.
        work.unshift(...container.children);
        continue;
      }
    }
    container.parent = parent;
    result.push(container);
  }
  return result;
}

/** Converts the container tree to plain nodes, iteratively (the tree depth is up to the messages). */
function toNode(top: Container): ThreadNode {
  const root = { id: top.message?.id ?? null, children: [] as ThreadNode[] };
  const stack: Array<[Container, ThreadNode[]]> = [[top, root.children]];
  while (stack.length > 0) {
    const [container, siblings] = stack.pop()!;
    for (const child of container.children) {
      const childNode = { id: child.message?.id ?? null, children: [] as ThreadNode[] };
      siblings.push(childNode);
      stack.push([child, childNode.children]);
    }
  }
  return root;
}
