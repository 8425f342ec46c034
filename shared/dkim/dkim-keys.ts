/**
 * DKIM keys per domain in the metadata store, with their life cycle:
 *
 *   published ──(activate, or its activateAt passed)──▶ active ──(another key activated, or retire)──▶
 *   retired (still in DNS for RETIRED_KEY_KEPT_MS, so mail signed just before the switch still verifies)
 *   ──(deleteAt passed)──▶ deleted
 *
 * A staged rotation (`rotate`) creates a published key with `activateAt = now + delay`; the expire job's
 * nightly run calls `advanceDkimRotations`, which activates due keys (optionally only once DNS serves
 * them), retires the keys they replace and deletes retired keys past their time. Operators who rotate
 * quarterly run `marmot dkim rotate <domain>`, publish the printed record, and nothing else.
 *
 * Layout: pk `dkim#<domain>` (A-label), sk `key#<selector>`; the private key is a key-vault envelope whose
 * context names the domain and selector, so an envelope copied onto another key record does not open.
 *
 * No transactions: activation writes the new key first, then retires the older active keys. "The newest
 * activation wins" is the rule everywhere: the signer picks the active key activated last, activation only
 * retires keys activated before it (so two concurrent activations cannot retire each other), and the
 * nightly run retires any leftover older active key a crash left behind.
 *
 * Trusts the metadata store; checks names and algorithms it is given.
 */
import { normalizeDomain } from '../address/address.ts';
import { Directory } from '../directory/directory.ts';
import { DomainNotFoundError } from '../directory/errors.ts';
import type { KeyVault } from '../keyvault/key-vault.ts';
import { ConditionFailedError } from '../store/errors.ts';
import type { Item, MetadataStore } from '../store/metadata.ts';
import { checkDkimRecord, type DkimDnsCheck, type TxtResolver } from './dns-check.ts';
import { normalizeSelector } from './dns-record.ts';
import {
  DkimKeyActiveError,
  DkimKeyExistsError,
  DkimKeyNotFoundError,
  DkimKeyUnusableError,
  DkimRotationPendingError,
  DkimStateError,
} from './errors.ts';
import {
  DEFAULT_DKIM_ALGORITHM,
  DKIM_ALGORITHMS,
  type DkimAlgorithm,
  type DkimKeyType,
  generateDkimKeyPair,
  keyTypeOf,
} from './key-generation.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
/** How long a retired key stays published (and stored) before it is deleted. */
export const RETIRED_KEY_KEPT_MS = 7 * DAY_MS;
/** Default wait between publishing a rotated key and signing with it: time for DNS to serve it everywhere. */
export const DEFAULT_ACTIVATION_DELAY_MS = 3 * DAY_MS;
/** Longest activation delay `rotate` accepts. */
export const MAX_ACTIVATION_DELAY_MS = 90 * DAY_MS;
/** Keys one domain may hold at once (published, active and retired together). */
export const MAX_KEYS_PER_DOMAIN = 16;

const DKIM_PK_PREFIX = 'dkim#';
const KEY_SK_PREFIX = 'key#';
const SCHEMA_VERSION = 1;
/** What the vault's context says the envelope is for. */
const VAULT_PURPOSE = 'dkim-private-key';
/** Items read per store page when walking every domain's keys. */
const SCAN_PAGE = 500;

export type DkimKeyState = 'published' | 'active' | 'retired';

export interface DkimKey {
  /** A-label form. */
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  keyType: DkimKeyType;
  /** The DNS record's `p=` value. */
  publicKey: string;
  state: DkimKeyState;
  createdAt: Date;
  /** A published key of a staged rotation becomes active at this time. */
  activateAt?: Date;
  activatedAt?: Date;
  retiredAt?: Date;
  /** A retired key is deleted at this time. */
  deleteAt?: Date;
}

/** The private half, opened, for the signer only. */
export interface SigningKey {
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  privateKeyPem: string;
}

