/**
 * Mail addresses and domain names: parse, validate, normalise.
 *
 * Trusts nothing: every input may come from a network peer or an operator's typo. Input is bounded
 * before any work (MAX_INPUT_LENGTH), and every failure is an InvalidAddressError, never another throw.
 *
 * Domains (RFC 5321 §4.1.2 `Domain`, RFC 5890 IDNA): case-insensitive, so lower-cased; internationalised
 * names are converted to A-labels with UTS #46 processing as node's `url.domainToASCII` does it (the same
 * mapping browsers use), then every label must be LDH, 1–63 octets, without a leading or trailing hyphen,
 * without `--` in positions 3–4 unless it is a valid `xn--` A-label (RFC 5891 §4.2.3.1). The top-level
 * label must not be all-numeric (RFC 3696 §2), which keeps IPv4 literals out. A trailing dot and
 * address literals (`[192.0.2.1]`) are rejected: the directory names domains, not hosts.
 *
 * Local parts, any address (alias targets, envelope senders): a dot-atom (RFC 5322 §3.2.3) or a quoted
 * string (RFC 5321 §4.1.2), ASCII only (SMTPUTF8 local parts, RFC 6531, are not accepted yet). The case of
 * a local part is kept: RFC 5321 §2.4 leaves it to the receiving host. A quoted local part whose content
 * is a valid dot-atom is written unquoted, and a quoted one keeps only the escapes it needs, so the
 * normal form is unique and normalising is idempotent.
 *
 * Local parts of our own accounts and aliases are stricter, a subset of dot-atom: lower-cased (accounts
 * are case-insensitive, as in Cyrus and most servers), letters, digits, `.`, `-`, `_`, starting with a
 * letter or digit, no `..`, and none of the sequences that carry meaning elsewhere in the system:
 * `+` (subaddress separator, RFC 5233), `--` and `__` (rewritten to `+` for senders that cannot type it),
 * `%` and `*` (IMAP LIST wildcards, RFC 9051 §6.3.9), `/` (mailbox hierarchy), a leading `-` (negative
 * rights in an ACL identifier, RFC 4314 §2), quotes and backslashes (IMAP and Sieve quoting).
 * Relaxing this later is compatible; tightening it would strand existing accounts, so it starts strict.
 */
import { domainToASCII, domainToUnicode } from 'node:url';

/** RFC 5321 §4.5.3.1.1. */
export const MAX_LOCAL_PART_OCTETS = 64;
/**
 * RFC 5321 §4.5.3.1.2 allows 255 octets of domain, but that is the DNS wire form (RFC 1035 §2.3.4, which
 * counts each label's length octet and the root): written with dots, a name that fits has at most 253.
 */
export const MAX_DOMAIN_OCTETS = 253;
/** RFC 1035 §2.3.4, RFC 5321 §4.5.3.1.2. */
export const MAX_LABEL_OCTETS = 63;
/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets including the angle brackets. */
export const MAX_ADDRESS_OCTETS = 254;
/** Anything longer is rejected before it is looked at (a Unicode domain can be longer than its A-label form). */
export const MAX_INPUT_LENGTH = 1024;
/** How much of a rejected input an error message quotes. */
const MAX_QUOTED_INPUT = 100;

export type AddressSubject = 'address' | 'domain';

export class InvalidAddressError extends Error {
  override name = 'InvalidAddressError';
  constructor(
    readonly subject: AddressSubject,
    readonly input: string,
    readonly reason: string,
  ) {
    super(`invalid ${subject} ${quoteForMessage(input)}: ${reason}`);
  }
}

export interface MailAddress {
  /** The local part in its normal form: unquoted when it is a dot-atom, else quoted with minimal escapes. */
  readonly localPart: string;
  /** Lower-case A-label form. */
  readonly domain: string;
}

