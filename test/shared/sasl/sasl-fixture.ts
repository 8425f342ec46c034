/**
 * Accounts for the SASL tests: real verifiers (derived, sealed with a real local key vault in a temp
 * directory, loaded back), behind a small in-memory directory standing in for the accounts store.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyVault } from '../../../shared/keyvault/key-vault.ts';
import { LocalKeyVault } from '../../../shared/keyvault/local-key-vault.ts';
import {
  createDecoyCredentials,
  DECOY_SALT_SECRET_BYTES,
  type DecoyCredentials,
  deriveCredentials,
  openCredentials,
  sealCredentials,
} from '../../../shared/sasl/credentials.ts';
import type { SaslAccount, SaslContext, SaslDirectory, SaslStepResult } from '../../../shared/sasl/mechanism.ts';

export const PASSWORD = 'correct horse battery';
export const ALICE = 'alice@example.com';
export const ADMIN = 'admin@example.com';
export const BOB = 'bob@example.com';
/** A domain whose legacy mechanisms are switched off. */
export const STRICT_USER = 'sam@strict.example';

export interface SaslFixture {
  vault: KeyVault;
  decoy: DecoyCredentials;
  directory: SaslDirectory & { lookups: string[] };
  context(overrides?: Partial<SaslContext>): SaslContext;
}

let shared: Promise<SaslFixture> | undefined;

/** One fixture per test file (deriving verifiers costs scrypt and PBKDF2 time). */
export function saslFixture(): Promise<SaslFixture> {
  shared ??= createFixture();
  return shared;
}

async function createFixture(): Promise<SaslFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'marmot-sasl-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const vault = await LocalKeyVault.open(dir);
  const accounts = new Map<string, SaslAccount>();
  await Promise.all(
    [ALICE, ADMIN, BOB, STRICT_USER].map(async (login) => {
      const realm = login.slice(login.indexOf('@') + 1);
      const derived = await deriveCredentials(PASSWORD, { username: login, realm });
      const record = await sealCredentials(derived, vault);
      accounts.set(login, { login, credentials: openCredentials(record, vault, login) });
    }),
  );
  const saltSecret = randomBytes(DECOY_SALT_SECRET_BYTES);
  const decoy = await createDecoyCredentials(vault, { saltSecret });
  const lookups: string[] = [];
  const directory: SaslDirectory & { lookups: string[] } = {
    lookups,
    async lookupCredentials(authcid) {
      lookups.push(authcid);
      return accounts.get(authcid.toLowerCase());
    },
    async isAdmin(login) {
      return login === ADMIN;
    },
    async legacyMechanismsEnabled(domain) {
      return domain !== 'strict.example';
    },
    async domainsWithLegacyMechanisms() {
      return ['example.com'];
    },
    async decoySaltSecret() {
      return saltSecret;
    },
  };
  return {
    vault,
    decoy,
    directory,
    context(overrides = {}) {
      return { directory, decoy, service: 'imap', hostname: 'mail.example.com', tls: true, ...overrides };
    },
  };
}

/** The failure kind of a result, or 'success' / 'challenge', for compact assertions. */
export function outcome(result: SaslStepResult): string {
  if ('challenge' in result) return 'challenge';
  if ('success' in result) return 'success';
  return result.failure.kind;
}