export interface CreateKeyOptions {
  selector?: string;
  algorithm?: DkimAlgorithm;
  now?: Date;
}

export interface RotateOptions extends CreateKeyOptions {
  /** Wait between publishing the new key and signing with it (default DEFAULT_ACTIVATION_DELAY_MS). */
  activationDelayMs?: number;
}

export class DkimKeys {
  private readonly directory: Directory;

  constructor(
    private readonly metadata: MetadataStore,
    private readonly vault: KeyVault,
  ) {
    this.directory = new Directory(metadata);
  }

  /** A new key in state `published`: the operator publishes its record, then activates it. */
  async create(domainName: string, options: CreateKeyOptions = {}): Promise<DkimKey> {
    return this.createKey(domainName, options, undefined);
  }

  /**
   * Starts a staged rotation: a new key (by default of the active key's algorithm) that becomes active
   * after the delay, when the nightly run next looks. Refused while another rotation is pending.
   */
  async rotate(domainName: string, options: RotateOptions = {}): Promise<DkimKey> {
    const domain = normalizeDomain(domainName);
    const now = options.now ?? new Date();
    const delay = options.activationDelayMs ?? DEFAULT_ACTIVATION_DELAY_MS;
    if (!Number.isSafeInteger(delay) || delay < 0 || delay > MAX_ACTIVATION_DELAY_MS) {
      throw new RangeError(`the activation delay must be 0 to ${MAX_ACTIVATION_DELAY_MS / DAY_MS} days`);
    }
    const keys = await readDomainKeys(this.metadata, domain);
    const pending = keys.find((key) => key.state === 'published' && key.activateAt !== undefined);
    if (pending?.activateAt) throw new DkimRotationPendingError(domain, pending.selector, pending.activateAt);
    const algorithm = options.algorithm ?? newestActive(keys)?.algorithm ?? DEFAULT_DKIM_ALGORITHM;
    return this.createKey(domain, { ...options, algorithm, now }, new Date(now.getTime() + delay));
  }

  async list(domainName?: string): Promise<DkimKey[]> {
    if (domainName !== undefined) return readDomainKeys(this.metadata, normalizeDomain(domainName));
    const keys: DkimKey[] = [];
    for await (const domainKeys of eachDomainKeys(this.metadata)) keys.push(...domainKeys);
    return keys.sort((a, b) => compare(a.domain, b.domain) || a.createdAt.getTime() - b.createdAt.getTime());
  }

  async get(domainName: string, selectorName: string): Promise<DkimKey> {
    const domain = normalizeDomain(domainName);
    const selector = normalizeSelector(selectorName);
    const item = await this.metadata.get(domainPk(domain), keySk(selector));
    if (!item) throw new DkimKeyNotFoundError(domain, selector);
    return decodeKey(item);
  }

  /** Makes the key the domain's signing key now; the key it replaces is retired. */
  async activate(domainName: string, selectorName: string, now = new Date()): Promise<{ retired: string[] }> {
    const domain = normalizeDomain(domainName);
    const selector = normalizeSelector(selectorName);
    return activateKey(this.metadata, domain, selector, now);
  }

  /** Stops signing with the key (or cancels its pending activation); it stays published for a week. */
  async retire(domainName: string, selectorName: string, now = new Date()): Promise<DkimKey> {
    const domain = normalizeDomain(domainName);
    const selector = normalizeSelector(selectorName);
    try {
      const item = await this.metadata.update(domainPk(domain), keySk(selector), {
        set: { state: 'retired', retiredAt: now.getTime(), deleteAt: now.getTime() + RETIRED_KEY_KEPT_MS },
        remove: ['activateAt'],
        conditions: [{ attribute: 'pk', op: 'exists' }],
      });
      return decodeKey(item);
    } catch (error) {
      if (error instanceof ConditionFailedError) throw new DkimKeyNotFoundError(domain, selector);
      throw error;
    }
  }

