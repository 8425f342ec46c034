/**
 * What the server advertises in CAPABILITY, which depends on the session: before login over plaintext
 * it offers STARTTLS and refuses authentication (LOGINDISABLED, RFC 9051 §6.2.3) unless the listener is
 * trusted-plaintext; after login it lists the extensions.
 */
import { MAX_APPEND_BYTES } from './limits.ts';

/** Extensions a client may ENABLE (RFC 5161). */
export const ENABLEABLE = ['CONDSTORE', 'QRESYNC', 'UTF8=ACCEPT'] as const;
export type Enableable = (typeof ENABLEABLE)[number];

/** SASL mechanisms offered; the SASL module adds more behind the same AUTHENTICATE loop. */
export const SASL_MECHANISMS = ['PLAIN'] as const;

export interface CapabilityState {
  authenticated: boolean;
  /** TLS is on (implicit TLS or after STARTTLS). */
  secure: boolean;
  /** The listener allows authentication without TLS (tests, loopback). */
  plaintextAuth: boolean;
  /** STARTTLS is possible (not yet TLS, and a certificate is configured). */
  startTlsAvailable: boolean;
  compressed: boolean;
}

const AUTHENTICATED_EXTENSIONS = [
  'IDLE',
  'NAMESPACE',
  'UNSELECT',
  'UIDPLUS',
  'MOVE',
  'CHILDREN',
  'LIST-EXTENDED',
  'LIST-STATUS',
  'SPECIAL-USE',
  'CREATE-SPECIAL-USE',
  'ESEARCH',
  'SEARCHRES',
  'WITHIN',
  'SORT',
  'SORT=DISPLAY',
  'THREAD=ORDEREDSUBJECT',
  'THREAD=REFERENCES',
  'CONDSTORE',
  'QRESYNC',
  'MULTIAPPEND',
  'UTF8=ACCEPT',
  `APPENDLIMIT=${MAX_APPEND_BYTES}`,
  // RFC 4314 §2: the rights beyond RFC 2086's.
  'ACL',
  'RIGHTS=kxte',
  // RFC 9208 §3: the resources, and SETQUOTA.
  'QUOTA',
  'QUOTA=RES-STORAGE',
  'QUOTA=RES-MESSAGE',
  'QUOTASET',
];

export function capabilities(state: CapabilityState): string[] {
  const list = ['IMAP4rev1', 'SASL-IR', 'ID', 'ENABLE'];
  if (!state.authenticated) {
    // Before login, non-synchronizing literals are limited to 4096 bytes (RFC 7888 LITERAL-).
    list.push('LITERAL-');
    if (state.startTlsAvailable) list.push('STARTTLS');
    if (state.secure || state.plaintextAuth) list.push(...SASL_MECHANISMS.map((mechanism) => `AUTH=${mechanism}`));
    else list.push('LOGINDISABLED');
    return list;
  }
  list.push('LITERAL+', ...AUTHENTICATED_EXTENSIONS);
  if (!state.compressed) list.push('COMPRESS=DEFLATE');
  return list;
}