/** RFC 5322 §3.2.3 atext. */
const ATEXT = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+$/;
/** RFC 5321 §4.1.2 qtextSMTP and the second character of quoted-pairSMTP: printable ASCII and space. */
const QUOTABLE = /^[\x20-\x7e]*$/;
const ACCOUNT_LOCAL_PART = /^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$/;
const ACCOUNT_LOCAL_PART_FORBIDDEN_SEQUENCES = ['..', '--', '__'] as const;
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const DOMAIN_INPUT_ASCII = /^[A-Za-z0-9.-]*$/;
const ALL_NUMERIC = /^[0-9]+$/;
const NON_ASCII = /[^\x00-\x7f]/;

/** The domain's normal form: lower-case A-labels. */
export function normalizeDomain(input: string): string {
  return domainFrom(input, 'domain', input);
}

/** Any mail address, with a dot-atom or quoted local part; the local part's case is kept. */
export function parseAddress(input: string): MailAddress {
  const { rawLocal, rawDomain } = split(input);
  const localPart = normalLocalPart(rawLocal, input);
  return { localPart, domain: withinAddressLimit(localPart, domainFrom(rawDomain, 'address', input), input) };
}

/** The address of one of our accounts or aliases: the strict local part policy above, lower-cased. */
export function parseAccountAddress(input: string): MailAddress {
  const { rawLocal, rawDomain } = split(input);
  const localPart = accountLocalPart(rawLocal, input);
  return { localPart, domain: withinAddressLimit(localPart, domainFrom(rawDomain, 'address', input), input) };
}

export function formatAddress(address: MailAddress): string {
  return `${address.localPart}@${address.domain}`;
}

export function normalizeAddress(input: string): string {
  return formatAddress(parseAddress(input));
}

export function normalizeAccountAddress(input: string): string {
  return formatAddress(parseAccountAddress(input));
}

function split(input: string): { rawLocal: string; rawDomain: string } {
  if (typeof input !== 'string') throw new InvalidAddressError('address', String(input), 'not a string');
  if (input.length > MAX_INPUT_LENGTH) throw invalid(input, `longer than ${MAX_ADDRESS_OCTETS} octets`);
  // Domains never contain '@', a quoted local part may: the last one separates them.
  const at = input.lastIndexOf('@');
  if (at < 0) throw invalid(input, 'no @ between local part and domain');
  if (at === 0) throw invalid(input, 'empty local part');
  if (at === input.length - 1) throw invalid(input, 'empty domain');
  return { rawLocal: input.slice(0, at), rawDomain: input.slice(at + 1) };
}

function normalLocalPart(raw: string, input: string): string {
  if (NON_ASCII.test(raw)) throw invalid(input, 'non-ASCII local parts (SMTPUTF8) are not supported');
  const value = raw.startsWith('"') ? unquote(raw, input) : raw;
  if (value === '') throw invalid(input, 'empty local part');
  if (!QUOTABLE.test(value)) throw invalid(input, 'control characters in the local part');
  if (!raw.startsWith('"') && !isDotAtom(value)) {
    throw invalid(input, 'the local part is not a dot-atom (quote it if it must contain these characters)');
  }
  const normal = isDotAtom(value) ? value : `"${value.replace(/["\\]/g, '\\$&')}"`;
  if (normal.length > MAX_LOCAL_PART_OCTETS) {
    throw invalid(input, `the local part is longer than ${MAX_LOCAL_PART_OCTETS} octets`);
  }
  return normal;
}

/** The content of an RFC 5321 §4.1.2 Quoted-string, or an error if `raw` is not exactly one. */
function unquote(raw: string, input: string): string {
  let value = '';
  for (let i = 1; i < raw.length; i++) {
    const char = raw[i]!;
    if (char === '"') {
      if (i !== raw.length - 1) throw invalid(input, 'text after the closing quote of the local part');
      return value;
    }
    if (char === '\\') {
      i++;
      if (i >= raw.length) break;
      value += raw[i];
    } else {
      value += char;
    }
  }
  throw invalid(input, 'the quoted local part has no closing quote');
}

function isDotAtom(value: string): boolean {
  return value.split('.').every((atom) => ATEXT.test(atom));
}

