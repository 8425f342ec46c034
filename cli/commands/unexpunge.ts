/**
 * `marmot unexpunge <mailbox> [--since 1d | --uid N ...] [--undelete] [--list]`: brings expunged messages
 * back while the expire job has not purged them yet, as Cyrus's unexpunge does: each comes back as a new
 * message with a new UID (clients saw the old UID vanish), with its flags, optionally without \Deleted.
 * `user/local@domain` means every mailbox of the account. Restores are not held to the quota (an
 * operator restoring mail should not be stopped by it) but are counted in it.
 *
 * Prints one line per message restored (or, with --list, restorable) on stdout, progress on stderr.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { OTHER_USERS_PREFIX } from '../../shared/acl/index.ts';
import {
  getMailboxByName,
  getMessage,
  getMessageDetails,
  HIERARCHY_SEPARATOR,
  listMessages,
  type Mailbox,
  type MessageState,
  unexpungeMessages,
  updateFlags,
} from '../../shared/mailbox/index.ts';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';
import { parseCount } from '../quantities.ts';
import { ownerMailboxes, pathOf, type ResolvedPath, resolvePath, sizeText } from './mailbox.ts';

/** Messages restored per step; progress is reported after each. */
const RESTORE_BATCH = 500;
const DURATION = /^(\d+)\s*([mhdw])$/i;
const DURATION_UNITS_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DELETED = '\\Deleted';

interface UnexpungeOptions {
  since?: number;
  uid?: number[];
  undelete?: boolean;
  list?: boolean;
  json?: boolean;
}

interface Restorable {
  mailbox: Mailbox;
  state: MessageState;
}

/** A duration such as 30m, 12h, 1d, 2w, as milliseconds. */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim());
  if (!match) throw new InvalidArgumentError('expected a duration such as 30m, 12h, 1d or 2w');
  return Number(match[1]) * DURATION_UNITS_MS[match[2]!.toLowerCase()]!;
}

export function registerUnexpungeCommand(program: Command, context: CliContext): void {
  program
    .command('unexpunge')
    .description('restore expunged messages (as new UIDs) that the expire job has not purged yet')
    .argument('<mailbox>', 'user/local@domain (the whole account), user/local@domain/folder, or name@domain')
    .option('--since <duration>', 'only messages expunged within this long, e.g. 1d, 12h, 2w', parseDuration)
    .option('--uid <uid...>', 'only these UIDs (of one mailbox)', (value: string, previous: number[] = []) => [
      ...previous,
      parseCount(value),
    ])
    .option('--undelete', 'also clear the \\Deleted flag of the restored messages')
    .option('--list', 'only show what would be restored')
    .option('--json', 'print JSON')
    .action(async (text: string, options: UnexpungeOptions) => {
      if (options.since !== undefined && options.uid !== undefined)
        throw new UsageError('--since and --uid exclude each other');
      const resolved = await resolvePath(context, text);
      const whole = isAccountRoot(text);
      if (whole && options.uid !== undefined) throw new UsageError('--uid needs one mailbox, not the whole account');
      const mailboxes = whole
        ? await ownerMailboxes(resolved)
        : [await getMailboxByName(resolved.store, resolved.owner.id, resolved.path.name)];
      const since = options.since === undefined ? undefined : new Date(Date.now() - options.since);
      const rows: Record<string, string | number>[] = [];
      let total = 0;
      for (const mailbox of mailboxes) {
        for await (const batch of restorableBatches(resolved, mailbox, since, options.uid)) {
          const details = await Promise.all(batch.map((each) => describe(resolved, each)));
          if (options.list) {
            rows.push(...details);
            continue;
          }
          const restored = await unexpungeMessages(
            resolved.store,
            mailbox,
            batch.map((each) => each.state.uid),
          );
          const newUids = new Map(restored.mapping.map((pair) => [pair.source, pair.target]));
          if (options.undelete && restored.mapping.length > 0) {
            await updateFlags(resolved.store, mailbox, [...newUids.values()], { mode: 'remove', flags: [DELETED] });
          }
          for (const row of details) {
            const target = newUids.get(row.uid as number);
            if (target !== undefined) rows.push({ ...row, restoredAs: target });
          }
          total += restored.mapping.length;
          context.say(`restored ${total} so far (${pathOf(resolved, mailbox.name)})`);
        }
      }
      print(context, rows, options);
      if (!options.list) context.say(`restored ${total} message${total === 1 ? '' : 's'}`);
    });
}

/** `user/<address>` alone (also Cyrus's `user/bob@example.com`): the whole account. */
function isAccountRoot(text: string): boolean {
  if (!text.startsWith(OTHER_USERS_PREFIX)) return false;
  const rest = text.slice(OTHER_USERS_PREFIX.length);
  return !rest.includes(HIERARCHY_SEPARATOR);
}

async function* restorableBatches(
  resolved: ResolvedPath,
  mailbox: Mailbox,
  since: Date | undefined,
  uids: number[] | undefined,
): AsyncGenerator<Restorable[]> {
  const restorable = (state: MessageState | undefined): state is MessageState =>
    state?.expunged === true &&
    state.restoredAs === undefined &&
    (since === undefined || (state.expungedAt !== undefined && state.expungedAt >= since));
  if (uids !== undefined) {
    const states = await Promise.all(uids.map((uid) => getMessage(resolved.store, mailbox.id, uid)));
    const found = states.filter(restorable).map((state) => ({ mailbox, state }));
    if (found.length > 0) yield found;
    return;
  }
  // The restored copies get UIDs above every listed one and are not expunged: the walk never meets them
  // as candidates, so restoring page by page is safe.
  let after: number | undefined;
  do {
    const page = await listMessages(resolved.store, mailbox.id, {
      includeExpunged: true,
      limit: RESTORE_BATCH,
      ...(after !== undefined ? { after } : {}),
    });
    const found = page.messages.filter(restorable).map((state) => ({ mailbox, state }));
    if (found.length > 0) yield found;
    after = page.next;
  } while (after !== undefined);
}

async function describe(resolved: ResolvedPath, each: Restorable): Promise<Record<string, string | number>> {
  const details = await getMessageDetails(resolved.store, each.mailbox.id, each.state.uid);
  return {
    mailbox: pathOf(resolved, each.mailbox.name),
    uid: each.state.uid,
    size: each.state.size,
    expungedAt: each.state.expungedAt?.toISOString() ?? '',
    subject: details?.search.subject ?? '',
  };
}

function print(context: CliContext, rows: Record<string, string | number>[], options: UnexpungeOptions): void {
  if (options.json) {
    context.json(rows);
    return;
  }
  if (rows.length === 0) {
    context.say(options.list ? 'nothing to restore' : 'nothing restored');
    return;
  }
  const headers = options.list
    ? ['MAILBOX', 'UID', 'SIZE', 'EXPUNGED', 'SUBJECT']
    : ['MAILBOX', 'UID', 'NEW-UID', 'SIZE', 'EXPUNGED', 'SUBJECT'];
  context.table(
    headers,
    rows.map((row) => [
      String(row.mailbox),
      String(row.uid),
      ...(options.list ? [] : [String(row.restoredAs)]),
      sizeText(Number(row.size)),
      String(row.expungedAt),
      String(row.subject),
    ]),
  );
}
