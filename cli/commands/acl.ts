/**
 * `marmot acl set|delete|list`: mailbox access control lists (RFC 4314) with the rights letters cyradm
 * takes (`lrswipkxtea`, and `c`/`d` for their groups), on any account's mailbox or a shared mailbox.
 * Rights and identifiers may start with `-` (`-w` removes rights, `-bob@example.com` is a negative entry):
 * these commands take such words as arguments, not options.
 */
import type { Command } from 'commander';
import { aclEntries, deleteMailboxRights, setMailboxRights } from '../../shared/acl/index.ts';
import { getMailboxByName } from '../../shared/mailbox/index.ts';
import type { CliContext } from '../context.ts';
import { pathOf, resolvePath } from './mailbox.ts';

interface JsonOption {
  json?: boolean;
}

const RIGHTS_HELP = `
Rights (RFC 4314): l lookup, r read, s keep seen, w write flags, i insert, p post, k create
subfolders, x delete mailbox, t delete messages, e expunge, a administer; c = k, d = x t e.
"+rights" adds, "-rights" removes, plain rights replace. Identifiers: local@domain, anyone,
anonymous, and "-identifier" for rights taken away. The owner always has every right.`;

export function registerAclCommands(program: Command, context: CliContext): void {
  const acl = program
    .command('acl')
    .description('mailbox access control lists (RFC 4314): who may see, read, write and post to a mailbox');

  acl
    .command('set')
    .description("set, add (+) or remove (-) an identifier's rights on a mailbox")
    .argument('<mailbox>', 'user/local@domain[/folder] or a shared name@domain')
    .argument('<identifier>', 'local@domain, anyone, anonymous, or -identifier')
    .argument('<rights>', 'e.g. lrs, +w, -x, lrswipkxtecda')
    .allowUnknownOption()
    .addHelpText('after', RIGHTS_HELP)
    .action(async (text: string, identifier: string, rights: string) => {
      const resolved = await resolvePath(context, text);
      const mailbox = await getMailboxByName(resolved.store, resolved.owner.id, resolved.path.name);
      const result = await setMailboxRights(
        resolved.store,
        mailbox.id,
        identifier,
        rights,
        resolved.directory,
        resolved.owner.account?.address,
      );
      const where = pathOf(resolved, mailbox.name);
      context.say(result === '' ? `removed ${identifier} from ${where}` : `set ${identifier} ${result} on ${where}`);
    });

  acl
    .command('delete')
    .description("remove an identifier's entry from a mailbox's ACL")
    .argument('<mailbox>', 'user/local@domain[/folder] or a shared name@domain')
    .argument('<identifier>', 'local@domain, anyone, anonymous, or -identifier')
    .allowUnknownOption()
    .action(async (text: string, identifier: string) => {
      const resolved = await resolvePath(context, text);
      const mailbox = await getMailboxByName(resolved.store, resolved.owner.id, resolved.path.name);
      const removed = await deleteMailboxRights(resolved.store, mailbox.id, identifier);
      const where = pathOf(resolved, mailbox.name);
      context.say(removed ? `removed ${identifier} from ${where}` : `${identifier} had no entry on ${where}`);
    });

  acl
    .command('list')
    .description("show a mailbox's ACL (the owner first, as GETACL shows it)")
    .argument('<mailbox>', 'user/local@domain[/folder] or a shared name@domain')
    .option('--json', 'print JSON')
    .action(async (text: string, options: JsonOption) => {
      const resolved = await resolvePath(context, text);
      const mailbox = await getMailboxByName(resolved.store, resolved.owner.id, resolved.path.name);
      const entries = aclEntries(mailbox, resolved.owner.account?.address);
      if (options.json) return context.json(entries);
      if (entries.length === 0) return context.say(`no entries on ${pathOf(resolved, mailbox.name)}`);
      context.table(
        ['IDENTIFIER', 'RIGHTS'],
        entries.map((entry) => [entry.identifier, entry.rights]),
      );
    });
}
