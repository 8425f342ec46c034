/**
 * Mailbox access control lists (RFC 4314), the minimum SMTP delivery needs: a rights string per
 * identifier on the mailbox item (`acl`), read with the mailbox, set with an optimistic check so two
 * concurrent changes cannot lose one another. The ACL issue builds the IMAP commands, `marmot acl` and
 * the owner's implicit rights on this; delivery only asks whether `anyone` holds `p` (post).
 *
 * Identifiers and rights come from operators and (later) IMAP clients: both are validated here.
 */
import { ConditionFailedError } from '../store/errors.ts';
import type { Condition } from '../store/metadata.ts';
import { ConcurrentModificationError, MailboxNotFoundError } from './errors.ts';
import type { MailStore } from './mail-store.ts';
import type { Mailbox } from './mailbox-record.ts';
import { readMailboxItem } from './mailbox-record.ts';
import { MAILBOX_SK, mailboxPk } from './schema.ts';

/** RFC 4314 §2: the identifier every user, including anonymous senders, falls under. */
export const ANYONE = 'anyone';
/** RFC 4314 §2.1 rights: lookup, read, seen, write, insert, post, create, delete, deleted, expunge, admin. */
const RIGHTS = /^[lrswipkxtea]*$/;
const MAX_IDENTIFIER_LENGTH = 320;
const MAX_ATTEMPTS = 5;

export class InvalidAclError extends Error {
  override name = 'InvalidAclError';
}

/** Whether the mailbox's ACL gives `identifier` the right. */
export function grantsRight(mailbox: Pick<Mailbox, 'acl'>, identifier: string, right: string): boolean {
  return mailbox.acl[identifier]?.includes(right) ?? false;
}

/** Sets the identifier's rights (replacing what it had); empty rights remove the identifier. */
export async function setMailboxRights(
  store: MailStore,
  mailboxId: string,
  identifier: string,
  rights: string,
): Promise<void> {
  if (
    typeof identifier !== 'string' ||
    identifier.length === 0 ||
    identifier.length > MAX_IDENTIFIER_LENGTH ||
    /[\u0000-\u0020\u007f]/.test(identifier)
  ) {
    throw new InvalidAclError(`invalid ACL identifier ${JSON.stringify(String(identifier).slice(0, 80))}`);
  }
  if (typeof rights !== 'string' || !RIGHTS.test(rights)) {
    throw new InvalidAclError(`invalid rights ${JSON.stringify(String(rights).slice(0, 40))} (RFC 4314 §2.1)`);
  }
  const canonical = [...new Set(rights)].sort().join('');
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const item = await readMailboxItem(store, mailboxId);
    const acl = { ...((item.acl ?? {}) as Record<string, string>) };
    if (canonical === '') delete acl[identifier];
    else acl[identifier] = canonical;
    const version = item.aclVersion;
    const unchanged: Condition =
      typeof version === 'number'
        ? { attribute: 'aclVersion', op: '=', value: version }
        : { attribute: 'aclVersion', op: 'notExists' };
    try {
      await store.metadata.update(mailboxPk(mailboxId), MAILBOX_SK, {
        set: { acl },
        add: { aclVersion: 1 },
        conditions: [{ attribute: 'pk', op: 'exists' }, { attribute: 'deletedAt', op: 'notExists' }, unchanged],
      });
      return;
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      await readMailboxItem(store, mailboxId).catch((missing: unknown) => {
        throw missing instanceof MailboxNotFoundError ? missing : error;
      });
    }
  }
  throw new ConcurrentModificationError(`the ACL of mailbox ${mailboxId} keeps changing; retry`);
}
