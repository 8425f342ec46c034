/**
 * The public face of the mailbox module (design and crash safety: mail-store.ts). Everything takes a
 * MailStore from `openMailStore(metadata)`; names are UTF-8 (modified UTF-7 is the IMAP layer's job).
 *
 * How an IMAP session uses it:
 *   SELECT:  getMailboxByName → getMailboxStatus (settled UIDNEXT u and HIGHESTMODSEQ m) →
 *            listMessages({ toUid: u - 1 }) page by page to build the UID ↔ sequence map.
 *   Polling (IDLE, NOOP, between commands; works across processes): getMailbox is one read; when its
 *            `highestModseq` or `uidNext` differ from the last poll, changesSince(m) gives new and
 *            changed entries (FETCH, EXISTS) and vanished UIDs (EXPUNGE / VANISHED), plus the next m.
 *            Vanished UIDs the session never listed are to be skipped.
 *   QRESYNC / CHANGEDSINCE: changesSince(client's MODSEQ); `vanishedComplete` false means fall back
 *            to the client's known UIDs (RFC 7162 §3.2.5.2).
 *   STORE → updateFlags (per-UID MODSEQ, `failed` for MODIFIED); EXPUNGE → expungeMessages with the
 *            \Deleted UIDs; COPY / MOVE → copyMessages / moveMessages (COPYUID mapping); APPEND →
 *            appendMessage (APPENDUID); STATUS → getMailboxStatus; LIST → listMailboxes.
 * SMTP delivery: appendMessage once per recipient mailbox with the same blob key, each with a delivery
 * key (transaction id + recipient) and the account's quota limit.
 */
export {
  addBlobReferences,
  blobReferenceCount,
  releaseBlobReferences,
  releaseUnreferencedBlob,
} from './blob-references.ts';
export {
  type ChangesOptions,
  changesSince,
  getMailboxStatus,
  type MailboxStatus,
  type MessageChanges,
} from './changes.ts';
export { trimDeliveryMarkers } from './delivery-markers.ts';
export * from './errors.ts';
export { DEFAULT_SETTLE_MS, type MailStore, type MailStoreOptions, openMailStore } from './mail-store.ts';
export { getMailbox, type Mailbox, type MailboxRef } from './mailbox-record.ts';
export {
  type CreateOptions,
  createDefaultMailboxes,
  createMailbox,
  DEFAULT_MAILBOXES,
  type DeletedMailbox,
  deleteMailbox,
  getMailboxByName,
  listDeletedMailboxes,
  listExistingMailboxes,
  listMailboxes,
  listSubscriptions,
  MAX_MAILBOXES_PER_ACCOUNT,
  renameMailbox,
  subscribe,
  undeleteMailbox,
  unsubscribe,
} from './mailboxes.ts';
export type { JsonValue, MessageDetails, MessageState, SearchFields } from './message-record.ts';
export {
  type AppendOptions,
  type AppendResult,
  appendMessage,
  type CopyResult,
  copyMessages,
  type ExpungeResult,
  expungeMessages,
  type FlagChange,
  type FlagState,
  type FlagUpdateResult,
  getMessage,
  getMessageDetails,
  type ListOptions,
  listExpungedSince,
  listMessageDetails,
  listMessages,
  MAX_UIDS_PER_CHANGE,
  type MessagePage,
  moveMessages,
  type NewMessage,
  unexpungeMessages,
  updateFlags,
} from './messages.ts';
export {
  HIERARCHY_SEPARATOR,
  INBOX,
  MAX_MAILBOX_NAME_BYTES,
  normalizeMailboxName,
  SPECIAL_USES,
  type SpecialUse,
} from './names.ts';
export { getQuotaUsage, type QuotaLimit, type QuotaUsage } from './quota.ts';
export { type ReconcileOutcome, reconcileMailboxCounters, reconcileQuota } from './reconcile.ts';
export {
  type PurgeResult,
  purgeAccount,
  purgeDeletedMailbox,
  purgeExpungedMessages,
  trimChangeLog,
} from './retention.ts';
export { MAX_UID } from './schema.ts';
