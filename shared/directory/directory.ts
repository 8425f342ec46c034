/**
 * The directory: domains (realms) and their settings, accounts with password verifiers and quota
 * limits, aliases, and the relay-host allow-list. Built only on the metadata store port, so it runs
 * unchanged on SQLite and DynamoDB.
 *
 * Trusts nothing about its arguments: every address, domain, network, password and setting is
 * validated (InvalidAddressError, DirectoryInputError) before anything is written. Items read from the
 * store carry a schema version; a newer one is refused (UnsupportedSchemaError), never rewritten.
 *
 * Key layout (pk / sk):
 *   directory      / domain#<domain>    a domain: v, id, name, state, retentionDays, legacySaslMechanisms,
 *                                       createdAt, memberCount (accounts and aliases, see below)
 *   directory      / relay#<network>    a relay network in canonical CIDR form: v, network, createdAt
 *   domain#<domain> / address#<local>   an account or an alias (one namespace: an address is one or the
 *                                       other): v, kind, id, domainId, address, localPart, domain, and
 *                                       account: admin, quota, credentials, createdAt, passwordChangedAt
 *                                       alias: targets, suffixes, bulk, createdAt
 * Domains are lower-case A-labels, local parts lower case (shared/address), networks canonical, so each
 * thing has exactly one key.
 *
 * Consistency without transactions. The store offers atomic conditional writes on one item only, so
 * cross-item rules are kept by ordering:
 * - A domain's `memberCount` counts its accounts and aliases plus additions in flight. Adding one first
 *   increments it, conditioned on the domain being active, then writes the item; a failed write gives
 *   the increment back. Removing one deletes the item, then decrements. A crash between the two steps
 *   leaves the count too high, never too low.
 * - Removing a domain (not forced) deletes it only if `memberCount = 0`, in the same atomic step, so
 *   it can never succeed while an account or alias exists or is being added. A count left too high by
 *   a crash makes it refuse: the error says so, and a forced remove clears it.
 * - A forced remove first marks the domain `removing` (new additions fail their condition, lookups
 *   stop seeing its members), deletes its accounts and aliases, then the domain. Running it again
 *   after a crash finishes the job.
 * - Each domain incarnation has a fresh `id`, and members record it as `domainId`. A member whose
 *   domainId is not the current domain's id is residue (an addition that landed after a forced remove,
 *   or a crash): lookups ignore it, adding the same address replaces it, and removals sweep it. So an
 *   account is never visible in a domain that does not exist, and a name re-created after removal
 *   never inherits anything. An addition re-reads its domain after writing and takes its item back if
 *   the domain went away meanwhile.
 * Account removal deletes only the directory entry; the account's mail is keyed by the account id and
 * is the mailbox layer's to purge.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  formatAddress,
  InvalidAddressError,
  type MailAddress,
  normalizeDomain,
  parseAccountAddress,
  parseAddress,
} from '../address/address.ts';
import type { KeyVault } from '../keyvault/key-vault.ts';
import { DECOY_SALT_SECRET_BYTES } from '../sasl/credentials.ts';
import type { SaslAccount, SaslDirectory } from '../sasl/mechanism.ts';
import { ConditionFailedError } from '../store/errors.ts';
import type { Condition, Item, MetadataStore } from '../store/metadata.ts';
import {
  type CredentialForm,
  credentialFormOf,
  credentialsForPassword,
  storedCredentialsOf,
  verifyAgainstDecoy,
  verifyCredentialsPassword,
} from './account-credentials.ts';
import {
  AccountNotFoundError,
  AddressExistsError,
  AliasNotFoundError,
  ConcurrentChangeError,
  CorruptItemError,
  DomainBeingRemovedError,
  DomainExistsError,
  DomainNotEmptyError,
  DomainNotFoundError,
  InvalidSettingError,
  KeyVaultRequiredError,
  RelayHostExistsError,
  RelayHostNotFoundError,
} from './errors.ts';
import { formatNetwork, networkContains, parseNetwork } from './ip-network.ts';
import {
  type Account,
  type AddressKind,
  type Alias,
  accountItem,
  aliasItem,
  checkVersion,
  DIRECTORY_PK,
  DIRECTORY_SCHEMA_VERSION,
  type Domain,
  type DomainSettings,
  decodeAccount,
  decodeAlias,
  decodeDomain,
  decodeRelayHost,
  domainItem,
  keys,
  memberBaseOf,
  type QuotaLimits,
  quotaValue,
  type RelayHost,
  relayHostItem,
  withoutCredentials,
} from './records.ts';

export type { Account, Alias, Domain, DomainSettings, QuotaLimits, RelayHost } from './records.ts';

export const DEFAULT_RETENTION_DAYS = 30;
export const MIN_RETENTION_DAYS = 1;
export const MAX_RETENTION_DAYS = 3650;
export const DEFAULT_LEGACY_SASL_MECHANISMS = true;
/** Enough for a list; keeps the item far below DynamoDB's 400 KB item limit (254-octet addresses). */
export const MAX_ALIAS_TARGETS = 1000;
/** Attempts at replacing residue under an address before giving up with ConcurrentChangeError. */
const MAX_WRITE_ATTEMPTS = 3;
/** Items per page when walking a domain's members. */
const PAGE_SIZE = 500;

