/**
 * The directory's records as the rest of the system sees them, and their item form in the metadata
 * store: key construction, schema version, encoding and decoding. The key layout and the write
 * protocol are described in directory.ts.
 */
import type { AttributeValue, Item } from '../store/metadata.ts';
import { UnsupportedSchemaError } from './errors.ts';

/** Every directory item carries `v`; a program refuses items newer than it understands. */
export const DIRECTORY_SCHEMA_VERSION = 1;

export const DIRECTORY_PK = 'directory';
const DOMAIN_SK_PREFIX = 'domain#';
const RELAY_SK_PREFIX = 'relay#';
const DECOY_SALT_SECRET_SK = 'sasl#decoy-salt-secret';
const DOMAIN_PK_PREFIX = 'domain#';
const ADDRESS_SK_PREFIX = 'address#';

export const keys = {
  domain: (domain: string) => ({ pk: DIRECTORY_PK, sk: `${DOMAIN_SK_PREFIX}${domain}` }),
  domainsPrefix: DOMAIN_SK_PREFIX,
  relayHost: (network: string) => ({ pk: DIRECTORY_PK, sk: `${RELAY_SK_PREFIX}${network}` }),
  relayHostsPrefix: RELAY_SK_PREFIX,
  /** The sealed secret unknown users' SCRAM salts are derived from (see Directory.decoySaltSecret). */
  decoySaltSecret: { pk: DIRECTORY_PK, sk: DECOY_SALT_SECRET_SK },
  /** The partition holding a domain's accounts and aliases. */
  domainMembers: (domain: string) => `${DOMAIN_PK_PREFIX}${domain}`,
  address: (localPart: string, domain: string) => ({
    pk: `${DOMAIN_PK_PREFIX}${domain}`,
    sk: `${ADDRESS_SK_PREFIX}${localPart}`,
  }),
  addressesPrefix: ADDRESS_SK_PREFIX,
};

export type DomainState = 'active' | 'removing';

export interface DomainSettings {
  /** Days expunged messages and deleted folders are kept before the expire job purges them. */
  retentionDays: number;
  /** Whether SASL mechanisms that need reversible or weak verifiers (CRAM-MD5, DIGEST-MD5, ...) are offered. */
  legacySaslMechanisms: boolean;
}

export interface Domain extends DomainSettings {
  name: string;
  /** Unique per incarnation: a domain removed and added again gets a new id. */
  id: string;
  state: DomainState;
  createdAt: string;
}

/** Optional limits; an absent one is unlimited. Usage is tracked by the quota module, not here. */
export interface QuotaLimits {
  storageBytes?: number;
  messages?: number;
}

export interface Account {
  /** `local@domain`, lower case. */
  address: string;
  localPart: string;
  domain: string;
  /** Unique per account: mail data is keyed by it, so a removed and re-added name starts empty. */
  id: string;
  admin: boolean;
  quota: QuotaLimits;
  createdAt: string;
  passwordChangedAt: string;
}

export interface AccountWithCredentials extends Account {
  /** The stored attribute as is; account-credentials.ts reads and writes it. */
  credentials: AttributeValue;
}

export interface Alias {
  address: string;
  localPart: string;
  domain: string;
  /** Normalised addresses: local accounts, other aliases, or remote addresses. */
  targets: string[];
  /** Whether the alias also matches its address with a suffix (`local+anything@domain`). */
  suffixes: boolean;
  /** Whether the alias is a list whose mail is bulk mail; what that changes is the delivery layer's to decide. */
  bulk: boolean;
  createdAt: string;
}

export interface RelayHost {
  /** Canonical CIDR text. */
  network: string;
  createdAt: string;
}

export type AddressKind = 'account' | 'alias';

/** The fields every account and alias item carries besides its own. */
export interface MemberBase {
  kind: AddressKind;
  /** The id of the domain incarnation it was created in; items of an older incarnation are residue. */
  domainId: string;
  /** Unique per item, so a conditional write or delete hits exactly the item that was read. */
  id: string;
}

