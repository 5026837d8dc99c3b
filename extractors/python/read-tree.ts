/**
 * The I/O shell of the Python extractor: lists an import root on disk (regular files, and symbolic
 * links to regular files; symbolic links to directories are not entered) and builds its Python
 * interface manifest, reading each file when the pure extractor asks for it.
 * @see specs/interface.md §9
 */
import { lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { IoError, NotFoundError } from '../../src/index.ts';
import { buildPythonManifest, type PythonManifest, type PythonTree } from './manifest.ts';

function ioError(path: string, e: unknown): never {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT')
    throw new NotFoundError(`${path}: no such file or directory`, { data: { path } });
  throw new IoError(`${path}: ${err?.message ?? String(e)}`, { data: { path }, cause: e });
}

/**
 * Lists a directory's files as a `PythonTree` whose `read` reads from disk.
 * @throws NotFoundError E4 when `root` does not exist; IoError E12 when it cannot be read
 */
export function openPythonTree(root: string): PythonTree {
  const paths: string[] = [];
  const walk = (dir: string, rel: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (e) {
      ioError(dir, e);
    }
    for (const name of names) {
      const abs = join(dir, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      try {
        const s = lstatSync(abs);
        if (s.isDirectory()) walk(abs, r);
        else if (s.isFile() || (s.isSymbolicLink() && statSync(abs, { throwIfNoEntry: false })?.isFile()))
          paths.push(r);
      } catch (e) {
        ioError(abs, e);
      }
    }
  };
  try {
    if (!statSync(root).isDirectory())
      throw new NotFoundError(`${root}: not a directory`, { data: { path: root } });
  } catch (e) {
    if (e instanceof NotFoundError) throw e;
    ioError(root, e);
  }
  walk(root, '');
  paths.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    paths,
    read(path: string): Uint8Array {
      try {
        return readFileSync(join(root, path));
      } catch (e) {
        ioError(join(root, path), e);
      }
    },
  };
}

/**
 * Reads an import root (`site-packages`, `dist-packages`) from disk and builds its Python manifest.
 * @throws NotFoundError E4, IoError E12, ElfFormatError E15 (a malformed extension module)
 * @see specs/interface.md §9
 */
export function readPythonManifest(root: string): PythonManifest {
  return buildPythonManifest(openPythonTree(root));
}
