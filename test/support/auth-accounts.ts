/**
 * The directory the end-to-end authentication tests (test/e2e/auth-*.test.ts) log in against: a domain
 * that allows the legacy SASL mechanisms and one that does not, one account per client (the throttle
 * counts failures per account, so clients do not share one), an admin, and a user of the strict domain.
 */
import type { TestMailSystem } from './mail-system.ts';

export const AUTH_PASSWORD = 'correct horse battery';

/** Adds the domains and accounts, `clients` as `<name>@example.com`, and makes the listeners see them. */
export async function seedAuthAccounts(system: TestMailSystem, clients: readonly string[]): Promise<void> {
  const { directory } = system;
  await directory.addDomain('example.com');
  await directory.addDomain('strict.example', { legacySaslMechanisms: false });
  for (const name of clients) await directory.addAccount(`${name}@example.com`, { password: AUTH_PASSWORD });
  await directory.addAccount('boss@example.com', { password: AUTH_PASSWORD, admin: true });
  await directory.addAccount('sam@strict.example', { password: AUTH_PASSWORD });
  // The listeners read which domains allow the legacy mechanisms every 30 s; now, for this test.
  await system.sasl.refresh();
}
