/**
 * The ACL commands (RFC 4314 §3): SETACL, DELETEACL, GETACL, LISTRIGHTS (all need `a` on the mailbox)
 * and MYRIGHTS (any of `l r i k x a`). Rights use the Cyrus letters with the obsolete `c` and `d`
 * expanded on input and shown on output (§2.1.1); identifiers are `local@domain`, `anyone`, `anonymous`
 * and their negative `-` forms. The ACL model is shared/acl's, the same SMTP delivery consults.
 *
 * SECURITY: mailbox names, identifiers and rights are untrusted and validated by shared/acl; a malformed
 * right or identifier is BAD (§3.1), a mailbox the session may not look up is NONEXISTENT.
 */
import {
  aclEntries,
  deleteMailboxRights,
  formatRights,
  listableRights,
  mayAskMyRights,
  parseIdentifier,
  parseRights,
  setMailboxRights,
} from '../../../shared/acl/index.ts';
import { MailboxNotFoundError } from '../../../shared/mailbox/errors.ts';
import { type CommandOf, type Completion, ok } from '../completion.ts';
import { mailboxNameToWire } from '../namespaces.ts';
import { aclResponse, listRightsResponse, myRightsResponse } from '../protocol/response-writer.ts';
import type { ImapSession } from '../session.ts';
import { type MailboxTarget, openMailbox } from './acl-access.ts';

function wireName(session: ImapSession, target: MailboxTarget): string {
  return mailboxNameToWire(target.sessionName, session.utf8);
}

export async function runSetAcl(session: ImapSession, command: CommandOf<'SETACL'>): Promise<Completion> {
  // Malformed input is BAD before the mailbox is even looked up (RFC 4314 §3.1).
  const rights = parseRights(command.rights);
  parseIdentifier(command.identifier);
  const { target, mailbox } = await openMailbox(session, command.mailbox, 'administer');
  await setMailboxRights(
    session.server.mail,
    mailbox.id,
    command.identifier,
    { mode: command.operation, rights },
    session.server.directory,
    target.ownerAccount?.address,
  );
  return ok('SETACL completed');
}

export async function runDeleteAcl(session: ImapSession, command: CommandOf<'DELETEACL'>): Promise<Completion> {
  parseIdentifier(command.identifier);
  const { mailbox } = await openMailbox(session, command.mailbox, 'administer');
  await deleteMailboxRights(session.server.mail, mailbox.id, command.identifier);
  return ok('DELETEACL completed');
}

export async function runGetAcl(session: ImapSession, command: CommandOf<'GETACL'>): Promise<Completion> {
  const { target, mailbox } = await openMailbox(session, command.mailbox, 'administer');
  session.send(aclResponse(wireName(session, target), aclEntries(mailbox, target.ownerAccount?.address)));
  return ok('GETACL completed');
}

export async function runListRights(session: ImapSession, command: CommandOf<'LISTRIGHTS'>): Promise<Completion> {
  parseIdentifier(command.identifier);
  const { target } = await openMailbox(session, command.mailbox, 'administer');
  const listed = listableRights(command.identifier, target.ownerAccount?.address);
  // RFC 4314 §3.4: the identifier comes back as the client spelled it.
  session.send(listRightsResponse(wireName(session, target), command.identifier, listed.required, listed.optional));
  return ok('LISTRIGHTS completed');
}

export async function runMyRights(session: ImapSession, command: CommandOf<'MYRIGHTS'>): Promise<Completion> {
  const { target, rights } = await openMailbox(session, command.mailbox);
  if (!mayAskMyRights(rights)) throw new MailboxNotFoundError(target.sessionName);
  session.send(myRightsResponse(wireName(session, target), formatRights(rights)));
  return ok('MYRIGHTS completed');
}