const CURRENT_VERSION: Condition = { attribute: 'v', op: '=', value: DIRECTORY_SCHEMA_VERSION };
const ACTIVE: Condition = { attribute: 'state', op: '=', value: 'active' };
const ABSENT: Condition = { attribute: 'pk', op: 'notExists' };
const EXISTS: Condition = { attribute: 'pk', op: 'exists' };

export interface NewAccount {
  password: string;
  admin?: boolean;
  quota?: QuotaLimits;
}

/** Changes to an account; a quota field set to null removes that limit, an absent one keeps it. */
export interface AccountChanges {
  admin?: boolean;
  quota?: { storageBytes?: number | null; messages?: number | null };
}

export interface AliasOptions {
  suffixes?: boolean;
  bulk?: boolean;
}

export interface DomainRemoval {
  domain: string;
  accounts: number;
  aliases: number;
}

interface Member {
  domain: Domain;
  item: Item;
}

export interface DirectoryOptions {
  /**
   * Seals the plaintext-equivalent verifiers. Needed to set passwords and to serve SASL
   * (KeyVaultRequiredError without it); looking things up and verifyPassword work without.
   */
  keyVault?: KeyVault;
}

/** Key-vault context of the decoy salt secret. */
const DECOY_SALT_SECRET_CONTEXT = { purpose: 'sasl-decoy-salt-secret' } as const;

export class Directory implements SaslDirectory {
  private readonly keyVault: KeyVault | undefined;

  constructor(
    private readonly store: MetadataStore,
    options: DirectoryOptions = {},
  ) {
    this.keyVault = options.keyVault;
  }

  // Domains

  async addDomain(name: string, settings: Partial<DomainSettings> = {}): Promise<Domain> {
    const domainName = normalizeDomain(name);
    const domain: Domain = {
      name: domainName,
      id: randomUUID(),
      state: 'active',
      retentionDays: DEFAULT_RETENTION_DAYS,
      legacySaslMechanisms: DEFAULT_LEGACY_SASL_MECHANISMS,
      ...validDomainSettings(settings),
      createdAt: new Date().toISOString(),
    };
    try {
      await this.store.put(domainItem(domain, 0), [ABSENT]);
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      const existing = await this.getDomain(domainName);
      throw existing?.state === 'removing'
        ? new DomainBeingRemovedError(domainName)
        : new DomainExistsError(domainName);
    }
    return domain;
  }

  /** The domain in any state, or undefined. */
  async getDomain(name: string): Promise<Domain | undefined> {
    const key = keys.domain(normalizeDomain(name));
    const item = await this.store.get(key.pk, key.sk);
    return item ? decodeDomain(item) : undefined;
  }

  /** Whether we accept mail for this domain; false for anything that is not a valid domain name. */
  async isLocalDomain(name: string): Promise<boolean> {
    let domainName: string;
    try {
      domainName = normalizeDomain(name);
    } catch (error) {
      if (error instanceof InvalidAddressError) return false;
      throw error;
    }
    return (await this.activeDomain(domainName)) !== undefined;
  }