  /** Removes the key now. The active key is refused: retire it or activate another first. */
  async delete(domainName: string, selectorName: string): Promise<void> {
    const domain = normalizeDomain(domainName);
    const selector = normalizeSelector(selectorName);
    const key = await this.get(domain, selector);
    if (key.state === 'active') throw new DkimKeyActiveError(domain, selector);
    try {
      await this.metadata.delete(domainPk(domain), keySk(selector), [
        { attribute: 'state', op: '<>', value: 'active' },
      ]);
    } catch (error) {
      if (error instanceof ConditionFailedError) throw new DkimKeyActiveError(domain, selector);
      throw error;
    }
  }

  /** The key the domain signs with (the active key activated last), opened; undefined when there is none. */
  async signingKey(domainName: string): Promise<SigningKey | undefined> {
    const domain = normalizeDomain(domainName);
    const items = await readDomainItems(this.metadata, domain);
    const active = newestActive(items.map(decodeKey));
    if (!active) return undefined;
    const item = items.find((candidate) => candidate.selector === active.selector);
    const envelope = item?.privateKey;
    if (typeof envelope !== 'string') throw new DkimKeyUnusableError(`DKIM key ${active.selector} has no private key`);
    let privateKeyPem: string;
    try {
      privateKeyPem = (await this.vault.decrypt(envelope, vaultContext(domain, active.selector))).toString('utf8');
    } catch (error) {
      throw new DkimKeyUnusableError(`the private key of ${active.selector} for ${domain} does not open`, {
        cause: error,
      });
    }
    return { domain, selector: active.selector, algorithm: active.algorithm, privateKeyPem };
  }

  /** Looks the key's record up in DNS and compares it with the key. */
  async check(domainName: string, selectorName: string, resolveTxt: TxtResolver): Promise<DkimDnsCheck> {
    return checkDkimRecord(resolveTxt, await this.get(domainName, selectorName));
  }

  private async createKey(domainName: string, options: CreateKeyOptions, activateAt: Date | undefined) {
    const domain = normalizeDomain(domainName);
    if (!(await this.directory.isLocalDomain(domain))) throw new DomainNotFoundError(domain);
    const now = options.now ?? new Date();
    const existing = await readDomainKeys(this.metadata, domain);
    if (existing.length >= MAX_KEYS_PER_DOMAIN) {
      throw new DkimStateError(`${domain} already has ${MAX_KEYS_PER_DOMAIN} DKIM keys; delete retired ones first`);
    }
    const selector =
      options.selector !== undefined
        ? normalizeSelector(options.selector)
        : defaultSelector(
            now,
            existing.map((key) => key.selector),
          );
    const algorithm = options.algorithm ?? DEFAULT_DKIM_ALGORITHM;
    const pair = generateDkimKeyPair(algorithm);
    const envelope = await this.vault.encrypt(Buffer.from(pair.privateKeyPem, 'utf8'), vaultContext(domain, selector));
    const item: Item = {
      pk: domainPk(domain),
      sk: keySk(selector),
      v: SCHEMA_VERSION,
      domain,
      selector,
      algorithm,
      publicKey: pair.publicKey,
      privateKey: envelope,
      state: 'published',
      createdAt: now.getTime(),
      ...(activateAt ? { activateAt: activateAt.getTime() } : {}),
    };
    try {
      await this.metadata.put(item, [{ attribute: 'pk', op: 'notExists' }]);
    } catch (error) {
      if (error instanceof ConditionFailedError) throw new DkimKeyExistsError(domain, selector);
      throw error;
    }
    return decodeKey(item);
  }
}

export interface RotationProgress {
  /** `domain/selector` of keys that became active. */
  activated: string[];
  /** Keys retired because a newer key became active. */
  retired: string[];
  /** Retired keys past their time, deleted. */
  deleted: string[];
  /** Due keys left published because DNS does not serve them yet. */
  waitingForDns: { key: string; status: string; detail: string }[];
}

export interface AdvanceOptions {
  now?: Date;
  /**
   * When given, a due key becomes active only once DNS serves exactly it (signing with a key the world
   * cannot see would make every signature fail); it is tried again on the next run.
   */
  resolveTxt?: TxtResolver;
}

