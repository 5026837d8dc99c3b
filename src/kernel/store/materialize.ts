/**
 * Materialize: writes a stored tree into a directory. Files are hard links into the object
 * directory when on the same filesystem (non-executable files link the 0444 blob, executable ones
 * its 0555 twin, because all links of an inode share one mode), copies otherwise. Every create is
 * exclusive (mkdir, link, symlink, O_EXCL copy) and made relative to an open descriptor of its
 * parent directory (each directory is opened with O_DIRECTORY|O_NOFOLLOW right after it is made,
 * and its children are created through `/proc/self/fd/N/NAME`, the openat equivalent), so a
 * process that swaps a directory on the way for a symlink cannot redirect a single write: nothing
 * is ever written through a symlink, and every path is checked to stay inside the target.
 *
 * @see specs/store.md §7
 */
import {
  closeSync,
  constants,
  copyFileSync,
  fchmodSync,
  fstatSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  symlinkSync,
  type Stats,
} from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { Digest } from '../digest.ts';
import { IoError, NotFoundError, UnsafePathError } from '../errors.ts';
import type { Store } from './fs-store.ts';
import { checkName } from './tree.ts';

/** Options for `materialize`. */
export interface MaterializeOptions {
  /** Always copy (writable files, 0644/0755) instead of hard-linking read-only objects. */
  copy?: boolean;
}