  async listDomains(): Promise<Domain[]> {
    const domains: Domain[] = [];
    for await (const item of this.items(DIRECTORY_PK, keys.domainsPrefix)) domains.push(decodeDomain(item));
    return domains;
  }

  async setDomainSettings(name: string, settings: Partial<DomainSettings>): Promise<Domain> {
    const domainName = normalizeDomain(name);
    const changes = validDomainSettings(settings);
    if (Object.keys(changes).length === 0) throw new InvalidSettingError('no setting to change');
    const key = keys.domain(domainName);
    try {
      const item = await this.store.update(key.pk, key.sk, {
        set: { ...changes },
        conditions: [ACTIVE, CURRENT_VERSION],
      });
      return decodeDomain(item);
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      throw await this.domainUnavailable(domainName);
    }
  }

  /**
   * Removes a domain. Without `force` it refuses while the domain has accounts or aliases
   * (DomainNotEmptyError); with it, it removes them too. Returns how many it removed.
   */
  async removeDomain(name: string, options: { force?: boolean } = {}): Promise<DomainRemoval> {
    const domainName = normalizeDomain(name);
    const key = keys.domain(domainName);
    const item = await this.store.get(key.pk, key.sk);
    if (!item) throw new DomainNotFoundError(domainName);
    const domain = decodeDomain(item);
    const thisIncarnation: Condition = { attribute: 'id', op: '=', value: domain.id };
    if (!options.force) {
      if (domain.state === 'removing') throw new DomainBeingRemovedError(domainName);
      try {
        await this.store.delete(key.pk, key.sk, [thisIncarnation, { attribute: 'memberCount', op: '=', value: 0 }]);
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
        throw await this.notRemovable(domainName);
      }
      await this.sweepResidue(domainName);
      return { domain: domainName, accounts: 0, aliases: 0 };
    }
    if (domain.state === 'active') {
      try {
        await this.store.update(key.pk, key.sk, { set: { state: 'removing' }, conditions: [thisIncarnation] });
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
        throw new DomainNotFoundError(domainName);
      }
    }
    const removed: DomainRemoval = { domain: domainName, accounts: 0, aliases: 0 };
    for await (const member of this.items(keys.domainMembers(domainName), keys.addressesPrefix)) {
      const base = memberBaseOf(member);
      if (base.domainId !== domain.id) continue;
      if (await this.deleteIfUnchanged(member.pk, member.sk, base.id)) {
        if (base.kind === 'account') removed.accounts++;
        else removed.aliases++;
      }
    }
    try {
      await this.store.delete(key.pk, key.sk, [thisIncarnation]);
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      // Another forced remove finished first: the domain is gone either way.
    }
    await this.sweepResidue(domainName);
    return removed;
  }

  // Accounts

  async addAccount(name: string, options: NewAccount): Promise<Account> {
    const parsed = parseAccountAddress(name);
    const quota = validQuota(options.quota ?? {});
    const admin = validBoolean('admin', options.admin ?? false);
    const address = formatAddress(parsed);
    const vault = this.requireKeyVault('setting a password');
    const credentials = await credentialsForPassword(options.password, { address, domain: parsed.domain }, vault);
    const domain = await this.reserve(parsed.domain);
    const now = new Date().toISOString();
    const account = {
      address,
      localPart: parsed.localPart,
      domain: parsed.domain,
      id: randomUUID(),
      admin,
      quota,
      credentials: { ...credentials },
      createdAt: now,
      passwordChangedAt: now,
    };
    await this.writeMember(domain, accountItem(account, domain.id), account.address);
    return withoutCredentials(account);
  }

  /** The account, or undefined (also when the address is an alias or its domain is not active). */
  async getAccount(address: string): Promise<Account | undefined> {
    const member = await this.findMember(parseAccountAddress(address));
    return member && memberBaseOf(member.item).kind === 'account'
      ? withoutCredentials(decodeAccount(member.item))
      : undefined;
  }

  /** Accounts of one domain, or of all active domains, in address order per domain. */
  async listAccounts(domain?: string): Promise<Account[]> {
    const items = await this.listMembers('account', domain);
    return items.map((item) => withoutCredentials(decodeAccount(item)));
  }

