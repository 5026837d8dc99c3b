/**
 * What every walk that turns a directory into tree entries refuses, worded once: `Store.ingest`
 * (fs-store.ts) and `digestPath` (probe.ts) must refuse the same paths with the same errors.
 *
 * @see specs/store.md §3.3, §6
 */
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { UnsupportedFileError } from '../errors.ts';

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The name of the directory entry `raw` (as `readdir` gives it in bytes) in `dir`.
 * @throws UnsupportedFileError E6 when it is not valid UTF-8 (shown as latin-1)
 */
export function entryName(dir: string, raw: Uint8Array): string {
  try {
    return UTF8.decode(raw);
  } catch {
    const shown = join(dir, Buffer.from(raw).toString('latin1'));
    throw new UnsupportedFileError(`${JSON.stringify(shown)}: file name is not valid UTF-8`, {
      data: { path: shown },
    });
  }
}

/**
 * The target of the symlink at `p`, from its bytes (`readlink` in bytes).
 * @throws UnsupportedFileError E6 when it is not valid UTF-8
 */
export function linkTarget(p: string, raw: Uint8Array): string {
  try {
    return UTF8.decode(raw);
  } catch {
    throw new UnsupportedFileError(`${p}: symlink target is not valid UTF-8`, { data: { path: p } });
  }
}

/** What a file is, for messages: `a FIFO`, `a socket`, … */
export function fileType(st: Stats): string {
  if (st.isSocket()) return 'a socket';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isSymbolicLink()) return 'a symlink';
  if (st.isDirectory()) return 'a directory';
  return 'an unknown file type';
}

/** E6 for an entry at `p` that is neither a regular file, a directory nor a symlink. */
export function unstorableEntry(p: string, st: Stats): UnsupportedFileError {
  return new UnsupportedFileError(`${p}: ${fileType(st)} cannot be stored`, {
    data: { path: p },
    hint: 'the store holds regular files, directories and symlinks only',
  });
}

/** E6 for a root path (`ingest`'s or `digestPath`'s argument) that is neither a file nor a directory. */
export function unstorableRoot(abs: string, st: Stats): UnsupportedFileError {
  return new UnsupportedFileError(`${abs}: ${fileType(st)} cannot be ingested as a store root`, {
    data: { path: abs },
  });
}
