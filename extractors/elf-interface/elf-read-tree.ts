/**
 * The I/O shell of the interface extractor: walks a directory (or takes one file) on disk and
 * builds its interface manifest. Regular files only; symbolic links are not followed (the file
 * they name is in the tree under its own path); files that are not ELF are skipped after reading
 * their first four bytes.
 * @see specs/interface.md §3
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { fsError, walkFiles } from '../fs-walk.ts';
import { isElf, parseElf } from '../elf/parse-elf.ts';
import {
  assembleManifest,
  interfaceOfElf,
  type ElfFileInterface,
  type InterfaceManifest,
} from './interface-manifest.ts';

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
    fsError(root, e);
  }
  const out: { path: string; abs: string }[] = [];
  const visit = (abs: string, rel: string) => {
    try {
      if (startsWithElfMagic(abs)) out.push({ path: rel, abs });
    } catch (e) {
      fsError(abs, e);
    }
  };
  if (!st.isDirectory()) {
    if (st.isFile()) visit(root, basename(root));
    return out;
  }
  walkFiles(root, visit);
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
      fsError(f.abs, e);
    }
    parts.push(interfaceOfElf(f.path, parseElf(bytes, f.path)));
  }
  return assembleManifest(parts);
}