  /** Removes the account's directory entry and returns what it was. */
  async removeAccount(address: string): Promise<Account> {
    const parsed = parseAccountAddress(address);
    const { domain, item } = await this.requireMember(parsed, 'account');
    if (!(await this.deleteIfUnchanged(item.pk, item.sk, memberBaseOf(item).id))) {
      throw new AccountNotFoundError(formatAddress(parsed));
    }
    await this.release(domain);
    return withoutCredentials(decodeAccount(item));
  }

  /** Replaces every verifier of the account (the whole attribute) with ones derived from the new password. */
  async setPassword(address: string, password: string): Promise<void> {
    const vault = this.requireKeyVault('setting a password');
    const { item } = await this.requireMember(parseAccountAddress(address), 'account');
    const account = decodeAccount(item);
    const credentials = await credentialsForPassword(password, account, vault);
    await this.updateMember(item, 'account', {
      credentials: { ...credentials },
      passwordChangedAt: new Date().toISOString(),
    });
  }

  async setAccountSettings(address: string, changes: AccountChanges): Promise<Account> {
    const parsed = parseAccountAddress(address);
    const admin = changes.admin === undefined ? undefined : validBoolean('admin', changes.admin);
    const quotaChanges = changes.quota ?? {};
    const { item } = await this.requireMember(parsed, 'account');
    const current = decodeAccount(item);
    const quota = validQuota({
      storageBytes: pick(quotaChanges.storageBytes, current.quota.storageBytes),
      messages: pick(quotaChanges.messages, current.quota.messages),
    });
    const updated = await this.updateMember(item, 'account', {
      admin: admin ?? current.admin,
      quota: quotaValue(quota),
    });
    return withoutCredentials(decodeAccount(updated));
  }

  /**
   * The account when the password is right, else undefined. Unknown accounts, malformed addresses and
   * wrong passwords all cost one scrypt computation at today's cost and look the same to the caller.
   * A scrypt-only account (account-credentials.ts) is upgraded to every verifier when its password matches.
   */
  async verifyPassword(address: string, password: string): Promise<Account | undefined> {
    const text = typeof password === 'string' ? password : '';
    const member = await this.findAccountMember(address);
    if (!member) {
      await verifyAgainstDecoy(text);
      return undefined;
    }
    const account = decodeAccount(member.item);
    const form = credentialFormOf(account.credentials);
    if (!(await verifyCredentialsPassword(form, text))) return undefined;
    if (form.form === 'scrypt-only') await this.upgradeCredentials(member.item, text);
    return withoutCredentials(account);
  }

  // The SASL port (shared/sasl/mechanism.ts)

  /** The account a client-supplied name designates, with its verifiers; undefined when none may log in. */
  async lookupCredentials(authcid: string): Promise<SaslAccount | undefined> {
    const vault = this.requireKeyVault('SASL authentication');
    const member = await this.findAccountMember(authcid);
    if (!member) return undefined;
    const account = decodeAccount(member.item);
    const form: CredentialForm = credentialFormOf(account.credentials);
    const credentials = storedCredentialsOf(form, account.address, vault, (password) =>
      this.upgradeCredentials(member.item, password),
    );
    return credentials && { login: account.address, credentials };
  }

  async isAdmin(login: string): Promise<boolean> {
    const member = await this.findAccountMember(login);
    return member ? decodeAccount(member.item).admin : false;
  }

  /**
   * The domain's legacy switch; the default for a name without a domain or in a domain we do not
   * host, so the answer says nothing about which accounts exist.
   */
  async legacyMechanismsEnabled(domain: string | undefined): Promise<boolean> {
    if (domain === undefined) return DEFAULT_LEGACY_SASL_MECHANISMS;
    let domainName: string;
    try {
      domainName = normalizeDomain(domain);
    } catch (error) {
      if (error instanceof InvalidAddressError) return DEFAULT_LEGACY_SASL_MECHANISMS;
      throw error;
    }
    const active = await this.activeDomain(domainName);
    return active ? active.legacySaslMechanisms : DEFAULT_LEGACY_SASL_MECHANISMS;
  }