/** What `materialize` wrote. */
export interface MaterializeReport {
  files: number;
  directories: number;
  symlinks: number;
  /** Files made as hard links into the store. */
  linked: number;
  /** Files made as copies. */
  copied: number;
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** What is at `p` without following a symlink: 'none', 'dir', 'symlink' or 'other'. */
/** An open file as the walk uses it (a `FileHandle`, or a descriptor of the synchronous calls). */
interface Handle {
  fd: number;
  stat(): Promise<Stats>;
  chmod(mode: number): Promise<void>;
  close(): Promise<void>;
}

/** The file-system calls of a materialization: the same calls, made through the thread pool or not. */
interface Ops {
  lstat(p: string): Promise<Stats>;
  mkdir(p: string, opts: { recursive?: boolean; mode: number }): Promise<unknown>;
  open(p: string, flags: number): Promise<Handle>;
  copyFile(from: string, to: string, mode: number): Promise<void>;
  link(from: string, to: string): Promise<void>;
  symlink(target: string, p: string): Promise<void>;
}

const THREAD_POOL: Ops = {
  lstat: (p) => fsp.lstat(p),
  mkdir: (p, o) => fsp.mkdir(p, o),
  open: (p, f) => fsp.open(p, f),
  copyFile: (a, b, m) => fsp.copyFile(a, b, m),
  link: (a, b) => fsp.link(a, b),
  symlink: (t, p) => fsp.symlink(t, p),
};

/** The same calls made on this thread (errors as rejections, with their `code`), for small trees. */
const ON_THIS_THREAD: Ops = {
  lstat: async (p) => lstatSync(p),
  mkdir: async (p, o) => mkdirSync(p, o),
  open: async (p, f) => {
    const fd = openSync(p, f);
    return {
      fd,
      stat: async () => fstatSync(fd),
      chmod: async (m) => fchmodSync(fd, m),
      close: async () => closeSync(fd),
    };
  },
  copyFile: async (a, b, m) => copyFileSync(a, b, m),
  link: async (a, b) => linkSync(a, b),
  symlink: async (t, p) => symlinkSync(t, p),
};

/**
 * Trees at most this big (entries, and bytes of files) are written with the calls made on this
 * thread: each thread-pool round trip costs more than such a call (an action's source directory
 * of a few files took ~10 ms of a loaded build's event loop in round trips).
 */
const SMALL_TREE = { entries: 64, bytes: 1 << 20 };

/** Whether `root` is a small tree; false too for one that cannot be read whole (the walk reports it). */
async function isSmallTree(store: Store, root: Digest): Promise<boolean> {
  let entries = 0;
  let bytes = 0;
  const stack = [root];
  while (stack.length) {
    const t = await store.getTree(stack.pop()!).catch(() => undefined);
    if (!t) return false;
    entries += t.entries.length;
    if (entries > SMALL_TREE.entries) return false;
    for (const e of t.entries)
      if (e.kind === 'directory') stack.push(e.digest);
      else if (e.kind === 'file' && (bytes += e.size) > SMALL_TREE.bytes) return false;
  }
  return true;
}

async function whatIs(ops: Ops, p: string): Promise<'none' | 'dir' | 'symlink' | 'other'> {
  try {
    const st = await ops.lstat(p);
    if (st.isSymbolicLink()) return 'symlink';
    return st.isDirectory() ? 'dir' : 'other';
  } catch (e) {
    if (errno(e) === 'ENOENT') return 'none';
    throw new IoError(`${p}: ${(e as Error).message}`, { data: { path: p } });
  }
}

function refuseExisting(p: string, what: 'symlink' | 'other' | 'dir'): never {
  if (what === 'symlink')
    throw new UnsafePathError(`${p}: is an existing symlink; refusing to write through it`, {
      data: { path: p },
    });
  throw new IoError(`${p}: already exists`, { data: { path: p } });
}

/** A directory opened without following a symlink, and the path creates inside it go through. */
interface DirRef {
  handle: Handle;
  /** `/proc/self/fd/N`: a path whose walk starts at the open directory (the openat equivalent). */
  at: string;
  /** The directory's path as the caller names it (for messages). */
  shown: string;
}

/** Opens `path` (made relative to an open parent) as a directory without following a symlink. */
async function openDir(ops: Ops, path: string, shown: string): Promise<DirRef> {
  try {
    const handle = await ops.open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    return { handle, at: `/proc/self/fd/${handle.fd}`, shown };
  } catch (e) {
    const code = errno(e);
    if (code === 'ELOOP' || code === 'ENOTDIR')
      throw new UnsafePathError(
        `${shown}: is not a directory any more (a symlink?); refusing to write through it`,
        {
          data: { path: shown },
        },
      );
    throw new IoError(`${shown}: ${code ?? (e as Error).message}`, { data: { path: shown } });
  }
}

/**
 * Copies `blob` into a new file `at`: the create is exclusive (O_EXCL never follows a symlink), the
 * mode is then set on a descriptor opened with O_NOFOLLOW (a swapped-in symlink is refused, never
 * followed).
 */
async function copyInto(ops: Ops, blob: string, at: string, mode: number): Promise<void> {
  await ops.copyFile(blob, at, constants.COPYFILE_EXCL);
  const fh = await ops.open(at, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    if (!(await fh.stat()).isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EEXIST' });
    await fh.chmod(mode);
  } finally {
    await fh.close();
  }
}

/**
 * Materializes tree `root` at `target` (an absolute path).
 * @throws UnsafePathError E8; NotFoundError E4; IoError E12 (see Store.materialize)
 */
export async function materializeTree(
  store: Store,
  root: Digest,
  target: string,
  opts: MaterializeOptions,
): Promise<MaterializeReport> {
  const report: MaterializeReport = { files: 0, directories: 0, symlinks: 0, linked: 0, copied: 0 };
  const top = await store.getTree(root);
  const prefix = target.endsWith(sep) ? target : target + sep;
  let linkable = !opts.copy;
  const ops = (await isSmallTree(store, root)) ? ON_THIS_THREAD : THREAD_POOL;

  const at = await whatIs(ops, target);
  if (at === 'symlink' || at === 'other') refuseExisting(target, at);
  if (at === 'none') {
    try {
      await ops.mkdir(target, { recursive: true, mode: 0o755 });
    } catch (e) {
      throw new IoError(`${target}: ${(e as Error).message}`, { data: { path: target } });
    }
  }

  /** The error of a failed create at `p` (`via`: the same entry through the parent's descriptor). */
  async function createFailed(p: string, via: string, e: unknown): Promise<never> {
    if (errno(e) === 'EEXIST') refuseExisting(p, (await whatIs(ops, via)) as 'symlink' | 'other');
    throw new IoError(`${p}: ${errno(e) ?? (e as Error).message}`, { data: { path: p } });
  }

  async function placeFile(p: string, via: string, digest: Digest, executable: boolean): Promise<void> {
    const blob = store.blobPath(digest);
    if (!(await store.hasBlob(digest)))
      throw new NotFoundError(`${p}: blob ${digest} is not in the store ${store.root}`, {
        data: { digest, path: p },
      });
    if (linkable) {
      const source = executable ? store.ensureTwin(digest) : blob;
      try {
        await ops.link(source, via);
        report.linked++;
        return;
      } catch (e) {
        const code = errno(e);
        if (code === 'EEXIST') await createFailed(p, via, e);
        if (code === 'EXDEV' || code === 'EPERM' || code === 'EACCES') linkable = false;
        else if (code !== 'EMLINK') throw new IoError(`${p}: ${(e as Error).message}`, { data: { path: p } });
      }
    }
    try {
      await copyInto(ops, blob, via, executable ? 0o755 : 0o644);
    } catch (e) {
      await createFailed(p, via, e);
    }
    report.copied++;
  }

  async function walk(treeDigest: Digest, dir: DirRef): Promise<void> {
    const tree = treeDigest === root ? top : await store.getTree(treeDigest);
    for (const e of tree.entries) {
      checkName(e.name, `tree ${treeDigest}`);
      const p = join(dir.shown, e.name);
      if (!p.startsWith(prefix))
        throw new UnsafePathError(`${p}: escapes the target ${target}`, { data: { path: p } });
      const via = `${dir.at}/${e.name}`;
      if (e.kind === 'directory') {
        try {
          await ops.mkdir(via, { mode: 0o755 });
        } catch (err) {
          // An existing real directory is filled (an existing target); anything else is refused.
          const what = errno(err) === 'EEXIST' ? await whatIs(ops, via) : undefined;
          if (what !== 'dir') await createFailed(p, via, err);
        }
        const child = await openDir(ops, via, p);
        try {
          made.push([p, await child.handle.stat()]);
          report.directories++;
          await walk(e.digest, child);
        } finally {
          await child.handle.close();
        }
      } else if (e.kind === 'file') {
        await placeFile(p, via, e.digest, e.executable);
        report.files++;
      } else {
        try {
          await ops.symlink(e.target, via);
        } catch (err) {
          await createFailed(p, via, err);
        }
        report.symlinks++;
      }
    }
  }

  // Each directory made, with its identity: after the walk, every one must still be at its path
  // (nothing swapped it, or a parent, for a symlink or another directory while it was written).
  const made: Array<[string, { dev: number; ino: number }]> = [];
  const dir = await openDir(ops, target, target);
  try {
    made.push([target, await dir.handle.stat()]);
    await walk(root, dir);
  } finally {
    await dir.handle.close();
  }
  for (const [p, id] of made) {
    const now = await ops.lstat(p).catch(() => undefined);
    if (!now || !now.isDirectory() || now.dev !== id.dev || now.ino !== id.ino)
      throw new UnsafePathError(
        `${p}: was replaced while the tree was written into it; refusing the result`,
        {
          data: { path: p },
        },
      );
  }
  return report;
}
