/**
 * Errors of the ACL module, each with a stable `code`, so IMAP maps them to its replies in one place
 * (`BAD` for malformed input, `NO [NOPERM]` for a missing right, `NO` otherwise) and the CLI to its exit
 * codes (malformed input is a usage error).
 */

export type AclErrorCode =
  | 'invalid-rights'
  | 'invalid-identifier'
  | 'unknown-identifier'
  | 'owner-rights'
  | 'no-permission';

export abstract class AclError extends Error {
  abstract readonly code: AclErrorCode;
  /** Whether the caller sent something malformed (as opposed to something not possible now). */
  get isInputError(): boolean {
    return this.code === 'invalid-rights' || this.code === 'invalid-identifier';
  }
}

/** A right that RFC 4314 does not define, or a rights string too long (RFC 4314 §3.1: BAD). */
export class InvalidRightsError extends AclError {
  readonly code = 'invalid-rights';
  override name = 'InvalidRightsError';
}

/** Not `anyone`, `anonymous` or an account address (optionally with a leading `-`). */
export class InvalidIdentifierError extends AclError {
  readonly code = 'invalid-identifier';
  override name = 'InvalidIdentifierError';
}

/** A well-formed address that is no account: refused, so a typo never grants rights to nobody. */
export class UnknownIdentifierError extends AclError {
  readonly code = 'unknown-identifier';
  override name = 'UnknownIdentifierError';
  constructor(readonly identifier: string) {
    super(`no account ${identifier}`);
  }
}

/** The owner of a mailbox always has every right; an entry for them would mean nothing. */
export class OwnerRightsError extends AclError {
  readonly code = 'owner-rights';
  override name = 'OwnerRightsError';
  constructor(readonly identifier: string) {
    super(`${identifier} owns the mailbox and always has every right`);
  }
}

/** The accessor lacks the right the operation needs (RFC 4314 §4). */
export class NoPermissionError extends AclError {
  readonly code = 'no-permission';
  override name = 'NoPermissionError';
  constructor(
    readonly right: string,
    readonly mailbox: string,
  ) {
    super(`the "${right}" right on ${mailbox} is needed`);
  }
}