  async domainsWithLegacyMechanisms(): Promise<string[]> {
    const domains = await this.listDomains();
    return domains.filter((domain) => domain.state === 'active' && domain.legacySaslMechanisms).map((d) => d.name);
  }

  /**
   * The secret every listener process derives unknown users' SCRAM salts from, so an unknown user's
   * salt is the same from every process and across restarts (shared/sasl createDecoyCredentials).
   * Created on first use and kept sealed with the key vault; when two processes create it at once, the
   * first write wins and both use it.
   */
  async decoySaltSecret(): Promise<Buffer> {
    const vault = this.requireKeyVault('the SASL decoy');
    const key = keys.decoySaltSecret;
    let item = await this.store.get(key.pk, key.sk);
    if (!item) {
      const sealed = await vault.encrypt(randomBytes(DECOY_SALT_SECRET_BYTES), DECOY_SALT_SECRET_CONTEXT);
      const created = { ...key, v: DIRECTORY_SCHEMA_VERSION, sealed, createdAt: new Date().toISOString() };
      try {
        await this.store.put(created, [ABSENT]);
        item = created;
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
        item = await this.store.get(key.pk, key.sk);
        if (!item) throw new ConcurrentChangeError('the decoy salt secret was removed while it was being created');
      }
    }
    checkVersion(item);
    if (typeof item.sealed !== 'string') throw new CorruptItemError(key.pk, key.sk, 'no sealed secret');
    const secret = await vault.decrypt(item.sealed, DECOY_SALT_SECRET_CONTEXT);
    if (secret.length !== DECOY_SALT_SECRET_BYTES) {
      throw new CorruptItemError(key.pk, key.sk, `the secret is not ${DECOY_SALT_SECRET_BYTES} bytes`);
    }
    return secret;
  }

  // Aliases

  async addAlias(address: string, targets: string[], options: AliasOptions = {}): Promise<Alias> {
    const parsed = parseAccountAddress(address);
    const aliasAddress = formatAddress(parsed);
    const suffixes = validBoolean('suffixes', options.suffixes ?? false);
    const bulk = validBoolean('bulk', options.bulk ?? false);
    const normalTargets = await this.normalTargets(aliasAddress, targets);
    const domain = await this.reserve(parsed.domain);
    const alias: Alias = {
      address: aliasAddress,
      localPart: parsed.localPart,
      domain: parsed.domain,
      targets: normalTargets,
      suffixes,
      bulk,
      createdAt: new Date().toISOString(),
    };
    await this.writeMember(domain, aliasItem(alias, domain.id, randomUUID()), aliasAddress);
    return alias;
  }

  /** The alias, or undefined (also when the address is an account or its domain is not active). */
  async getAlias(address: string): Promise<Alias | undefined> {
    const member = await this.findMember(parseAccountAddress(address));
    return member && memberBaseOf(member.item).kind === 'alias' ? decodeAlias(member.item) : undefined;
  }

  async listAliases(domain?: string): Promise<Alias[]> {
    return (await this.listMembers('alias', domain)).map(decodeAlias);
  }

  async removeAlias(address: string): Promise<Alias> {
    const parsed = parseAccountAddress(address);
    const { domain, item } = await this.requireMember(parsed, 'alias');
    if (!(await this.deleteIfUnchanged(item.pk, item.sk, memberBaseOf(item).id))) {
      throw new AliasNotFoundError(formatAddress(parsed));
    }
    await this.release(domain);
    return decodeAlias(item);
  }

  // Relay hosts

  async addRelayHost(network: string): Promise<RelayHost> {
    const relayHost: RelayHost = { network: formatNetwork(parseNetwork(network)), createdAt: new Date().toISOString() };
    try {
      await this.store.put(relayHostItem(relayHost), [ABSENT]);
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      throw new RelayHostExistsError(relayHost.network);
    }
    return relayHost;
  }

  async listRelayHosts(): Promise<RelayHost[]> {
    const relayHosts: RelayHost[] = [];
    for await (const item of this.items(DIRECTORY_PK, keys.relayHostsPrefix)) relayHosts.push(decodeRelayHost(item));
    return relayHosts;
  }

