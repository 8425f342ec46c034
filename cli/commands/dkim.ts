/**
 * `marmot dkim create|list|show|activate|retire|delete|rotate|check`: the domains' DKIM keys. Private keys
 * are generated here, sealed by the key vault at once, and never printed; what is printed is the DNS
 * record to publish. `check` asks DNS (MARMOT_DNS_SERVERS, or the system's resolver) what is published.
 */
import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../../shared/config/config.ts';
import {
  DEFAULT_ACTIVATION_DELAY_MS,
  type DkimKey,
  DkimKeys,
  MAX_ACTIVATION_DELAY_MS,
  RETIRED_KEY_KEPT_MS,
} from '../../shared/dkim/dkim-keys.ts';
import { systemTxtResolver } from '../../shared/dkim/dns-check.ts';
import { dkimRecordName, dkimZoneLine } from '../../shared/dkim/dns-record.ts';
import { DkimStateError } from '../../shared/dkim/errors.ts';
import { DKIM_ALGORITHMS, type DkimAlgorithm, parseDkimAlgorithm } from '../../shared/dkim/key-generation.ts';
import { openKeyVault } from '../../shared/keyvault/open-key-vault.ts';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

interface JsonOption {
  json?: boolean;
}

interface KeyOptions {
  selector?: string;
  algorithm?: DkimAlgorithm;
}

async function openDkimKeys(context: CliContext): Promise<DkimKeys> {
  const config = loadConfig(context.io.env);
  if (!config.keyVault) throw new ConfigError('DKIM keys need the key vault: set MARMOT_KEY_ID (the KMS key ARN)');
  const [stores, vault] = await Promise.all([context.stores(), openKeyVault(config.keyVault)]);
  return new DkimKeys(stores.metadata, vault);
}

function parseDelayDays(value: string): number {
  const days = Number(value);
  const maxDays = MAX_ACTIVATION_DELAY_MS / DAY_MS;
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || !(days >= 0 && days <= maxDays)) {
    throw new UsageError(`the delay must be 0 to ${maxDays} days, not ${JSON.stringify(value)}`);
  }
  return Math.round(days * DAY_MS);
}

function keyJson(key: DkimKey): Record<string, unknown> {
  return {
    ...key,
    dnsName: dkimRecordName(key.selector, key.domain),
    dnsRecord: dkimZoneLine(key.selector, key.keyType, key.publicKey),
  };
}

function nextEvent(key: DkimKey): string {
  if (key.state === 'published' && key.activateAt) return `activates ${key.activateAt.toISOString()}`;
  if (key.state === 'active' && key.activatedAt) return `active since ${key.activatedAt.toISOString()}`;
  if (key.state === 'retired' && key.deleteAt) return `deleted ${key.deleteAt.toISOString()}`;
  return key.state === 'published' ? 'waiting for activate' : '';
}

function keyOptions(command: Command): Command {
  return command
    .option('--selector <name>', 'the selector (default marmot-YYYYMMDD)')
    .option('--algorithm <algorithm>', `${DKIM_ALGORITHMS.join(', ')} (default rsa-2048)`, parseDkimAlgorithm);
}

