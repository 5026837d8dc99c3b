/**
 * Pid files: a file whose whole content is the decimal pid of the process that holds something
 * (a store lock, the host lock), and a newline. The one helper behind every pid-file lock in Eos:
 *
 * - created exclusively and atomically: the content is written to a temporary file and linked to
 *   the name (`link(2)` fails with `EEXIST` when the name exists), so a reader never
 *   sees an empty or half-written pid;
 * - a pid file whose pid is no longer alive is stale: the next taker renames it aside, checks
 *   that what it moved is still the dead owner's (restoring it when a live taker got there
 *   first) and creates its own;
 * - released only by its owner (the pid in the file), so a release after a hand-over or a
 *   takeover never removes another process's lock.
 *
 * Node has no flock(2); this is the portable form, and it survives SIGKILL (a dead holder's file
 * is stale, not a deadlock).
 *
 * @see specs/store.md §9 (store locks), specs/host.md §2.2 (the host lock)
 */
import { randomHex } from './random-hex.ts';
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { pidAlive, writeFileAtomicSync } from './atomic-write.ts';
import { osError } from './os-error.ts';

/** Whether a process with this pid exists (one definition, in atomic-write.ts, which also reaps dead writers' temp files). */
export { pidAlive };

/** The pid a pid file names, or undefined when the file is missing or holds no pid. */
export function readPidFile(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * Creates the pid file `path` holding `pid` exclusively and atomically: a temporary file beside
 * it, linked to the name. Not fsynced: a pid file only means something while its process lives,
 * and after a crash of the machine every pid in one is stale (this is on every store write's path).
 * @returns false when `path` already exists
 * @throws IoError E12 for any other failure
 */
export function createPidFile(path: string, pid = process.pid): boolean {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomHex(6)}.tmp`);
  try {
    writeFileSync(tmp, `${pid}\n`, { flag: 'wx', mode: 0o644 });
    linkSync(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw osError(e, path);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * The live owner of a pid file, or undefined when it is missing, unreadable or stale. With
 * `removeStale`, a stale file is removed (safely: see {@link removeStalePidFile}). Our own pid
 * counts as live.
 */
export function livePidFileOwner(path: string, opts: { removeStale?: boolean } = {}): number | undefined {
  const pid = readPidFile(path);
  if (pid === undefined) return undefined;
  if (pid === process.pid || pidAlive(pid)) return pid;
  if (opts.removeStale) removeStalePidFile(path, pid);
  return undefined;
}

/**
 * Removes `path` if it still names the dead `stalePid` (undefined: a file without a pid): renames
 * it aside first, and when what was moved names another pid (a live taker replaced it in between)
 * puts it back.
 */
export function removeStalePidFile(path: string, stalePid: number | undefined): void {
  const aside = `${path}.stale-${process.pid}-${randomHex(4)}`;
  try {
    renameSync(path, aside);
  } catch {
    return; // gone already
  }
  if (readPidFile(aside) !== stalePid) {
    try {
      linkSync(aside, path); // restore the fresh owner's file
    } catch {
      // a third taker created it meanwhile; the moved file's owner lost the race with it
    }
  }
  rmSync(aside, { force: true });
}

/** A held pid-file lock. */
export interface PidFileLock {
  /** The pid file. */
  readonly path: string;
  /** Removes the file if it still names the owner (our pid, or the one it was handed to). */
  release(): void;
  /**
   * Makes `pid` the owner (rewrites the file atomically): the lock outlives us while `pid` runs;
   * `release()` then removes the file only if it still names `pid`.
   */
  handTo(pid: number): void;
}

/** Options of {@link takePidFile}. */
export interface TakePidFileOptions {
  /**
   * What a file naming our own pid means: `held` (default: somebody in this process holds it,
   * do not take it) or `stale` (a leftover of an earlier process that had our pid: take it over).
   */
  ownPid?: 'held' | 'stale';
  /** How many create attempts bound the races with other takers (default 4). */
  attempts?: number;
}

/**
 * Takes the pid-file lock `path`: creates it with our pid; when it exists and names a live
 * process, does not take it; when it is stale (dead owner, or no pid in it), takes it over.
 * @returns `{lock}` when held, `{holder}` (the live owner's pid, or null when it could not be
 *   told) when not
 * @throws IoError E12 when the file cannot be created for another reason (missing directory, …)
 */
export function takePidFile(
  path: string,
  opts: TakePidFileOptions = {},
): { lock: PidFileLock } | { holder: number | null } {
  const ownStale = opts.ownPid === 'stale';
  let holder: number | null = null;
  for (let attempt = 0; attempt < (opts.attempts ?? 4); attempt++) {
    if (createPidFile(path)) {
      let owner = process.pid;
      return {
        lock: {
          path,
          release: () => {
            if (readPidFile(path) === owner) rmSync(path, { force: true });
          },
          handTo: (pid: number) => {
            owner = pid;
            writeFileAtomicSync(path, `${pid}\n`);
          },
        },
      };
    }
    const pid = readPidFile(path);
    if (pid === process.pid ? !ownStale : pid !== undefined && pidAlive(pid)) return { holder: pid! };
    // stale: a dead owner, a leftover of our pid, or a file without a pid (files are linked
    // whole, so that is not one being written)
    holder = pid ?? null;
    removeStalePidFile(path, pid);
  }
  return { holder };
}