  /** Removes the network (given in any spelling) and returns its canonical form. */
  async removeRelayHost(network: string): Promise<string> {
    const canonical = formatNetwork(parseNetwork(network));
    const key = keys.relayHost(canonical);
    try {
      await this.store.delete(key.pk, key.sk, [EXISTS]);
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      throw new RelayHostNotFoundError(canonical);
    }
    return canonical;
  }

  /** Whether a peer at this IP address may relay; false for anything that is not an IP address. */
  async isRelayHost(ip: string): Promise<boolean> {
    const relayHosts = await this.listRelayHosts();
    return relayHosts.some((relayHost) => networkContains(parseNetwork(relayHost.network), ip));
  }

  // Internals

  private requireKeyVault(operation: string): KeyVault {
    if (!this.keyVault) throw new KeyVaultRequiredError(operation);
    return this.keyVault;
  }

  /** The live account a name designates; undefined for anything else, a malformed name included. */
  private async findAccountMember(name: string): Promise<Member | undefined> {
    let address: MailAddress;
    try {
      address = parseAccountAddress(name);
    } catch (error) {
      if (error instanceof InvalidAddressError) return undefined;
      throw error;
    }
    const member = await this.findMember(address);
    return member && memberBaseOf(member.item).kind === 'account' ? member : undefined;
  }

  /**
   * Replaces a scrypt-only attribute with every verifier, after its password matched. Only if the
   * account and its password are unchanged since they were read. Failing changes nothing the login
   * depends on: the old form keeps working and the next login tries again, so errors are not raised
   * (a password today's rules refuse, e.g. one SASLprep rejects, simply stays scrypt-only).
   */
  private async upgradeCredentials(item: Item, password: string): Promise<void> {
    if (!this.keyVault) return;
    const account = decodeAccount(item);
    try {
      const credentials = await credentialsForPassword(password, account, this.keyVault);
      await this.store.update(item.pk, item.sk, {
        set: { credentials: { ...credentials } },
        conditions: [
          { attribute: 'id', op: '=', value: account.id },
          { attribute: 'passwordChangedAt', op: '=', value: account.passwordChangedAt },
          CURRENT_VERSION,
        ],
      });
    } catch {
      // See above: the scrypt-only form stays, and keeps verifying.
    }
  }

  private async activeDomain(domainName: string): Promise<Domain | undefined> {
    const key = keys.domain(domainName);
    const item = await this.store.get(key.pk, key.sk);
    if (!item) return undefined;
    const domain = decodeDomain(item);
    return domain.state === 'active' ? domain : undefined;
  }

  /** Why a write conditioned on the domain being active failed. */
  private async domainUnavailable(domainName: string): Promise<Error> {
    const domain = await this.getDomain(domainName);
    if (!domain) return new DomainNotFoundError(domainName);
    if (domain.state === 'removing') return new DomainBeingRemovedError(domainName);
    return new ConcurrentChangeError(`domain ${domainName} changed while it was being written; retry`);
  }

  private async notRemovable(domainName: string): Promise<Error> {
    const domain = await this.getDomain(domainName);
    if (!domain) return new DomainNotFoundError(domainName);
    if (domain.state === 'removing') return new DomainBeingRemovedError(domainName);
    const counts = { account: 0, alias: 0 };
    for await (const item of this.items(keys.domainMembers(domainName), keys.addressesPrefix)) {
      const base = memberBaseOf(item);
      if (base.domainId === domain.id) counts[base.kind]++;
    }
    if (counts.account + counts.alias === 0) {
      return new DomainNotEmptyError(
        `domain ${domainName} has additions in progress, or interrupted ones; retry, or force the removal`,
      );
    }
    return new DomainNotEmptyError(
      `domain ${domainName} has ${plural(counts.account, 'account')} and ${plural(counts.alias, 'alias')}; ` +
        'remove them first, or force the removal',
    );
  }

  /** Counts one more member in flight for an active domain; the first step of every addition. */
  private async reserve(domainName: string): Promise<Domain> {
    const key = keys.domain(domainName);
    try {
      const item = await this.store.update(key.pk, key.sk, {
        add: { memberCount: 1 },
        conditions: [ACTIVE, CURRENT_VERSION],
      });
      return decodeDomain(item);
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      throw await this.domainUnavailable(domainName);
    }
  }

