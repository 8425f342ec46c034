import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { InvalidQueueIdError, OutboundQueue } from '../../../shared/outbound-queue/outbound-queue.ts';
import { adapterSets } from '../../support/stores.ts';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

for (const adapters of adapterSets) {
  describe(`outbound queue (${adapters.name})`, () => {
    it('holds an enqueued message durably: entry and body, byte for byte', async () => {
      const stores = await adapters.open();
      try {
        const queue = new OutboundQueue(stores.metadata, stores.blobs);
        const body = Buffer.from('Received: from x\r\nSubject: hi\r\n\r\nbody\r\n');
        const { message, duplicate } = await queue.enqueue({
          id: 'a'.repeat(32),
          mailFrom: 'me@example.com',
          recipients: ['you@example.org', 'them@example.net'],
          body: Readable.from([body]),
          submittedBy: 'me@example.com',
        });
        assert.equal(duplicate, false);
        assert.equal(message.size, body.length);
        assert.equal(message.state, 'queued');
        assert.equal(message.attempts, 0);
        // A fresh queue object over the same stores sees it: it lives in the stores, not in memory.
        const again = new OutboundQueue(stores.metadata, stores.blobs);
        assert.deepEqual(await again.get('a'.repeat(32)), message);
        assert.deepEqual(await readAll(await again.readBody('a'.repeat(32))), body);
      } finally {
        await stores.cleanup();
      }
    });

    it('adds nothing when the same transaction is enqueued again', async () => {
      const stores = await adapters.open();
      try {
        const queue = new OutboundQueue(stores.metadata, stores.blobs);
        const first = await queue.enqueue({
          id: 'b'.repeat(32),
          mailFrom: '',
          recipients: ['x@example.org'],
          body: Buffer.from('first'),
          submittedBy: '192.0.2.1',
        });
        const second = await queue.enqueue({
          id: 'b'.repeat(32),
          mailFrom: '',
          recipients: ['x@example.org'],
          body: Buffer.from('second attempt'),
          submittedBy: '192.0.2.1',
        });
        assert.equal(second.duplicate, true);
        assert.deepEqual(second.message, first.message);
        assert.equal((await queue.list()).messages.length, 1);
        assert.equal((await readAll(await queue.readBody('b'.repeat(32)))).toString(), 'first');
      } finally {
        await stores.cleanup();
      }
    });

    it('lists entries a page at a time', async () => {
      const stores = await adapters.open();
      try {
        const queue = new OutboundQueue(stores.metadata, stores.blobs);
        const ids = ['1', '2', '3', '4', '5'].map((digit) => digit.repeat(20));
        for (const id of ids) {
          await queue.enqueue({
            id,
            mailFrom: '',
            recipients: ['r@example.org'],
            body: Buffer.from(id),
            submittedBy: 's',
          });
        }
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await queue.list({ limit: 2, ...(cursor ? { cursor } : {}) });
          assert.ok(page.messages.length <= 2);
          seen.push(...page.messages.map((message) => message.id));
          cursor = page.cursor;
        } while (cursor);
        assert.deepEqual(seen, ids);
      } finally {
        await stores.cleanup();
      }
    });

    it('refuses ids that could not be keys', async () => {
      const stores = await adapters.open();
      try {
        const queue = new OutboundQueue(stores.metadata, stores.blobs);
        for (const id of ['short', '../../etc/passwd-aaaaaaaaaaaa', 'a'.repeat(129), 'x y'.repeat(10)]) {
          await assert.rejects(queue.get(id), InvalidQueueIdError);
        }
        await assert.rejects(
          queue.enqueue({ id: 'c'.repeat(20), mailFrom: '', recipients: [], body: Buffer.from(''), submittedBy: 's' }),
          RangeError,
        );
      } finally {
        await stores.cleanup();
      }
    });
  });
}
