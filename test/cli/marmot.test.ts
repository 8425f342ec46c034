/**
 * The real `marmot` CLI as a subprocess against a temporary local data directory; what it wrote is
 * checked through the directory API on the same SQLite file.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Directory } from '../../shared/directory/directory.ts';
import { LocalKeyVault } from '../../shared/keyvault/local-key-vault.ts';
import { md4 } from '../../shared/sasl/md4.ts';
import type { Item } from '../../shared/store/metadata.ts';
import { SqliteMetadataStore } from '../../shared/store/sqlite/sqlite-metadata-store.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = ['--import', 'tsx', join(ROOT, 'cli', 'marmot.ts')];
const PASSWORD = 'a long enough password';

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

let dataDir: string;
let store: SqliteMetadataStore;
let directory: Directory;
let keyVault: LocalKeyVault;

function environment(): Record<string, string | undefined> {
  const { MARMOT_STORE: _store, ...env } = process.env;
  return { ...env, MARMOT_DATA_DIR: dataDir };
}

function run(command: string, args: string[], stdin?: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: environment() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

function marmot(args: string[], stdin?: string): Promise<Outcome> {
  return run(process.execPath, [...CLI, ...args], stdin);
}

async function allItems(): Promise<Item[]> {
  const items: Item[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.scan({ cursor });
    items.push(...page.items);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return items;
}

/** Runs a command that must fail, and checks it changed nothing in the store. */
async function failsCleanly(args: string[], code: number, message: RegExp, stdin?: string): Promise<void> {
  const before = await allItems();
  const outcome = await marmot(args, stdin);
  assert.equal(outcome.code, code, `${args.join(' ')}: ${outcome.stderr}`);
  assert.match(outcome.stderr, message);
  assert.equal(outcome.stdout, '');
  assert.deepEqual(await allItems(), before);
}

function openStore(): void {
  store = new SqliteMetadataStore(join(dataDir, 'metadata.sqlite'));
  directory = new Directory(store, { keyVault });
}

/** The NT hash the CLI sealed for the account, opened with the data directory's master key. */
async function storedNtHash(address: string): Promise<Buffer | undefined> {
  const account = await directory.lookupCredentials(address);
  return (await account?.credentials.legacyVerifiers())?.ntHash;
}

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'marmot-cli-'));
  // The same master key file the CLI opens (created by whichever of the two comes first).
  keyVault = await LocalKeyVault.open(dataDir);
  openStore();
});

