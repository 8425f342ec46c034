/**
 * The contracts of the pipeline steps the listeners invoke (scan, filter): request and result shapes,
 * and the checks each side applies to what it receives. Requests cross the invoker as JSON; a step
 * trusts nothing in them beyond these checks, and the pipeline trusts nothing in a result beyond them
 * (a misbehaving step is a failed step: 451, nothing stored).
 */

export const SCAN_FUNCTION = 'scan';
export const FILTER_FUNCTION = 'filter';

/** Bounds on what a step accepts, so a malformed request cannot make it do unbounded work. */
const MAX_STEP_RECIPIENTS = 1000;
const MAX_STEP_STRING = 1024;

export interface ScanRequest {
  /** The spooled message (with our trace headers on top) in the blob store. */
  blobKey: string;
  size: number;
  /** Envelope sender; '' for the null sender. */
  mailFrom: string;
  recipients: string[];
  client: { address: string; helo: string };
}

export type ScanVerdict = { verdict: 'clean' } | { verdict: 'reject'; reason: string };

export interface FilterRecipient {
  /** The account (or shared-mailbox owner) id whose mailboxes receive the message. */
  owner: string;
  /** The mailbox a plus address asked for (`user+folder@`); absent for plain addresses. */
  requestedMailbox?: string;
}

export interface FilterRequest {
  blobKey: string;
  recipients: FilterRecipient[];
}

/** Where each recipient's copy goes, in the order of the request's recipients. */
export interface FilterResult {
  placements: Array<{ mailbox: string }>;
}

export class StepContractError extends Error {
  override name = 'StepContractError';
}

export function parseScanRequest(value: unknown): ScanRequest {
  const object = record(value, 'scan request');
  const client = record(object.client, 'client');
  return {
    blobKey: text(object.blobKey, 'blobKey'),
    size: count(object.size, 'size'),
    mailFrom: text(object.mailFrom, 'mailFrom', true),
    recipients: list(object.recipients, 'recipients').map((entry) => text(entry, 'recipient')),
    client: { address: text(client.address, 'client.address'), helo: text(client.helo, 'client.helo', true) },
  };
}

export function parseScanVerdict(value: unknown): ScanVerdict {
  const object = record(value, 'scan verdict');
  if (object.verdict === 'clean') return { verdict: 'clean' };
  if (object.verdict === 'reject') return { verdict: 'reject', reason: text(object.reason, 'reason') };
  throw new StepContractError(`unknown scan verdict ${JSON.stringify(object.verdict)?.slice(0, 40)}`);
}

export function parseFilterRequest(value: unknown): FilterRequest {
  const object = record(value, 'filter request');
  return {
    blobKey: text(object.blobKey, 'blobKey'),
    recipients: list(object.recipients, 'recipients').map((entry) => {
      const recipient = record(entry, 'recipient');
      const owner = text(recipient.owner, 'owner');
      if (recipient.requestedMailbox === undefined || recipient.requestedMailbox === null) return { owner };
      return { owner, requestedMailbox: text(recipient.requestedMailbox, 'requestedMailbox') };
    }),
  };
}

export function parseFilterResult(value: unknown, expected: number): FilterResult {
  const object = record(value, 'filter result');
  const placements = list(object.placements, 'placements').map((entry) => ({
    mailbox: text(record(entry, 'placement').mailbox, 'mailbox'),
  }));
  if (placements.length !== expected) {
    throw new StepContractError(`filter placed ${placements.length} recipients, not ${expected}`);
  }
  return { placements };
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new StepContractError(`${what} is not an object`);
  }
  return value as Record<string, unknown>;
}

function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new StepContractError(`${what} is not a list`);
  if (value.length > MAX_STEP_RECIPIENTS) throw new StepContractError(`${what} has more than ${MAX_STEP_RECIPIENTS}`);
  return value;
}

function text(value: unknown, what: string, emptyAllowed = false): string {
  if (typeof value !== 'string' || (!emptyAllowed && value === '') || value.length > MAX_STEP_STRING) {
    throw new StepContractError(`${what} is not a string of 1 to ${MAX_STEP_STRING} characters`);
  }
  return value;
}

function count(value: unknown, what: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw new StepContractError(`${what} is not a count`);
  return value as number;
}
