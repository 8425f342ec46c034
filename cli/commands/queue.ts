/**
 * `marmot queue list|show|retry|delete`: the outbound queue, for operators. `retry` moves the next
 * attempt to now (after fixing a smarthost, say); `delete` drops a message without telling its sender.
 * Neither touches a message a worker is sending right now.
 */
import type { Command } from 'commander';
import {
  type OutboundMessage,
  OutboundQueue,
  QueueEntryNotFoundError,
} from '../../shared/outbound-queue/outbound-queue.ts';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';

/** Entries read per page when listing the whole queue. */
const LIST_PAGE = 500;
/** How much of the last reply a list row shows. */
const LIST_REPLY_CHARS = 60;

interface JsonOption {
  json?: boolean;
}

async function openQueue(context: CliContext): Promise<OutboundQueue> {
  const stores = await context.stores();
  return new OutboundQueue(stores.metadata, stores.blobs);
}

async function allEntries(queue: OutboundQueue): Promise<OutboundMessage[]> {
  const messages: OutboundMessage[] = [];
  let cursor: string | undefined;
  do {
    const page = await queue.list({ limit: LIST_PAGE, ...(cursor ? { cursor } : {}) });
    messages.push(...page.messages);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return messages.sort((a, b) => a.enqueuedAt.getTime() - b.enqueuedAt.getTime());
}

function lastReply(message: OutboundMessage): string {
  const replies = message.recipientStates.filter((state) => state.status === 'pending' && state.reply);
  const reply = replies.at(-1)?.reply ?? '';
  return reply.length > LIST_REPLY_CHARS ? `${reply.slice(0, LIST_REPLY_CHARS - 1)}…` : reply;
}

export function registerQueueCommands(program: Command, context: CliContext): void {
  const queue = program
    .command('queue')
    .description('the outbound queue: mail waiting for remote recipients, with its delivery attempts');

  queue
    .command('list')
    .description('list the queued messages, oldest first')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption) => {
      const messages = await allEntries(await openQueue(context));
      if (options.json) return context.json(messages);
      if (messages.length === 0) return context.say('the outbound queue is empty');
      context.table(
        ['ID', 'FROM', 'PENDING', 'STATE', 'ATTEMPTS', 'QUEUED', 'NEXT-ATTEMPT', 'LAST-REPLY'],
        messages.map((m) => [
          m.id,
          m.mailFrom === '' ? '<>' : m.mailFrom,
          `${m.recipientStates.filter((s) => s.status === 'pending').length}/${m.recipients.length}`,
          m.state,
          String(m.attempts),
          m.enqueuedAt.toISOString(),
          m.state === 'sending' ? 'now' : m.nextAttemptAt.toISOString(),
          lastReply(m),
        ]),
      );
    });

  queue
    .command('show')
    .description('show one message: envelope, attempts, and every recipient with its last reply')
    .argument('<id>', 'the queue id')
    .option('--json', 'print JSON')
    .action(async (id: string, options: JsonOption) => {
      const message = await (await openQueue(context)).get(id);
      if (!message) throw new QueueEntryNotFoundError(id);
      if (options.json) return context.json(message);
      context.out(`id:           ${message.id}`);
      context.out(`from:         ${message.mailFrom === '' ? '<>' : message.mailFrom}`);
      context.out(`submitted by: ${message.submittedBy}`);
      context.out(`size:         ${message.size}`);
      context.out(`state:        ${message.state}`);
      context.out(`attempts:     ${message.attempts}`);
      context.out(`queued:       ${message.enqueuedAt.toISOString()}`);
      if (message.lastAttemptAt) context.out(`last attempt: ${message.lastAttemptAt.toISOString()}`);
      context.out(`next attempt: ${message.nextAttemptAt.toISOString()}`);
      if (message.leaseUntil) context.out(`claimed until: ${message.leaseUntil.toISOString()}`);
      context.out(`DKIM:         ${message.dkimSignature ? 'signed' : 'not signed yet'}`);
      for (const state of message.recipientStates) {
        const reply = state.reply ? `  ${state.enhancedStatus ?? ''} ${state.reply}` : '';
        context.out(`recipient:    ${state.address}  ${state.status}${reply}`);
      }
    });

  queue
    .command('retry')
    .description('attempt delivery now instead of at the scheduled time')
    .argument('[ids...]', 'queue ids')
    .option('--all', 'every queued message')
    .action(async (ids: string[], options: { all?: boolean }) => {
      if (Boolean(options.all) === ids.length > 0) throw new UsageError('give queue ids or --all, not both or neither');
      const outbound = await openQueue(context);
      const targets = options.all
        ? (await allEntries(outbound)).filter((m) => m.state === 'queued').map((m) => m.id)
        : ids;
      for (const id of targets) await outbound.retryNow(id);
      context.say(`${targets.length} message(s) will be attempted now`);
    });

  queue
    .command('delete')
    .description('remove a message from the queue without delivering it; its sender is not told')
    .argument('<id>', 'the queue id')
    .action(async (id: string) => {
      const removed = await (await openQueue(context)).remove(id);
      const pending = removed.recipientStates.filter((state) => state.status === 'pending').length;
      context.say(`deleted ${removed.id} (from ${removed.mailFrom || '<>'}, ${pending} recipient(s) never delivered)`);
    });
}
