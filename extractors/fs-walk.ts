/**
 * The directory walk shared by the extractors' I/O shells: every regular file under a root, by
 * its `/`-separated path relative to the root, and the one mapping from OS errors to Eos errors.
 * Symbolic links to directories are never followed.
 */
import { lstatSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { osError } from '../src/kernel/index.ts';

/**
 * Turns an OS error at `path` into an Eos error.
 * @throws NotFoundError E4 for ENOENT, IoError E12 for anything else
 */
export function fsError(path: string, e: unknown): never {
  throw osError(e, path, { notFound: true }); // the kernel's one OS-error mapping
}

/**
 * Calls `visit(abs, rel)` for each regular file below the directory `root`, depth first in
 * directory order (callers sort). With `fileLinks`, a symbolic link that resolves to a regular
 * file is visited too, under the link's own path; a dangling link is skipped.
 * @throws NotFoundError E4 / IoError E12 when a directory or entry cannot be read
 */
export function walkFiles(root: string, visit: (abs: string, rel: string) => void, fileLinks = false): void {
  const walk = (dir: string, rel: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (e) {
      fsError(dir, e);
    }
    for (const name of names) {
      const abs = join(dir, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      let s;
      try {
        s = lstatSync(abs);
      } catch (e) {
        fsError(abs, e);
      }
      if (s.isDirectory()) walk(abs, r);
      else if (s.isFile()) visit(abs, r);
      else if (fileLinks && s.isSymbolicLink()) {
        let target;
        try {
          target = statSync(abs);
        } catch {
          continue; // a dangling link names no file
        }
        if (target.isFile()) visit(abs, r);
      }
    }
  };
  walk(root, '');
}
