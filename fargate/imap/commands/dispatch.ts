/**
 * Which command runs in which state (RFC 9051 §6), and what the session tells the client about changes
 * to the selected mailbox around each command (RFC 9051 §7.5.1: no EXPUNGE during FETCH, STORE or
 * SEARCH; their UID forms may).
 */

import { bad, type Completion } from '../completion.ts';
import type { Command, CommandName } from '../protocol/command-types.ts';
import { untaggedStatus } from '../protocol/response-writer.ts';
import { MailboxGoneError } from '../selected-mailbox.ts';
import type { ImapSession, SessionState } from '../session.ts';
import { runDeleteAcl, runGetAcl, runListRights, runMyRights, runSetAcl } from './acl.ts';
import { runAppend } from './append.ts';
import { runAuthenticate, runLogin } from './authentication.ts';
import { runCapability, runCompress, runEnable, runId, runLogout, runNoop, runStartTls } from './connection.ts';
import { runCopy } from './copy-move.ts';
import { runExpunge } from './expunge.ts';
import { runFetch } from './fetch.ts';
import { runIdle } from './idle.ts';
import {
  runCreate,
  runDelete,
  runList,
  runLsub,
  runNamespace,
  runRename,
  runStatus,
  runSubscribe,
} from './mailboxes.ts';
import { runGetQuota, runGetQuotaRoot, runSetQuota } from './quota.ts';
import { runSearch, runSort, runThread } from './search.ts';
import { runCheck, runClose, runSelect, runUnselect } from './select.ts';
import { runStore } from './store.ts';

type Handler<N extends CommandName> = (
  session: ImapSession,
  command: Extract<Command, { name: N }>,
) => Promise<Completion>;

/** After the command, in the selected state: announce changes, with or without expunges, or nothing. */
type SyncAfter = 'all' | 'no-expunges' | 'none';

interface CommandRule<N extends CommandName> {
  states: readonly SessionState[];
  run: Handler<N>;
  sync: SyncAfter;
}

const ANY: readonly SessionState[] = ['not-authenticated', 'authenticated', 'selected'];
const UNAUTHENTICATED: readonly SessionState[] = ['not-authenticated'];
const AUTHENTICATED: readonly SessionState[] = ['authenticated', 'selected'];
const SELECTED: readonly SessionState[] = ['selected'];

type Rules = { [N in CommandName]?: CommandRule<N> };

const RULES: Rules = {
  CAPABILITY: { states: ANY, run: runCapability, sync: 'all' },
  NOOP: { states: ANY, run: runNoop, sync: 'all' },
  LOGOUT: { states: ANY, run: runLogout, sync: 'none' },
  ID: { states: ANY, run: runId, sync: 'all' },
  STARTTLS: { states: UNAUTHENTICATED, run: runStartTls, sync: 'none' },
  LOGIN: { states: UNAUTHENTICATED, run: runLogin, sync: 'none' },
  AUTHENTICATE: { states: UNAUTHENTICATED, run: runAuthenticate, sync: 'none' },
  // RFC 5161 §3.1: ENABLE only in the authenticated state (before SELECT).
  ENABLE: { states: ['authenticated'], run: runEnable, sync: 'none' },
  COMPRESS: { states: AUTHENTICATED, run: runCompress, sync: 'none' },
  NAMESPACE: { states: AUTHENTICATED, run: runNamespace, sync: 'all' },
  SELECT: { states: AUTHENTICATED, run: runSelect, sync: 'none' },
  EXAMINE: { states: AUTHENTICATED, run: runSelect, sync: 'none' },
  CREATE: { states: AUTHENTICATED, run: runCreate, sync: 'all' },
  DELETE: { states: AUTHENTICATED, run: runDelete, sync: 'all' },
  RENAME: { states: AUTHENTICATED, run: runRename, sync: 'all' },
  SUBSCRIBE: { states: AUTHENTICATED, run: runSubscribe, sync: 'all' },
  UNSUBSCRIBE: { states: AUTHENTICATED, run: runSubscribe, sync: 'all' },
  LIST: { states: AUTHENTICATED, run: runList, sync: 'all' },
  LSUB: { states: AUTHENTICATED, run: runLsub, sync: 'all' },
  STATUS: { states: AUTHENTICATED, run: runStatus, sync: 'all' },
  APPEND: { states: AUTHENTICATED, run: runAppend, sync: 'all' },
  IDLE: { states: AUTHENTICATED, run: runIdle, sync: 'none' },
  SETACL: { states: AUTHENTICATED, run: runSetAcl, sync: 'all' },
  DELETEACL: { states: AUTHENTICATED, run: runDeleteAcl, sync: 'all' },
  GETACL: { states: AUTHENTICATED, run: runGetAcl, sync: 'all' },
  LISTRIGHTS: { states: AUTHENTICATED, run: runListRights, sync: 'all' },
  MYRIGHTS: { states: AUTHENTICATED, run: runMyRights, sync: 'all' },
  GETQUOTA: { states: AUTHENTICATED, run: runGetQuota, sync: 'all' },
  GETQUOTAROOT: { states: AUTHENTICATED, run: runGetQuotaRoot, sync: 'all' },
  SETQUOTA: { states: AUTHENTICATED, run: runSetQuota, sync: 'all' },
  CHECK: { states: SELECTED, run: runCheck, sync: 'all' },
  CLOSE: { states: SELECTED, run: runClose, sync: 'none' },
  UNSELECT: { states: SELECTED, run: runUnselect, sync: 'none' },
  EXPUNGE: { states: SELECTED, run: runExpunge, sync: 'all' },
  FETCH: { states: SELECTED, run: runFetch, sync: 'no-expunges' },
  STORE: { states: SELECTED, run: runStore, sync: 'no-expunges' },
  SEARCH: { states: SELECTED, run: runSearch, sync: 'no-expunges' },
  SORT: { states: SELECTED, run: runSort, sync: 'no-expunges' },
  THREAD: { states: SELECTED, run: runThread, sync: 'no-expunges' },
  COPY: { states: SELECTED, run: runCopy, sync: 'all' },
  MOVE: { states: SELECTED, run: runCopy, sync: 'all' },
};

export async function dispatchCommand(session: ImapSession, command: Command): Promise<Completion> {
  const rule = RULES[command.name] as CommandRule<typeof command.name> | undefined;
  if (!rule) return bad(`${command.name} is not supported`);
  if (!rule.states.includes(session.state)) return bad(`${command.name} is not allowed ${stateText(session.state)}`);
  const completion = await rule.run(session, command as never);
  const uidCommand = 'uid' in command && command.uid;
  const sync = rule.sync === 'no-expunges' && uidCommand ? 'all' : rule.sync;
  if (sync !== 'none' && session.selected && !session.isClosed) {
    try {
      await session.selected.sync(session, { expunges: sync === 'all' });
    } catch (error) {
      if (!(error instanceof MailboxGoneError)) throw error;
      // RFC 9051 leaves this open; like Dovecot, end the session rather than serve a mailbox that is gone.
      session.send(untaggedStatus('BYE', 'The selected mailbox was deleted'));
      await session.close();
    }
  }
  return completion;
}

function stateText(state: SessionState): string {
  switch (state) {
    case 'not-authenticated':
      return 'before login';
    case 'authenticated':
      return 'without a selected mailbox';
    case 'selected':
      return 'with a mailbox selected';
    case 'logout':
      return 'after logout';
  }
}
