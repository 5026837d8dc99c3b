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
import { constants } from 'node:fs';
import { copyFile, link, lstat, mkdir, open, symlink, type FileHandle } from 'node:fs/promises';
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
async function whatIs(p: string): Promise<'none' | 'dir' | 'symlink' | 'other'> {
  try {
    const st = await lstat(p);
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
  handle: FileHandle;
  /** `/proc/self/fd/N`: a path whose walk starts at the open directory (the openat equivalent). */
  at: string;
  /** The directory's path as the caller names it (for messages). */
  shown: string;
}

/** Opens `path` (made relative to an open parent) as a directory without following a symlink. */
async function openDir(path: string, shown: string): Promise<DirRef> {
  try {
    const handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
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
async function copyInto(blob: string, at: string, mode: number): Promise<void> {
  await copyFile(blob, at, constants.COPYFILE_EXCL);
  const fh = await open(at, constants.O_RDONLY | constants.O_NOFOLLOW);
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

  const at = await whatIs(target);
  if (at === 'symlink' || at === 'other') refuseExisting(target, at);
  if (at === 'none') {
    try {
      await mkdir(target, { recursive: true, mode: 0o755 });
    } catch (e) {
      throw new IoError(`${target}: ${(e as Error).message}`, { data: { path: target } });
    }
  }

  /** The error of a failed create at `p` (`via`: the same entry through the parent's descriptor). */
  async function createFailed(p: string, via: string, e: unknown): Promise<never> {
    if (errno(e) === 'EEXIST') refuseExisting(p, (await whatIs(via)) as 'symlink' | 'other');
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
        await link(source, via);
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
      await copyInto(blob, via, executable ? 0o755 : 0o644);
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
          await mkdir(via, 0o755);
        } catch (err) {
          // An existing real directory is filled (an existing target); anything else is refused.
          const what = errno(err) === 'EEXIST' ? await whatIs(via) : undefined;
          if (what !== 'dir') await createFailed(p, via, err);
        }
        const child = await openDir(via, p);
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
          await symlink(e.target, via);
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
  const dir = await openDir(target, target);
  try {
    made.push([target, await dir.handle.stat()]);
    await walk(root, dir);
  } finally {
    await dir.handle.close();
  }
  for (const [p, id] of made) {
    const now = await lstat(p).catch(() => undefined);
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