function accountLocalPart(raw: string, input: string): string {
  const value = raw.toLowerCase();
  if (raw.startsWith('"')) throw invalid(input, 'account and alias names cannot be quoted');
  if (value.length > MAX_LOCAL_PART_OCTETS) {
    throw invalid(input, `the local part is longer than ${MAX_LOCAL_PART_OCTETS} octets`);
  }
  if (!ACCOUNT_LOCAL_PART.test(value)) {
    throw invalid(
      input,
      'account and alias names use letters, digits, ".", "-" and "_", and start and end with a letter or digit',
    );
  }
  for (const sequence of ACCOUNT_LOCAL_PART_FORBIDDEN_SEQUENCES) {
    if (value.includes(sequence)) throw invalid(input, `account and alias names cannot contain "${sequence}"`);
  }
  return value;
}

function domainFrom(raw: string, subject: AddressSubject, input: string): string {
  const fail = (reason: string) => new InvalidAddressError(subject, input, reason);
  if (typeof raw !== 'string') throw fail('not a string');
  if (raw === '') throw fail('empty domain');
  if (raw.length > MAX_INPUT_LENGTH) throw fail(`the domain is longer than ${MAX_DOMAIN_OCTETS} octets`);
  if (raw.startsWith('[')) throw fail('address literals are not accepted, only domain names');
  if (raw.endsWith('.')) throw fail('the domain ends with a dot');
  const ascii = NON_ASCII.test(raw) ? idnaToAscii(raw) : raw.toLowerCase();
  if (ascii === undefined) throw fail('not a valid internationalised domain name');
  if (!DOMAIN_INPUT_ASCII.test(ascii)) {
    throw fail('a domain name has only letters, digits, hyphens and dots');
  }
  if (ascii.length > MAX_DOMAIN_OCTETS) throw fail(`the domain is longer than ${MAX_DOMAIN_OCTETS} octets`);
  const labels = ascii.split('.');
  for (const label of labels) {
    const problem = labelProblem(label);
    if (problem) throw fail(problem);
  }
  if (ALL_NUMERIC.test(labels.at(-1)!))
    throw fail('the top-level label is all-numeric (an IP address is not a domain)');
  return ascii;
}

/** UTS #46 processing to A-labels; undefined when the name is not valid. */
function idnaToAscii(raw: string): string | undefined {
  // domainToASCII is the WHATWG host parser: it would percent-decode, so percent signs never reach it.
  if (raw.includes('%')) return undefined;
  const ascii = domainToASCII(raw);
  return ascii === '' ? undefined : ascii;
}

function labelProblem(label: string): string | undefined {
  if (label === '') return 'empty label (two dots in a row, or a leading dot)';
  if (label.length > MAX_LABEL_OCTETS) return `a label is longer than ${MAX_LABEL_OCTETS} octets`;
  if (!LDH_LABEL.test(label)) {
    return `label "${label}" must be letters, digits and hyphens, not starting or ending with a hyphen`;
  }
  if (label.slice(2, 4) === '--') {
    if (!label.startsWith('xn--')) return `label "${label}" has "--" in positions 3 and 4 (RFC 5891 §4.2.3.1)`;
    if (!isValidALabel(label)) return `label "${label}" is not a valid IDNA A-label`;
  }
  return undefined;
}

/** An A-label is valid when it decodes to a non-ASCII U-label that encodes back to the same A-label. */
function isValidALabel(label: string): boolean {
  const unicode = domainToUnicode(label);
  return unicode !== label && NON_ASCII.test(unicode) && domainToASCII(unicode) === label;
}

function withinAddressLimit(localPart: string, domain: string, input: string): string {
  if (localPart.length + 1 + domain.length > MAX_ADDRESS_OCTETS) {
    throw invalid(input, `longer than ${MAX_ADDRESS_OCTETS} octets`);
  }
  return domain;
}

function invalid(input: string, reason: string): InvalidAddressError {
  return new InvalidAddressError('address', input, reason);
}

/** JSON quoting keeps control characters from a hostile input out of terminals and logs. */
function quoteForMessage(input: string): string {
  const shown = input.length > MAX_QUOTED_INPUT ? `${input.slice(0, MAX_QUOTED_INPUT)}…` : input;
  return JSON.stringify(shown);
}
