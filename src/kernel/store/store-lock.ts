/**
 * Store locks between processes: ingests (and other writers) take a shared lock, gc and
 * `verify --repair` an exclusive one. A lock is a file in `locks/` holding the owner's pid; a lock
 * whose pid is no longer alive is stale and removed by whoever finds it. Node has no flock(2), so
 * this is the portable form: each side first announces itself, then looks for the other.
 *
 * @see specs/store.md §9 (concurrency)
 */
import { randomHex } from '../random-hex.ts';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { IoError } from '../errors.ts';
import { createPidFile, livePidFileOwner, pidAlive, readPidFile, takePidFile } from '../pid-file.ts';

/** A held lock; `release()` removes it. */
export interface StoreLock {
  release(): void;
}

const EXCLUSIVE = 'exclusive';

/** The live exclusive holder's pid (ours included), removing a stale exclusive lock. */
function exclusiveHolder(locks: string): number | undefined {
  return livePidFileOwner(join(locks, EXCLUSIVE), { removeStale: true });
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
    const name = `shared-${process.pid}-${randomHex(6)}`;
    createPidFile(join(locks, name)); // a fresh name: always created
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
  const taken = takePidFile(join(locks, EXCLUSIVE));
  if ('holder' in taken)
    throw new IoError(
      `store ${locks}: busy, pid ${taken.holder ?? '?'} holds it exclusively (gc or repair)`,
      {
        data: { pid: taken.holder },
        hint: 'try again when it has finished',
      },
    );
  const release = () => taken.lock.release();
  for (const name of readdirSync(locks)) {
    if (!name.startsWith('shared-')) continue;
    const path = join(locks, name);
    const pid = readPidFile(path);
    if (pid === undefined || pid === process.pid) continue;
    if (pidAlive(pid)) {
      release();
      throw new IoError(`store ${locks}: busy, pid ${pid} is writing to it (ingest)`, {
        data: { pid },
        hint: 'try again when it has finished',
      });
    }
    rmSync(path, { force: true }); // a dead ingest's: its name is unique, nobody re-creates it
  }
  return { release };
}
