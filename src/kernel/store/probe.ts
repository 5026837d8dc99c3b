/**
 * The tree digest a path would have in the store, without touching a real store.
 *
 * - {@link digestPath}: computed in memory by a walk that reads every file once and writes
 *   nothing (an atom's directory hashed for its action key: a few small files, many atoms).
 * - {@link probeDigest}: ingested into a throwaway store (objects not fsynced) that is removed
 *   afterwards, with the ingest's worker pool (a fetched source of thousands of files checked
 *   against its pin).
 *
 * Both give the digest `Store.ingest` gives, and refuse what it refuses with the same errors.
 *
 * @see specs/store.md §3, §6
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  type Stats,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createDigester, digestBytes, type Digest } from '../digest.ts';
import { NotFoundError, UnsupportedFileError } from '../errors.ts';
import { osError } from '../os-error.ts';
import { NO_STAT_MEMO, type StatMemo } from '../stat-memo.ts';
import { entryName, linkTarget, unstorableEntry, unstorableRoot } from './entry-names.ts';
import { Store } from './fs-store.ts';
import { encodeTree, makeTree, subtreeSize, type TreeEntry } from './tree.ts';

/**
 * The store digest of the file or directory at `path` (a tree digest for a directory).
 * @param scratch a directory to hold the throwaway store (default: the OS temporary directory)
 * @throws IoError E12, UnsafePathError E8 as `Store.ingest`
 */
export async function probeDigest(path: string, scratch?: string): Promise<Digest> {
  const dir = await mkdtemp(join(scratch ?? tmpdir(), 'eos-probe-'));
  try {
    return (await new Store(dir, { durable: false }).ingest(path, { fsync: false })).digest;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Bytes read per `read(2)` when hashing a file. */
const CHUNK = 1 << 20;

/**
 * The store digest of the regular file or directory at `path`, as `Store.ingest` would compute
 * it (specs/store.md §3, §6: names as UTF-8, a file's owner-execute bit, symlink targets verbatim,
 * hard links as separate file entries), computed on this thread with synchronous reads and no
 * writes. For small trees (an atom's directory), where a throwaway store's layout costs far more
 * than the hashing; it blocks the event loop while it reads.
 * @param budget when given, the most the walk may read: past it the result is undefined (a big
 *   tree, for {@link probeDigest} instead)
 * @param memo a stat memo (specs/scheduler.md §11.6): a regular file whose `lstat` signature it
 *   holds as kind `blob` is not read again; every file read is remembered in it
 * @returns the digest and whether `path` is a file or a directory
 * @throws NotFoundError E4 when `path` does not exist; UnsupportedFileError E6 for a socket,
 *   device, FIFO or symlink given as `path`, or found in the tree, and for a non-UTF-8 name or
 *   symlink target; IoError E12 for other operating-system failures
 */
export function digestPath(
  path: string,
  budget?: undefined,
  memo?: StatMemo,
): { digest: Digest; kind: 'file' | 'directory' };
export function digestPath(
  path: string,
  budget: DigestBudget,
  memo?: StatMemo,
): { digest: Digest; kind: 'file' | 'directory' } | undefined;
export function digestPath(
  path: string,
  budget?: DigestBudget,
  memo: StatMemo = NO_STAT_MEMO,
): { digest: Digest; kind: 'file' | 'directory' } | undefined {
  const left = budget ? { entries: budget.entries, bytes: budget.bytes } : undefined;
  try {
    return digestPathIn(path, left, memo);
  } catch (e) {
    if (e === OVER_BUDGET) return undefined;
    throw e;
  }
}

/**
 * How much {@link digestPath} may read before it gives up (returns undefined, having read at most
 * one file past the bound): for a caller that hashes small trees in memory and hands bigger ones
 * to the worker pool ({@link probeDigest}).
 */
export interface DigestBudget {
  /** Directory entries (files, directories, symlinks) in the whole tree. */
  entries: number;
  /** Bytes of file content in the whole tree. */
  bytes: number;
}

/** What the walk throws when the budget runs out (never escapes {@link digestPath}). */
const OVER_BUDGET: Error = new Error('over the digest budget');

/** What is left of a budget while walking (undefined: no bound). */
type Left = { entries: number; bytes: number } | undefined;

function spend(left: Left, entries: number, bytes: number): void {
  if (!left) return;
  left.entries -= entries;
  left.bytes -= bytes;
  if (left.entries < 0 || left.bytes < 0) throw OVER_BUDGET;
}

function digestPathIn(
  path: string,
  left: Left,
  memo: StatMemo,
): { digest: Digest; kind: 'file' | 'directory' } {
  const abs = resolve(path);
  let st;
  try {
    st = lstatSync(abs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new NotFoundError(`${abs}: no such file or directory`, { data: { path: abs } });
    throw osError(e, abs);
  }
  if (st.isFile()) {
    spend(left, 0, st.size);
    return { digest: memoFile(abs, st, memo).digest, kind: 'file' };
  }
  if (st.isDirectory()) return { digest: digestDir(abs, st, left, memo).digest, kind: 'directory' };
  throw unstorableRoot(abs, st);
}

/**
 * {@link digestFile} through the stat memo: the remembered `[digest, size]` when `st` (the file's
 * `lstat`) still has the remembered signature, else the file is read and what it gave remembered.
 */
function memoFile(p: string, st: Stats, memo: StatMemo): { digest: Digest; size: number } {
  const m = memo.get('blob', p, st);
  if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'number')
    return { digest: m[0] as Digest, size: m[1] };
  const r = digestFile(p);
  memo.set('blob', p, st, [r.digest, r.size]);
  return r;
}

/** BLAKE3 of a regular file's bytes, read through one descriptor that must still be a regular file. */
function digestFile(p: string): { digest: Digest; size: number } {
  let fd: number;
  try {
    fd = openSync(p, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP')
      throw new UnsupportedFileError(`${p}: not a regular file any more`, { data: { path: p } });
    throw osError(e, p);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile())
      throw new UnsupportedFileError(`${p}: not a regular file any more`, { data: { path: p } });
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(st.size, 1)));
    const first = readSync(fd, buf, 0, buf.length, null);
    if (first < buf.length) return { digest: digestBytes(buf.subarray(0, first)), size: first };
    const h = createDigester();
    h.update(buf.subarray(0, first));
    let size = first;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      size += n;
    }
    return { digest: h.digest(), size };
  } catch (e) {
    if (e instanceof UnsupportedFileError) throw e;
    throw osError(e, p);
  } finally {
    closeSync(fd);
  }
}