/**
 * The nightly step of staged rotations, for the expire job: activates published keys whose time has come,
 * retires what they replace (and any older active key a crash left), deletes retired keys past their
 * time. Idempotent; safe to run concurrently with itself and with the CLI.
 */
export async function advanceDkimRotations(
  metadata: MetadataStore,
  options: AdvanceOptions = {},
): Promise<RotationProgress> {
  const now = options.now ?? new Date();
  const progress: RotationProgress = { activated: [], retired: [], deleted: [], waitingForDns: [] };
  for await (const keys of eachDomainKeys(metadata)) {
    const due = keys
      .filter((key) => key.state === 'published' && key.activateAt && key.activateAt <= now)
      .sort((a, b) => a.activateAt!.getTime() - b.activateAt!.getTime());
    for (const key of due) {
      if (options.resolveTxt) {
        const check = await checkDkimRecord(options.resolveTxt, key);
        if (check.status !== 'match') {
          progress.waitingForDns.push({ key: keyName(key), status: check.status, detail: check.detail });
          continue;
        }
      }
      const outcome = await activateKey(metadata, key.domain, key.selector, now);
      progress.activated.push(keyName(key));
      progress.retired.push(...outcome.retired.map((selector) => `${key.domain}/${selector}`));
    }
    const current = due.length > 0 && keys[0] ? await readDomainKeys(metadata, keys[0].domain) : keys;
    const newest = newestActive(current);
    for (const key of current) {
      if (key.state === 'active' && newest && key.selector !== newest.selector) {
        if (await retireIfActive(metadata, key, now)) progress.retired.push(keyName(key));
      }
      if (key.state === 'retired' && key.deleteAt && key.deleteAt <= now) {
        try {
          await metadata.delete(domainPk(key.domain), keySk(key.selector), [
            { attribute: 'state', op: '=', value: 'retired' },
          ]);
          progress.deleted.push(keyName(key));
        } catch (error) {
          if (!(error instanceof ConditionFailedError)) throw error; // re-activated meanwhile: keep it
        }
      }
    }
  }
  return progress;
}

async function activateKey(
  metadata: MetadataStore,
  domain: string,
  selector: string,
  now: Date,
): Promise<{ retired: string[] }> {
  let activated: DkimKey;
  try {
    activated = decodeKey(
      await metadata.update(domainPk(domain), keySk(selector), {
        set: { state: 'active', activatedAt: now.getTime() },
        remove: ['activateAt', 'retiredAt', 'deleteAt'],
        conditions: [{ attribute: 'pk', op: 'exists' }],
      }),
    );
  } catch (error) {
    if (error instanceof ConditionFailedError) throw new DkimKeyNotFoundError(domain, selector);
    throw error;
  }
  const retired: string[] = [];
  for (const key of await readDomainKeys(metadata, domain)) {
    if (key.state !== 'active' || key.selector === selector) continue;
    // Only keys activated before this one: a newer concurrent activation wins, and retires this one itself.
    if (newestActive([key, activated]) !== activated) continue;
    if (await retireIfActive(metadata, key, now)) retired.push(key.selector);
  }
  return { retired };
}

async function retireIfActive(metadata: MetadataStore, key: DkimKey, now: Date): Promise<boolean> {
  try {
    await metadata.update(domainPk(key.domain), keySk(key.selector), {
      set: { state: 'retired', retiredAt: now.getTime(), deleteAt: now.getTime() + RETIRED_KEY_KEPT_MS },
      conditions: [
        { attribute: 'state', op: '=', value: 'active' },
        { attribute: 'activatedAt', op: '=', value: key.activatedAt?.getTime() ?? 0 },
      ],
    });
    return true;
  } catch (error) {
    if (error instanceof ConditionFailedError) return false; // changed meanwhile (retired, or re-activated)
    throw error;
  }
}

