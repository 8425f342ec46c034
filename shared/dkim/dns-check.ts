/**
 * `marmot dkim check`: looks a key's record up in DNS and says whether what is published is this key.
 *
 * The resolver is injectable (tests and the expire job pass their own); the default is node:dns with a
 * bounded timeout. What DNS returns is untrusted text: it goes through the bounded parser in
 * dns-record.ts, and only the first MAX_TXT_RECORDS records are read.
 */
import { promises as dns } from 'node:dns';
import { dkimRecordName, parseDkimRecord } from './dns-record.ts';
import type { DkimKeyType } from './key-generation.ts';

/** Like `dns.promises.resolveTxt`: each record as its character-strings. Rejects with `code` like node:dns. */
export type TxtResolver = (name: string) => Promise<string[][]>;

const LOOKUP_TIMEOUT_MS = 5000;
const LOOKUP_TRIES = 2;
/** A name with more TXT records than this is not a DKIM key record we would publish. */
const MAX_TXT_RECORDS = 16;

/** node:dns, through the given servers (`host[:port]`) or the system's. */
export function systemTxtResolver(servers?: string[]): TxtResolver {
  const resolver = new dns.Resolver({ timeout: LOOKUP_TIMEOUT_MS, tries: LOOKUP_TRIES });
  if (servers?.length) resolver.setServers(servers);
  return (name) => resolver.resolveTxt(name);
}

export type DkimDnsStatus =
  /** Exactly the key (one record, or several that all carry it). */
  | 'match'
  /** A DKIM record is published, with another key or key type. */
  | 'mismatch'
  /** No TXT record at the name. */
  | 'missing'
  /** The record has an empty p=: the key is revoked (RFC 6376 §3.6.1). */
  | 'revoked'
  /** TXT records exist but none is a well-formed DKIM key record. */
  | 'invalid'
  /** Several DKIM records with different keys: verifiers may pick any (RFC 6376 §3.6.2.2). */
  | 'ambiguous'
  /** The lookup itself failed (timeout, SERVFAIL): nothing is known. */
  | 'lookup-failed';

export interface DkimDnsCheck {
  name: string;
  status: DkimDnsStatus;
  /** One line for the operator. */
  detail: string;
}

export interface ExpectedDkimKey {
  domain: string;
  selector: string;
  keyType: DkimKeyType;
  publicKey: string;
}

export async function checkDkimRecord(resolveTxt: TxtResolver, key: ExpectedDkimKey): Promise<DkimDnsCheck> {
  const name = dkimRecordName(key.selector, key.domain);
  let records: string[][];
  try {
    records = await resolveTxt(name);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA') return { name, status: 'missing', detail: 'no TXT record' };
    return { name, status: 'lookup-failed', detail: `DNS lookup failed: ${String(code ?? (error as Error).message)}` };
  }
  if (records.length === 0) return { name, status: 'missing', detail: 'no TXT record' };
  const parsed = records.slice(0, MAX_TXT_RECORDS).map((strings) => parseDkimRecord(strings.join('')));
  const keys = parsed.flatMap((record) => (record.ok ? [record] : []));
  if (keys.length === 0) {
    const first = parsed[0];
    return { name, status: 'invalid', detail: `not a DKIM key record: ${first && !first.ok ? first.reason : ''}` };
  }
  const matches = (record: (typeof keys)[number]) =>
    record.keyType === key.keyType && record.publicKey === key.publicKey;
  if (keys.every(matches)) return { name, status: 'match', detail: 'the published key is this key' };
  if (keys.length > 1) {
    return { name, status: 'ambiguous', detail: `${keys.length} DKIM records with different keys are published` };
  }
  const [only] = keys as [(typeof keys)[number]];
  if (only.publicKey === '') return { name, status: 'revoked', detail: 'the published record revokes the key (p=)' };
  if (only.keyType !== key.keyType) {
    return { name, status: 'mismatch', detail: `the published key type is ${only.keyType}, not ${key.keyType}` };
  }
  return { name, status: 'mismatch', detail: 'another key is published under this selector' };
}
