/**
 * `eos store export DIGEST DIR [--copy]`: materializes a tree into DIR (hard links into the store
 * when possible); a blob digest is copied to the file DIR instead.
 * @see specs/store.md §7
 */
import { constants } from 'node:fs';
import { chmod, copyFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseDigest } from '../kernel/digest.ts';
import { IoError, NotFoundError } from '../kernel/errors.ts';
import { Store } from '../kernel/store/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos store export`. */
export interface StoreExportOptions extends GlobalOptions {
  digest: string;
  dir: string;
  copy?: boolean;
}

/** Runs `eos store export`. @throws E2, E4, E5, E8, E12 */
export async function run(opts: StoreExportOptions): Promise<CommandResult> {
  const d = parseDigest(opts.digest, 'DIGEST');
  const store = new Store(opts.store);
  const target = resolve(opts.dir);
  if (!(await store.hasTree(d))) {
    if (!(await store.hasBlob(d)))
      throw new NotFoundError(`${d} is not in the store ${store.root} (neither a blob nor a tree)`, {
        data: { digest: d },
      });
    try {
      await copyFile(store.blobPath(d), target, constants.COPYFILE_EXCL);
      await chmod(target, 0o644);
    } catch (e) {
      throw new IoError(`${target}: ${(e as Error).message}`, { data: { path: target } });
    }
    return { lines: [`ok\t${target}`], json: { version: 1, digest: d, path: target, kind: 'file' } };
  }
  const r = await store.materialize(d, target, { copy: Boolean(opts.copy) });
  return {
    lines: [`ok\t${target}`],
    json: { version: 1, digest: d, path: target, kind: 'directory', ...r },
    notes: [
      `${r.files} files (${r.linked} linked, ${r.copied} copied), ${r.directories} directories, ${r.symlinks} symlinks`,
    ],
  };
}
