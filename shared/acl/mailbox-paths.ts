/**
 * Mailbox paths: how an administrator (the `marmot` CLI, cyradm, quota roots) names any mailbox of the
 * system, and which store owner it belongs to. As in Cyrus with virtual domains:
 *   user/bob@example.com             bob's INBOX (and, as a quota root or for unexpunge, bob's whole tree)
 *   user/bob@example.com/Sent        bob's folder Sent (Cyrus's own spelling user/bob/Sent@example.com too)
 *   news@example.com, news/2024@...  a shared mailbox of the domain: anything not under `user/`
 * A shared mailbox belongs to the domain's pseudo-owner `shared@<domain>` in the mailbox store: account
 * ids are UUIDs, so no account can have that id, and SMTP delivery (`+name/` addresses) looks shared
 * mailboxes up the same way.
 *
 * Trusts nothing: paths come from operators and IMAP clients; the account and domain parts go through
 * shared/address, the mailbox part through shared/mailbox's name rules.
 */
import { InvalidAddressError, normalizeAccountAddress, normalizeDomain } from '../address/address.ts';
import { InvalidMailboxNameError } from '../mailbox/errors.ts';
import { HIERARCHY_SEPARATOR, INBOX, normalizeMailboxName } from '../mailbox/names.ts';

export const OTHER_USERS_ROOT = 'user';
export const OTHER_USERS_PREFIX = OTHER_USERS_ROOT + HIERARCHY_SEPARATOR;
const SHARED_OWNER_LOCAL_PART = 'shared';

export type MailboxPath =
  /** `name` is the store name in the account: INBOX for `user/<address>`. */
  { kind: 'personal'; address: string; name: string } | { kind: 'shared'; domain: string; name: string };

/** The mailbox-store owner of a domain's shared mailboxes. */
export function sharedMailboxOwner(domain: string): string {
  return `${SHARED_OWNER_LOCAL_PART}@${domain}`;
}

/** The domain whose shared mailboxes `owner` holds, or undefined for an account id. */
export function sharedOwnerDomain(owner: string): string | undefined {
  const prefix = `${SHARED_OWNER_LOCAL_PART}@`;
  return owner.startsWith(prefix) ? owner.slice(prefix.length) : undefined;
}

/**
 * A path as an administrator writes it. `defaultDomain` completes `user/bob` and shared names without
 * `@domain` (an admin's own domain over IMAP); without it they are errors.
 */
export function parseMailboxPath(text: string, defaultDomain?: string): MailboxPath {
  if (typeof text !== 'string' || text.length === 0) throw new InvalidMailboxNameError(String(text), 'empty');
  if (text === OTHER_USERS_ROOT || text.startsWith(OTHER_USERS_PREFIX)) return personalPath(text, defaultDomain);
  const at = text.lastIndexOf('@');
  const domainText = at >= 0 && !text.slice(at + 1).includes(HIERARCHY_SEPARATOR) ? text.slice(at + 1) : undefined;
  const name = domainText === undefined ? text : text.slice(0, at);
  const domain = domainText ?? defaultDomain;
  if (domain === undefined) throw new InvalidMailboxNameError(text, 'a shared mailbox needs its @domain');
  const normalized = normalizeMailboxName(name);
  // INBOX is personal (RFC 9051 §5.1): a shared mailbox never has that name, nor one below it.
  if (normalized.split(HIERARCHY_SEPARATOR)[0] === INBOX) {
    throw new InvalidMailboxNameError(text, 'a shared mailbox cannot be called INBOX');
  }
  return { kind: 'shared', domain: domainOf(domain, text), name: normalized };
}

/** The canonical spelling: `user/bob@example.com/Sent`, `news@example.com`. */
export function formatMailboxPath(path: MailboxPath): string {
  if (path.kind === 'shared') return `${path.name}@${path.domain}`;
  const root = OTHER_USERS_PREFIX + path.address;
  return path.name === INBOX ? root : root + HIERARCHY_SEPARATOR + path.name;
}

function personalPath(text: string, defaultDomain: string | undefined): MailboxPath {
  const rest = text.slice(OTHER_USERS_PREFIX.length);
  if (rest.length === 0) throw new InvalidMailboxNameError(text, 'user/ needs an account');
  const slash = rest.indexOf(HIERARCHY_SEPARATOR);
  const first = slash < 0 ? rest : rest.slice(0, slash);
  let folder = slash < 0 ? undefined : rest.slice(slash + 1);
  let address: string;
  if (first.includes('@')) {
    address = addressOf(first, text);
  } else {
    // Cyrus's virtual-domain spelling puts the domain last: user/bob/Sent@example.com.
    const at = text.lastIndexOf('@');
    const domain = at >= 0 ? text.slice(at + 1) : defaultDomain;
    if (domain === undefined) throw new InvalidMailboxNameError(text, 'user/ needs local@domain');
    if (at >= 0 && folder !== undefined) folder = folder.slice(0, folder.length - (text.length - at));
    address = addressOf(`${first}@${domain}`, text);
  }
  if (folder === undefined || folder === '') {
    if (folder === '') throw new InvalidMailboxNameError(text, 'empty hierarchy level');
    return { kind: 'personal', address, name: INBOX };
  }
  return { kind: 'personal', address, name: normalizeMailboxName(folder) };
}

function addressOf(text: string, path: string): string {
  try {
    return normalizeAccountAddress(text);
  } catch (error) {
    if (error instanceof InvalidAddressError) throw new InvalidMailboxNameError(path, error.message);
    throw error;
  }
}

function domainOf(text: string, path: string): string {
  try {
    return normalizeDomain(text);
  } catch (error) {
    if (error instanceof InvalidAddressError) throw new InvalidMailboxNameError(path, error.message);
    throw error;
  }
}
