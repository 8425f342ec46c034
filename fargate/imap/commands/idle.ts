/**
 * IDLE (RFC 2177): the client waits for updates until it sends DONE. The session watches its selected
 * mailbox through the process-wide change notifier (no polling of its own), and on every wake-up sends
 * what changed: EXISTS, EXPUNGE/VANISHED, FETCH FLAGS.
 */

import { bad, type Completion, ok } from '../completion.ts';
import { continuationRequest, untaggedStatus } from '../protocol/response-writer.ts';
import { MailboxGoneError } from '../selected-mailbox.ts';
import type { ImapSession } from '../session.ts';

export async function runIdle(session: ImapSession): Promise<Completion> {
  const selected = session.selected;
  let syncing: Promise<void> | undefined;
  let again = false;
  const update = (): Promise<void> => {
    if (!selected || session.isClosed) return Promise.resolve();
    if (syncing) {
      again = true;
      return syncing;
    }
    syncing = sendUpdates().finally(() => {
      syncing = undefined;
    });
    return syncing;
  };
  const sendUpdates = async (): Promise<void> => {
    if (!selected) return;
    try {
      do {
        again = false;
        await selected.sync(session, { expunges: true });
        await session.flush();
      } while (again && !session.isClosed);
    } catch (error) {
      if (error instanceof MailboxGoneError) {
        session.send(untaggedStatus('BYE', 'The selected mailbox was deleted'));
        await session.close();
      } else {
        session.logger.error('IDLE update failed', { error });
      }
    }
  };
  session.send(continuationRequest('idling'));
  await session.flush();
  await update();
  const stop = selected ? session.server.notifier.watch(selected.id, selected.version, () => void update()) : undefined;
  session.setIdling(true);
  let line: Buffer;
  try {
    line = await session.readLine();
  } finally {
    stop?.();
    session.setIdling(false);
    // The next command must not overlap an update still being sent.
    await syncing;
  }
  if (line.toString('latin1').toUpperCase() !== 'DONE') return bad('Expected DONE');
  return ok('IDLE terminated');
}
