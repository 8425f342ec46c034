import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ThreadNode, threadResponse } from '../../../fargate/imap/protocol/response-writer.ts';
import { type ThreadableMessage, threadOrderedSubject, threadReferences } from '../../../fargate/imap/thread/thread.ts';
import { baseSubject } from '../../../shared/mime/search-fields.ts';

/** The thread list as the response writer puts it on the wire, without `* THREAD ` and CRLF. */
function formatThreads(threads: readonly ThreadNode[]): string {
  return threadResponse(threads)
    .toString('latin1')
    .replace(/^\* THREAD ?/, '')
    .replace(/\r\n$/, '');
}

const day = 86_400_000;
function message(id: number, fields: Partial<ThreadableMessage>): ThreadableMessage {
  const subject = fields.subject ?? `subject ${id}`;
  return { id, subject, baseSubject: baseSubject(subject), sentDate: fields.sentDate ?? id * day, ...fields };
}

describe('THREAD=ORDEREDSUBJECT', () => {
  it('groups by base subject, first by date is the parent, threads ordered by their first message', () => {
    const threads = threadOrderedSubject([
      message(1, { subject: 'b', sentDate: 5 * day }),
      message(2, { subject: 'Re: a', sentDate: 3 * day }),
      message(3, { subject: 'a', sentDate: 2 * day }),
      message(4, { subject: 'Re: b', sentDate: 6 * day }),
      message(5, { subject: 'c', sentDate: 1 * day }),
      message(6, { subject: 'RE: A', sentDate: 4 * day }),
    ]);
    assert.equal(formatThreads(threads), '(5)(3 (2)(6))(1 4)');
  });
});

describe('THREAD=REFERENCES', () => {
  it('builds the tree from References and In-Reply-To', () => {
    const threads = threadReferences([
      message(1, { messageId: '<a@x>', subject: 'topic' }),
      message(2, { messageId: '<b@x>', inReplyTo: '<a@x>', subject: 'Re: topic' }),
      message(3, { messageId: '<c@x>', references: '<a@x> <b@x>', subject: 'Re: topic' }),
      message(4, { messageId: '<d@x>', references: '<a@x>', subject: 'Re: topic' }),
      message(5, { messageId: '<e@x>', subject: 'other' }),
    ]);
    assert.equal(formatThreads(threads), '(1 (2 3)(4))(5)');
  });

  it('holds siblings whose parent is missing under a dummy, and promotes a lone child', () => {
    const threads = threadReferences([
      message(1, { messageId: '<b@x>', references: '<missing@x>', subject: 'Re: lost' }),
      message(2, { messageId: '<c@x>', references: '<missing@x>', subject: 'Re: lost' }),
      message(3, { messageId: '<d@x>', references: '<gone@x>', subject: 'alone' }),
    ]);
    assert.equal(formatThreads(threads), '((1)(2))(3)');
  });

  it('merges threads by subject when the references do not connect them', () => {
    const threads = threadReferences([
      message(1, { messageId: '<a@x>', subject: 'meeting' }),
      message(2, { messageId: '<b@x>', subject: 'Re: meeting' }),
      message(3, { messageId: '<c@x>', subject: 'lunch' }),
      message(4, { messageId: '<d@x>', subject: 'lunch' }),
    ]);
    // A reply joins the original; two originals go under a new dummy.
    assert.equal(formatThreads(threads), '(1 2)((3)(4))');
  });

  it('survives loops, self references, duplicate ids and missing ids', () => {
    const threads = threadReferences([
      message(1, { messageId: '<a@x>', references: '<b@x>', subject: 'p' }),
      message(2, { messageId: '<b@x>', references: '<a@x>', subject: 'q' }),
      message(3, { messageId: '<c@x>', references: '<c@x>', subject: 'r' }),
      message(4, { messageId: '<a@x>', subject: 's' }),
      message(5, { subject: 't' }),
    ]);
    const text = formatThreads(threads);
    for (const id of [1, 2, 3, 4, 5]) assert.equal(text.match(new RegExp(`\\b${id}\\b`, 'g'))?.length, 1, text);
    // 1 named <b> as its parent first; 2's reference back to 1 would make a loop and is dropped.
    assert.equal(text, '(2 1)(3)(4)(5)');
  });

  it('handles a very deep reply chain without recursion limits', () => {
    const count = 20_000;
    const messages: ThreadableMessage[] = [];
    for (let i = 1; i <= count; i++) {
      messages.push(message(i, { messageId: `<m${i}@x>`, inReplyTo: i > 1 ? `<m${i - 1}@x>` : undefined }));
    }
    const text = formatThreads(threadReferences(messages));
    assert.equal(text.length > count, true);
    assert.ok(text.startsWith('(1 2 3 '));
    assert.ok(text.endsWith(` ${count})`));
  });
});