/** The active key activated last (ties: the greater selector), as the signer and activation decide. */
function newestActive<T extends Pick<DkimKey, 'state' | 'activatedAt' | 'selector'>>(keys: T[]): T | undefined {
  let newest: T | undefined;
  for (const key of keys) {
    if (key.state !== 'active') continue;
    const at = key.activatedAt?.getTime() ?? 0;
    const best = newest?.activatedAt?.getTime() ?? 0;
    if (!newest || at > best || (at === best && key.selector > newest.selector)) newest = key;
  }
  return newest;
}

async function readDomainItems(metadata: MetadataStore, domain: string): Promise<Item[]> {
  const page = await metadata.query(domainPk(domain), { beginsWith: KEY_SK_PREFIX, limit: MAX_KEYS_PER_DOMAIN * 4 });
  return page.items;
}

async function readDomainKeys(metadata: MetadataStore, domain: string): Promise<DkimKey[]> {
  return (await readDomainItems(metadata, domain))
    .map(decodeKey)
    .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
}

/** Every domain's keys, one domain at a time. */
async function* eachDomainKeys(metadata: MetadataStore): AsyncGenerator<DkimKey[]> {
  const byDomain = new Map<string, DkimKey[]>();
  let cursor: string | undefined;
  do {
    const page = await metadata.scan({ pkPrefix: DKIM_PK_PREFIX, limit: SCAN_PAGE, ...(cursor ? { cursor } : {}) });
    for (const item of page.items) {
      if (!item.sk.startsWith(KEY_SK_PREFIX)) continue;
      const key = decodeKey(item);
      const list = byDomain.get(key.domain) ?? [];
      list.push(key);
      byDomain.set(key.domain, list);
    }
    cursor = page.cursor;
  } while (cursor !== undefined);
  for (const [, keys] of [...byDomain].sort(([a], [b]) => compare(a, b))) {
    yield keys.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  }
}

/** `marmot-YYYYMMDD`, with `-2`, `-3`, ... when a key of that day exists. */
function defaultSelector(now: Date, taken: string[]): string {
  const base = `marmot-${now.toISOString().slice(0, 10).replaceAll('-', '')}`;
  if (!taken.includes(base)) return base;
  for (let n = 2; ; n++) if (!taken.includes(`${base}-${n}`)) return `${base}-${n}`;
}

function vaultContext(domain: string, selector: string): Record<string, string> {
  return { purpose: VAULT_PURPOSE, domain, selector };
}

function domainPk(domain: string): string {
  return DKIM_PK_PREFIX + domain;
}

function keySk(selector: string): string {
  return KEY_SK_PREFIX + selector;
}

function keyName(key: DkimKey): string {
  return `${key.domain}/${key.selector}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function decodeKey(item: Item): DkimKey {
  if (item.v !== SCHEMA_VERSION) {
    throw new DkimKeyUnusableError(`DKIM key ${item.sk} has schema version ${String(item.v)}, not ${SCHEMA_VERSION}`);
  }
  const { domain, selector, algorithm, publicKey, state } = item;
  if (
    typeof domain !== 'string' ||
    typeof selector !== 'string' ||
    typeof publicKey !== 'string' ||
    !(DKIM_ALGORITHMS as readonly unknown[]).includes(algorithm) ||
    (state !== 'published' && state !== 'active' && state !== 'retired')
  ) {
    throw new DkimKeyUnusableError(`DKIM key ${item.pk}/${item.sk} is malformed`);
  }
  const date = (name: string) => (typeof item[name] === 'number' ? new Date(item[name]) : undefined);
  const key: DkimKey = {
    domain,
    selector,
    algorithm: algorithm as DkimAlgorithm,
    keyType: keyTypeOf(algorithm as DkimAlgorithm),
    publicKey,
    state,
    createdAt: date('createdAt') ?? new Date(0),
  };
  for (const name of ['activateAt', 'activatedAt', 'retiredAt', 'deleteAt'] as const) {
    const value = date(name);
    if (value) key[name] = value;
  }
  return key;
}
