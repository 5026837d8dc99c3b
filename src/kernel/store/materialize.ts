/**
 * Materialize: writes a stored tree into a directory. Files are hard links into the object
 * directory when on the same filesystem (non-executable files link the 0444 blob, executable ones
 * its 0555 twin, because all links of an inode share one mode), copies otherwise. Every create is
 * exclusive (mkdir, link, symlink, O_EXCL copy), so nothing is ever written through an existing
 * symlink, and every path is checked to stay inside the target.
 *
 * @see specs/store.md §7
 */
import { constants } from 'node:fs';
import { chmod, copyFile, link, lstat, mkdir, symlink } from 'node:fs/promises';
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

  async function placeFile(p: string, digest: Digest, executable: boolean): Promise<void> {
    const blob = store.blobPath(digest);
    if (!(await store.hasBlob(digest)))
      throw new NotFoundError(`${p}: blob ${digest} is not in the store ${store.root}`, {
        data: { digest, path: p },
      });
    if (linkable) {
      const source = executable ? store.ensureTwin(digest) : blob;
      try {
        await link(source, p);
        report.linked++;
        return;
      } catch (e) {
        const code = errno(e);
        if (code === 'EEXIST') refuseExisting(p, (await whatIs(p)) as 'symlink' | 'other');
        if (code === 'EXDEV' || code === 'EPERM' || code === 'EACCES') linkable = false;
        else if (code !== 'EMLINK') throw new IoError(`${p}: ${(e as Error).message}`, { data: { path: p } });
      }
    }
    try {
      await copyFile(blob, p, constants.COPYFILE_EXCL);
      await chmod(p, executable ? 0o755 : 0o644);
    } catch (e) {
      if (errno(e) === 'EEXIST') refuseExisting(p, (await whatIs(p)) as 'symlink' | 'other');
      throw new IoError(`${p}: ${(e as Error).message}`, { data: { path: p } });
    }
    report.copied++;
  }

  async function walk(treeDigest: Digest, dir: string): Promise<void> {
    const tree = treeDigest === root ? top : await store.getTree(treeDigest);
    for (const e of tree.entries) {
      checkName(e.name, `tree ${treeDigest}`);
      const p = join(dir, e.name);
      if (!p.startsWith(prefix))
        throw new UnsafePathError(`${p}: escapes the target ${target}`, { data: { path: p } });
      if (e.kind === 'directory') {
        const what = await whatIs(p);
        if (what === 'symlink' || what === 'other') refuseExisting(p, what);
        if (what === 'none') {
          try {
            await mkdir(p, 0o755);
          } catch (err) {
            if (errno(err) === 'EEXIST') refuseExisting(p, (await whatIs(p)) as 'symlink' | 'other');
            throw new IoError(`${p}: ${(err as Error).message}`, { data: { path: p } });
          }
        }
        report.directories++;
        await walk(e.digest, p);
      } else if (e.kind === 'file') {
        await placeFile(p, e.digest, e.executable);
        report.files++;
      } else {
        try {
          await symlink(e.target, p);
        } catch (err) {
          if (errno(err) === 'EEXIST') refuseExisting(p, (await whatIs(p)) as 'symlink' | 'other');
          throw new IoError(`${p}: ${(err as Error).message}`, { data: { path: p } });
        }
        report.symlinks++;
      }
    }
  }

  await walk(root, target);
  return report;
}