/**
 * The entry names of directory `dir` (its `lstat` is `st`), through the stat memo as `dir-list`:
 * adding, removing or renaming an entry changes a directory's modification and status-change
 * times, so names remembered under the same signature are its names now and the `readdir` is
 * skipped (git's untracked cache does the same). Each entry is still `lstat`ed by the caller.
 * The entries are counted against the budget before their names are decoded, as without the memo.
 * @throws UnsupportedFileError E6 for a name that is not UTF-8; IoError for the `readdir`
 */
function dirNames(dir: string, st: Stats, left: Left, memo: StatMemo): string[] {
  const m = memo.get('dir-list', dir, st);
  if (Array.isArray(m) && m.every((n) => typeof n === 'string')) {
    spend(left, m.length, 0);
    return m as string[];
  }
  let raws: Buffer[];
  try {
    raws = readdirSync(dir, { encoding: 'buffer' });
  } catch (e) {
    throw osError(e, dir);
  }
  spend(left, raws.length, 0);
  const names = raws.map((raw) => entryName(dir, raw));
  memo.set('dir-list', dir, st, names);
  return names;
}

function digestDir(dir: string, dirSt: Stats, left: Left, memo: StatMemo): { digest: Digest; size: number } {
  const names = dirNames(dir, dirSt, left, memo);
  const entries: TreeEntry[] = [];
  for (const name of names) {
    const p = join(dir, name);
    let st;
    try {
      st = lstatSync(p);
    } catch (e) {
      throw osError(e, p);
    }
    if (st.isFile()) {
      spend(left, 0, st.size);
      const r = memoFile(p, st, memo);
      entries.push({
        name,
        kind: 'file',
        digest: r.digest,
        size: r.size,
        executable: (st.mode & 0o100) !== 0,
      });
    } else if (st.isDirectory()) {
      const r = digestDir(p, st, left, memo);
      entries.push({ name, kind: 'directory', digest: r.digest, size: r.size });
    } else if (st.isSymbolicLink()) {
      let raw: Buffer;
      try {
        raw = readlinkSync(p, { encoding: 'buffer' });
      } catch (e) {
        throw osError(e, p);
      }
      entries.push({ name, kind: 'symlink', target: linkTarget(p, raw) });
    } else throw unstorableEntry(p, st);
  }
  const tree = makeTree(entries, dir);
  return { digest: digestBytes(encodeTree(tree)), size: subtreeSize(tree) };
}
