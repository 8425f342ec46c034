/** `marmot relay add|list|remove`: networks whose hosts may relay mail through the MX without logging in. */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';

export function registerRelayCommands(program: Command, context: CliContext): void {
  const relay = program
    .command('relay')
    .description('relay hosts: IPv4/IPv6 networks allowed to relay mail without authentication');

  relay
    .command('add')
    .description('allow a network to relay')
    .argument('<network>', 'CIDR network such as 192.0.2.0/24 or 2001:db8::/32, or one address')
    .action(async (network: string) => {
      const added = await (await context.directory()).addRelayHost(network);
      context.say(`added relay network ${added.network}`);
    });

  relay
    .command('list')
    .description('list the relay networks')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const relayHosts = await (await context.directory()).listRelayHosts();
      if (options.json) return context.json(relayHosts);
      if (relayHosts.length === 0) return context.say('no relay networks');
      context.table(
        ['NETWORK', 'ADDED'],
        relayHosts.map((r) => [r.network, r.createdAt]),
      );
    });

  relay
    .command('remove')
    .description('stop allowing a network to relay')
    .argument('<network>', 'the network as listed (any spelling of it)')
    .action(async (network: string) => {
      const removed = await (await context.directory()).removeRelayHost(network);
      context.say(`removed relay network ${removed}`);
    });
}
