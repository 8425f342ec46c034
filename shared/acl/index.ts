/**
 * Access control for mailboxes (RFC 4314) and the naming that reaches other owners' mailboxes: the one
 * module IMAP (ACL commands, rights checks, namespaces), SMTP (may anyone post to this mailbox?) and the
 * `marmot` CLI share.
 *
 *   rights.ts            the rights letters, `c`/`d` (RFC 4314 §2.1.1), SETACL's +/- modifications
 *   identifiers.ts       anyone, anonymous, local@domain, negative `-` entries
 *   access.ts            effective rights (owner, admin, entries), LISTRIGHTS, GETACL's view
 *   operation-rights.ts  which rights each operation needs (RFC 4314 §4), flag rights
 *   mailbox-acl.ts       the ACL stored on the mailbox item: SETACL, DELETEACL, inheritance on CREATE
 *   grant-index.ts       which other accounts' mailboxes an identifier was granted (for LIST)
 *   mailbox-paths.ts     `user/local@domain/...` and shared `name@domain` paths; shared-mailbox owners
 *   mailbox-owners.ts    path → the store owner (account id or shared@domain) through the directory
 *   session-names.ts     names as an IMAP session sees them: personal, user/ (other users), Shared/
 */
export {
  type Accessor,
  type AclSubject,
  ANONYMOUS_ACCESSOR,
  aclEntries,
  anyoneMayPost,
  effectiveRights,
  type ListedRights,
  listableRights,
} from './access.ts';
export * from './errors.ts';
export { type GrantedMailbox, listGrantedMailboxes, MAX_GRANTS_LISTED } from './grant-index.ts';
export {
  ANONYMOUS,
  ANYONE,
  formatIdentifier,
  type Identifier,
  NEGATIVE_PREFIX,
  normalizeIdentifier,
  parseIdentifier,
} from './identifiers.ts';
export {
  type AccountLookup,
  deleteMailboxRights,
  inheritAcl,
  MAX_ACL_ENTRIES,
  setMailboxRights,
  TooManyAclEntriesError,
} from './mailbox-acl.ts';
export { type MailboxOwner, type OwnerDirectory, resolveMailboxOwner } from './mailbox-owners.ts';
export {
  formatMailboxPath,
  type MailboxPath,
  OTHER_USERS_PREFIX,
  OTHER_USERS_ROOT,
  parseMailboxPath,
  sharedMailboxOwner,
  sharedOwnerDomain,
} from './mailbox-paths.ts';
export {
  allows,
  DELETED_FLAG,
  flagRight,
  type MailboxOperation,
  MYRIGHTS_ANY_OF,
  mayAskMyRights,
  mayChangeAnyFlag,
  OPERATION_RIGHTS,
  permittedFlags,
  requireOperation,
  SEEN_FLAG,
} from './operation-rights.ts';
export {
  ALL_RIGHTS,
  CREATE_GROUP,
  DELETE_GROUP,
  formatRights,
  hasRight,
  MAX_RIGHTS_LENGTH,
  modifyRights,
  parseRights,
  parseRightsModification,
  type Right,
  type RightsModification,
  subtractRights,
  unionRights,
} from './rights.ts';
export {
  isNamespaceRoot,
  resolveSessionName,
  type SessionMailbox,
  type SessionUser,
  SHARED_PREFIX,
  SHARED_ROOT,
  sessionNameOf,
} from './session-names.ts';
