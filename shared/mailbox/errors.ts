/**
 * Domain errors of the mailbox module. Each carries a stable `code`, so a protocol session maps them to
 * its replies in one place (IMAP `NO [NONEXISTENT]`, `NO [ALREADYEXISTS]`, `NO [OVERQUOTA]`; SMTP
 * `552 5.2.2`, `451 4.3.0`) without matching on messages.
 */

export type MailboxErrorCode =
  | 'mailbox-not-found'
  | 'mailbox-exists'
  | 'invalid-mailbox-name'
  | 'mailbox-operation-not-allowed'
  | 'too-many-mailboxes'
  | 'over-quota'
  | 'invalid-message'
  | 'invalid-flag'
  | 'uid-space-exhausted'
  | 'blob-gone'
  | 'delivery-in-progress'
  | 'write-deadline-exceeded'
  | 'concurrent-modification';

export abstract class MailboxError extends Error {
  abstract readonly code: MailboxErrorCode;
}

/** No visible mailbox has this name (or id); deleted mailboxes count as absent. */
export class MailboxNotFoundError extends MailboxError {
  readonly code = 'mailbox-not-found';
  override name = 'MailboxNotFoundError';
  constructor(readonly mailbox: string) {
    super(`no mailbox ${JSON.stringify(mailbox)}`);
  }
}

export class MailboxExistsError extends MailboxError {
  readonly code = 'mailbox-exists';
  override name = 'MailboxExistsError';
  constructor(readonly mailbox: string) {
    super(`mailbox ${JSON.stringify(mailbox)} already exists`);
  }
}

export class InvalidMailboxNameError extends MailboxError {
  readonly code = 'invalid-mailbox-name';
  override name = 'InvalidMailboxNameError';
  constructor(
    readonly mailbox: string,
    readonly reason: string,
  ) {
    super(`invalid mailbox name ${JSON.stringify(mailbox)}: ${reason}`);
  }
}

/** A valid name, but the operation is not allowed on it (deleting INBOX, renaming into itself). */
export class MailboxOperationNotAllowedError extends MailboxError {
  readonly code = 'mailbox-operation-not-allowed';
  override name = 'MailboxOperationNotAllowedError';
}

export class TooManyMailboxesError extends MailboxError {
  readonly code = 'too-many-mailboxes';
  override name = 'TooManyMailboxesError';
  constructor(
    readonly account: string,
    readonly limit: number,
  ) {
    super(`account ${account} already has ${limit} mailboxes`);
  }
}

export type QuotaResource = 'storage' | 'messages';

/** The write would take the account over the limit the caller supplied (RFC 9208 resources). */
export class OverQuotaError extends MailboxError {
  readonly code = 'over-quota';
  override name = 'OverQuotaError';
  constructor(
    readonly account: string,
    readonly resource: QuotaResource,
    readonly limit: number,
  ) {
    super(`account ${account} would exceed its ${resource} quota of ${limit}`);
  }
}

/** A message description the caller passed is malformed (size, dates, blob key, oversized JSON). */
export class InvalidMessageError extends MailboxError {
  readonly code = 'invalid-message';
  override name = 'InvalidMessageError';
}

export class InvalidFlagError extends MailboxError {
  readonly code = 'invalid-flag';
  override name = 'InvalidFlagError';
  constructor(
    readonly flag: string,
    readonly reason: string,
  ) {
    super(`invalid flag ${JSON.stringify(flag)}: ${reason}`);
  }
}

/** UIDs are 32-bit (RFC 9051 §2.3.1.1); a mailbox that used them all needs a new UIDVALIDITY. */
export class UidSpaceExhaustedError extends MailboxError {
  readonly code = 'uid-space-exhausted';
  override name = 'UidSpaceExhaustedError';
  constructor(readonly mailboxId: string) {
    super(`mailbox ${mailboxId} has used all UIDs`);
  }
}

/** The blob of a message being copied or restored is no longer referenced (the expire job took it). */
export class BlobGoneError extends MailboxError {
  readonly code = 'blob-gone';
  override name = 'BlobGoneError';
  constructor(readonly blobKey: string) {
    super(`blob ${blobKey} is no longer referenced`);
  }
}

/** Another attempt with the same delivery key is still running; the sender should retry later (451). */
export class DeliveryInProgressError extends MailboxError {
  readonly code = 'delivery-in-progress';
  override name = 'DeliveryInProgressError';
  constructor(readonly deliveryKey: string) {
    super(`delivery ${deliveryKey} is in progress elsewhere`);
  }
}

/**
 * A write took so long that readers may already have given up on it (see "Settling" in
 * mail-store.ts); it was abandoned rather than landing late. Nothing visible was written; retry.
 */
export class WriteDeadlineExceededError extends MailboxError {
  readonly code = 'write-deadline-exceeded';
  override name = 'WriteDeadlineExceededError';
  constructor(readonly mailboxId: string) {
    super(`write to mailbox ${mailboxId} exceeded its deadline`);
  }
}

/** Optimistic retries ran out because other writers kept changing the same items; retry later. */
export class ConcurrentModificationError extends MailboxError {
  readonly code = 'concurrent-modification';
  override name = 'ConcurrentModificationError';
}
