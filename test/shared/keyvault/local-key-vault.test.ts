import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { EnvelopeError } from '../../../shared/keyvault/key-vault.ts';
import { LocalKeyVault, MASTER_KEY_FILE, MasterKeyFileError } from '../../../shared/keyvault/local-key-vault.ts';
import { openKeyVault } from '../../../shared/keyvault/open-key-vault.ts';

const run = promisify(execFile);
const context = { purpose: 'test', owner: 'alice@example.com' };

describe('LocalKeyVault', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'marmot-vault-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a 32-byte master key with mode 0600 and round-trips', async () => {
    const dataDir = join(dir, 'roundtrip');
    const vault = await LocalKeyVault.open(dataDir);
    const info = await stat(join(dataDir, MASTER_KEY_FILE));
    assert.equal(info.mode & 0o777, 0o600);
    assert.equal(info.size, 32);
    const envelope = await vault.encrypt(Buffer.from('secret verifier'), context);
    assert.match(envelope, /^v1\.local\./);
    assert.ok(!envelope.includes('secret'));
    assert.equal((await vault.decrypt(envelope, context)).toString(), 'secret verifier');
    // Context order does not matter; a reopened vault reads the same key.
    const reopened = await LocalKeyVault.open(dataDir);
    const reversed = { owner: 'alice@example.com', purpose: 'test' };
    assert.equal((await reopened.decrypt(envelope, reversed)).toString(), 'secret verifier');
    // Two encryptions of the same plaintext differ (fresh IV).
    assert.notEqual(await vault.encrypt(Buffer.from('x'), context), await vault.encrypt(Buffer.from('x'), context));
  });

  it('refuses a wrong context', async () => {
    const vault = await LocalKeyVault.open(join(dir, 'context'));
    const envelope = await vault.encrypt(Buffer.from('secret'), context);
    await assert.rejects(vault.decrypt(envelope, { ...context, owner: 'mallory@example.com' }), EnvelopeError);
    await assert.rejects(vault.decrypt(envelope, { purpose: 'test' }), EnvelopeError);
    await assert.rejects(vault.decrypt(envelope, {}), EnvelopeError);
  });

  it('detects tampering with any part of the envelope', async () => {
    const vault = await LocalKeyVault.open(join(dir, 'tamper'));
    const envelope = await vault.encrypt(Buffer.from('a secret of some length'), context);
    const parts = envelope.split('.');
    for (const index of [3, 4]) {
      const bytes = Buffer.from(parts[index]!, 'base64url');
      for (const position of [0, bytes.length - 1]) {
        const changed = Buffer.from(bytes);
        changed[position]! ^= 0x01;
        const forged = [...parts];
        forged[index] = changed.toString('base64url');
        await assert.rejects(vault.decrypt(forged.join('.'), context), EnvelopeError, `part ${index} @${position}`);
      }
    }
    const truncated = [...parts];
    truncated[4] = Buffer.from(parts[4]!, 'base64url').subarray(0, 10).toString('base64url');
    await assert.rejects(vault.decrypt(truncated.join('.'), context), EnvelopeError);
    for (const junk of ['', 'v1.local', 'v2.local.a.b.c', `${envelope}.x`, envelope.replace('v1.local', 'v1.kms')]) {
      await assert.rejects(vault.decrypt(junk, context), EnvelopeError, junk);
    }
  });

  it("refuses another data directory's envelope by key id", async () => {
    const one = await LocalKeyVault.open(join(dir, 'one'));
    const two = await LocalKeyVault.open(join(dir, 'two'));
    const envelope = await one.encrypt(Buffer.from('secret'), context);
    await assert.rejects(two.decrypt(envelope, context), /another master key/);
  });

  it('refuses a key file others can read, or of the wrong size', async () => {
    const dataDir = join(dir, 'mode');
    await LocalKeyVault.open(dataDir);
    await chmod(join(dataDir, MASTER_KEY_FILE), 0o644);
    await assert.rejects(LocalKeyVault.open(dataDir), MasterKeyFileError);
    const short = join(dir, 'short');
    await LocalKeyVault.open(short);
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(short, MASTER_KEY_FILE), Buffer.alloc(16));
    await assert.rejects(LocalKeyVault.open(short), MasterKeyFileError);
  });

  it('concurrent first starts in one process agree on one key', async () => {
    const dataDir = join(dir, 'inprocess');
    const vaults = await Promise.all(Array.from({ length: 8 }, () => LocalKeyVault.open(dataDir)));
    const envelope = await vaults[0]!.encrypt(Buffer.from('shared'), context);
    for (const vault of vaults) assert.equal((await vault.decrypt(envelope, context)).toString(), 'shared');
    assert.deepEqual(await readdir(dataDir), [MASTER_KEY_FILE]);
  });

  it('concurrent first starts in separate processes create exactly one key', async () => {
    const dataDir = join(dir, 'processes');
    const script = [
      `import { LocalKeyVault } from ${JSON.stringify(new URL('../../../shared/keyvault/local-key-vault.ts', import.meta.url).href)};`,
      `const vault = await LocalKeyVault.open(${JSON.stringify(dataDir)});`,
      `process.stdout.write(await vault.encrypt(Buffer.from(String(process.pid)), { purpose: 'race' }));`,
    ].join('\n');
    const outputs = await Promise.all(
      Array.from({ length: 4 }, () =>
        run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd() }),
      ),
    );
    const key = await readFile(join(dataDir, MASTER_KEY_FILE));
    assert.equal(key.length, 32);
    assert.deepEqual(await readdir(dataDir), [MASTER_KEY_FILE], 'no temporary files left behind');
    const vault = await LocalKeyVault.open(dataDir);
    for (const { stdout } of outputs) {
      assert.match((await vault.decrypt(stdout, { purpose: 'race' })).toString(), /^\d+$/);
    }
  });

  it('openKeyVault opens the local adapter', async () => {
    const vault = await openKeyVault({ kind: 'local', dataDir: join(dir, 'opened') });
    const envelope = await vault.encrypt(Buffer.from('x'), context);
    assert.equal((await vault.decrypt(envelope, context)).toString(), 'x');
  });
});
