/**
 * `marmot mailbox create|delete|rename|list`: any account's mailboxes and a domain's shared mailboxes,
 * named as cyradm names them: `user/bob@example.com` (bob's INBOX, or his whole tree), `user/bob@example.com/
 * Sent`, and shared mailboxes `news@example.com` (shared/acl/mailbox-paths.ts). Also the path helpers the
 * acl, quota, unexpunge and undelete commands share.
 */
import type { Command } from 'commander';
import {
  formatMailboxPath,
  inheritAcl,
  type MailboxOwner,
  type MailboxPath,
  parseMailboxPath,
  resolveMailboxOwner,
} from '../../shared/acl/index.ts';
import { normalizeDomain } from '../../shared/address/address.ts';
import type { Directory } from '../../shared/directory/directory.ts';
import {
  createDefaultMailboxes,
  createMailbox,
  deleteMailbox,
  getMailboxByName,
  HIERARCHY_SEPARATOR,
  INBOX,
  listExistingMailboxes,
  type Mailbox,
  MailboxOperationNotAllowedError,
  type MailStore,
  openMailStore,
  renameMailbox,
} from '../../shared/mailbox/index.ts';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';
import { formatSize } from '../quantities.ts';

interface JsonOption {
  json?: boolean;
}

export interface ResolvedPath {
  path: MailboxPath;
  owner: MailboxOwner;
  store: MailStore;
  directory: Directory;
}

/** A mailbox path from the command line, with its owner looked up in the directory. */
export async function resolvePath(context: CliContext, text: string): Promise<ResolvedPath> {
  const path = parseMailboxPath(text);
  const directory = await context.directory();
  const owner = await resolveMailboxOwner(directory, path);
  return { path, owner, directory, store: openMailStore((await context.stores()).metadata) };
}

/**
 * The owner a listing command names: `user/<address>` for an account, a bare domain for its shared
 * mailboxes.
 */
export async function resolveOwnerArgument(context: CliContext, text: string): Promise<ResolvedPath> {
  if (text.includes('@') || text.includes(HIERARCHY_SEPARATOR)) {
    const resolved = await resolvePath(context, text);
    if (resolved.path.kind === 'personal' && resolved.path.name !== INBOX) {
      throw new UsageError(`name an account (user/local@domain) or a domain, not a folder: ${text}`);
    }
    if (resolved.path.kind === 'shared') throw new UsageError(`name a domain for its shared mailboxes, not ${text}`);
    return resolved;
  }
  const domain = normalizeDomain(text);
  const path: MailboxPath = { kind: 'shared', domain, name: INBOX };
  const directory = await context.directory();
  const owner = await resolveMailboxOwner(directory, path);
  return { path, owner, directory, store: openMailStore((await context.stores()).metadata) };
}

/** The path of a mailbox of this owner, as the command line spells it. */
export function pathOf(resolved: Pick<ResolvedPath, 'owner'>, name: string): string {
  const { owner } = resolved;
  return formatMailboxPath(
    owner.account
      ? { kind: 'personal', address: owner.account.address, name }
      : { kind: 'shared', domain: owner.domain, name },
  );
}

/** An owner's mailboxes, INBOX first, then in name order; shared owners have no INBOX. */
export async function ownerMailboxes(resolved: ResolvedPath): Promise<Mailbox[]> {
  const mailboxes = await listExistingMailboxes(resolved.store, resolved.owner.id);
  const inbox = mailboxes.filter((mailbox) => mailbox.name === INBOX);
  const others = mailboxes.filter((mailbox) => mailbox.name !== INBOX);
  return resolved.owner.account ? [...inbox, ...others] : others;
}

/** A byte count for a table: exact, in the units `marmot account set --quota-storage` takes. */
export function sizeText(bytes: number): string {
  return bytes === 0 ? '0' : formatSize(bytes);
}

