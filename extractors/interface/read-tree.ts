/**
 * The I/O shell of the interface extractor: walks a directory (or takes one file) on disk and
 * builds its interface manifest. Regular files only; symbolic links are not followed (the file
 * they name is in the tree under its own path); files that are not ELF are skipped after reading
 * their first four bytes.
 * @see specs/interface.md §3
 */
import { closeSync, lstatSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { IoError, NotFoundError } from '../../src/index.ts';
import { isElf, parseElf } from '../elf/parse-elf.ts';
import {
  assembleManifest,
  interfaceOfElf,
  type ElfFileInterface,
  type InterfaceManifest,
} from './manifest.ts';

function ioError(path: string, e: unknown): never {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT')
    throw new NotFoundError(`${path}: no such file or directory`, { data: { path } });
  throw new IoError(`${path}: ${err?.message ?? String(e)}`, { data: { path }, cause: e });
}

/** True when the file at `abs` starts with the ELF magic. */
function startsWithElfMagic(abs: string): boolean {
  const fd = openSync(abs, 'r');
  try {
    const head = new Uint8Array(4);
    return readSync(fd, head, 0, 4, 0) === 4 && isElf(head);
  } finally {
    closeSync(fd);
  }
}

/**
 * Lists the ELF files of a tree as (path relative to the root, absolute path), sorted by path.
 * @param root a directory, or one file (then its relative path is its base name)
 * @throws NotFoundError E4 when `root` does not exist
 * @throws IoError E12 when a directory or file cannot be read
 */
export function listElfFiles(root: string): { path: string; abs: string }[] {
  let st;
  try {
    st = statSync(root);
  } catch (e) {
    ioError(root, e);
  }
  const out: { path: string; abs: string }[] = [];
  const visit = (abs: string, rel: string) => {
    try {
      if (startsWithElfMagic(abs)) out.push({ path: rel, abs });
    } catch (e) {
      ioError(abs, e);
    }
  };
  if (!st.isDirectory()) {
    if (st.isFile()) visit(root, basename(root));
    return out;
  }
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
      let s;
      try {
        s = lstatSync(abs);
      } catch (e) {
        ioError(abs, e);
      }
      if (s.isDirectory()) walk(abs, r);
      else if (s.isFile()) visit(abs, r);
    }
  };
  walk(root, '');
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Reads a tree (a directory, or one file) from disk and builds its interface manifest.
 * @throws NotFoundError E4 when `root` does not exist
 * @throws IoError E12 when a file cannot be read
 * @throws ElfFormatError E15 naming the first malformed ELF file (by its path in the tree)
 * @see specs/interface.md §3
 */
export function readInterfaceManifest(root: string): InterfaceManifest {
  const parts: ElfFileInterface[] = [];
  for (const f of listElfFiles(root)) {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(f.abs);
    } catch (e) {
      ioError(f.abs, e);
    }
    parts.push(interfaceOfElf(f.path, parseElf(bytes, f.path)));
  }
  return assembleManifest(parts);
}