  private async release(domain: Domain): Promise<void> {
    const key = keys.domain(domain.name);
    try {
      await this.store.update(key.pk, key.sk, {
        add: { memberCount: -1 },
        conditions: [
          { attribute: 'id', op: '=', value: domain.id },
          { attribute: 'memberCount', op: '>', value: 0 },
        ],
      });
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      // The domain incarnation is gone (forced removal): there is nothing left to count.
    }
  }

  /** Writes a reserved member; gives the reservation back if it cannot, and the item if the domain went away. */
  private async writeMember(domain: Domain, item: Item, address: string): Promise<void> {
    try {
      await this.putNewMember(item, address);
    } catch (error) {
      await this.release(domain);
      throw error;
    }
    const now = await this.activeDomain(domain.name);
    if (now?.id !== domain.id) {
      await this.deleteIfUnchanged(item.pk, item.sk, item.id as string);
      throw await this.domainUnavailable(domain.name);
    }
  }

  private async putNewMember(item: Item, address: string): Promise<void> {
    let conditions: Condition[] = [ABSENT];
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      try {
        await this.store.put(item, conditions);
        return;
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
      }
      const existing = await this.store.get(item.pk, item.sk);
      if (!existing) {
        conditions = [ABSENT];
        continue;
      }
      const base = memberBaseOf(existing);
      if (base.domainId === item.domainId) throw new AddressExistsError(address, base.kind);
      // Residue of an earlier incarnation of the domain: replace exactly that item.
      conditions = [{ attribute: 'id', op: '=', value: base.id }];
    }
    throw new ConcurrentChangeError(`${address} changed while it was being written; retry`);
  }

  /** The live member at this address, if its domain is active; undefined otherwise. */
  private async findMember(address: MailAddress): Promise<Member | undefined> {
    const domainKey = keys.domain(address.domain);
    const memberKey = keys.address(address.localPart, address.domain);
    const [domainItem, item] = await Promise.all([
      this.store.get(domainKey.pk, domainKey.sk),
      this.store.get(memberKey.pk, memberKey.sk),
    ]);
    if (!domainItem || !item) return undefined;
    const domain = decodeDomain(domainItem);
    if (domain.state !== 'active' || memberBaseOf(item).domainId !== domain.id) return undefined;
    checkVersion(item);
    return { domain, item };
  }

  /** Like findMember, but says what is missing: the domain, or the member of this kind. */
  private async requireMember(address: MailAddress, kind: AddressKind): Promise<Member> {
    const member = await this.findMember(address);
    const found = member ? memberBaseOf(member.item).kind : undefined;
    if (member && found === kind) return member;
    if (!member && !(await this.activeDomain(address.domain))) throw await this.domainUnavailable(address.domain);
    const text = formatAddress(address);
    throw kind === 'account'
      ? new AccountNotFoundError(text, found === 'alias')
      : new AliasNotFoundError(text, found === 'account');
  }

  private async updateMember(item: Item, kind: AddressKind, set: Record<string, Item[string]>): Promise<Item> {
    try {
      return await this.store.update(item.pk, item.sk, {
        set,
        conditions: [{ attribute: 'id', op: '=', value: memberBaseOf(item).id }, CURRENT_VERSION],
      });
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      const address = item.address as string;
      throw kind === 'account' ? new AccountNotFoundError(address) : new AliasNotFoundError(address);
    }
  }

  /** Deletes the item if it is still the one with this id; whether it did. */
  private async deleteIfUnchanged(pk: string, sk: string, id: string): Promise<boolean> {
    try {
      await this.store.delete(pk, sk, [{ attribute: 'id', op: '=', value: id }]);
      return true;
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      return false;
    }
  }

  private async listMembers(kind: AddressKind, domain?: string): Promise<Item[]> {
    let domains: Domain[];
    if (domain === undefined) {
      domains = (await this.listDomains()).filter((candidate) => candidate.state === 'active');
    } else {
      const domainName = normalizeDomain(domain);
      const active = await this.activeDomain(domainName);
      if (!active) throw await this.domainUnavailable(domainName);
      domains = [active];
    }
    const members: Item[] = [];
    for (const { name, id } of domains) {
      for await (const item of this.items(keys.domainMembers(name), keys.addressesPrefix)) {
        const base = memberBaseOf(item);
        if (base.domainId !== id || base.kind !== kind) continue;
        checkVersion(item);
        members.push(item);
      }
    }
    return members;
  }

  /**
   * Deletes members left by earlier incarnations of the domain. The domain is read after each page, so
   * an item of an incarnation created meanwhile is recognised as live: ids are never reused.
   */
  private async sweepResidue(domainName: string): Promise<void> {
    let startAfter: string | undefined;
    do {
      const page = await this.store.query(keys.domainMembers(domainName), {
        beginsWith: keys.addressesPrefix,
        limit: PAGE_SIZE,
        startAfter,
      });
      const live = await this.getDomain(domainName);
      for (const item of page.items) {
        const base = memberBaseOf(item);
        if (base.domainId !== live?.id) await this.deleteIfUnchanged(item.pk, item.sk, base.id);
      }
      startAfter = page.next;
    } while (startAfter !== undefined);
  }

  private async *items(pk: string, beginsWith: string): AsyncGenerator<Item> {
    let startAfter: string | undefined;
    do {
      const page = await this.store.query(pk, { beginsWith, limit: PAGE_SIZE, startAfter });
      yield* page.items;
      startAfter = page.next;
    } while (startAfter !== undefined);
  }

  /** Alias targets in normal form, in order, without duplicates; local parts of our domains lower-cased. */
  private async normalTargets(aliasAddress: string, targets: string[]): Promise<string[]> {
    if (!Array.isArray(targets) || targets.length === 0) {
      throw new InvalidSettingError(`alias ${aliasAddress} needs at least one target`);
    }
    if (targets.length > MAX_ALIAS_TARGETS) {
      throw new InvalidSettingError(`an alias has at most ${MAX_ALIAS_TARGETS} targets`);
    }
    const parsed = targets.map((target) => parseAddress(target));
    const domains = [...new Set(parsed.map((target) => target.domain))];
    const local = new Set<string>();
    for (const domain of domains) if (await this.activeDomain(domain)) local.add(domain);
    const normal = parsed.map((target) =>
      formatAddress(local.has(target.domain) ? { ...target, localPart: target.localPart.toLowerCase() } : target),
    );
    if (normal.includes(aliasAddress)) throw new InvalidSettingError(`alias ${aliasAddress} cannot point to itself`);
    return [...new Set(normal)];
  }
}

