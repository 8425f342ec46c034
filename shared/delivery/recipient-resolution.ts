/**
 * RCPT TO resolution: what an envelope recipient means here, decided in one place.
 *
 * For a domain in the directory (RFC 5321 §2.3.5: we are its final destination):
 *   1. Refused outright: a quoted local part (RFC 5321 §4.1.2 allows it, but none of our names needs
 *      quoting, so one only ever hides `@`, `%` or `!`), and the old relay syntaxes `user%host@us`
 *      (the percent hack) and `host!user@us` (UUCP bang paths), which a naive server forwards.
 *   2. `--` and `__` are rewritten to `+` (web forms that refuse `+` still get plus addressing).
 *   3. The local part splits at the first `+` into a name and a detail (RFC 5233 subaddress).
 *   4. Empty name, detail `name/`: the shared mailbox `name` of the domain, if `anyone` may post there.
 *   5. The name is an account: its INBOX, or with a detail the mailbox the detail names (nested `a/b`
 *      allowed); whether that mailbox exists and grants `anyone` the `p` right is decided at delivery by
 *      the filter step, which falls back to INBOX.
 *   6. The name is an alias: its targets, recursively (aliases of aliases, remote addresses are
 *      forwarded). With a detail, only an alias with `suffixes` matches, and the detail is dropped.
 *      A `bulk` alias marks its local targets so delivery adds `Precedence: bulk`.
 *   7. Anything else is unknown: 550 5.1.1.
 * For any other domain: accepted as a remote recipient only when the client may relay (authenticated,
 * or on the relay-host allow-list); otherwise 554 5.7.1. We are never an open relay.
 *
 * Untrusted input: the address comes from the client. Everything is validated by shared/address before
 * it reaches a store key; alias expansion is bounded in depth and size.
 */
import { InvalidAddressError, normalizeDomain, parseAccountAddress, parseAddress } from '../address/address.ts';

/** Aliases of aliases this deep; deeper is a configuration loop the operator must fix. */
export const MAX_ALIAS_DEPTH = 8;
/** Final targets one recipient may expand to. */
export const MAX_ALIAS_EXPANSION = 1000;
/** RFC 5321 §4.1.1.3: `RCPT TO:<postmaster>` without a domain must be accepted. */
const BARE_POSTMASTER = 'postmaster';

export interface QuotaLimit {
  storage?: number;
  messages?: number;
}

/** What resolution needs from the directory (shared/directory's Directory has it). */
export interface RecipientDirectory {
  isLocalDomain(domain: string): Promise<boolean>;
  getAccount(
    address: string,
  ): Promise<{ address: string; id: string; quota: { storageBytes?: number; messages?: number } } | undefined>;
  getAlias(
    address: string,
  ): Promise<{ address: string; targets: string[]; suffixes: boolean; bulk: boolean } | undefined>;
}

/** Shared mailboxes: the owner id of the mailbox `name` of `domain` when `anyone` may post to it. */
export interface SharedMailboxDirectory {
  postableSharedMailbox(domain: string, name: string): Promise<{ owner: string } | undefined>;
}

/** Whether an account's quota is already used up (so a new message cannot fit at all). */
export interface QuotaProbe {
  isFull(owner: string, limit: QuotaLimit): Promise<boolean>;
}

export interface ResolutionDependencies {
  directory: RecipientDirectory;
  sharedMailboxes: SharedMailboxDirectory;
  quota: QuotaProbe;
  /** Used for the domainless `postmaster` recipient. */
  primaryDomain: string;
}

export interface MailboxTarget {
  kind: 'account' | 'shared';
  /** Mailbox owner: the account id, or the shared mailboxes' owner. */
  owner: string;
  /** The account or shared-mailbox address, for logs and trace headers. */
  address: string;
  /** Shared: the mailbox. Account: the mailbox a plus address asked for (the filter step decides). */
  mailbox?: string;
  bulk: boolean;
  quota: QuotaLimit;
}

export interface ResolvedRecipient {
  /** As the client gave it. */
  address: string;
  local: MailboxTarget[];
  /** Normalised remote addresses: relayed, or forwarded by an alias. */
  remote: string[];
}

export type RejectReason =
  | 'unknown-recipient'
  | 'relay-denied'
  | 'relay-syntax'
  | 'quoted-local-part'
  | 'invalid-address'
  | 'mailbox-full'
  | 'alias-loop';

export type Resolution =
  | { accepted: true; recipient: ResolvedRecipient }
  | { accepted: false; reason: RejectReason; detail: string };

export interface ResolveOptions {
  /** The client is authenticated or on the relay-host allow-list. */
  mayRelay: boolean;
}

export async function resolveRecipient(
  rawAddress: string,
  options: ResolveOptions,
  deps: ResolutionDependencies,
): Promise<Resolution> {
  const input = rawAddress.toLowerCase() === BARE_POSTMASTER ? `${BARE_POSTMASTER}@${deps.primaryDomain}` : rawAddress;
  const at = input.lastIndexOf('@');
  if (at <= 0 || at === input.length - 1)
    return reject('invalid-address', 'an address needs a local part and a domain');
  const rawLocal = input.slice(0, at);
  let domain: string;
  try {
    domain = normalizeDomain(input.slice(at + 1));
  } catch (error) {
    if (error instanceof InvalidAddressError) return reject('invalid-address', error.reason);
    throw error;
  }
  if (!(await deps.directory.isLocalDomain(domain))) return resolveRemote(input, options);

  if (rawLocal.startsWith('"')) return reject('quoted-local-part', 'quoted local parts are not accepted here');
  if (rawLocal.includes('%')) return reject('relay-syntax', 'the percent hack (user%host@) does not relay here');
  if (rawLocal.includes('!')) return reject('relay-syntax', 'bang paths (host!user@) do not relay here');

  const expansion = new Expansion(deps);
  const outcome = await expansion.resolveLocal(rawLocal, domain, 0, false);
  if (outcome === 'not-found') return reject('unknown-recipient', 'no such recipient');
  if (outcome !== 'found') return outcome;
  const local: MailboxTarget[] = [];
  let full = 0;
  for (const target of expansion.local.values()) {
    if (target.kind === 'account' && (await deps.quota.isFull(target.owner, target.quota))) full++;
    else local.push(target);
  }
  if (full > 0 && local.length === 0 && expansion.remote.size === 0) return reject('mailbox-full', 'mailbox full');
  return { accepted: true, recipient: { address: rawAddress, local, remote: [...expansion.remote] } };
}

