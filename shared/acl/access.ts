/**
 * Who may do what on a mailbox: the effective rights of an accessor (RFC 4314 §2, MYRIGHTS) and what
 * LISTRIGHTS reports. The rules, in order:
 *   1. an administrator (the directory's `admin` flag) has every right on every mailbox;
 *   2. the owner of a personal mailbox has every right on it, which no ACL entry can take away (so an
 *      owner can never lock themselves out; RFC 4314 §2 lets a server force rights on an identifier);
 *   3. anyone else gets the union of the entries that match them (`anyone`; `anonymous` when not logged
 *      in; their address) minus the union of the matching negative entries (`-anyone`, `-local@domain`).
 * An address entry only matches the account it was granted to (its id is recorded with the grant), so
 * an account removed and created again under the same address does not inherit old grants.
 */
import { ANONYMOUS, ANYONE, NEGATIVE_PREFIX, parseIdentifier } from './identifiers.ts';
import { ALL_RIGHTS, formatRights, subtractRights, unionRights } from './rights.ts';

/** The ACL-relevant part of a mailbox (shared/mailbox's Mailbox carries these). */
export interface AclSubject {
  /** The owning account id, or a shared-mailbox owner (shared/acl/mailbox-names.ts). */
  account: string;
  acl: Record<string, string>;
  aclAccountIds: Record<string, string>;
}

/** The identity a session or an operator acts as. */
export type Accessor =
  | { kind: 'account'; id: string; address: string; admin: boolean }
  /** Not logged in (SMTP senders, RFC 4314 `anonymous`). */
  | { kind: 'anonymous' };

export const ANONYMOUS_ACCESSOR: Accessor = { kind: 'anonymous' };

/** The canonical rights the accessor holds on the mailbox (without the virtual `c`/`d`). */
export function effectiveRights(mailbox: AclSubject, accessor: Accessor): string {
  if (accessor.kind === 'account' && (accessor.admin || accessor.id === mailbox.account)) return ALL_RIGHTS;
  const names = accessor.kind === 'account' ? [ANYONE, accessor.address] : [ANYONE, ANONYMOUS];
  const applies = (name: string) =>
    accessor.kind !== 'account' ||
    name === ANYONE ||
    mailbox.aclAccountIds[name] === undefined ||
    mailbox.aclAccountIds[name] === accessor.id;
  const granted = names.filter(applies).map((name) => mailbox.acl[name] ?? '');
  const denied = names.filter(applies).map((name) => mailbox.acl[NEGATIVE_PREFIX + name] ?? '');
  return subtractRights(unionRights(...granted), unionRights(...denied));
}

/** Whether the ACL lets mail be posted to the mailbox by anyone (plus-addressing, `+name/` delivery). */
export function anyoneMayPost(mailbox: AclSubject): boolean {
  return effectiveRights(mailbox, ANONYMOUS_ACCESSOR).includes('p');
}

export interface ListedRights {
  /** Rights the identifier always has on this mailbox. */
  required: string;
  /** Rights that can be granted, each on its own (none of ours are tied together). */
  optional: string[];
}

/**
 * LISTRIGHTS (RFC 4314 §3.4): the owner always has every right; anyone else can be granted each right
 * on its own, and the virtual `c` and `d` are listed too (§2.1.1).
 */
export function listableRights(identifier: string, ownerAddress: string | undefined): ListedRights {
  const parsed = parseIdentifier(identifier);
  if (parsed.kind === 'account' && !parsed.negative && parsed.address === ownerAddress) {
    return { required: formatRights(ALL_RIGHTS), optional: [] };
  }
  return { required: '', optional: [...ALL_RIGHTS, 'c', 'd'] };
}

/** The ACL as GETACL shows it: the owner first (with every right), then the stored entries. */
export function aclEntries(
  mailbox: AclSubject,
  ownerAddress: string | undefined,
): { identifier: string; rights: string }[] {
  const entries: { identifier: string; rights: string }[] = [];
  if (ownerAddress !== undefined) entries.push({ identifier: ownerAddress, rights: formatRights(ALL_RIGHTS) });
  for (const identifier of Object.keys(mailbox.acl).sort()) {
    if (identifier === ownerAddress) continue;
    entries.push({ identifier, rights: formatRights(mailbox.acl[identifier]!) });
  }
  return entries;
}