export function checkVersion(item: Item): void {
  if (item.v !== DIRECTORY_SCHEMA_VERSION) throw new UnsupportedSchemaError(item.pk, item.sk, item.v);
}

export function domainItem(domain: Domain, memberCount: number): Item {
  return {
    ...keys.domain(domain.name),
    v: DIRECTORY_SCHEMA_VERSION,
    name: domain.name,
    id: domain.id,
    state: domain.state,
    retentionDays: domain.retentionDays,
    legacySaslMechanisms: domain.legacySaslMechanisms,
    createdAt: domain.createdAt,
    memberCount,
  };
}

export function decodeDomain(item: Item): Domain {
  checkVersion(item);
  return {
    name: item.name as string,
    id: item.id as string,
    state: item.state as DomainState,
    retentionDays: item.retentionDays as number,
    legacySaslMechanisms: item.legacySaslMechanisms as boolean,
    createdAt: item.createdAt as string,
  };
}

export function accountItem(account: AccountWithCredentials, domainId: string): Item {
  return {
    ...keys.address(account.localPart, account.domain),
    v: DIRECTORY_SCHEMA_VERSION,
    kind: 'account',
    domainId,
    address: account.address,
    localPart: account.localPart,
    domain: account.domain,
    id: account.id,
    admin: account.admin,
    quota: quotaValue(account.quota),
    credentials: account.credentials,
    createdAt: account.createdAt,
    passwordChangedAt: account.passwordChangedAt,
  };
}

export function decodeAccount(item: Item): AccountWithCredentials {
  checkVersion(item);
  return {
    address: item.address as string,
    localPart: item.localPart as string,
    domain: item.domain as string,
    id: item.id as string,
    admin: item.admin as boolean,
    quota: item.quota as QuotaLimits,
    credentials: item.credentials ?? null,
    createdAt: item.createdAt as string,
    passwordChangedAt: item.passwordChangedAt as string,
  };
}

export function withoutCredentials(account: AccountWithCredentials): Account {
  const { credentials: _credentials, ...rest } = account;
  return rest;
}

export function quotaValue(quota: QuotaLimits): { [name: string]: AttributeValue } {
  const value: { [name: string]: AttributeValue } = {};
  if (quota.storageBytes !== undefined) value.storageBytes = quota.storageBytes;
  if (quota.messages !== undefined) value.messages = quota.messages;
  return value;
}

export function aliasItem(alias: Alias, domainId: string, id: string): Item {
  return {
    ...keys.address(alias.localPart, alias.domain),
    v: DIRECTORY_SCHEMA_VERSION,
    kind: 'alias',
    domainId,
    id,
    address: alias.address,
    localPart: alias.localPart,
    domain: alias.domain,
    targets: alias.targets,
    suffixes: alias.suffixes,
    bulk: alias.bulk,
    createdAt: alias.createdAt,
  };
}

export function decodeAlias(item: Item): Alias {
  checkVersion(item);
  return {
    address: item.address as string,
    localPart: item.localPart as string,
    domain: item.domain as string,
    targets: item.targets as string[],
    suffixes: item.suffixes as boolean,
    bulk: item.bulk as boolean,
    createdAt: item.createdAt as string,
  };
}

export function relayHostItem(relayHost: RelayHost): Item {
  return {
    ...keys.relayHost(relayHost.network),
    v: DIRECTORY_SCHEMA_VERSION,
    network: relayHost.network,
    createdAt: relayHost.createdAt,
  };
}

export function decodeRelayHost(item: Item): RelayHost {
  checkVersion(item);
  return { network: item.network as string, createdAt: item.createdAt as string };
}

export function memberBaseOf(item: Item): MemberBase {
  return { kind: item.kind as AddressKind, domainId: item.domainId as string, id: item.id as string };
}