export function registerDkimCommands(program: Command, context: CliContext): void {
  const dkim = program
    .command('dkim')
    .description('DKIM signing keys of the local domains, their DNS records and their rotation');

  keyOptions(
    dkim
      .command('create')
      .description('generate a key for a domain and print its DNS record; it signs once activated')
      .argument('<domain>', 'a local domain'),
  )
    .option('--json', 'print JSON')
    .action(async (domain: string, options: KeyOptions & JsonOption) => {
      const key = await (await openDkimKeys(context)).create(domain, options);
      if (options.json) return context.json(keyJson(key));
      context.out(dkimZoneLine(key.selector, key.keyType, key.publicKey));
      context.say(`created ${key.algorithm} key ${key.selector} for ${key.domain}`);
      context.say(
        `publish the record above at ${dkimRecordName(key.selector, key.domain)}, then: marmot dkim activate ${key.domain} ${key.selector}`,
      );
    });

  keyOptions(
    dkim
      .command('rotate')
      .description(
        'start a staged rotation: a new key to publish now, signing after the delay; the old key is retired and deleted a week later',
      )
      .argument('<domain>', 'a local domain'),
  )
    .option(
      '--delay-days <days>',
      `days between publishing and signing (default ${DEFAULT_ACTIVATION_DELAY_MS / DAY_MS})`,
      parseDelayDays,
    )
    .option('--json', 'print JSON')
    .action(async (domain: string, options: KeyOptions & JsonOption & { delayDays?: number }) => {
      const key = await (await openDkimKeys(context)).rotate(domain, {
        ...options,
        ...(options.delayDays !== undefined ? { activationDelayMs: options.delayDays } : {}),
      });
      if (options.json) return context.json(keyJson(key));
      context.out(dkimZoneLine(key.selector, key.keyType, key.publicKey));
      context.say(`created ${key.algorithm} key ${key.selector} for ${key.domain}`);
      context.say(
        `publish the record above now; the nightly run makes it the signing key after ${key.activateAt?.toISOString()}`,
      );
    });

  dkim
    .command('list')
    .description("list the keys (of one domain, or every domain's)")
    .argument('[domain]', 'a local domain')
    .option('--json', 'print JSON')
    .action(async (domain: string | undefined, options: JsonOption) => {
      const keys = await (await openDkimKeys(context)).list(domain);
      if (options.json) return context.json(keys.map(keyJson));
      if (keys.length === 0) return context.say('no DKIM keys');
      context.table(
        ['DOMAIN', 'SELECTOR', 'ALGORITHM', 'STATE', 'CREATED', 'NEXT'],
        keys.map((key) => [
          key.domain,
          key.selector,
          key.algorithm,
          key.state,
          key.createdAt.toISOString(),
          nextEvent(key),
        ]),
      );
    });

  dkim
    .command('show')
    .description('show one key and its DNS record')
    .argument('<domain>', 'a local domain')
    .argument('<selector>', 'the key selector')
    .option('--json', 'print JSON')
    .action(async (domain: string, selector: string, options: JsonOption) => {
      const key = await (await openDkimKeys(context)).get(domain, selector);
      if (options.json) return context.json(keyJson(key));
      context.out(`domain:     ${key.domain}`);
      context.out(`selector:   ${key.selector}`);
      context.out(`algorithm:  ${key.algorithm}`);
      context.out(`state:      ${key.state}`);
      context.out(`created:    ${key.createdAt.toISOString()}`);
      for (const [label, date] of [
        ['activates: ', key.activateAt],
        ['activated: ', key.activatedAt],
        ['retired:   ', key.retiredAt],
        ['deleted:   ', key.deleteAt],
      ] as const) {
        if (date) context.out(`${label} ${date.toISOString()}`);
      }
      context.out(`DNS name:   ${dkimRecordName(key.selector, key.domain)}`);
      context.out(`DNS record: ${dkimZoneLine(key.selector, key.keyType, key.publicKey)}`);
    });

  dkim
    .command('activate')
    .description("make a key the domain's signing key now (publish its record first); the previous key is retired")
    .argument('<domain>', 'a local domain')
    .argument('<selector>', 'the key selector')
    .action(async (domain: string, selector: string) => {
      const keys = await openDkimKeys(context);
      const { retired } = await keys.activate(domain, selector);
      const key = await keys.get(domain, selector);
      context.say(`${key.domain} now signs with ${key.selector}`);
      for (const old of retired) {
        context.say(
          `retired ${old}: keep its DNS record for ${RETIRED_KEY_KEPT_MS / DAY_MS} days, until it is deleted`,
        );
      }
    });

  dkim
    .command('retire')
    .description('stop signing with a key (or cancel its pending activation); its record stays published a week')
    .argument('<domain>', 'a local domain')
    .argument('<selector>', 'the key selector')
    .action(async (domain: string, selector: string) => {
      const keys = await openDkimKeys(context);
      const retired = await keys.retire(domain, selector);
      context.say(`retired ${retired.selector} of ${retired.domain}; deleted after ${retired.deleteAt?.toISOString()}`);
      if (!(await keys.list(retired.domain)).some((key) => key.state === 'active')) {
        context.say(`${retired.domain} has no active key now: its mail goes out unsigned`);
      }
    });

  dkim
    .command('delete')
    .description('delete a key now (not the active one); remove its DNS record afterwards')
    .argument('<domain>', 'a local domain')
    .argument('<selector>', 'the key selector')
    .action(async (domain: string, selector: string) => {
      const keys = await openDkimKeys(context);
      const key = await keys.get(domain, selector);
      await keys.delete(domain, selector);
      context.say(
        `deleted ${key.selector} of ${key.domain}; remove ${dkimRecordName(key.selector, key.domain)} from DNS`,
      );
    });

  dkim
    .command('check')
    .description("look the domain's keys up in DNS and say whether what is published matches (exit 1 if not)")
    .argument('<domain>', 'a local domain')
    .argument('[selector]', 'only this key (default: every key of the domain)')
    .option('--json', 'print JSON')
    .action(async (domain: string, selector: string | undefined, options: JsonOption) => {
      const keys = await openDkimKeys(context);
      const targets = selector !== undefined ? [await keys.get(domain, selector)] : await keys.list(domain);
      if (targets.length === 0) throw new DkimStateError(`no DKIM keys for ${domain}`);
      const resolveTxt = systemTxtResolver(loadConfig(context.io.env).dnsServers);
      const results = [];
      for (const key of targets) results.push({ key, check: await keys.check(key.domain, key.selector, resolveTxt) });
      if (options.json) {
        context.json(results.map(({ key, check }) => ({ selector: key.selector, state: key.state, ...check })));
      } else {
        context.table(
          ['SELECTOR', 'STATE', 'DNS', 'DETAIL'],
          results.map(({ key, check }) => [key.selector, key.state, check.status, check.detail]),
        );
      }
      const failing = results.filter(({ check }) => check.status !== 'match');
      if (failing.length > 0) {
        throw new DkimStateError(
          `${failing.length} of ${results.length} key(s) not published as stored: ${failing.map(({ key }) => key.selector).join(', ')}`,
        );
      }
    });
}
