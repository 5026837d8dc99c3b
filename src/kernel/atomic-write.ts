/**
 * The one atomic file write (I/O), for every file Eos replaces in place: a temporary file in the
 * same directory (named `.<name>.<pid>.<random>.tmp`, so concurrent writers never share one),
 * created with its final mode from the start (`O_CREAT|O_EXCL`, so a secret is never readable by
 * others, not even for an instant), written, fsynced, then moved into place (rename, or a link
 * when the target must not exist) and the directory fsynced. A crash at any point leaves either
 * the old file or the new one, plus at most a dot-named temporary file that readers ignore.
 *
 * @see STYLE.md ("nothing half-written")
 */
import { randomHex } from './random-hex.ts';
import {
  closeSync,
  fchmodSync,
  fsync,
  open,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { osError } from './os-error.ts';

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** File mode (default `0o644`); the file is created with it and then set to it exactly. */
  mode?: number;
  /** When false, fail with `EEXIST` if the target exists (link instead of rename). Default true. */
  overwrite?: boolean;
  /** Create the parent directory first (default false). */
  mkdir?: boolean;
}

function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomHex(6)}.tmp`);
}

/*
 * Descriptor-level I/O on libuv's thread pool through the callback API (also the store's,
 * store/fs-store.ts): a `FileHandle` of node:fs/promises costs the event loop about twice as much
 * per file (an object with a finalizer, a promise per call).
 */
/** open(2) of `path` on libuv's thread pool; resolves with the descriptor. */
export function openAsync(path: string, flags: string, mode?: number): Promise<number> {
  return new Promise((res, rej) => open(path, flags, mode, (e, fd) => (e ? rej(e) : res(fd))));
}

/** fsync(2) of `fd` on libuv's thread pool: the step of a small durable write that waits on the disk. */
export function fsyncAsync(fd: number): Promise<void> {
  return new Promise((res, rej) => fsync(fd, (e) => (e ? rej(e) : res())));
}

/**
 * fsync(2) of a directory, its open and close done here (each is microseconds: a thread-pool round
 * trip costs this process more than the call), the flush itself off the event loop.
 */
async function fsyncDir(dir: string): Promise<void> {
  const fd = openSync(dir, 'r');
  try {
    await fsyncAsync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `data` to `path` atomically (see the module comment).
 * @throws IoError E12 naming the path (`EEXIST` in `data.errno` when `overwrite` is false and
 *   `path` exists)
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  opts: AtomicWriteOptions = {},
): Promise<void> {
  const mode = opts.mode ?? 0o644;
  const dir = dirname(path);
  let placed = false;
  let tmp: string | undefined;
  try {
    // Three steps go to the thread pool: creating the file (a new inode, which can take
    // milliseconds on a file system that has just freed many) and the two fsyncs. The rest take
    // microseconds each, less than a thread-pool round trip costs this process (specs/store.md §4.3).
    if (opts.mkdir) mkdirSync(dir, { recursive: true });
    tmp = tempPath(path);
    const fd = await openAsync(tmp, 'wx', mode);
    try {
      fchmodSync(fd, mode);
      const b = typeof data === 'string' ? Buffer.from(data) : data;
      let w = 0;
      while (w < b.length) w += writeSync(fd, b, w, b.length - w);
      await fsyncAsync(fd);
    } finally {
      closeSync(fd);
    }
    if (opts.overwrite ?? true) renameSync(tmp, path);
    else {
      linkSync(tmp, path);
      unlinkSync(tmp);
    }
    placed = true;
    await fsyncDir(dir);
  } catch (e) {
    if (!placed && tmp)
      try {
        unlinkSync(tmp);
      } catch {
        /* already gone */
      }
    throw osError(e, path);
  }
}

/**
 * Writes `data` to `path` atomically, synchronously (for callers that cannot await).
 * @throws IoError E12 as {@link writeFileAtomic}
 */
export function writeFileAtomicSync(
  path: string,
  data: Uint8Array | string,
  opts: AtomicWriteOptions = {},
): void {
  const mode = opts.mode ?? 0o644;
  const dir = dirname(path);
  let placed = false;
  let tmp: string | undefined;
  try {
    if (opts.mkdir) mkdirSync(dir, { recursive: true });
    tmp = tempPath(path);
    const fd = openSync(tmp, 'wx', mode);
    try {
      fchmodSync(fd, mode);
      const b = typeof data === 'string' ? Buffer.from(data) : data;
      let w = 0;
      while (w < b.length) w += writeSync(fd, b, w, b.length - w);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (opts.overwrite ?? true) renameSync(tmp, path);
    else {
      linkSync(tmp, path);
      unlinkSync(tmp);
    }
    placed = true;
    fsyncDirSync(dir);
  } catch (e) {
    if (!placed && tmp)
      try {
        unlinkSync(tmp);
      } catch {
        /* already gone */
      }
    throw osError(e, path);
  }
}

/**
 * Whether process `pid` is alive in this pid namespace (`kill(pid, 0)`; `EPERM` counts as alive).
 * Non-positive or non-integer pids are dead.
 */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `.<name>.<pid>.<12 hex>.tmp` (this module's temp files) or `<name>.tmp-<pid>-<hex>` (staging dirs). */
const TEMP_NAME = /^\..+\.(\d+)\.[0-9a-f]{12}\.tmp$|^.+\.tmp-(\d+)-[0-9a-f]+$/;

/**
 * The pid that owns a temp file named by {@link writeFileAtomic} (`.<name>.<pid>.<hex>.tmp`) or a
 * staging directory named `<name>.tmp-<pid>-<hex>`; undefined for any other name.
 */
export function tempOwner(name: string): number | undefined {
  const m = TEMP_NAME.exec(name);
  if (!m) return undefined;
  return Number(m[1] ?? m[2]);
}

/**
 * Removes the temp files (and staging directories) in `dir` whose owning process is dead: what a
 * killed atomic write leaves. Only names matching {@link tempOwner} are touched; the directory is
 * not descended into. A missing `dir` is fine.
 * @returns the paths removed
 * @see STYLE.md ("nothing half-written"), specs/store.md §4.2
 */
export function removeDeadTemps(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = tempOwner(name);
    if (pid === undefined || pid === process.pid || pidAlive(pid)) continue;
    try {
      rmSync(join(dir, name), { recursive: true, force: true });
      removed.push(join(dir, name));
    } catch {
      // another cleaner raced us, or it cannot be removed: leave it for the next one
    }
  }
  return removed;
}
