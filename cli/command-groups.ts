/**
 * The `marmot` command groups, in help order. A new group (mailbox, acl, quota, dkim, queue, ...) is a
 * file under commands/ exporting a CommandGroup, plus one line here.
 */
import { registerAccountCommands } from './commands/account.ts';
import { registerAclCommands } from './commands/acl.ts';
import { registerAliasCommands } from './commands/alias.ts';
import { registerDkimCommands } from './commands/dkim.ts';
import { registerDomainCommands } from './commands/domain.ts';
import { registerExpireCommand } from './commands/expire.ts';
import { registerMailboxCommands } from './commands/mailbox.ts';
import { registerQueueCommands } from './commands/queue.ts';
import { registerQuotaCommands } from './commands/quota.ts';
import { registerRelayCommands } from './commands/relay.ts';
import { registerUndeleteCommand } from './commands/undelete.ts';
import { registerUnexpungeCommand } from './commands/unexpunge.ts';
import type { CommandGroup } from './context.ts';

export const commandGroups: CommandGroup[] = [
  registerDomainCommands,
  registerAccountCommands,
  registerAliasCommands,
  registerRelayCommands,
  registerDkimCommands,
  registerQueueCommands,
  registerMailboxCommands,
  registerAclCommands,
  registerQuotaCommands,
  registerUnexpungeCommand,
  registerUndeleteCommand,
  registerExpireCommand,
];
