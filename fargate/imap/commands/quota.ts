/**
 * The QUOTA commands (RFC 9208 §4.1): GETQUOTA and GETQUOTAROOT, and SETQUOTA for administrators (as
 * cyradm's `sq user/bob@example.com STORAGE 100000` sends it). Every account is one quota root,
 * `user/<local@domain>`, with the resources STORAGE (kilobytes) and MESSAGE (shared/quota); shared
 * mailboxes have none.
 *
 * SECURITY: root names and limits are untrusted and validated by shared/quota. A user may read the quota
 * of its own root and of the roots of mailboxes it can open; only an administrator may read any root
 * or change limits.
 */
import { NoPermissionError } from '../../../shared/acl/index.ts';
import {
  getQuotaRoot,
  InvalidQuotaError,
  QUOTA_RESOURCES,
  type QuotaLimitChanges,
  type QuotaResourceName,
  type QuotaRoot,
  quotaRootName,
  quotaRootOfAccount,
  setQuotaLimits,
} from '../../../shared/quota/quota-roots.ts';
import { type CommandOf, type Completion, ok } from '../completion.ts';
import { mailboxNameToWire } from '../namespaces.ts';
import { quotaResponse, quotaRootResponse } from '../protocol/response-writer.ts';
import type { ImapSession } from '../session.ts';
import { openMailbox } from './acl-access.ts';

function sendQuota(session: ImapSession, root: QuotaRoot): void {
  session.send(
    quotaResponse(
      root.name,
      root.resources.map((resource) => ({ resource: resource.name, usage: resource.usage, limit: resource.limit })),
    ),
  );
}

/** Only administrators look at or change a root other than their own. */
function requireRootAccess(session: ImapSession, root: string): void {
  const account = session.account!;
  if (account.admin) return;
  if (root.toLowerCase() !== quotaRootName(account.address)) throw new NoPermissionError('a', root);
}

export async function runGetQuota(session: ImapSession, command: CommandOf<'GETQUOTA'>): Promise<Completion> {
  requireRootAccess(session, command.root);
  sendQuota(session, await getQuotaRoot(session.server.directory, session.server.mail, command.root));
  return ok('GETQUOTA completed');
}

export async function runGetQuotaRoot(session: ImapSession, command: CommandOf<'GETQUOTAROOT'>): Promise<Completion> {
  const { target } = await openMailbox(session, command.mailbox);
  const owner = target.ownerAccount;
  const roots = owner ? [quotaRootName(owner.address)] : [];
  session.send(quotaRootResponse(mailboxNameToWire(target.sessionName, session.utf8), roots));
  if (owner) sendQuota(session, await quotaRootOfAccount(session.server.mail, owner));
  return ok('GETQUOTAROOT completed');
}

export async function runSetQuota(session: ImapSession, command: CommandOf<'SETQUOTA'>): Promise<Completion> {
  if (!session.account!.admin) throw new NoPermissionError('a', command.root);
  // RFC 9208 §4.1.3: the listed limits replace all of the root's limits; a resource left out has none.
  const changes: QuotaLimitChanges = Object.fromEntries(QUOTA_RESOURCES.map((name) => [name, null]));
  for (const { resource, limit } of command.limits) {
    const name = resource.toUpperCase();
    if (!(QUOTA_RESOURCES as readonly string[]).includes(name)) {
      throw new InvalidQuotaError(`unsupported resource ${resource} (${QUOTA_RESOURCES.join(', ')})`);
    }
    changes[name as QuotaResourceName] = limit;
  }
  const updated = await setQuotaLimits(session.server.directory, session.server.mail, command.root, changes);
  sendQuota(session, updated);
  return ok('SETQUOTA completed');
}
