/**
 * What every command gets: the process's streams and environment, the stores, the key vault and the
 * directory (opened on first use, so `--help` touches nothing), and output helpers. stdout carries results
 * (lists, records, a generated password); stderr carries messages (confirmations, errors), so a
 * script can capture results without parsing chatter.
 */
import type { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import { loadConfig } from '../shared/config/config.ts';
import { Directory } from '../shared/directory/directory.ts';
import type { KeyVault } from '../shared/keyvault/key-vault.ts';
import { openConfiguredKeyVault, openKeyVault } from '../shared/keyvault/open-key-vault.ts';
import { openStores, type Stores } from '../shared/store/open-stores.ts';

export interface CliIo {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  stdout: Writable;
  stderr: Writable;
  env: Record<string, string | undefined>;
}

/** Adds one group of subcommands (`marmot domain ...`) to the program; see command-groups.ts. */
export type CommandGroup = (program: Command, context: CliContext) => void;

export class CliContext {
  private opened: Promise<Stores> | undefined;
  private vault: Promise<KeyVault | undefined> | undefined;

  constructor(readonly io: CliIo) {}

  /** The configured stores: the local data directory, or DynamoDB and S3 when MARMOT_STORE=aws. */
  stores(): Promise<Stores> {
    this.opened ??= openStores(loadConfig(this.io.env).store);
    return this.opened;
  }

  /** The configured key vault (the data directory's master key, or KMS); undefined when none is configured. */
  keyVault(): Promise<KeyVault | undefined> {
    const config = loadConfig(this.io.env).keyVault;
    this.vault ??= config ? openKeyVault(config) : Promise.resolve(undefined);
    return this.vault;
  }

  /**
   * The directory, with the key vault when one is configured. `settingPasswords`: the command sets a
   * password, which needs the vault (it seals the legacy verifiers), so its absence is a configuration
   * error said before anything else happens.
   */
  async directory(options: { settingPasswords?: boolean } = {}): Promise<Directory> {
    const config = loadConfig(this.io.env).keyVault;
    const [stores, keyVault] = await Promise.all([
      this.stores(),
      options.settingPasswords ? openConfiguredKeyVault(config, 'setting a password') : this.keyVault(),
    ]);
    return new Directory(stores.metadata, { keyVault });
  }

  async close(): Promise<void> {
    const opened = this.opened;
    this.opened = undefined;
    if (opened) await (await opened.catch(() => undefined))?.close();
  }

  /** A result line on stdout. */
  out(line: string): void {
    this.io.stdout.write(`${line}\n`);
  }

  /** A message on stderr. */
  say(line: string): void {
    this.io.stderr.write(`${line}\n`);
  }

  json(value: unknown): void {
    this.out(JSON.stringify(value, null, 2));
  }

  /** Rows as aligned columns under a header line; nothing for no rows. */
  table(headers: string[], rows: string[][]): void {
    if (rows.length === 0) return;
    const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)));
    const line = (cells: string[]) =>
      cells
        .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd();
    this.out(line(headers));
    for (const row of rows) this.out(line(row));
  }
}
