/**
 * The expire job's durable state: one item (`expire` / `run`) holding where the current run is (its
 * cursor), what it has done so far, when the last run completed, how far the dated blob sweeps got, and
 * a lease so only one runner (the Lambda, the local timer, `marmot expire`) works at a time.
 *
 * Resumability: the runner saves the cursor after every unit of work (an account, a scanned item, a day
 * of blobs); every unit is idempotent, so a runner killed mid-unit (a Lambda timeout) loses nothing, and
 * the next invocation redoes that unit and goes on from the cursor.
 *
 * The lease: a runner takes it with an optimistic write (on the `version` it read) when it is free or has
 * run out, and every save is conditioned on still holding it. A runner that lost it (it stalled past the
 * lease and another took over) stops with LeaseLostError instead of overwriting the newer cursor.
 */
import { randomUUID } from 'node:crypto';
import { ConditionFailedError } from '../store/errors.ts';
import type { AttributeValue, Item, MetadataStore } from '../store/metadata.ts';

export const STATE_PK = 'expire';
export const STATE_SK = 'run';
export const STATE_SCHEMA_VERSION = 1;
/** How long a lease lasts without being renewed; every save renews it. Longer than one unit of work. */
export const LEASE_MS = 15 * 60_000;

export type Phase = 'directory' | 'orphans' | 'blob-refs' | 'greylist' | 'unreferenced-blobs' | 'quarantine';
export const PHASES: readonly Phase[] = [
  'directory',
  'orphans',
  'blob-refs',
  'greylist',
  'unreferenced-blobs',
  'quarantine',
];

export interface ExpireTotals {
  /** Accounts and shared-mailbox owners maintained. */
  accounts: number;
  mailboxes: number;
  /** Expunged messages purged past retention. */
  messagesPurged: number;
  /** Folders purged from DELETED/ past retention. */
  mailboxesPurged: number;
  /** Accounts no longer in the directory, first seen (their mail is purged a retention period later). */
  accountsOrphaned: number;
  /** Accounts no longer in the directory whose mail was purged. */
  accountsPurged: number;
  blobsDeleted: number;
  /** Mailbox counters and quota usages that reconciliation corrected. */
  countersRepaired: number;
  changeLogTrimmed: number;
  deliveryMarkersTrimmed: number;
  greylistDropped: number;
  quarantineDropped: number;
}

export function emptyTotals(): ExpireTotals {
  return {
    accounts: 0,
    mailboxes: 0,
    messagesPurged: 0,
    mailboxesPurged: 0,
    accountsOrphaned: 0,
    accountsPurged: 0,
    blobsDeleted: 0,
    countersRepaired: 0,
    changeLogTrimmed: 0,
    deliveryMarkersTrimmed: 0,
    greylistDropped: 0,
    quarantineDropped: 0,
  };
}

/** Where a run is. Only the fields of its phase are set. */
export interface RunCursor {
  runId: string;
  startedAt: number;
  phase: Phase;
  /** directory: the domain being walked, and the last owner finished in it ('' = its shared owner). */
  domain?: string;
  afterOwner?: string;
  /** orphans, blob-refs: the scan cursor of the page being worked on, and its items already done. */
  scanCursor?: string;
  done?: string[];
  /** greylist: the shard being worked on. */
  shard?: number;
  totals: ExpireTotals;
}

export interface RunState {
  cursor?: RunCursor;
  lastCompletedAt?: number;
  lastRunId?: string;
  lastTotals?: ExpireTotals;
  /** The dated blob sweeps: the last day swept completely (YYYY-MM-DD), and the list cursor within the next. */
  unreferencedSweptThrough?: string;
  unreferencedListCursor?: string;
  quarantineSweptThrough?: string;
  quarantineListCursor?: string;
}

export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
  constructor() {
    super('another expire runner took over the run');
  }
}

/** A runner's hold on the state item. */
export class RunLease {
  private constructor(
    private readonly metadata: MetadataStore,
    private readonly clock: () => number,
    readonly owner: string,
    private version: number,
    private current: RunState,
  ) {}

  /** Takes the lease, or returns undefined when another runner holds it. */
  static async acquire(metadata: MetadataStore, clock: () => number): Promise<RunLease | undefined> {
    const owner = randomUUID();
    const item = await metadata.get(STATE_PK, STATE_SK);
    const now = clock();
    if (item && typeof item.leaseUntil === 'number' && item.leaseUntil > now) return undefined;
    const version = typeof item?.version === 'number' ? item.version : 0;
    try {
      await metadata.update(STATE_PK, STATE_SK, {
        set: { v: STATE_SCHEMA_VERSION, leaseOwner: owner, leaseUntil: now + LEASE_MS, version: version + 1 },
        conditions: !item
          ? [{ attribute: 'pk', op: 'notExists' }]
          : typeof item.version === 'number'
            ? [{ attribute: 'version', op: '=', value: version }]
            : [{ attribute: 'version', op: 'notExists' }],
      });
    } catch (error) {
      if (error instanceof ConditionFailedError) return undefined;
      throw error;
    }
    return new RunLease(metadata, clock, owner, version + 1, stateOf(item));
  }

  /** The state as of the last save. */
  get state(): RunState {
    return this.current;
  }

  /** Writes the state and renews the lease; LeaseLostError when another runner took it. */
  async save(state: RunState): Promise<void> {
    const next = this.version + 1;
    try {
      await this.metadata.update(STATE_PK, STATE_SK, {
        // Through JSON: drops undefined fields, which DynamoDB refuses.
        set: {
          state: JSON.parse(JSON.stringify(state)) as AttributeValue,
          leaseUntil: this.clock() + LEASE_MS,
          version: next,
        },
        conditions: [
          { attribute: 'leaseOwner', op: '=', value: this.owner },
          { attribute: 'version', op: '=', value: this.version },
        ],
      });
    } catch (error) {
      if (error instanceof ConditionFailedError) throw new LeaseLostError();
      throw error;
    }
    this.version = next;
    this.current = state;
  }

  /** Gives the lease up (the state stays); a lost lease is not an error here. */
  async release(): Promise<void> {
    try {
      await this.metadata.update(STATE_PK, STATE_SK, {
        set: { leaseUntil: 0 },
        conditions: [{ attribute: 'leaseOwner', op: '=', value: this.owner }],
      });
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
    }
  }
}

/** The saved state, without taking the lease (for dry runs and status). */
export async function readRunState(metadata: MetadataStore): Promise<RunState> {
  return stateOf(await metadata.get(STATE_PK, STATE_SK));
}

function stateOf(item: Item | undefined): RunState {
  if (!item || item.state === undefined) return {};
  if (item.v !== STATE_SCHEMA_VERSION) throw new Error(`expire state has schema version ${String(item.v)}`);
  return item.state as unknown as RunState;
}
