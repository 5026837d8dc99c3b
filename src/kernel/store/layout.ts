/**
 * The filesystem store's directory layout and its format-version file. Paths only; no I/O
 * except `ensureLayout`, which creates the directories once.
 *
 * @see specs/store.md §4 (layout)
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { writeFileAtomicSync } from '../atomic-write.ts';
import { dirname, join } from 'node:path';
import { digestHex, type Digest } from '../digest.ts';
import { EncodingError } from '../errors.ts';

/** The store format version in `STORE/eos-store.json`. @see specs/store.md §4 */
export const STORE_FORMAT_VERSION = 1;
/** The format tag in the format-version file. @see specs/formats.md */
export const STORE_FORMAT = 'eos.store';
/** The tag stores made before the `eos.<name>` convention carry; still read (and left as is). */
const LEGACY_STORE_FORMAT = 'eos-store';
/** The name of the format-version file. */
export const FORMAT_FILE = 'eos-store.json';

/** The subdirectories of a store. */
export const DIRS = {
  objects: 'objects',
  trees: 'trees',
  xobjects: 'xobjects',
  roots: 'roots',
  tmp: 'tmp',
  locks: 'locks',
} as const;

/** `<dir>/<first 2 hex>/<other 62 hex>` for a digest. */
export function shardedPath(dir: string, d: Digest): string {
  const hex = digestHex(d);
  return join(dir, hex.slice(0, 2), hex.slice(2));
}

/**
 * Creates the layout under `root` if missing (the shard directories `objects/<2 hex>` etc. are
 * made when first needed, by `renameInto`), and checks the format version.
 * @param opts `durable: false`: the format file is written without fsync (a throwaway store)
 * @throws EncodingError E3 when the store has another format version
 */
export function ensureLayout(root: string, opts: { durable?: boolean } = {}): void {
  const fmt = join(root, FORMAT_FILE);
  if (existsSync(fmt)) {
    checkFormat(root);
    return;
  }
  for (const d of Object.values(DIRS)) mkdirSync(join(root, d), { recursive: true });
  const text = JSON.stringify({ format: STORE_FORMAT, version: STORE_FORMAT_VERSION }) + '\n';
  // A throwaway store (durable: false) is removed after use: no fsync of its format file.
  if (opts.durable === false) writeFileSync(fmt, text);
  else writeFileAtomicSync(fmt, text);
}

/**
 * Checks `STORE/eos-store.json` when present.
 * @throws EncodingError E3 for an unknown format or version
 */
export function checkFormat(root: string): void {
  const fmt = join(root, FORMAT_FILE);
  if (!existsSync(fmt)) return;
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(fmt, 'utf8'));
  } catch {
    v = undefined;
  }
  const o = v as { format?: unknown; version?: unknown } | undefined;
  if ((o?.format !== STORE_FORMAT && o?.format !== LEGACY_STORE_FORMAT) || o.version !== STORE_FORMAT_VERSION)
    throw new EncodingError(`${fmt}: not an eos store of format version ${STORE_FORMAT_VERSION}`, {
      data: { path: fmt },
    });
}

/** Renames a finished temp file to its object path, creating the shard directory when missing. */
export function renameInto(tmp: string, dest: string): void {
  try {
    renameSync(tmp, dest);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    mkdirSync(dirname(dest), { recursive: true });
    renameSync(tmp, dest);
  }
}
