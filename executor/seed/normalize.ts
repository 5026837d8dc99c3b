/**
 * Normalization of an unpacked package to the usrmerged layout: the top-level `bin sbin lib lib32
 * lib64 libx32` directories are merged into `usr/`; relative symlinks that moved are rewritten so
 * they still point at the same (usrmerged) place. The `X -> usr/X` symlinks themselves belong to
 * the fixups entry.
 *
 * @see specs/seed.md §3
 */
import * as fs from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { SeedError } from '../../src/kernel/index.ts';
import { USRMERGE_DIRS } from './fixups.ts';

/** Maps an absolute world path through usrmerge (`/lib/x` → `/usr/lib/x`). */
export function usrmergePath(abs: string): string {
  for (const d of USRMERGE_DIRS) if (abs === `/${d}` || abs.startsWith(`/${d}/`)) return `/usr${abs}`;
  return abs;
}

async function fixLinks(root: string, rel: string): Promise<void> {
  const p = join(root, rel);
  const st = await fs.lstat(p);
  if (st.isDirectory()) {
    for (const n of await fs.readdir(p)) await fixLinks(root, posix.join(rel, n));
  } else if (st.isSymbolicLink()) {
    const target = await fs.readlink(p);
    if (target.startsWith('/')) return;
    const oldAbs = '/' + rel;
    const resolved = usrmergePath(posix.normalize(posix.join(posix.dirname(oldAbs), target)));
    const newAbs = usrmergePath(oldAbs);
    const next = posix.relative(posix.dirname(newAbs), resolved) || '.';
    if (next !== target) {
      await fs.unlink(p);
      await fs.symlink(next, p);
    }
  }
}

async function mergeInto(src: string, dst: string): Promise<void> {
  let dstSt;
  try {
    dstSt = await fs.lstat(dst);
  } catch {
    await fs.mkdir(dirname(dst), { recursive: true });
    await fs.rename(src, dst);
    return;
  }
  const srcSt = await fs.lstat(src);
  if (srcSt.isDirectory() && dstSt.isDirectory()) {
    for (const n of await fs.readdir(src)) await mergeInto(join(src, n), join(dst, n));
    await fs.rmdir(src);
    return;
  }
  throw new SeedError(`usrmerge: ${src} and ${dst} both exist and are not both directories`, {
    data: { src, dst },
  });
}

/**
 * Normalizes the unpacked tree at `root` in place (see the module comment).
 * @throws SeedError E24 when a path exists both under `/X` and `/usr/X` as non-directories
 */
export async function normalizeUsrmerge(root: string): Promise<void> {
  for (const d of USRMERGE_DIRS) {
    const p = join(root, d);
    let st;
    try {
      st = await fs.lstat(p);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) {
      await fs.unlink(p);
      continue;
    }
    if (!st.isDirectory()) throw new SeedError(`usrmerge: ${p} is not a directory`);
    await fixLinks(root, d);
    await mergeInto(p, join(root, 'usr', d));
  }
}
