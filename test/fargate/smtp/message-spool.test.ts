import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { hasBareLineEnding, spoolMessage } from '../../../fargate/smtp/message-spool.ts';
import { localAdapters } from '../../support/stores.ts';

/** Feeds chunks as smtp-server's data stream would, one per tick. */
function dataStream(chunks: Buffer[]): PassThrough {
  const stream = new PassThrough();
  (async () => {
    for (const chunk of chunks) {
      stream.write(chunk);
      await new Promise((resolve) => setImmediate(resolve));
    }
    stream.end();
  })();
  return stream;
}

function naiveBareLineEnding(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x0a && bytes[i - 1] !== 0x0d) return true;
    if (bytes[i] === 0x0d && bytes[i + 1] !== 0x0a) return true;
  }
  return false;
}

describe('message spool', () => {
  it('stores prefix and content as one blob and hashes the content', async () => {
    const stores = await localAdapters.open();
    try {
      const content = Buffer.from('Subject: x\r\n\r\nline one\r\nline two\r\n');
      const outcome = await spoolMessage(dataStream([content.subarray(0, 7), content.subarray(7)]), {
        blobs: stores.blobs,
        blobKey: 'msg/t/1',
        prefix: Buffer.from('Return-Path: <a@b.example>\r\n'),
        maxContentBytes: 1000,
      });
      assert.ok(outcome.ok);
      assert.equal(outcome.message.contentBytes, content.length);
      assert.equal(outcome.message.contentSha256, createHash('sha256').update(content).digest('hex'));
      const stored = await stores.blobs.read('msg/t/1');
      assert.equal(stored.toString(), `Return-Path: <a@b.example>\r\n${content}`);
      assert.equal(outcome.message.size, stored.length);
    } finally {
      await stores.cleanup();
    }
  });

  it('streams a message too large to hold in memory into the blob, byte for byte', async () => {
    const stores = await localAdapters.open();
    try {
      const chunks = Array.from({ length: 12 }, (_, index) => Buffer.alloc(64 * 1024, `${index % 10}\r\n`));
      const content = Buffer.concat(chunks);
      const outcome = await spoolMessage(dataStream(chunks), {
        blobs: stores.blobs,
        blobKey: 'msg/t/large',
        prefix: Buffer.from('X: y\r\n'),
        maxContentBytes: 1024 * 1024,
      });
      assert.ok(outcome.ok);
      assert.equal(outcome.message.contentSha256, createHash('sha256').update(content).digest('hex'));
      assert.deepEqual(await stores.blobs.read('msg/t/large'), Buffer.concat([Buffer.from('X: y\r\n'), content]));
    } finally {
      await stores.cleanup();
    }
  });

  it('refuses a message over the limit after it began streaming, and leaves no blob', async () => {
    const stores = await localAdapters.open();
    try {
      const stream = dataStream(Array.from({ length: 16 }, () => Buffer.alloc(64 * 1024, 'a\r\n')));
      const outcome = await spoolMessage(stream, {
        blobs: stores.blobs,
        blobKey: 'msg/t/over',
        prefix: Buffer.from(''),
        maxContentBytes: 600 * 1024,
      });
      assert.deepEqual(outcome, { ok: false, refusal: 'too-large' });
      assert.equal(stream.readableEnded, true);
      assert.deepEqual((await stores.blobs.list('')).blobs, []);
    } finally {
      await stores.cleanup();
    }
  });

  it('refuses a message over the limit, reads the rest, and leaves no blob', async () => {
    const stores = await localAdapters.open();
    try {
      const chunk = Buffer.alloc(1000, 'a\r\n');
      const stream = dataStream(Array.from({ length: 20 }, () => chunk));
      const outcome = await spoolMessage(stream, {
        blobs: stores.blobs,
        blobKey: 'msg/t/2',
        prefix: Buffer.from(''),
        maxContentBytes: 5000,
      });
      assert.deepEqual(outcome, { ok: false, refusal: 'too-large' });
      assert.equal(stream.readableEnded, true);
      assert.equal(await stores.blobs.head('msg/t/2'), undefined);
      assert.deepEqual((await stores.blobs.list('')).blobs, []);
    } finally {
      await stores.cleanup();
    }
  });

  for (const [name, content] of [
    ['<LF>.<LF>', 'a\r\nb\n.\nMAIL FROM:<x@y>\r\n'],
    ['<LF>.<CR><LF>', 'a\r\nb\n.\r\nMAIL FROM:<x@y>\r\n'],
    ['<CR><LF>.<LF>', 'a\r\nb\r\n.\nMAIL FROM:<x@y>\r\n'],
    ['<CR>.<CR>', 'a\r\nb\r.\rMAIL FROM:<x@y>\r\n'],
    ['a final bare <CR>', 'a\r\nb\r'],
  ] as const) {
    it(`refuses content with ${name} whole`, async () => {
      const stores = await localAdapters.open();
      try {
        const bytes = Buffer.from(content);
        // Split at every position, so the check does not depend on where chunks break.
        for (let split = 1; split < bytes.length; split++) {
          const outcome = await spoolMessage(dataStream([bytes.subarray(0, split), bytes.subarray(split)]), {
            blobs: stores.blobs,
            blobKey: `msg/t/s${split}`,
            prefix: Buffer.from('X: y\r\n'),
            maxContentBytes: 1000,
          });
          assert.deepEqual(outcome, { ok: false, refusal: 'bare-line-ending' }, `split at ${split}`);
        }
        assert.deepEqual((await stores.blobs.list('')).blobs, []);
      } finally {
        await stores.cleanup();
      }
    });
  }

  it('stops at the deadline and leaves no blob', async () => {
    const stores = await localAdapters.open();
    try {
      const stream = new PassThrough();
      stream.write('Subject: slow\r\n');
      const controller = new AbortController();
      setTimeout(() => {
        controller.abort();
        setTimeout(() => stream.end('more\r\n'), 20);
      }, 30);
      const outcome = await spoolMessage(stream, {
        blobs: stores.blobs,
        blobKey: 'msg/t/3',
        prefix: Buffer.from(''),
        maxContentBytes: 1000,
        deadline: controller.signal,
      });
      assert.deepEqual(outcome, { ok: false, refusal: 'timed-out' });
      assert.equal(await stores.blobs.head('msg/t/3'), undefined);
    } finally {
      await stores.cleanup();
    }
  });

  it('reports a client that goes away mid-transfer and leaves no blob', async () => {
    const stores = await localAdapters.open();
    try {
      const stream = new PassThrough();
      stream.write('Subject: gone\r\n');
      setTimeout(() => stream.destroy(new Error('Connection closed')), 20);
      const outcome = await spoolMessage(stream, {
        blobs: stores.blobs,
        blobKey: 'msg/t/4',
        prefix: Buffer.from(''),
        maxContentBytes: 1000,
      });
      assert.deepEqual(outcome, { ok: false, refusal: 'client-gone' });
      assert.equal(await stores.blobs.head('msg/t/4'), undefined);
    } finally {
      await stores.cleanup();
    }
  });

  it('judges line endings across chunk boundaries exactly as over the whole content', () => {
    const bytes = fc
      .uint8Array({ maxLength: 40 })
      .map((array) => Buffer.from(Array.from(array, (byte) => [0x0d, 0x0a, 0x2e, 0x61][byte % 4]!)));
    fc.assert(
      fc.property(bytes, fc.array(fc.nat(40), { maxLength: 5 }), (content, cuts) => {
        const points = [...new Set(cuts.filter((cut) => cut > 0 && cut < content.length))].sort((a, b) => a - b);
        let previous = -1;
        let bare = false;
        let start = 0;
        for (const end of [...points, content.length]) {
          const chunk = content.subarray(start, end);
          start = end;
          if (chunk.length === 0) continue;
          if (hasBareLineEnding(chunk, previous)) bare = true;
          previous = chunk[chunk.length - 1]!;
        }
        if (previous === 0x0d) bare = true;
        assert.equal(bare, naiveBareLineEnding(content));
      }),
    );
  });
});
