/**
 * What the server advertises in CAPABILITY, which depends on the session: before login, STARTTLS on
 * plaintext, the SASL mechanisms this connection may use (shared/sasl: no PLAIN before TLS, -PLUS with
 * TLS, the legacy ones while a domain allows them), and LOGINDISABLED (RFC 9051 §6.2.3) where LOGIN
 * would send the password in clear, unless the listener is trusted-plaintext; after login, the
 * extensions. Both IMAP4rev1 and IMAP4rev2: a session speaks rev1 until it sends ENABLE IMAP4rev2
 * (RFC 9051 Appendix E).
 */
import { MAX_APPEND_BYTES } from './limits.ts';

/** What a client may ENABLE (RFC 5161), IMAP4rev2 among them (RFC 9051 §6.3.1). */
export const ENABLEABLE = ['CONDSTORE', 'QRESYNC', 'UTF8=ACCEPT', 'IMAP4rev2'] as const;
export type Enableable = (typeof ENABLEABLE)[number];

export interface CapabilityState {
  authenticated: boolean;
  /** TLS is on (implicit TLS or after STARTTLS). */
  secure: boolean;
  /** The listener allows authentication without TLS (tests, loopback). */
  plaintextAuth: boolean;
  /** STARTTLS is possible (not yet TLS, and a certificate is configured). */
  startTlsAvailable: boolean;
  /** The SASL mechanisms this connection may use now (SaslServer.mechanisms). */
  mechanisms: readonly string[];
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
  'STATUS=SIZE',
  'SAVEDATE',
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
  const list = ['IMAP4rev1', 'IMAP4rev2', 'SASL-IR', 'ID', 'ENABLE'];
  if (!state.authenticated) {
    // Before login, non-synchronizing literals are limited to 4096 bytes (RFC 7888 LITERAL-).
    list.push('LITERAL-');
    if (state.startTlsAvailable) list.push('STARTTLS');
    list.push(...state.mechanisms.map((mechanism) => `AUTH=${mechanism}`));
    if (!state.secure && !state.plaintextAuth) list.push('LOGINDISABLED');
    return list;
  }
  list.push('LITERAL+', ...AUTHENTICATED_EXTENSIONS);
  if (!state.compressed) list.push('COMPRESS=DEFLATE');
  return list;
}
