/**
 * `marmot undelete <owner> [<folder>] [--as <name>]`: lists the folders an account (or a domain's shared
 * mailboxes) has in the hidden DELETED/ namespace, or brings one back with its messages, UIDs, UIDVALIDITY
 * and ACL, under its old name or, when that is taken now, under a new one (`--as`, or the old name with
 * " (restored <date>)").
 */
import type { Command } from 'commander';
import {
  type DeletedMailbox,
  listDeletedMailboxes,
  listExistingMailboxes,
  MailboxNotFoundError,
  undeleteMailbox,
} from '../../shared/mailbox/index.ts';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';
import { pathOf, type ResolvedPath, resolveOwnerArgument, sizeText } from './mailbox.ts';

/** Attempts at a free " (restored …)" name before giving up. */
const MAX_NAME_ATTEMPTS = 100;

interface UndeleteOptions {
  as?: string;
  json?: boolean;
}

export function registerUndeleteCommand(program: Command, context: CliContext): void {
  program
    .command('undelete')
    .description('list deleted folders (DELETED/) of an account or domain, or restore one')
    .argument('<owner>', 'user/local@domain, or a domain for its shared mailboxes')
    .argument('[folder]', 'the deleted folder to restore: its id, or its old name if only one has it')
    .option('--as <name>', 'restore under this name instead of the old one')
    .option('--json', 'print JSON')
    .action(async (ownerText: string, folder: string | undefined, options: UndeleteOptions) => {
      const resolved = await resolveOwnerArgument(context, ownerText);
      const deleted = await listDeletedMailboxes(resolved.store, resolved.owner.id);
      if (folder === undefined) return listDeleted(context, resolved, deleted, options);
      const chosen = choose(deleted, folder, resolved, ownerText);
      const name = options.as ?? (await freeName(resolved, chosen));
      const restored = await undeleteMailbox(resolved.store, resolved.owner.id, chosen.mailboxId, name);
      if (options.json) return context.json({ restored: pathOf(resolved, restored.name), mailboxId: restored.id });
      context.out(pathOf(resolved, restored.name));
      context.say(
        `restored ${pathOf(resolved, chosen.name)} (deleted ${chosen.deletedAt.toISOString()}, ` +
          `${chosen.messages} message${chosen.messages === 1 ? '' : 's'}) as ${pathOf(resolved, restored.name)}`,
      );
    });
}

function listDeleted(
  context: CliContext,
  resolved: ResolvedPath,
  deleted: DeletedMailbox[],
  options: UndeleteOptions,
): void {
  const rows = deleted.map((each) => ({
    mailbox: pathOf(resolved, each.name),
    deletedAt: each.deletedAt.toISOString(),
    messages: each.messages,
    size: each.size,
    id: each.mailboxId,
  }));
  if (options.json) {
    context.json(rows);
    return;
  }
  if (rows.length === 0) {
    context.say('no deleted folders');
    return;
  }
  context.table(
    ['MAILBOX', 'DELETED', 'MESSAGES', 'SIZE', 'ID'],
    rows.map((row) => [row.mailbox, row.deletedAt, String(row.messages), sizeText(row.size), row.id]),
  );
}

function choose(deleted: DeletedMailbox[], folder: string, resolved: ResolvedPath, ownerText: string): DeletedMailbox {
  const byId = deleted.find((each) => each.mailboxId === folder);
  if (byId) return byId;
  const byName = deleted.filter((each) => each.name === folder || pathOf(resolved, each.name) === folder);
  if (byName.length === 1) return byName[0]!;
  if (byName.length === 0) {
    throw new MailboxNotFoundError(`${folder} in DELETED/ (marmot undelete ${ownerText} lists them)`);
  }
  throw new UsageError(`${byName.length} deleted folders were called ${folder}: give the id of one`);
}

/** The old name if it is free, else the old name with " (restored <date>)" and a number if need be. */
async function freeName(resolved: ResolvedPath, chosen: DeletedMailbox): Promise<string> {
  const taken = new Set((await listExistingMailboxes(resolved.store, resolved.owner.id)).map((each) => each.name));
  if (!taken.has(chosen.name)) return chosen.name;
  const base = `${chosen.name} (restored ${new Date().toISOString().slice(0, 10)})`;
  for (let attempt = 1; attempt <= MAX_NAME_ATTEMPTS; attempt++) {
    const candidate = attempt === 1 ? base : `${base} ${attempt}`;
    if (!taken.has(candidate)) return candidate;
  }
  throw new UsageError(`no free name for ${chosen.name}: pass --as`);
}
