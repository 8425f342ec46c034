/**
 * The `marmot` command groups, in help order. A new group (mailbox, acl, quota, dkim, queue, ...) is a
 * file under commands/ exporting a CommandGroup, plus one line here.
 */
import { registerAccountCommands } from './commands/account.ts';
import { registerAliasCommands } from './commands/alias.ts';
import { registerDkimCommands } from './commands/dkim.ts';
import { registerDomainCommands } from './commands/domain.ts';
import { registerQueueCommands } from './commands/queue.ts';
import { registerRelayCommands } from './commands/relay.ts';
import type { CommandGroup } from './context.ts';

export const commandGroups: CommandGroup[] = [
  registerDomainCommands,
  registerAccountCommands,
  registerAliasCommands,
  registerRelayCommands,
  registerDkimCommands,
  registerQueueCommands,
];
