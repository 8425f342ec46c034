/**
 * One running system per data directory. The lock is a file holding the owner's pid, created with
 * link(2) so that exactly one of two racing starts wins; a lock left by a process that no longer runs
 * is taken over (renamed aside first, so two processes cannot both take it over).
 */
import { randomBytes } from 'node:crypto';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const LOCK_FILE = 'marmot.lock';

export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(`the data directory ${dataDir} is in use by another Marmot process (pid ${pid}); stop it first`);
  }
}

export interface DataDirLock {
  release(): Promise<void>;
}

export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const lockPath = join(dataDir, LOCK_FILE);
  const candidate = join(dataDir, `${LOCK_FILE}.${process.pid}.${randomBytes(4).toString('hex')}`);
  await writeFile(candidate, `${process.pid}\n`, { mode: 0o644 });
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await link(candidate, lockPath);
        return { release: () => unlink(lockPath).catch(() => {}) };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = await readOwner(lockPath);
      if (owner !== undefined && isRunning(owner)) throw new DataDirLockedError(dataDir, owner);
      await rename(lockPath, `${candidate}.stale`).then(
        () => unlink(`${candidate}.stale`),
        () => {},
      );
    }
    const owner = (await readOwner(lockPath)) ?? 0;
    throw new DataDirLockedError(dataDir, owner);
  } finally {
    await unlink(candidate).catch(() => {});
  }
}

async function readOwner(lockPath: string): Promise<number | undefined> {
  const text = await readFile(lockPath, 'utf8').catch(() => undefined);
  const pid = Number(text?.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function isRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