function resolveRemote(input: string, options: ResolveOptions): Resolution {
  if (!options.mayRelay) return reject('relay-denied', 'relay access denied');
  try {
    const parsed = parseAddress(input);
    return {
      accepted: true,
      recipient: { address: input, local: [], remote: [`${parsed.localPart}@${parsed.domain}`] },
    };
  } catch (error) {
    if (error instanceof InvalidAddressError) return reject('invalid-address', error.reason);
    throw error;
  }
}

function reject(reason: RejectReason, detail: string): Resolution {
  return { accepted: false, reason, detail };
}

type Outcome = 'found' | 'not-found' | Extract<Resolution, { accepted: false }>;

class Expansion {
  /** Local targets by owner and mailbox, so one mailbox gets one copy however many paths lead to it. */
  readonly local: MailboxTarget[] = [];
  private readonly localIndex = new Map<string, number>();
  readonly remote = new Set<string>();
  private readonly seenAliases = new Set<string>();

  constructor(private readonly deps: ResolutionDependencies) {}

  async resolveLocal(rawLocal: string, domain: string, depth: number, bulk: boolean): Promise<Outcome> {
    const rewritten = rawLocal.replace(/--|__/g, '+');
    const plus = rewritten.indexOf('+');
    const name = plus < 0 ? rewritten : rewritten.slice(0, plus);
    const detail = plus < 0 ? '' : rewritten.slice(plus + 1);

    if (name === '') {
      if (!detail.endsWith('/') || detail.length < 2) return 'not-found';
      const mailbox = detail.slice(0, -1);
      const shared = await this.deps.sharedMailboxes.postableSharedMailbox(domain, mailbox);
      if (!shared) return 'not-found';
      return this.addLocal({
        kind: 'shared',
        owner: shared.owner,
        address: `+${mailbox}/@${domain}`,
        mailbox,
        bulk,
        quota: {},
      });
    }

    let address: string;
    try {
      const parsed = parseAccountAddress(`${name}@${domain}`);
      address = `${parsed.localPart}@${parsed.domain}`;
    } catch (error) {
      // Not a name an account or alias can have (such as `a.-b`), so nobody is called that.
      if (error instanceof InvalidAddressError) return 'not-found';
      throw error;
    }

    const account = await this.deps.directory.getAccount(address);
    if (account) {
      return this.addLocal({
        kind: 'account',
        owner: account.id,
        address: account.address,
        ...(detail ? { mailbox: detail } : {}),
        bulk,
        quota: quotaLimitOf(account.quota),
      });
    }

    const alias = await this.deps.directory.getAlias(address);
    if (!alias || (detail !== '' && !alias.suffixes)) return 'not-found';
    if (this.seenAliases.has(alias.address)) return 'found';
    if (depth >= MAX_ALIAS_DEPTH) {
      return { accepted: false, reason: 'alias-loop', detail: `aliases nested deeper than ${MAX_ALIAS_DEPTH}` };
    }
    this.seenAliases.add(alias.address);
    let found = false;
    for (const target of alias.targets) {
      const outcome = await this.resolveTarget(target, depth + 1, bulk || alias.bulk);
      if (outcome === 'found') found = true;
      else if (outcome !== 'not-found') return outcome;
    }
    // An alias whose targets are all gone delivers nowhere: for the sender it is unknown.
    return found ? 'found' : 'not-found';
  }

  private async resolveTarget(target: string, depth: number, bulk: boolean): Promise<Outcome> {
    if (this.local.length + this.remote.size >= MAX_ALIAS_EXPANSION) {
      return { accepted: false, reason: 'alias-loop', detail: `alias expands to more than ${MAX_ALIAS_EXPANSION}` };
    }
    const at = target.lastIndexOf('@');
    const domain = target.slice(at + 1);
    if (await this.deps.directory.isLocalDomain(domain)) {
      return this.resolveLocal(target.slice(0, at), domain, depth, bulk);
    }
    // The directory stores alias targets normalised; a remote one is forwarded as it is.
    this.remote.add(target);
    return 'found';
  }

  private addLocal(target: MailboxTarget): 'found' {
    const key = `${target.owner}\u0000${target.mailbox ?? ''}`;
    const existing = this.localIndex.get(key);
    if (existing === undefined) {
      this.localIndex.set(key, this.local.length);
      this.local.push(target);
    } else if (!target.bulk) {
      // Reached directly as well as through a bulk alias: the direct copy is not bulk mail.
      this.local[existing] = { ...this.local[existing]!, bulk: false };
    }
    return 'found';
  }
}

function quotaLimitOf(quota: { storageBytes?: number; messages?: number }): QuotaLimit {
  return {
    ...(quota.storageBytes !== undefined ? { storage: quota.storageBytes } : {}),
    ...(quota.messages !== undefined ? { messages: quota.messages } : {}),
  };
}