after(async () => {
  await store.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('marmot', () => {
  test('--help describes the commands and the exit codes', async () => {
    const outcome = await marmot(['--help']);
    assert.equal(outcome.code, 0);
    for (const group of ['domain', 'account', 'alias', 'relay'])
      assert.match(outcome.stdout, new RegExp(`\\b${group}\\b`));
    assert.match(outcome.stdout, /2 {2}usage or validation error/);
  });

  test('an unknown command is a usage error', async () => {
    await failsCleanly(['domian', 'list'], 2, /marmot: unknown command 'domian'\n\(Did you mean domain\?\)/);
  });

  test('domains: add, list --json, duplicates and bad names, remove', async () => {
    let outcome = await marmot(['domain', 'add', 'Example.COM', '--retention-days', '7', '--no-legacy-sasl']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.equal(outcome.stderr, 'added domain example.com\n');
    outcome = await marmot(['domain', 'add', 'bücher.example']);
    assert.equal(outcome.code, 0, outcome.stderr);

    outcome = await marmot(['domain', 'list', '--json']);
    assert.equal(outcome.code, 0);
    const domains = JSON.parse(outcome.stdout) as {
      name: string;
      retentionDays: number;
      legacySaslMechanisms: boolean;
    }[];
    assert.deepEqual(
      domains.map((d) => [d.name, d.retentionDays, d.legacySaslMechanisms]),
      [
        ['example.com', 7, false],
        ['xn--bcher-kva.example', 30, true],
      ],
    );

    await failsCleanly(['domain', 'add', 'EXAMPLE.com'], 1, /^marmot: domain example\.com already exists\n$/);
    await failsCleanly(['domain', 'add', 'bad..example'], 2, /^marmot: invalid domain "bad\.\.example": empty label/);
    await failsCleanly(['domain', 'add', 'x.example', '--retention-days', '0'], 2, /retention days must be/);
    await failsCleanly(['domain', 'remove', 'nowhere.example'], 1, /^marmot: no domain nowhere\.example\n$/);

    outcome = await marmot(['domain', 'remove', 'xn--bcher-kva.example']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.equal(await directory.getDomain('bücher.example'), undefined);
  });

  test('accounts: password from stdin is stored only as a verifier; lists; bad input leaves nothing', async () => {
    let outcome = await marmot(
      ['account', 'add', 'Alice@example.com', '--password-stdin', '--quota-storage', '2G', '--quota-messages', '1000'],
      `${PASSWORD}\n`,
    );
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.equal(outcome.stdout, '');
    assert.equal(outcome.stderr, 'added account alice@example.com\n');

    const verified = await directory.verifyPassword('alice@example.com', PASSWORD);
    assert.equal(verified?.address, 'alice@example.com');
    assert.deepEqual(verified?.quota, { storageBytes: 2 * 1024 ** 3, messages: 1000 });
    assert.equal(await directory.verifyPassword('alice@example.com', `${PASSWORD}\n`), undefined);
    // Every verifier was computed, the legacy ones sealed with the data directory's master key.
    assert.deepEqual(await storedNtHash('alice@example.com'), md4(Buffer.from(PASSWORD, 'utf16le')));
    // Closing any descriptor of an SQLite file drops this process's POSIX locks on it, so the store
    // is closed while the files (database, WAL, shared memory) are read, then opened again.
    await store.close();
    for (const file of await readdir(dataDir)) {
      if (!file.startsWith('metadata.sqlite')) continue;
      const bytes = await readFile(join(dataDir, file));
      assert.equal(bytes.includes(PASSWORD), false, `the password is in ${file}`);
    }
    openStore();

    await failsCleanly(
      ['account', 'add', 'bob@nowhere.example', '--password-stdin'],
      1,
      /^marmot: no domain nowhere\.example\n$/,
      `${PASSWORD}\n`,
    );
    await failsCleanly(['account', 'add', 'alice@EXAMPLE.com', '--generate'], 1, /alice@example\.com already exists/);
    await failsCleanly(['account', 'add', 'bob+x@example.com', '--generate'], 2, /^marmot: invalid address "bob\+x@/);
    await failsCleanly(
      ['account', 'add', 'bob@example.com', '--password-stdin'],
      2,
      /at least 8 characters/,
      'short\n',
    );
    await failsCleanly(['account', 'add', 'bob@example.com'], 2, /no terminal to ask for the password on/);
    await failsCleanly(
      ['account', 'add', 'bob@example.com', '--generate', '--quota-storage', 'lots'],
      2,
      /'--quota-storage <size>' argument 'lots' is invalid/,
    );

    outcome = await marmot(['account', 'add', 'boss@example.com', '--generate', '--admin']);
    assert.equal(outcome.code, 0, outcome.stderr);
    const generated = outcome.stdout.trim();
    assert.match(outcome.stdout, /^[A-Za-z0-9]{20}\n$/);
    assert.equal((await directory.verifyPassword('boss@example.com', generated))?.admin, true);

    outcome = await marmot(['account', 'list', 'example.com', '--json']);
    assert.equal(outcome.code, 0, outcome.stderr);
    const listed = JSON.parse(outcome.stdout) as Record<string, unknown>[];
    assert.deepEqual(
      listed.map((a) => [a.address, a.admin]),
      [
        ['alice@example.com', false],
        ['boss@example.com', true],
      ],
    );
    assert.ok(listed.every((account) => !('credentials' in account)));
    assert.ok(!outcome.stdout.includes('scrypt'));
  });

  test('settings: domain set/show, account set/show, alias show, with --json', async () => {
    let outcome = await marmot(['domain', 'set', 'example.com', '--retention-days', '60', '--legacy-sasl']);
    assert.equal(outcome.code, 0, outcome.stderr);
    outcome = await marmot(['domain', 'show', 'EXAMPLE.com', '--json']);
    const domain = JSON.parse(outcome.stdout) as { retentionDays: number; legacySaslMechanisms: boolean };
    assert.deepEqual([domain.retentionDays, domain.legacySaslMechanisms], [60, true]);
    assert.equal(await directory.legacyMechanismsEnabled('example.com'), true);
    outcome = await marmot(['domain', 'set', 'example.com', '--no-legacy-sasl']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.equal(await directory.legacyMechanismsEnabled('example.com'), false);
    outcome = await marmot(['domain', 'set', 'example.com', '--legacy-sasl']);
    assert.equal(outcome.code, 0, outcome.stderr);

    outcome = await marmot(['account', 'set', 'alice@example.com', '--admin', '--quota-storage', 'none']);
    assert.equal(outcome.code, 0, outcome.stderr);
    outcome = await marmot(['account', 'show', 'alice@example.com', '--json']);
    const account = JSON.parse(outcome.stdout) as Record<string, unknown>;
    assert.equal(account.admin, true);
    assert.deepEqual(account.quota, { messages: 1000 });
    assert.equal('credentials' in account, false);

    await failsCleanly(['account', 'show', 'ghost@example.com'], 1, /^marmot: no account ghost@example\.com\n$/);
  });

  test('account passwd replaces the password; remove', async () => {
    let outcome = await marmot(['account', 'passwd', 'ALICE@example.com', '--generate']);
    assert.equal(outcome.code, 0, outcome.stderr);
    const fresh = outcome.stdout.trim();
    assert.ok(await directory.verifyPassword('alice@example.com', fresh));
    assert.equal(await directory.verifyPassword('alice@example.com', PASSWORD), undefined);
    assert.deepEqual(await storedNtHash('alice@example.com'), md4(Buffer.from(fresh, 'utf16le')));
    await failsCleanly(
      ['account', 'passwd', 'ghost@example.com', '--generate'],
      1,
      /^marmot: no account ghost@example\.com\n$/,
    );

    outcome = await marmot(['account', 'remove', 'boss@example.com']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.equal(await directory.getAccount('boss@example.com'), undefined);
    await failsCleanly(['account', 'remove', 'boss@example.com'], 1, /no account boss@example\.com/);
  });

  test('aliases: flags round-trip through --json; conflicts and bad targets refused', async () => {
    let outcome = await marmot([
      'alias',
      'add',
      'Sales@example.com',
      'alice@example.com',
      'Partner@Elsewhere.ORG',
      '--suffixes',
      '--bulk',
    ]);
    assert.equal(outcome.code, 0, outcome.stderr);
    outcome = await marmot(['alias', 'add', 'info@example.com', 'sales@example.com']);
    assert.equal(outcome.code, 0, outcome.stderr);

    outcome = await marmot(['alias', 'list', '--json']);
    assert.equal(outcome.code, 0, outcome.stderr);
    const aliases = JSON.parse(outcome.stdout) as {
      address: string;
      targets: string[];
      suffixes: boolean;
      bulk: boolean;
    }[];
    assert.deepEqual(
      aliases.map((a) => [a.address, a.targets, a.suffixes, a.bulk]),
      [
        ['info@example.com', ['sales@example.com'], false, false],
        ['sales@example.com', ['alice@example.com', 'Partner@elsewhere.org'], true, true],
      ],
    );

    await failsCleanly(['alias', 'add', 'alice@example.com', 'x@elsewhere.org'], 1, /already exists \(as an account\)/);
    await failsCleanly(['alias', 'add', 'new@example.com', 'not-an-address'], 2, /invalid address "not-an-address"/);
    await failsCleanly(['alias', 'add', 'new@example.com'], 2, /missing required argument 'targets'/);

    outcome = await marmot(['alias', 'show', 'SALES@example.com']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(outcome.stdout, /^alias: +sales@example\.com\nsuffixes: +yes\nbulk: +yes\n/);
    assert.match(outcome.stdout, /target: +alice@example\.com\ntarget: +Partner@elsewhere\.org\n$/);

    outcome = await marmot(['alias', 'remove', 'info@example.com']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.equal(await directory.getAlias('info@example.com'), undefined);
  });

  test('relay hosts: canonical networks, --json, bad CIDR, remove', async () => {
    let outcome = await marmot(['relay', 'add', '192.0.2.9/24']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.equal(outcome.stderr, 'added relay network 192.0.2.0/24\n');
    outcome = await marmot(['relay', 'add', '2001:DB8::/32']);
    assert.equal(outcome.code, 0, outcome.stderr);
    await failsCleanly(['relay', 'add', '192.0.2.0/33'], 2, /^marmot: invalid network "192\.0\.2\.0\/33"/);
    await failsCleanly(['relay', 'add', '192.0.2.0/24'], 1, /already listed/);

    outcome = await marmot(['relay', 'list', '--json']);
    assert.deepEqual(
      (JSON.parse(outcome.stdout) as { network: string }[]).map((r) => r.network),
      ['192.0.2.0/24', '2001:db8::/32'],
    );
    assert.equal(await directory.isRelayHost('192.0.2.200'), true);

    outcome = await marmot(['relay', 'remove', '192.0.2.0/24']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.equal(await directory.isRelayHost('192.0.2.200'), false);
  });

  test('domain remove refuses a non-empty domain, and --force empties it', async () => {
    await failsCleanly(['domain', 'remove', 'example.com'], 1, /has 1 account and 1 alias; remove them first/);
    const outcome = await marmot(['domain', 'remove', 'example.com', '--force']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.equal(await directory.getDomain('example.com'), undefined);
    assert.deepEqual(
      (await allItems()).filter((item) => item.pk === 'domain#example.com'),
      [],
    );
  });

  test('on a terminal, the password is asked twice with echo off', async () => {
    await directory.addDomain('tty.example');
    const outcome = await new Promise<Outcome>((resolve, reject) => {
      const command = [process.execPath, ...CLI, 'account', 'add', 'typist@tty.example'].join(' ');
      // script(1) gives the CLI a pseudo-terminal; it echoes whatever the terminal would show.
      const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: ROOT, env: environment() });
      let stdout = '';
      let answered = 0;
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        const prompts = (stdout.match(/password: /g) ?? []).length;
        if (prompts > answered) {
          answered++;
          child.stdin.write(`${PASSWORD}\r`);
        }
      });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr: '' }));
    });
    assert.equal(outcome.code, 0, outcome.stdout);
    assert.match(outcome.stdout, /New password: \r?\nRepeat password: \r?\nadded account typist@tty\.example/);
    assert.equal(outcome.stdout.includes(PASSWORD), false);
    assert.ok(await directory.verifyPassword('typist@tty.example', PASSWORD));
  });

  test('the bin launcher runs the CLI', async () => {
    const outcome = await run(process.execPath, [join(ROOT, 'cli', 'bin', 'marmot.js'), 'domain', 'list']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(outcome.stdout, /^DOMAIN +STATE/);
    assert.match(outcome.stdout, /\ntty\.example +active +30 +yes\n/);
  });
});