function validDomainSettings(settings: Partial<DomainSettings>): Partial<DomainSettings> {
  const valid: Partial<DomainSettings> = {};
  if (settings.retentionDays !== undefined) {
    const days = settings.retentionDays;
    if (!Number.isInteger(days) || days < MIN_RETENTION_DAYS || days > MAX_RETENTION_DAYS) {
      throw new InvalidSettingError(
        `retention days must be a whole number from ${MIN_RETENTION_DAYS} to ${MAX_RETENTION_DAYS}, not ${String(days)}`,
      );
    }
    valid.retentionDays = days;
  }
  if (settings.legacySaslMechanisms !== undefined) {
    valid.legacySaslMechanisms = validBoolean('legacySaslMechanisms', settings.legacySaslMechanisms);
  }
  return valid;
}

function validQuota(quota: QuotaLimits): QuotaLimits {
  const valid: QuotaLimits = {};
  for (const name of ['storageBytes', 'messages'] as const) {
    const limit = quota[name];
    if (limit === undefined) continue;
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new InvalidSettingError(`the ${name} quota must be a positive whole number, not ${String(limit)}`);
    }
    valid[name] = limit;
  }
  return valid;
}

function validBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new InvalidSettingError(`${name} must be true or false`);
  return value;
}

/** A quota change: null removes the limit, undefined keeps the current one. */
function pick(change: number | null | undefined, current: number | undefined): number | undefined {
  if (change === null) return undefined;
  return change ?? current;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : noun.endsWith('s') ? 'es' : 's'}`;
}
