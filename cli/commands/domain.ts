/** `marmot domain add|list|show|set|remove`: the domains we accept mail for, and their settings. */
import type { Command } from 'commander';
import { normalizeDomain } from '../../shared/address/address.ts';
import {
  DEFAULT_RETENTION_DAYS,
  type Domain,
  MAX_RETENTION_DAYS,
  MIN_RETENTION_DAYS,
} from '../../shared/directory/directory.ts';
import { DomainNotFoundError } from '../../shared/directory/errors.ts';
import type { CliContext } from '../context.ts';
import { parseWholeNumber } from '../quantities.ts';

interface JsonOption {
  json?: boolean;
}

export function registerDomainCommands(program: Command, context: CliContext): void {
  const domain = program
    .command('domain')
    .description('local domains: the mail domains this system accepts mail for, and their settings');

  domain
    .command('add')
    .description('add a domain; accounts and aliases in it can be added next')
    .argument('<domain>', 'domain name (an internationalised name is stored in its xn-- form)')
    .option(
      '--retention-days <days>',
      `days expunged mail and deleted folders are kept, ${MIN_RETENTION_DAYS} to ${MAX_RETENTION_DAYS} (default ${DEFAULT_RETENTION_DAYS})`,
      parseWholeNumber,
    )
    .option('--no-legacy-sasl', 'do not offer legacy SASL mechanisms (CRAM-MD5, DIGEST-MD5, ...) in this domain')
    .action(async (name: string, options: { retentionDays?: number; legacySasl: boolean }) => {
      const directory = await context.directory();
      const added = await directory.addDomain(name, {
        retentionDays: options.retentionDays,
        legacySaslMechanisms: options.legacySasl,
      });
      context.say(`added domain ${added.name}`);
    });

  domain
    .command('list')
    .description('list the domains')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption) => {
      const domains = await (await context.directory()).listDomains();
      if (options.json) return context.json(domains);
      if (domains.length === 0) return context.say('no domains');
      context.table(
        ['DOMAIN', 'STATE', 'RETENTION-DAYS', 'LEGACY-SASL'],
        domains.map((d) => [d.name, d.state, String(d.retentionDays), d.legacySaslMechanisms ? 'yes' : 'no']),
      );
    });

  domain
    .command('show')
    .description("show one domain's settings")
    .argument('<domain>', 'domain name')
    .option('--json', 'print JSON')
    .action(async (name: string, options: JsonOption) => {
      const found = await (await context.directory()).getDomain(name);
      if (!found) throw new DomainNotFoundError(normalizeDomain(name));
      if (options.json) return context.json(found);
      printDomain(context, found);
    });

  domain
    .command('set')
    .description("change a domain's settings")
    .argument('<domain>', 'domain name')
    .option(
      '--retention-days <days>',
      `days expunged mail is kept, ${MIN_RETENTION_DAYS} to ${MAX_RETENTION_DAYS}`,
      parseWholeNumber,
    )
    .option('--legacy-sasl', 'offer legacy SASL mechanisms in this domain')
    .option('--no-legacy-sasl', 'do not offer legacy SASL mechanisms in this domain')
    .action(async (name: string, options: { retentionDays?: number; legacySasl?: boolean }) => {
      const changed = await (await context.directory()).setDomainSettings(name, {
        retentionDays: options.retentionDays,
        legacySaslMechanisms: options.legacySasl,
      });
      context.say(`changed domain ${changed.name}`);
    });

  domain
    .command('remove')
    .description('remove a domain; refused while it has accounts or aliases unless --force')
    .argument('<domain>', 'domain name')
    .option('--force', 'also remove every account and alias in the domain')
    .action(async (name: string, options: { force?: boolean }) => {
      const removed = await (await context.directory()).removeDomain(name, { force: options.force });
      const detail = options.force ? ` with ${removed.accounts} account(s) and ${removed.aliases} alias(es)` : '';
      context.say(`removed domain ${removed.domain}${detail}`);
    });
}

function printDomain(context: CliContext, domain: Domain): void {
  context.out(`domain:         ${domain.name}`);
  context.out(`state:          ${domain.state}`);
  context.out(`retention days: ${domain.retentionDays}`);
  context.out(`legacy SASL:    ${domain.legacySaslMechanisms ? 'yes' : 'no'}`);
  context.out(`created:        ${domain.createdAt}`);
  context.out(`id:             ${domain.id}`);
}
