/**
 * `marmot dkim` as a subprocess against a temporary data directory, with its DNS lookups going to a test
 * DNS server over UDP (MARMOT_DNS_SERVERS). What it stored is read back through shared/dkim on the same
 * SQLite file; the nightly step is run directly, as the expire job will.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Directory } from '../../shared/directory/directory.ts';
import { advanceDkimRotations } from '../../shared/dkim/dkim-keys.ts';
import { SqliteMetadataStore } from '../../shared/store/sqlite/sqlite-metadata-store.ts';
import { startDnsServer, type TestDnsServer } from '../shared/dkim/dns-server.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = ['--import', 'tsx', join(ROOT, 'cli', 'marmot.ts')];

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

let dataDir: string;
let store: SqliteMetadataStore;
let dns: TestDnsServer;

function marmot(args: string[]): Promise<Outcome> {
  const { MARMOT_STORE: _store, ...env } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], {
      cwd: ROOT,
      env: { ...env, MARMOT_DATA_DIR: dataDir, MARMOT_DNS_SERVERS: dns.address },
    });
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
    child.stdin.end();
  });
}

/** Publishes a printed zone line in the test DNS, as an operator pasting it would. */
function publish(zoneLine: string, domain: string): void {
  const match = /^(\S+)\._domainkey IN TXT (.+)$/.exec(zoneLine.trim());
  assert.ok(match, zoneLine);
  const strings = [...match[2]!.matchAll(/"([^"]*)"/g)].map((part) => part[1]!);
  dns.zones.set(`${match[1]}._domainkey.${domain}`, { txt: [strings] });
}

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'marmot-cli-dkim-'));
  store = new SqliteMetadataStore(join(dataDir, 'metadata.sqlite'));
  dns = await startDnsServer();
  await new Directory(store).addDomain('example.org');
});

after(async () => {
  await store.close();
  await dns.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('marmot dkim', () => {
  let first: string;

  test('create prints the record to paste; the private key is stored only sealed', async () => {
    let outcome = await marmot(['dkim', 'create', 'Example.ORG', '--selector', 's1', '--algorithm', 'ed25519']);
    assert.equal(outcome.code, 0, outcome.stderr);
    first = outcome.stdout.trim();
    assert.match(first, /^s1\._domainkey IN TXT "v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}="$/);
    assert.match(outcome.stderr, /^created ed25519 key s1 for example\.org\n/);
    assert.match(outcome.stderr, /marmot dkim activate example\.org s1\n$/);

    outcome = await marmot(['dkim', 'create', 'example.org']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(outcome.stdout, /^marmot-\d{8}\._domainkey IN TXT "v=DKIM1; k=rsa; p=[^"]{200,}"( "[^"]+")+\n$/);

    outcome = await marmot(['dkim', 'create', 'example.org', '--algorithm', 'rsa-512']);
    assert.equal(outcome.code, 2);
    assert.match(outcome.stderr, /unknown DKIM algorithm "rsa-512"/);
    outcome = await marmot(['dkim', 'create', 'nowhere.example']);
    assert.deepEqual([outcome.code, outcome.stderr], [1, 'marmot: no domain nowhere.example\n']);

    // Closing any descriptor of an SQLite file drops this process's locks, so close while reading it.
    await store.close();
    for (const file of await readdir(dataDir)) {
      if (!file.startsWith('metadata.sqlite')) continue;
      assert.equal((await readFile(join(dataDir, file))).includes('PRIVATE KEY'), false, file);
    }
    store = new SqliteMetadataStore(join(dataDir, 'metadata.sqlite'));
  });

  test('activate, list --json, and check against DNS (exit 1 while a key is not published)', async () => {
    let outcome = await marmot(['dkim', 'activate', 'example.org', 's1']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.equal(outcome.stderr, 'example.org now signs with s1\n');

    outcome = await marmot(['dkim', 'list', 'example.org', '--json']);
    const keys = JSON.parse(outcome.stdout) as { selector: string; state: string; dnsRecord: string }[];
    assert.deepEqual(
      keys.map((key) => [key.selector.startsWith('marmot-') ? 'dated' : key.selector, key.state]),
      [
        ['s1', 'active'],
        ['dated', 'published'],
      ],
    );
    assert.equal(keys[0]?.dnsRecord, first);

    publish(first, 'example.org');
    outcome = await marmot(['dkim', 'check', 'example.org']);
    assert.equal(outcome.code, 1);
    assert.match(outcome.stdout, /^SELECTOR +STATE +DNS +DETAIL\ns1 +active +match +the published key is this key\n/);
    assert.match(outcome.stdout, /\nmarmot-\d{8} +published +missing +no TXT record\n$/);
    assert.match(outcome.stderr, /^marmot: 1 of 2 key\(s\) not published as stored: marmot-\d{8}\n$/);

    publish(keys[1]!.dnsRecord, 'example.org');
    outcome = await marmot(['dkim', 'check', 'example.org', '--json']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.deepEqual(
      (JSON.parse(outcome.stdout) as { status: string }[]).map((r) => r.status),
      ['match', 'match'],
    );
  });

  test('rotate: one pending rotation at a time; the nightly step activates it and retires the old key', async () => {
    let outcome = await marmot(['dkim', 'rotate', 'example.org', '--selector', 's2', '--delay-days', '0']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(outcome.stdout, /^s2\._domainkey IN TXT "v=DKIM1; k=ed25519; p=/);
    assert.match(outcome.stderr, /the nightly run makes it the signing key after /);
    outcome = await marmot(['dkim', 'rotate', 'example.org']);
    assert.equal(outcome.code, 1);
    assert.match(outcome.stderr, /^marmot: a rotation of example\.org is already under way: key s2 becomes active at /);

    const progress = await advanceDkimRotations(store);
    assert.deepEqual(progress.activated, ['example.org/s2']);
    assert.deepEqual(progress.retired, ['example.org/s1']);

    outcome = await marmot(['dkim', 'show', 'example.org', 's1']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(outcome.stdout, /^domain: +example\.org\nselector: +s1\nalgorithm: +ed25519\nstate: +retired\n/);
    assert.match(outcome.stdout, /\ndeleted: +\d{4}-/);
  });

  test('delete refuses the active key; retire then delete', async () => {
    let outcome = await marmot(['dkim', 'delete', 'example.org', 's2']);
    assert.equal(outcome.code, 1);
    assert.match(outcome.stderr, /s2 is the active key of example\.org; retire it or activate another first/);
    outcome = await marmot(['dkim', 'retire', 'example.org', 's2']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(outcome.stderr, /example\.org has no active key now: its mail goes out unsigned/);
    outcome = await marmot(['dkim', 'delete', 'example.org', 's2']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.equal(outcome.stderr, 'deleted s2 of example.org; remove s2._domainkey.example.org from DNS\n');
    outcome = await marmot(['dkim', 'show', 'example.org', 's2']);
    assert.deepEqual([outcome.code, outcome.stderr], [1, 'marmot: no DKIM key s2 for example.org\n']);
  });
});
