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
import { type ImapValue, token, untagged } from '../protocol/response-writer.ts';
import type { ImapSession } from '../session.ts';
import { type MailboxTarget, openMailbox } from './acl-access.ts';

/** RFC 9051 §9 atom-specials (and controls): what an atom may not contain. */
const NOT_ATOM = /[\u0000-\u0020\u007f-\uffff(){%*"\\\]]/;

/**
 * An astring as an atom when it can be one, as Cyrus sends ACL responses: cyradm's `lam` prints the
 * response's words as they are, quotes and all.
 */
function astring(text: string): ImapValue {
  return text !== '' && !NOT_ATOM.test(text) ? token(text) : text;
}

function wireName(session: ImapSession, target: MailboxTarget): ImapValue {
  return astring(mailboxNameToWire(target.sessionName, session.utf8));
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
  // RFC 4314 §3.6: * ACL mailbox *(identifier rights).
  const entries = aclEntries(mailbox, target.ownerAccount?.address);
  const pairs = entries.flatMap(({ identifier, rights }) => [astring(identifier), astring(rights)]);
  session.send(untagged(token('ACL'), wireName(session, target), ...pairs));
  return ok('GETACL completed');
}

export async function runListRights(session: ImapSession, command: CommandOf<'LISTRIGHTS'>): Promise<Completion> {
  parseIdentifier(command.identifier);
  const { target } = await openMailbox(session, command.mailbox, 'administer');
  const listed = listableRights(command.identifier, target.ownerAccount?.address);
  // RFC 4314 §3.4: the identifier comes back as the client spelled it.
  // RFC 4314 §3.7: * LISTRIGHTS mailbox identifier required *optional.
  session.send(
    untagged(
      token('LISTRIGHTS'),
      wireName(session, target),
      astring(command.identifier),
      astring(listed.required),
      ...listed.optional.map(astring),
    ),
  );
  return ok('LISTRIGHTS completed');
}

export async function runMyRights(session: ImapSession, command: CommandOf<'MYRIGHTS'>): Promise<Completion> {
  const { target, rights } = await openMailbox(session, command.mailbox);
  if (!mayAskMyRights(rights)) throw new MailboxNotFoundError(target.sessionName);
  // RFC 4314 §3.8: * MYRIGHTS mailbox rights.
  session.send(untagged(token('MYRIGHTS'), wireName(session, target), astring(formatRights(rights))));
  return ok('MYRIGHTS completed');
}
