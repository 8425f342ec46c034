/**
 * `marmot quota set|get`: an account's quota root (RFC 9208), `user/local@domain`, with the resources
 * cyradm's `sq` takes: STORAGE in kilobytes and MESSAGE in messages. The limits are the account's in the
 * directory (also set by `marmot account set --quota-storage`); usage leaves out expunged mail kept for
 * unexpunge and deleted folders.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { openMailStore } from '../../shared/mailbox/index.ts';
import {
  getQuotaRoot,
  QUOTA_RESOURCES,
  type QuotaLimitChanges,
  type QuotaResourceName,
  type QuotaRoot,
  setQuotaLimits,
} from '../../shared/quota/quota-roots.ts';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';
import { NO_LIMIT, parseCount } from '../quantities.ts';

interface JsonOption {
  json?: boolean;
}

export function registerQuotaCommands(program: Command, context: CliContext): void {
  const quota = program
    .command('quota')
    .description('quota roots (RFC 9208): STORAGE (KB) and MESSAGE limits and usage');

  quota
    .command('set')
    .description('change the limits of a quota root; resources not given keep their limit')
    .argument('<root>', 'user/local@domain')
    .argument('<limits...>', 'pairs: STORAGE <kilobytes|none> and/or MESSAGE <count|none>')
    .addHelpText('after', '\nExample: marmot quota set user/bob@example.com STORAGE 100000 MESSAGE none')
    .action(async (root: string, limits: string[]) => {
      const changes = parseLimitPairs(limits);
      const directory = await context.directory();
      const store = openMailStore((await context.stores()).metadata);
      const updated = await setQuotaLimits(directory, store, root, changes);
      context.say(`set the quota of ${updated.name}: ${describe(updated)}`);
    });

  quota
    .command('get')
    .description('show the usage and limits of a quota root')
    .argument('<root>', 'user/local@domain')
    .option('--json', 'print JSON')
    .action(async (root: string, options: JsonOption) => {
      const directory = await context.directory();
      const found = await getQuotaRoot(directory, openMailStore((await context.stores()).metadata), root);
      if (options.json) return context.json(found);
      if (found.resources.length === 0) return context.say(`${found.name} has no limits`);
      context.table(
        ['ROOT', 'RESOURCE', 'USAGE', 'LIMIT', 'PERCENT'],
        found.resources.map((resource) => [
          found.name,
          resource.name,
          String(resource.usage),
          String(resource.limit),
          `${Math.floor((resource.usage * 100) / resource.limit)}%`,
        ]),
      );
    });
}

function parseLimitPairs(words: string[]): QuotaLimitChanges {
  if (words.length % 2 !== 0) throw new UsageError('limits come in pairs: RESOURCE VALUE');
  const changes: QuotaLimitChanges = {};
  for (let index = 0; index < words.length; index += 2) {
    const name = words[index]!.toUpperCase();
    if (!(QUOTA_RESOURCES as readonly string[]).includes(name)) {
      throw new UsageError(`unknown quota resource ${words[index]} (${QUOTA_RESOURCES.join(', ')})`);
    }
    const value = words[index + 1]!;
    try {
      changes[name as QuotaResourceName] = value.toLowerCase() === NO_LIMIT ? null : parseCount(value);
    } catch (error) {
      if (error instanceof InvalidArgumentError) throw new UsageError(`${name} ${value}: ${error.message} or none`);
      throw error;
    }
  }
  return changes;
}

function describe(root: QuotaRoot): string {
  if (root.resources.length === 0) return 'no limits';
  return root.resources.map((resource) => `${resource.name} ${resource.usage}/${resource.limit}`).join(', ');
}
