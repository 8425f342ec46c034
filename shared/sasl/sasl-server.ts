/**
 * What a listener process holds for SASL, made once at start and shared by every listener and
 * connection in the process: the decoy credentials (their salt secret shared by all processes through
 * the directory), one failed-login throttle (so a guesser moving between connections, listeners or
 * protocols is still counted), and a short cache of the domains whose legacy mechanisms are on. Per
 * connection it gives the mechanisms to advertise and the context `createMechanism` runs with.
 *
 * DIGEST-MD5 realms: the challenge offers the hosted domains whose legacy mechanisms are on (at most
 * MAX_DIGEST_REALMS, else none). Cyrus SASL clients need an offered realm: with none they use the
 * server's host name, which no stored verifier is made for. Listing the domains tells an anonymous
 * client which domains are hosted here, which their MX records already say.
 *
 * SECURITY: trusts the directory and the key vault; everything from the client goes through the
 * mechanisms (sasl.ts).
 */

import type { KeyVault } from '../keyvault/key-vault.ts';
import { AuthThrottle } from './auth-throttle.ts';
import { type ChannelBindings, hasChannelBinding } from './channel-binding.ts';
import { createDecoyCredentials, type DecoyCredentials } from './credentials.ts';
import type { SaslContext, SaslDirectory, SaslMechanism, SaslMechanismName, SaslService } from './mechanism.ts';
import { advertisedMechanisms, createMechanism } from './sasl.ts';

/** How long the list of domains with legacy mechanisms is reused before it is read again. */
export const LEGACY_DOMAINS_CACHE_MS = 30_000;
/** With more such domains than this, DIGEST-MD5 offers no realm: a challenge listing thousands helps no client. */
export const MAX_DIGEST_REALMS = 16;

export interface SaslConnection {
  service: SaslService;
  /** Whether the connection is TLS-protected now (implicit TLS, or after STARTTLS). */
  tls: boolean;
  /** `channelBindingsOf(socket)` of the TLS connection; enables the -PLUS mechanisms. */
  channelBindings?: ChannelBindings;
  /** The client's IP address, as the throttle keys it (after PROXY protocol, the real client's). */
  clientAddress: string;
}

export interface SaslServerOptions {
  directory: SaslDirectory;
  vault: KeyVault;
  /** This server's name (CRAM-MD5 challenges, NTLM target info, DIGEST-MD5 digest-uri). */
  hostname: string;
  /** Further names clients may put in DIGEST-MD5 digest-uri. */
  alternateHostnames?: readonly string[];
  /** Defaults to a throttle with the default policies. */
  throttle?: AuthThrottle;
  now?: () => number;
}

export class SaslServer {
  readonly throttle: AuthThrottle;
  private legacyDomains: readonly string[] = [];
  private readAt = Number.NEGATIVE_INFINITY;
  private reading: Promise<void> | undefined;
  private readonly now: () => number;

  private constructor(
    private readonly options: SaslServerOptions,
    private readonly decoy: DecoyCredentials,
  ) {
    this.throttle = options.throttle ?? new AuthThrottle();
    this.now = options.now ?? Date.now;
  }

  /**
   * Creates the decoy (one scrypt and two PBKDF2 derivations, a vault call) and reads the legacy
   * domains once: made once per process.
   */
  static async open(options: SaslServerOptions): Promise<SaslServer> {
    const saltSecret = await options.directory.decoySaltSecret();
    const server = new SaslServer(options, await createDecoyCredentials(options.vault, { saltSecret }));
    await server.refresh();
    return server;
  }

  /**
   * What to advertise on this connection now, strongest first. Synchronous, because greetings, EHLO
   * and CAPABILITY are built synchronously: it answers from the cached legacy-domain list and reads
   * the list again in the background once it is LEGACY_DOMAINS_CACHE_MS old.
   */
  mechanisms(connection: Pick<SaslConnection, 'tls' | 'channelBindings'>): SaslMechanismName[] {
    const legacyDomains = this.currentLegacyDomains();
    return advertisedMechanisms({
      tls: connection.tls,
      legacyEnabled: legacyDomains.length > 0,
      channelBinding: connection.tls && hasChannelBinding(connection.channelBindings),
    });
  }

  context(connection: SaslConnection): SaslContext {
    const legacyDomains = this.currentLegacyDomains();
    return {
      directory: this.options.directory,
      decoy: this.decoy,
      service: connection.service,
      hostname: this.options.hostname,
      alternateHostnames: this.options.alternateHostnames,
      digestRealms: legacyDomains.length <= MAX_DIGEST_REALMS ? [...legacyDomains] : [],
      tls: connection.tls,
      channelBindings: connection.tls ? connection.channelBindings : undefined,
      throttle: { limiter: this.throttle, clientAddress: connection.clientAddress },
    };
  }

  /** A mechanism for one exchange, or undefined when the name is not one we implement. */
  start(mechanism: string, connection: SaslConnection): SaslMechanism | undefined {
    return createMechanism(mechanism, this.context(connection));
  }

  /** Reads the list again (one read at a time) and waits for it. */
  refresh(): Promise<void> {
    this.reading ??= this.options.directory
      .domainsWithLegacyMechanisms()
      .then((domains) => {
        this.legacyDomains = domains;
      })
      // A failed read keeps the last list (none before the first success), so a store outage never
      // breaks a greeting or EHLO (the exchanges themselves then fail as `unavailable`), and is
      // retried after the same interval rather than on every greeting.
      .catch(() => undefined)
      .finally(() => {
        this.readAt = this.now();
        this.reading = undefined;
      });
    return this.reading;
  }

  private currentLegacyDomains(): readonly string[] {
    if (this.now() - this.readAt >= LEGACY_DOMAINS_CACHE_MS) void this.refresh();
    return this.legacyDomains;
  }
}
