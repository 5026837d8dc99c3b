/**
 * Store locks between processes: ingests (and other writers) take a shared lock, gc and
 * `verify --repair` an exclusive one. A lock is a file in `locks/` holding the owner's pid; a lock
 * whose pid is no longer alive is stale and removed by whoever finds it. Node has no flock(2), so
 * this is the portable form: each side first announces itself, then looks for the other.
 *
 * @see specs/store.md §9 (concurrency)
 */
import { randomBytes } from 'node:crypto';
import { linkSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IoError } from '../errors.ts';

/** A held lock; `release()` removes it. */
export interface StoreLock {
  release(): void;
}

const EXCLUSIVE = 'exclusive';

function alive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ownerOf(path: string): number | undefined {
  try {
    return Number(readFileSync(path, 'utf8').trim());
  } catch {
    return undefined;
  }
}

/** Writes `locks/<name>` atomically with our pid; returns false when it exists (exclusive). */
function writeLockFile(locks: string, name: string, exclusive: boolean): boolean {
  const tmp = join(locks, `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  writeFileSync(tmp, `${process.pid}\n`);
  try {
    linkSync(tmp, join(locks, name));
    return true;
  } catch (e) {
    if (exclusive && (e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** The live exclusive holder's pid, removing a stale exclusive lock. */
function exclusiveHolder(locks: string): number | undefined {
  const path = join(locks, EXCLUSIVE);
  const pid = ownerOf(path);
  if (pid === undefined) return undefined;
  if (pid === process.pid || alive(pid)) return pid;
  rmSync(path, { force: true });
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Takes a shared lock (many at once), waiting while an exclusive holder runs.
 * @param locks the store's `locks/` directory
 * @param waitMs how long to wait for an exclusive holder before giving up
 * @throws IoError E12 when the exclusive lock stays held for `waitMs`
 */
export async function lockShared(locks: string, waitMs = 600_000): Promise<StoreLock> {
  const started = Date.now();
  for (;;) {
    const name = `shared-${process.pid}-${randomBytes(6).toString('hex')}`;
    writeLockFile(locks, name, false);
    const holder = exclusiveHolder(locks);
    if (holder === undefined || holder === process.pid)
      return { release: () => rmSync(join(locks, name), { force: true }) };
    rmSync(join(locks, name), { force: true });
    if (Date.now() - started > waitMs)
      throw new IoError(
        `store lock ${locks}: held exclusively by pid ${holder} (gc or repair) for too long`,
        {
          data: { pid: holder },
        },
      );
    await sleep(50 + Math.random() * 100);
  }
}

/**
 * Takes the exclusive lock (gc, repair): fails at once when another exclusive holder or any
 * shared holder (an ingest) is alive. Stale lock files of dead processes are removed.
 * @throws IoError E12 naming the pid that holds the store
 */
export function lockExclusive(locks: string): StoreLock {
  for (let attempt = 0; ; attempt++) {
    if (writeLockFile(locks, EXCLUSIVE, true)) break;
    const holder = exclusiveHolder(locks);
    if (holder !== undefined || attempt > 3)
      throw new IoError(`store ${locks}: busy, pid ${holder ?? '?'} holds it exclusively (gc or repair)`, {
        data: { pid: holder ?? null },
        hint: 'try again when it has finished',
      });
  }
  const release = () => rmSync(join(locks, EXCLUSIVE), { force: true });
  for (const name of readdirSync(locks)) {
    if (!name.startsWith('shared-')) continue;
    const pid = ownerOf(join(locks, name));
    if (pid === undefined) continue;
    if (pid !== process.pid && alive(pid)) {
      release();
      throw new IoError(`store ${locks}: busy, pid ${pid} is writing to it (ingest)`, {
        data: { pid },
        hint: 'try again when it has finished',
      });
    }
    if (pid !== process.pid) rmSync(join(locks, name), { force: true });
  }
  return { release };
}
