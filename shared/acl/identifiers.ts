/**
 * ACL identifiers (RFC 4314 §2): `anyone` (every identity, anonymous included), `anonymous` (an
 * unauthenticated identity), an account's address `local@domain`, and each of these with a leading `-`
 * for a negative entry (RFC 4314 §2: rights taken away from whoever the identifier matches).
 * Administrators are not an identifier: the directory's `admin` flag gives them every right everywhere.
 *
 * Trusts nothing: identifiers come from IMAP clients (SETACL, DELETEACL, LISTRIGHTS) and operators. An
 * address is brought to its normal form (lower case, A-label domain), so one account has one spelling.
 */
import { InvalidAddressError, normalizeAccountAddress } from '../address/address.ts';
import { InvalidIdentifierError } from './errors.ts';

export const ANYONE = 'anyone';
export const ANONYMOUS = 'anonymous';
export const NEGATIVE_PREFIX = '-';

export type Identifier =
  | { kind: 'anyone'; negative: boolean }
  | { kind: 'anonymous'; negative: boolean }
  | { kind: 'account'; address: string; negative: boolean };

/** An identifier in its normal form (`Anyone` → `anyone`, `Bob@Example.COM` → `bob@example.com`). */
export function parseIdentifier(text: string): Identifier {
  if (typeof text !== 'string' || text.length === 0) throw new InvalidIdentifierError('empty identifier');
  const negative = text.startsWith(NEGATIVE_PREFIX);
  const name = negative ? text.slice(NEGATIVE_PREFIX.length) : text;
  const folded = name.toLowerCase();
  if (folded === ANYONE) return { kind: 'anyone', negative };
  if (folded === ANONYMOUS) return { kind: 'anonymous', negative };
  try {
    return { kind: 'account', address: normalizeAccountAddress(name), negative };
  } catch (error) {
    if (!(error instanceof InvalidAddressError)) throw error;
    throw new InvalidIdentifierError(
      `invalid identifier ${JSON.stringify(text.slice(0, 80))}: expected anyone, anonymous or local@domain` +
        ` (with a leading "-" for negative rights)`,
    );
  }
}

export function formatIdentifier(identifier: Identifier): string {
  const name = identifier.kind === 'account' ? identifier.address : identifier.kind;
  return identifier.negative ? NEGATIVE_PREFIX + name : name;
}

/** The normal form of an identifier's text; throws InvalidIdentifierError. */
export function normalizeIdentifier(text: string): string {
  return formatIdentifier(parseIdentifier(text));
}
