/**
 * The directory's errors. Two families, so a boundary can map them without knowing each one:
 * DirectoryInputError (the request itself is malformed: fix the input) and DirectoryStateError (the
 * request is well-formed but the directory's state refuses it: not found, exists, not empty).
 * Invalid addresses and domains raise the address module's InvalidAddressError, an input error too.
 */

export class DirectoryInputError extends Error {
  override name = 'DirectoryInputError';
}

export class DirectoryStateError extends Error {
  override name = 'DirectoryStateError';
}

export class InvalidPasswordError extends DirectoryInputError {
  override name = 'InvalidPasswordError';
}

export class InvalidSettingError extends DirectoryInputError {
  override name = 'InvalidSettingError';
}

export class InvalidNetworkError extends DirectoryInputError {
  override name = 'InvalidNetworkError';
}

export class DomainNotFoundError extends DirectoryStateError {
  override name = 'DomainNotFoundError';
  constructor(readonly domain: string) {
    super(`no domain ${domain}`);
  }
}

export class DomainExistsError extends DirectoryStateError {
  override name = 'DomainExistsError';
  constructor(readonly domain: string) {
    super(`domain ${domain} already exists`);
  }
}

export class DomainBeingRemovedError extends DirectoryStateError {
  override name = 'DomainBeingRemovedError';
  constructor(readonly domain: string) {
    super(`domain ${domain} is being removed; a forced remove finishes it`);
  }
}

export class DomainNotEmptyError extends DirectoryStateError {
  override name = 'DomainNotEmptyError';
}

/** The address is taken, by an account or by an alias: they share one namespace. */
export class AddressExistsError extends DirectoryStateError {
  override name = 'AddressExistsError';
  constructor(
    readonly address: string,
    readonly existingKind: 'account' | 'alias',
  ) {
    super(`${address} already exists (as ${existingKind === 'account' ? 'an account' : 'an alias'})`);
  }
}

export class AccountNotFoundError extends DirectoryStateError {
  override name = 'AccountNotFoundError';
  constructor(
    readonly address: string,
    isAlias = false,
  ) {
    super(isAlias ? `no account ${address} (it is an alias)` : `no account ${address}`);
  }
}

export class AliasNotFoundError extends DirectoryStateError {
  override name = 'AliasNotFoundError';
  constructor(
    readonly address: string,
    isAccount = false,
  ) {
    super(isAccount ? `no alias ${address} (it is an account)` : `no alias ${address}`);
  }
}

/** Another writer kept changing the same item; the operation can simply be retried. */
export class ConcurrentChangeError extends DirectoryStateError {
  override name = 'ConcurrentChangeError';
}

export class RelayHostExistsError extends DirectoryStateError {
  override name = 'RelayHostExistsError';
  constructor(readonly network: string) {
    super(`relay network ${network} is already listed`);
  }
}

export class RelayHostNotFoundError extends DirectoryStateError {
  override name = 'RelayHostNotFoundError';
  constructor(readonly network: string) {
    super(`relay network ${network} is not listed`);
  }
}

/** An item written by a newer program: this one must not interpret (or overwrite) it. */
export class UnsupportedSchemaError extends DirectoryStateError {
  override name = 'UnsupportedSchemaError';
  constructor(
    readonly pk: string,
    readonly sk: string,
    readonly version: unknown,
  ) {
    super(`directory item ${pk} / ${sk} has schema version ${String(version)}, newer than this program understands`);
  }
}

/**
 * The directory was opened without a key vault, and the operation needs one: setting a password (the
 * legacy verifiers are sealed with it) or serving SASL. A wiring mistake, not bad input.
 */
export class KeyVaultRequiredError extends Error {
  override name = 'KeyVaultRequiredError';
  constructor(operation: string) {
    super(`${operation} needs a key vault; this directory was opened without one`);
  }
}

/** A directory item this program wrote cannot be read back: the store's data is damaged. */
export class CorruptItemError extends DirectoryStateError {
  override name = 'CorruptItemError';
  constructor(
    readonly pk: string,
    readonly sk: string,
    detail: string,
  ) {
    super(`directory item ${pk} / ${sk} is damaged: ${detail}`);
  }
}
