/** Errors the store ports raise; every adapter maps its own failures onto these. */

export class ConditionFailedError extends Error {
  constructor(
    readonly pk: string,
    readonly sk: string,
  ) {
    super(`condition failed on ${pk} / ${sk}`);
    this.name = 'ConditionFailedError';
  }
}

export class BlobNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`no blob ${key}`);
    this.name = 'BlobNotFoundError';
  }
}
