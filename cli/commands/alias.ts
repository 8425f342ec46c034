/** `marmot alias add|list|show|remove`: addresses that forward to accounts or anywhere else. */
import type { Command } from 'commander';
import { normalizeAccountAddress } from '../../shared/address/address.ts';
import { AliasNotFoundError } from '../../shared/directory/errors.ts';
import type { CliContext } from '../context.ts';

interface JsonOption {
  json?: boolean;
}

export function registerAliasCommands(program: Command, context: CliContext): void {
  const alias = program.command('alias').description('aliases: local addresses delivered to other addresses');

  alias
    .command('add')
    .description('add an alias; its domain must exist, and no account or alias may have its address')
    .argument('<address>', 'local@domain of the alias')
    .argument('<targets...>', 'where its mail goes: local accounts, other aliases, or any address')
    .option('--suffixes', 'also receive local+anything@domain')
    .option('--bulk', 'mail to it is bulk (a list)')
    .action(async (address: string, targets: string[], options: { suffixes?: boolean; bulk?: boolean }) => {
      const added = await (await context.directory()).addAlias(address, targets, {
        suffixes: options.suffixes ?? false,
        bulk: options.bulk ?? false,
      });
      context.say(`added alias ${added.address} → ${added.targets.join(', ')}`);
    });

  alias
    .command('list')
    .description('list the aliases of one domain, or of all domains')
    .argument('[domain]', 'only this domain')
    .option('--json', 'print JSON')
    .action(async (domain: string | undefined, options: JsonOption) => {
      const aliases = await (await context.directory()).listAliases(domain);
      if (options.json) return context.json(aliases);
      if (aliases.length === 0) return context.say('no aliases');
      context.table(
        ['ALIAS', 'FLAGS', 'TARGETS'],
        aliases.map((a) => [a.address, flags(a) || '-', a.targets.join(', ')]),
      );
    });

  alias
    .command('show')
    .description('show one alias')
    .argument('<address>', 'local@domain')
    .option('--json', 'print JSON')
    .action(async (address: string, options: JsonOption) => {
      const found = await (await context.directory()).getAlias(address);
      if (!found) throw new AliasNotFoundError(normalizeAccountAddress(address));
      if (options.json) return context.json(found);
      context.out(`alias:    ${found.address}`);
      context.out(`suffixes: ${found.suffixes ? 'yes' : 'no'}`);
      context.out(`bulk:     ${found.bulk ? 'yes' : 'no'}`);
      context.out(`created:  ${found.createdAt}`);
      for (const target of found.targets) context.out(`target:   ${target}`);
    });

  alias
    .command('remove')
    .description('remove an alias')
    .argument('<address>', 'local@domain')
    .action(async (address: string) => {
      const removed = await (await context.directory()).removeAlias(address);
      context.say(`removed alias ${removed.address}`);
    });
}

function flags(alias: { suffixes: boolean; bulk: boolean }): string {
  return [alias.suffixes ? 'suffixes' : '', alias.bulk ? 'bulk' : ''].filter(Boolean).join(',');
}
