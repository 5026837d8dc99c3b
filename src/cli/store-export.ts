/**
 * `eos store export DIGEST DEST [--copy]`: materializes a tree into DEST (hard links into the store
 * when possible); a blob digest is copied to the file DEST instead. DEST appears whole or not at
 * all: the tree is written into a private temporary directory beside DEST (mode 0700, same
 * filesystem) and renamed into place; a blob into a temporary file, linked into place. A failed
 * export removes its temporary; a killed one leaves `.NAME.eos-export-PID-…` litter beside DEST,
 * which the next export to DEST removes once PID is dead.
 * @see specs/store.md §7.3
 */
import { constants } from 'node:fs';
import { chmod, copyFile, link, lstat, mkdtemp, readdir, rename, rm, rmdir, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parseDigest } from '../kernel/digest.ts';
import { IoError, NotFoundError, UnsafePathError } from '../kernel/errors.ts';
import { Store } from '../kernel/store/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos store export`. */
export interface StoreExportOptions extends GlobalOptions {
  digest: string;
  dir: string;
  copy?: boolean;
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errno(e) === 'EPERM';
  }
}

/** The temporaries of exports to `target` whose process is dead are removed (litter of a kill). */
async function removeLitter(target: string): Promise<void> {
  const prefix = `.${basename(target)}.eos-export-`;
  let names: string[] = [];
  try {
    names = await readdir(dirname(target));
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const pid = Number(/^(\d+)-/.exec(n.slice(prefix.length))?.[1]);
    if (pid && pid !== process.pid && !alive(pid))
      await rm(join(dirname(target), n), { recursive: true, force: true }).catch(() => undefined);
  }
}

/** What DEST is: absent, an empty directory (replaced), or refused (anything else). */
async function checkDest(target: string, tree: boolean): Promise<'absent' | 'empty-dir'> {
  let st;
  try {
    st = await lstat(target);
  } catch (e) {
    if (errno(e) === 'ENOENT') return 'absent';
    throw new IoError(`${target}: ${(e as Error).message}`, { data: { path: target } });
  }
  if (st.isSymbolicLink())
    throw new UnsafePathError(`${target}: is an existing symlink; refusing to write through it`, {
      data: { path: target },
    });
  if (tree && st.isDirectory() && (await readdir(target)).length === 0) return 'empty-dir';
  throw new IoError(`${target}: already exists${st.isDirectory() ? ' and is not empty' : ''}`, {
    data: { path: target },
  });
}

/** Runs `eos store export`. @throws E2, E4, E5, E8, E12 */
export async function run(opts: StoreExportOptions): Promise<CommandResult> {
  const d = parseDigest(opts.digest, 'DIGEST');
  const store = new Store(opts.store);
  const target = resolve(opts.dir);
  const isTree = await store.hasTree(d);
  if (!isTree && !(await store.hasBlob(d)))
    throw new NotFoundError(`${d} is not in the store ${store.root} (neither a blob nor a tree)`, {
      data: { digest: d },
    });
  await removeLitter(target);
  const dest = await checkDest(target, isTree);
  let tmp: string;
  try {
    tmp = await mkdtemp(join(dirname(target), `.${basename(target)}.eos-export-${process.pid}-`));
  } catch (e) {
    throw new IoError(`${dirname(target)}: ${(e as Error).message}`, { data: { path: target } });
  }
  try {
    if (!isTree) {
      const file = join(tmp, 'blob');
      await copyFile(store.blobPath(d), file, constants.COPYFILE_EXCL);
      await chmod(file, 0o644);
      try {
        await link(file, target); // exclusive: never through an existing name
      } catch (e) {
        if (errno(e) === 'EEXIST') await checkDest(target, false);
        throw e;
      }
      return { lines: [`ok\t${target}`], json: { version: 1, digest: d, path: target, kind: 'file' } };
    }
    const inner = join(tmp, 'tree');
    const r = await store.materialize(d, inner, { copy: Boolean(opts.copy) });
    await chmod(inner, 0o755);
    if (dest === 'absent' || (await checkDest(target, true)) === 'empty-dir') {
      // rename(2) onto an absent name, or over an empty directory, is atomic.
      await rename(inner, target);
    }
    return {
      lines: [`ok\t${target}`],
      json: { version: 1, digest: d, path: target, kind: 'directory', ...r },
      notes: [
        `${r.files} files (${r.linked} linked, ${r.copied} copied), ${r.directories} directories, ${r.symlinks} symlinks`,
      ],
    };
  } catch (e) {
    if (e instanceof IoError || e instanceof UnsafePathError || e instanceof NotFoundError) throw e;
    throw new IoError(`${target}: ${(e as Error).message}`, { data: { path: target }, cause: e });
  } finally {
    await unlink(join(tmp, 'blob')).catch(() => undefined);
    await rm(join(tmp, 'tree'), { recursive: true, force: true }).catch(() => undefined);
    await rmdir(tmp).catch(() => undefined);
  }
}
