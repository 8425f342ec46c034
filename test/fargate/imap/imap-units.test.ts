/**
 * Unit tests of the IMAP server's pure parts: LIST patterns, the session's message view (sequence
 * numbers, sequence sets), SORT ordering, command pacing, and the change notifier's wake-ups and read
 * budget (over the real mailbox store).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MailboxChangeNotifier, POLL_TICK_MS } from '../../../fargate/imap/change-notifier.ts';
import { MessageDetailsCache } from '../../../fargate/imap/details-cache.ts';
import { HeaderCache } from '../../../fargate/imap/header-cache.ts';
import { joinReference, matchesPattern } from '../../../fargate/imap/list-pattern.ts';
import { MailboxSnapshots } from '../../../fargate/imap/mailbox-snapshots.ts';
import { MessageView, uidsInSet } from '../../../fargate/imap/message-view.ts';
import type { SequenceSet } from '../../../fargate/imap/protocol/command-types.ts';
import { TokenBucket } from '../../../fargate/imap/rate-limiter.ts';
import { type SortableMessage, sortMessages } from '../../../fargate/imap/sort/sort.ts';
import { type MailStore, openMailStore } from '../../../shared/mailbox/mail-store.ts';
import { getMailbox } from '../../../shared/mailbox/mailbox-record.ts';
import { createMailbox } from '../../../shared/mailbox/mailboxes.ts';
import { appendMessage, expungeMessages, updateFlags } from '../../../shared/mailbox/messages.ts';
import { localAdapters, type StoreSet } from '../../support/stores.ts';

describe('LIST patterns', () => {
  it('matches * across levels and % within one', () => {
    assert.ok(matchesPattern('Work/Projects/X', 'Work/*'));
    assert.ok(!matchesPattern('Work/Projects/X', 'Work/%'));
    assert.ok(matchesPattern('Work/Projects', 'Work/%'));
    assert.ok(matchesPattern('Work', '%'));
    assert.ok(!matchesPattern('Work/Projects', '%'));
    assert.ok(matchesPattern('anything/at/all', '*'));
    assert.ok(matchesPattern('Sent', 'S%t'));
    assert.ok(matchesPattern('Sent', 'Sent'));
    assert.ok(!matchesPattern('Sent', 'sent'));
    assert.ok(matchesPattern('', '*'));
  });

  it('joins the reference and spells INBOX canonically', () => {
    assert.equal(joinReference('', 'inbox'), 'INBOX');
    assert.equal(joinReference('Work', '%'), 'Work/%');
    assert.equal(joinReference('Work/', '%'), 'Work/%');
    assert.equal(joinReference('Inbox/', '*'), 'INBOX/*');
  });

  it('stays fast on patterns made of wildcards', () => {
    const started = Date.now();
    const name = `${'a/'.repeat(200)}b`;
    assert.ok(!matchesPattern(name, `${'%*'.repeat(400)}c`));
    assert.ok(Date.now() - started < 500);
  });
});

const set = (text: string): SequenceSet => ({
  kind: 'ranges',
  ranges: text.split(',').map((part) => {
    const [start, end = start] = part.split(':') as [string, string?];
    const value = (n: string) => (n === '*' ? ('*' as const) : Number(n));
    return { start: value(start), end: value(end!) };
  }),
});

describe('message view', () => {
  it('maps sequence numbers to UIDs and follows EXISTS and EXPUNGE', () => {
    const view = new MessageView([3, 5, 9]);
    assert.equal(view.uidAt(2), 5);
    assert.equal(view.sequenceOf(9), 3);
    view.append([12, 13]);
    assert.equal(view.count, 5);
    assert.equal(view.remove(5), 2);
    assert.equal(view.sequenceOf(9), 2);
    view.removeAll(new Set([3, 13]));
    assert.deepEqual(view.allUids, [9, 12]);
  });

  it('resolves sequence and UID sets, * and reversed ranges', () => {
    const view = new MessageView([3, 5, 9, 12]);
    assert.deepEqual(view.resolve(set('2:3'), false), [5, 9]);
    assert.deepEqual(view.resolve(set('4:2'), false), [5, 9, 12]);
    assert.deepEqual(view.resolve(set('*'), false), [12]);
    assert.deepEqual(view.resolve(set('4:10'), true), [5, 9]);
    // RFC 9051 §6.4.9: 20:* with the largest UID 12 names UID 12.
    assert.deepEqual(view.resolve(set('20:*'), true), [12]);
    assert.deepEqual(view.resolve(set('1,1,3:5'), true), [3, 5]);
    assert.deepEqual(view.resolve({ kind: 'saved' }, true, [9, 4, 12]), [9, 12]);
    assert.throws(() => view.resolve({ kind: 'saved' }, false));
    assert.ok(view.sequenceSetInRange(set('1:4')));
    assert.ok(!view.sequenceSetInRange(set('5')));
    assert.deepEqual([...uidsInSet(set('2:4,8:*'), 9)], [2, 3, 4, 8, 9]);
  });
});

describe('SORT', () => {
  const message = (sequence: number, fields: Partial<SortableMessage>): SortableMessage => ({
    sequence,
    internalDate: 0,
    sentDate: 0,
    size: 0,
    baseSubject: '',
    fromMailbox: '',
    toMailbox: '',
    ccMailbox: '',
    displayFrom: '',
    displayTo: '',
    ...fields,
  });

  it('orders by several keys, REVERSE per key, ties in mailbox order', () => {
    const messages = [
      message(1, { baseSubject: 'B', size: 10, fromMailbox: 'zed' }),
      message(2, { baseSubject: 'A', size: 30, fromMailbox: 'Amy' }),
      message(3, { baseSubject: 'b', size: 20, fromMailbox: 'amy' }),
      message(4, { baseSubject: 'a', size: 30, fromMailbox: 'bob' }),
    ];
    const order = (criteria: Parameters<typeof sortMessages>[1]) =>
      sortMessages(messages, criteria).map((each) => each.sequence);
    // Base subjects are indexed with their case; they compare with i;ascii-casemap too.
    assert.deepEqual(
      order([
        { key: 'SUBJECT', reverse: false },
        { key: 'SIZE', reverse: true },
      ]),
      [2, 4, 3, 1],
    );
    assert.deepEqual(order([{ key: 'SIZE', reverse: false }]), [1, 3, 2, 4]);
    // i;ascii-casemap: Amy and amy are equal, so mailbox order decides.
    assert.deepEqual(order([{ key: 'FROM', reverse: false }]), [2, 3, 4, 1]);
    assert.deepEqual(order([{ key: 'FROM', reverse: true }]), [1, 4, 2, 3]);
  });
});

describe('command pacing', () => {
  it('lets a burst through, then spaces commands at the rate', () => {
    const bucket = new TokenBucket(10, 3, 0);
    assert.equal(bucket.take(0), 0);
    assert.equal(bucket.take(0), 0);
    assert.equal(bucket.take(0), 0);
    assert.equal(bucket.take(0), 100);
    assert.equal(bucket.take(100), 0);
  });
});

describe('process-wide caches', () => {
  const details = (uid: number) => ({ uid, envelope: null, bodyStructure: null, search: {} });

  it('keeps message details up to its bound, dropping the least recently used mailbox', () => {
    const cache = new MessageDetailsCache(4);
    cache.set('a', details(1));
    cache.set('a', details(2));
    cache.set('b', details(1));
    assert.ok(cache.mailbox('a'));
    cache.set('c', details(1));
    cache.set('c', details(2));
    // Over the bound: b was used least recently, a was looked at after it.
    assert.equal(cache.mailbox('b'), undefined);
    assert.equal(cache.mailbox('a')?.size, 2);
    assert.equal(cache.size, 4);
  });

  it('keeps header sections up to its byte bound and never caches large ones', async () => {
    const cache = new HeaderCache(100);
    let reads = 0;
    const read = (bytes: number) => async () => {
      reads++;
      return Buffer.alloc(bytes);
    };
    await cache.get('k1', 60, read(60));
    await cache.get('k1', 60, read(60));
    assert.equal(reads, 1);
    await cache.get('k2', 60, read(60));
    // k1 went to make room for k2.
    await cache.get('k1', 60, read(60));
    assert.equal(reads, 3);
    await cache.get('big', 100_000, read(100_000));
    await cache.get('big', 100_000, read(100_000));
    assert.equal(reads, 5);
  });
});

describe('over the real mailbox store', () => {
  let stores: StoreSet;
  let mail: MailStore;

  before(async () => {
    stores = await localAdapters.open();
    mail = openMailStore(stores.metadata);
  });

  after(async () => {
    await stores.cleanup();
  });

  describe('change notifier', () => {
    async function version(mailboxId: string) {
      const mailbox = await getMailbox(mail, mailboxId);
      return { highestModseq: mailbox.highestModseq, uidNext: mailbox.uidNext };
    }

    async function append(mailbox: { id: string; account: string }) {
      await stores.blobs.put('msg/test/a', Buffer.from('Subject: x\r\n\r\nx\r\n'));
      await appendMessage(mail, mailbox, {
        blobKey: 'msg/test/a',
        size: 17,
        internalDate: new Date(),
        envelope: null,
        bodyStructure: null,
      });
    }

    it('wakes watchers on a local change at once and on a store change by polling', async () => {
      const mailbox = await createMailbox(mail, 'account-1', 'Watched');
      const notifier = new MailboxChangeNotifier((id) => version(id), { pollIntervalMs: 200 });
      let wakes = 0;
      const stop = notifier.watch(mailbox.id, await version(mailbox.id), () => wakes++);
      notifier.changed(mailbox.id);
      assert.equal(wakes, 1);
      // A change no one announced (another process): found by the poller.
      await append(mailbox);
      const deadline = Date.now() + 3_000;
      while (wakes < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(wakes, 2);
      stop();
      assert.equal(notifier.watchedMailboxes, 0);
      notifier.close();
    });

    it('wakes a late watcher that knows an older version than the poller saw', async () => {
      const mailbox = await createMailbox(mail, 'account-1', 'Late');
      const before = await version(mailbox.id);
      const notifier = new MailboxChangeNotifier((id) => version(id), { pollIntervalMs: 100 });
      const stopFirst = notifier.watch(mailbox.id, before, () => {});
      await append(mailbox);
      await new Promise((resolve) => setTimeout(resolve, 600));
      let woken = false;
      const stopLate = notifier.watch(mailbox.id, before, () => {
        woken = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 10));
      assert.ok(woken);
      stopFirst();
      stopLate();
      notifier.close();
    });

    it('reads at most its budget per second however many mailboxes are watched', async () => {
      let reads = 0;
      const notifier = new MailboxChangeNotifier(
        async () => {
          reads++;
          return { highestModseq: 1, uidNext: 1 };
        },
        { pollIntervalMs: 100, maxReadsPerSecond: 40 },
      );
      const stops = Array.from({ length: 500 }, (_, index) =>
        notifier.watch(`mailbox-${index}`, { highestModseq: 1, uidNext: 1 }, () => {}),
      );
      await new Promise((resolve) => setTimeout(resolve, 1_000 + POLL_TICK_MS));
      assert.ok(reads > 0 && reads <= 40 + 10, `reads: ${reads}`);
      for (const stop of stops) stop();
      notifier.close();
    });
  });

  describe('mailbox snapshots', () => {
    async function appendTo(mailbox: { id: string; account: string }, count: number) {
      for (let i = 0; i < count; i++) {
        const key = `msg/test/${mailbox.id}-${i}`;
        await stores.blobs.put(key, Buffer.from('Subject: x\r\n\r\nx\r\n'));
        await appendMessage(mail, mailbox, {
          blobKey: key,
          size: 17,
          internalDate: new Date(),
          envelope: null,
          bodyStructure: null,
        });
      }
    }

    it('follows flag changes, expunges and new messages through the change log', async () => {
      const mailbox = await createMailbox(mail, 'account-2', 'Snap');
      await appendTo(mailbox, 3);
      const snapshots = new MailboxSnapshots(mail);
      const first = await snapshots.current(mailbox.id);
      assert.deepEqual([...first.states.keys()].sort(), [1, 2, 3]);
      assert.equal(await snapshots.current(mailbox.id), first);
      await updateFlags(mail, mailbox, [2], { mode: 'add', flags: ['\\Flagged'] });
      await expungeMessages(mail, mailbox, [3]);
      await appendTo(mailbox, 1);
      const next = await snapshots.current(mailbox.id);
      assert.deepEqual([...next.states.keys()].sort(), [1, 2, 4]);
      assert.deepEqual(next.states.get(2)?.flags, ['\\Flagged']);
      assert.ok(next.highestModseq > first.highestModseq);
      // The earlier snapshot is unchanged: commands still using it see a consistent state.
      assert.deepEqual([...first.states.keys()].sort(), [1, 2, 3]);
    });

    it('holds at most its bound of messages, dropping the least recently used mailbox', async () => {
      const one = await createMailbox(mail, 'account-3', 'One');
      const two = await createMailbox(mail, 'account-3', 'Two');
      await appendTo(one, 3);
      await appendTo(two, 3);
      const snapshots = new MailboxSnapshots(mail, 4);
      await snapshots.current(one.id);
      await snapshots.current(two.id);
      assert.equal(snapshots.messages, 3);
    });
  });
});