export function registerMailboxCommands(program: Command, context: CliContext): void {
  const mailbox = program
    .command('mailbox')
    .description("accounts' mailboxes (user/local@domain[/folder]) and shared mailboxes (name@domain)");

  mailbox
    .command('create')
    .description("create a mailbox; user/local@domain creates the account's default set (INBOX, Sent, ...)")
    .argument('<mailbox>', 'user/local@domain[/folder] or a shared name@domain')
    .action(async (text: string) => {
      const resolved = await resolvePath(context, text);
      const { path, owner, store } = resolved;
      if (path.kind === 'personal' && path.name === INBOX) {
        const created = await createDefaultMailboxes(store, owner.id);
        context.say(`created ${created.map((each) => pathOf(resolved, each.name)).join(', ')}`);
        return;
      }
      const created = await createMailbox(store, owner.id, path.name);
      await inheritParentAcl(store, owner, created);
      context.say(`created ${pathOf(resolved, created.name)}`);
    });

  mailbox
    .command('delete')
    .description('delete a mailbox into DELETED/ (marmot undelete brings it back until the expire job purges it)')
    .argument('<mailbox>', 'user/local@domain/folder or a shared name@domain')
    .action(async (text: string) => {
      const resolved = await resolvePath(context, text);
      if (resolved.path.kind === 'personal' && resolved.path.name === INBOX) {
        throw new MailboxOperationNotAllowedError(
          'INBOX cannot be deleted; marmot account remove removes the account, and the expire job its mail',
        );
      }
      await deleteMailbox(resolved.store, resolved.owner.id, resolved.path.name);
      context.say(`deleted ${pathOf(resolved, resolved.path.name)}`);
    });

  mailbox
    .command('rename')
    .description('rename a mailbox and its inferiors within one account or domain (renaming INBOX moves its mail)')
    .argument('<from>', 'user/local@domain/folder or a shared name@domain')
    .argument('<to>', 'the new path, with the same owner')
    .action(async (fromText: string, toText: string) => {
      const from = await resolvePath(context, fromText);
      const to = await resolvePath(context, toText);
      if (from.owner.id !== to.owner.id)
        throw new UsageError('a mailbox can only be renamed within its account or domain');
      const renamed = await renameMailbox(from.store, from.owner.id, from.path.name, to.path.name);
      context.say(`renamed ${pathOf(from, from.path.name)} to ${pathOf(from, renamed.name)}`);
    });

  mailbox
    .command('list')
    .description("list an account's mailboxes, or a domain's shared mailboxes")
    .argument('<owner>', 'user/local@domain, or a domain for its shared mailboxes')
    .option('--json', 'print JSON')
    .action(async (text: string, options: JsonOption) => {
      const resolved = await resolveOwnerArgument(context, text);
      const mailboxes = await ownerMailboxes(resolved);
      const rows = mailboxes.map((each) => ({
        mailbox: pathOf(resolved, each.name),
        messages: each.messages,
        unseen: each.unseen,
        size: each.size,
        ...(each.specialUse ? { specialUse: each.specialUse } : {}),
        acl: each.acl,
      }));
      if (options.json) return context.json(rows);
      if (rows.length === 0) return context.say('no mailboxes');
      context.table(
        ['MAILBOX', 'MESSAGES', 'UNSEEN', 'SIZE', 'SPECIAL-USE'],
        rows.map((row) => [
          row.mailbox,
          String(row.messages),
          String(row.unseen),
          sizeText(row.size),
          row.specialUse ?? '',
        ]),
      );
    });
}

/** RFC 4314 §4: a new mailbox SHOULD inherit its parent's ACL. */
async function inheritParentAcl(store: MailStore, owner: MailboxOwner, created: Mailbox): Promise<void> {
  const slash = created.name.lastIndexOf(HIERARCHY_SEPARATOR);
  if (slash < 0) return;
  const parent = await getMailboxByName(store, owner.id, created.name.slice(0, slash));
  await inheritAcl(store, parent, created, owner.account?.address);
}
