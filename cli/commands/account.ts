/** `marmot account add|passwd|list|show|set|remove`: accounts, their passwords, admin flag and quota limits. */
import type { Command } from 'commander';
import { formatAddress, normalizeAccountAddress, parseAccountAddress } from '../../shared/address/address.ts';
import type { Account } from '../../shared/directory/directory.ts';
import { AccountNotFoundError, AddressExistsError, DomainNotFoundError } from '../../shared/directory/errors.ts';
import type { CliContext } from '../context.ts';
import { type PasswordSource, readNewPassword } from '../password-input.ts';
import {
  formatSize,
  limitChange,
  type NO_LIMIT,
  parseCount,
  parseCountOrNone,
  parseSize,
  parseSizeOrNone,
} from '../quantities.ts';

interface JsonOption {
  json?: boolean;
}

function passwordOptions(command: Command): Command {
  return command
    .option('--password-stdin', 'read the password from standard input (one line)')
    .option('--generate', 'generate a password and print it once on stdout')
    .addHelpText('after', '\nWithout --password-stdin or --generate, the password is asked for on the terminal.');
}

export function registerAccountCommands(program: Command, context: CliContext): void {
  const account = program
    .command('account')
    .description('accounts (local@domain): passwords, admin flag, quota limits');

  passwordOptions(
    account
      .command('add')
      .description('add an account; its domain must exist')
      .argument('<address>', 'local@domain; letters, digits, ".", "-", "_"; case-insensitive'),
  )
    .option('--admin', 'the account may administer the system')
    .option('--quota-storage <size>', 'storage limit, e.g. 500M, 2G (default: unlimited)', parseSize)
    .option('--quota-messages <count>', 'message count limit (default: unlimited)', parseCount)
    .action(
      async (
        address: string,
        options: PasswordSource & { admin?: boolean; quotaStorage?: number; quotaMessages?: number },
      ) => {
        const parsed = parseAccountAddress(address);
        const normal = formatAddress(parsed);
        const directory = await context.directory({ settingPasswords: true });
        // Say what is wrong before asking for a password; addAccount checks again, atomically.
        if (!(await directory.isLocalDomain(parsed.domain))) throw new DomainNotFoundError(parsed.domain);
        if (await directory.getAccount(normal)) throw new AddressExistsError(normal, 'account');
        if (await directory.getAlias(normal)) throw new AddressExistsError(normal, 'alias');
        const { password, generated } = await readNewPassword(options, context.io);
        const added = await directory.addAccount(normal, {
          password,
          admin: options.admin ?? false,
          quota: { storageBytes: options.quotaStorage, messages: options.quotaMessages },
        });
        if (generated) context.out(password);
        context.say(`added account ${added.address}`);
      },
    );

  passwordOptions(
    account.command('passwd').description("set an account's password").argument('<address>', 'local@domain'),
  ).action(async (address: string, options: PasswordSource) => {
    const normal = normalizeAccountAddress(address);
    const directory = await context.directory({ settingPasswords: true });
    if (!(await directory.getAccount(normal))) throw new AccountNotFoundError(normal);
    const { password, generated } = await readNewPassword(options, context.io);
    await directory.setPassword(normal, password);
    if (generated) context.out(password);
    context.say(`changed the password of ${normal}`);
  });

  account
    .command('list')
    .description('list the accounts of one domain, or of all domains')
    .argument('[domain]', 'only this domain')
    .option('--json', 'print JSON')
    .action(async (domain: string | undefined, options: JsonOption) => {
      const accounts = await (await context.directory()).listAccounts(domain);
      if (options.json) return context.json(accounts);
      if (accounts.length === 0) return context.say('no accounts');
      context.table(
        ['ACCOUNT', 'ADMIN', 'QUOTA-STORAGE', 'QUOTA-MESSAGES'],
        accounts.map((a) => [a.address, a.admin ? 'yes' : 'no', ...quotaCells(a)]),
      );
    });

  account
    .command('show')
    .description('show one account (never its password verifiers)')
    .argument('<address>', 'local@domain')
    .option('--json', 'print JSON')
    .action(async (address: string, options: JsonOption) => {
      const found = await (await context.directory()).getAccount(address);
      if (!found) throw new AccountNotFoundError(normalizeAccountAddress(address));
      if (options.json) return context.json(found);
      const [storage, messages] = quotaCells(found);
      context.out(`account:          ${found.address}`);
      context.out(`admin:            ${found.admin ? 'yes' : 'no'}`);
      context.out(`quota storage:    ${storage}`);
      context.out(`quota messages:   ${messages}`);
      context.out(`created:          ${found.createdAt}`);
      context.out(`password changed: ${found.passwordChangedAt}`);
      context.out(`id:               ${found.id}`);
    });

  account
    .command('set')
    .description("change an account's admin flag or quota limits")
    .argument('<address>', 'local@domain')
    .option('--admin', 'make the account an administrator')
    .option('--no-admin', 'make the account an ordinary user')
    .option('--quota-storage <size>', 'storage limit, e.g. 500M, 2G, or "none"', parseSizeOrNone)
    .option('--quota-messages <count>', 'message count limit, or "none"', parseCountOrNone)
    .action(
      async (
        address: string,
        options: { admin?: boolean; quotaStorage?: number | typeof NO_LIMIT; quotaMessages?: number | typeof NO_LIMIT },
      ) => {
        const changed = await (await context.directory()).setAccountSettings(address, {
          admin: options.admin,
          quota: { storageBytes: limitChange(options.quotaStorage), messages: limitChange(options.quotaMessages) },
        });
        context.say(`changed account ${changed.address}`);
      },
    );

  account
    .command('remove')
    .description('remove an account from the directory (its mail is purged by the expire job)')
    .argument('<address>', 'local@domain')
    .action(async (address: string) => {
      const removed = await (await context.directory()).removeAccount(address);
      context.say(`removed account ${removed.address}`);
    });
}

function quotaCells(account: Account): [string, string] {
  const { storageBytes, messages } = account.quota;
  return [
    storageBytes === undefined ? 'unlimited' : formatSize(storageBytes),
    messages === undefined ? 'unlimited' : String(messages),
  ];
}
