/**
 * The seam between the SASL mechanisms and the listeners (SMTP, IMAP, ManageSieve).
 *
 * A listener creates one mechanism per AUTHENTICATE/AUTH command with `createMechanism` (sasl.ts), then
 * feeds it decoded client responses until it returns success or failure. The listener owns the framing
 * (`334 `, `+ `, base64, `*`); this layer owns everything else: parsing, verification, throttling,
 * authorization. No I/O besides what the context gives it.
 *
 * Replies a listener maps the failure kinds to (one place per protocol):
 *
 * | kind                   | SMTP (RFC 4954)      | IMAP (RFC 9051, RFC 5530)  | ManageSieve (RFC 5804)  |
 * |------------------------|----------------------|----------------------------|-------------------------|
 * | bad-credentials        | 535 5.7.8            | NO [AUTHENTICATIONFAILED]  | NO                      |
 * | authorization-denied   | 535 5.7.8            | NO [AUTHORIZATIONFAILED]   | NO                      |
 * | malformed              | 501 5.5.2            | BAD                        | NO                      |
 * | aborted                | 501 5.7.0            | BAD                        | NO                      |
 * | mechanism-not-allowed  | by `requirement`:    |                            |                         |
 * |   tls                  | 538 5.7.11           | NO [PRIVACYREQUIRED]       | NO (ENCRYPT-NEEDED)     |
 * |   channel-binding      | 504 5.5.4            | NO [CANNOT]                | NO                      |
 * |   domain-policy, ntlmv2| 534 5.7.9            | NO [CANNOT]                | NO                      |
 * | throttled, unavailable | 454 4.7.0            | NO [UNAVAILABLE]           | NO (TRYLATER)           |
 */

import type { AuthThrottle } from './auth-throttle.ts';
import type { ChannelBindings } from './channel-binding.ts';
import type { DecoyCredentials, StoredCredentials } from './credentials.ts';

export const SASL_MECHANISM_NAMES = [
  'SCRAM-SHA-256-PLUS',
  'SCRAM-SHA-1-PLUS',
  'SCRAM-SHA-256',
  'SCRAM-SHA-1',
  'DIGEST-MD5',
  'CRAM-MD5',
  'NTLM',
  'PLAIN',
  'LOGIN',
] as const;
export type SaslMechanismName = (typeof SASL_MECHANISM_NAMES)[number];

/** The GSSAPI service names (RFC 2831 `serv-type`), one per protocol. */
export type SaslService = 'smtp' | 'imap' | 'sieve';

export interface SaslAccount {
  /** The canonical login (`local@domain`) the directory resolved the name to. */
  login: string;
  credentials: StoredCredentials;
}

/** What the directory (later: the accounts store) provides. */
export interface SaslDirectory {
  /** The account a client-supplied name designates, or undefined when there is none (or it may not log in). */
  lookupCredentials(authcid: string): Promise<SaslAccount | undefined>;
  /** Whether this login may authenticate as another user (RFC 4422 §2: authorization identity). */
  isAdmin(login: string): Promise<boolean>;
  /**
   * Whether CRAM-MD5, DIGEST-MD5 and NTLM may be used for names in this domain (undefined: the name had
   * no domain). Must not depend on whether the account exists: that would let them be enumerated.
   */
  legacyMechanismsEnabled(domain: string | undefined): Promise<boolean>;
  /** The hosted domains whose legacy switch is on: whether to advertise them, and DIGEST-MD5's realms. */
  domainsWithLegacyMechanisms(): Promise<string[]>;
  /** The secret shared by every listener process that decoy SCRAM salts are derived from. */
  decoySaltSecret(): Promise<Buffer>;
}

export interface SaslContext {
  directory: SaslDirectory;
  /** Made once per process with `createDecoyCredentials(keyVault)`. */
  decoy: DecoyCredentials;
  service: SaslService;
  /** This server's name: CRAM-MD5 challenges, NTLM target info, and the host DIGEST-MD5 URIs must name. */
  hostname: string;
  /** Further names clients may use for this server in DIGEST-MD5 `digest-uri`. */
  alternateHostnames?: readonly string[];
  /** Realms to offer in DIGEST-MD5 challenges; none by default (offering every domain would list them). */
  digestRealms?: readonly string[];
  /** Whether the connection is TLS-protected (PLAIN and LOGIN need it). */
  tls: boolean;
  /** Channel-binding data of this TLS connection; present means -PLUS mechanisms are offered. */
  channelBindings?: ChannelBindings;
  /** Failed-login throttling, shared by all connections of a listener process. */
  throttle?: { limiter: AuthThrottle; clientAddress: string };
  /** Only for tests replaying published vectors: the server nonce or challenge each mechanism uses. */
  fixedNonce?: (mechanism: SaslMechanismName) => string;
}

export type SaslFailureKind =
  | 'bad-credentials'
  | 'authorization-denied'
  | 'malformed'
  | 'aborted'
  | 'mechanism-not-allowed'
  | 'throttled'
  | 'unavailable';

export interface SaslFailure {
  kind: SaslFailureKind;
  /** For logs only; never sent to the client (it could tell an unknown user from a wrong password). */
  detail: string;
  /** The name the client tried, when it got that far (for logs). */
  authcid?: string;
  /** For `throttled`: when trying again may succeed. */
  retryAfterMs?: number;
  /** For `unavailable`: the underlying error. */
  cause?: unknown;
  /**
   * For `mechanism-not-allowed`, what was missing: TLS (PLAIN, LOGIN), TLS channel-binding data
   * (-PLUS), a domain whose legacy mechanisms are on, or an NTLMv2 response rather than NTLMv1 (the
   * last two are RFC 4954 §6's "mechanism is too weak").
   */
  requirement?: 'tls' | 'channel-binding' | 'domain-policy' | 'ntlmv2';
}

export interface SaslIdentity {
  /** The canonical login that proved its credentials. */
  authcid: string;
  /** The login to act as: authcid itself, or for an admin the identity it asked for. */
  authzid: string;
}

export type SaslStepResult =
  | { challenge: Buffer }
  /**
   * `serverFinal` (SCRAM's `v=`, DIGEST-MD5's `rspauth=`) is data sent with success. A protocol that
   * cannot carry data with success (SMTP, IMAP) sends it as one more challenge, expects an empty
   * response, and only then reports success (RFC 4422 §5).
   */
  | { success: SaslIdentity; serverFinal?: Buffer }
  | { failure: SaslFailure };

/** How an exchange ended: what a listener turns into its final reply. */
export type SaslOutcome = Exclude<SaslStepResult, { challenge: Buffer }>;

export interface SaslMechanism {
  readonly name: SaslMechanismName;
  /**
   * Feeds the next client response: `undefined` when the client sent no initial response, an empty
   * buffer for an empty one. Never rejects: infrastructure errors come back as `unavailable`.
   */
  step(response: Buffer | undefined): Promise<SaslStepResult>;
}

export function failure(kind: SaslFailureKind, detail: string, extra: Partial<SaslFailure> = {}): SaslStepResult {
  return { failure: { kind, detail, ...extra } };
}
