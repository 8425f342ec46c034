/**
 * The DKIM module's errors, in the directory's two families so a boundary maps them without knowing
 * each one: DkimInputError (the request is malformed: fix it) and DkimStateError (well-formed, but the
 * keys' state refuses it: not found, exists, still signing, a rotation already under way).
 */

export class DkimInputError extends Error {
  override name = 'DkimInputError';
}

export class DkimStateError extends Error {
  override name = 'DkimStateError';
}

export class InvalidSelectorError extends DkimInputError {
  override name = 'InvalidSelectorError';
}

export class InvalidAlgorithmError extends DkimInputError {
  override name = 'InvalidAlgorithmError';
}

export class DkimKeyNotFoundError extends DkimStateError {
  override name = 'DkimKeyNotFoundError';
  constructor(
    readonly domain: string,
    readonly selector?: string,
  ) {
    super(selector === undefined ? `no DKIM key for ${domain}` : `no DKIM key ${selector} for ${domain}`);
  }
}

export class DkimKeyExistsError extends DkimStateError {
  override name = 'DkimKeyExistsError';
  constructor(
    readonly domain: string,
    readonly selector: string,
  ) {
    super(`DKIM key ${selector} for ${domain} already exists`);
  }
}

/** The key signs the domain's mail: retire it (or activate another) before deleting it. */
export class DkimKeyActiveError extends DkimStateError {
  override name = 'DkimKeyActiveError';
  constructor(
    readonly domain: string,
    readonly selector: string,
  ) {
    super(`DKIM key ${selector} is the active key of ${domain}; retire it or activate another first`);
  }
}

export class DkimRotationPendingError extends DkimStateError {
  override name = 'DkimRotationPendingError';
  constructor(
    readonly domain: string,
    readonly selector: string,
    readonly activateAt: Date,
  ) {
    super(
      `a rotation of ${domain} is already under way: key ${selector} becomes active at ${activateAt.toISOString()}`,
    );
  }
}

/** A stored key that cannot be used: malformed record, or its private key does not open. */
export class DkimKeyUnusableError extends DkimStateError {
  override name = 'DkimKeyUnusableError';
}
