/**
 * Trees: the store's directory objects. A tree is the canonical JSON (RFC 8785) of
 * `{"entries": [...], "version": 1}` with its entries sorted by the UTF-8 bytes of their names;
 * its digest is the BLAKE3 of those bytes. Pure: no I/O. A `Tree` value is only made by
 * `makeTree` or `parseTree`, which validate it, so writers accept only valid trees.
 *
 * @see specs/store.md §3 (trees)
 */
import { parseCanonical } from '../canonical.ts';
import { digestBytes, parseDigest, type Digest } from '../digest.ts';
import { EncodingError, UnsafePathError } from '../errors.ts';

/** The tree format version written in every tree. @see specs/store.md §3.1 */
export const TREE_VERSION = 1;

/** A regular file: its content blob, its length in bytes and its executable bit. @see specs/store.md §3.2 */
export interface FileEntry {
  readonly name: string;
  readonly kind: 'file';
  /** The blob digest of the content. */
  readonly digest: Digest;
  /** The content length in bytes. */
  readonly size: number;
  /** True when the owner-execute bit was set; the only mode bit kept. */
  readonly executable: boolean;
}

/** A subdirectory: its tree digest and the number of entries in its whole subtree. @see specs/store.md §3.2 */
export interface DirectoryEntry {
  readonly name: string;
  readonly kind: 'directory';
  /** The tree digest of the subdirectory. */
  readonly digest: Digest;
  /** Entries in the subdirectory plus, recursively, the `size` of each of its subdirectories. */
  readonly size: number;
}

/** A symbolic link, its target stored verbatim (never resolved). @see specs/store.md §3.2 */
export interface SymlinkEntry {
  readonly name: string;
  readonly kind: 'symlink';
  /** The link target as written on disk: any non-empty UTF-8 string without NUL. */
  readonly target: string;
}

/** One entry of a tree. */
export type TreeEntry = FileEntry | DirectoryEntry | SymlinkEntry;

/** A validated tree: version 1, entries sorted by name bytes, names unique and safe. */
export type Tree = {
  readonly version: 1;
  readonly entries: readonly TreeEntry[];
} & { readonly __brand: 'Tree' };

const LONE_SURROGATE = /\p{Cs}/u;
const utf8 = new TextEncoder();

/**
 * Compares two names by their UTF-8 bytes (strcmp order), the order of tree entries. UTF-8 byte
 * order is code point order, which UTF-16 code unit order matches except where a surrogate meets a
 * unit in U+E000–U+FFFF: so at the first differing code unit, two units below U+D800 decide, and
 * only otherwise are the names encoded and compared as bytes.
 */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === n) return a.length - b.length;
  const x = a.charCodeAt(i);
  const y = b.charCodeAt(i);
  if (x < 0xd800 && y < 0xd800) return x - y;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Checks that `name` can be one path component: non-empty, not `.` or `..`, no `/` or NUL, and
 * well-formed Unicode (so it has one UTF-8 encoding).
 * @param where names the subject in the error (tree digest, path)
 * @throws UnsafePathError E8 otherwise
 * @see specs/store.md §3.3
 */
export function checkName(name: unknown, where: string): asserts name is string {
  if (typeof name !== 'string') throw new UnsafePathError(`${where}: entry name is not a string`);
  const shown = JSON.stringify(name);
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0'))
    throw new UnsafePathError(`${where}: entry name ${shown} is not allowed`, { data: { name } });
  if (LONE_SURROGATE.test(name))
    throw new UnsafePathError(`${where}: entry name ${shown} is not valid Unicode`, { data: { name } });
}

function checkSize(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new EncodingError(`${where}: size ${JSON.stringify(v)} is not a non-negative integer`);
  return v;
}

function checkTarget(v: unknown, where: string): string {
  if (typeof v !== 'string' || v === '' || v.includes('\0') || LONE_SURROGATE.test(v))
    throw new EncodingError(`${where}: symlink target ${JSON.stringify(v)} is not a non-empty UTF-8 string`);
  return v;
}

function keysAre(o: Record<string, unknown>, keys: string[], where: string): void {
  const have = Object.keys(o).sort();
  const want = [...keys].sort();
  if (have.length !== want.length || have.some((k, i) => k !== want[i]))
    throw new EncodingError(`${where}: fields ${JSON.stringify(have)} (expected ${JSON.stringify(want)})`);
}

/** Validates one raw entry object and returns a clean, frozen entry. */
function checkEntry(raw: unknown, where: string): TreeEntry {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new EncodingError(`${where}: entry is not an object`);
  const o = raw as Record<string, unknown>;
  checkName(o.name, where);
  const at = `${where} ${JSON.stringify(o.name)}`;
  switch (o.kind) {
    case 'file':
      keysAre(o, ['name', 'kind', 'digest', 'size', 'executable'], at);
      if (typeof o.executable !== 'boolean') throw new EncodingError(`${at}: executable is not a boolean`);
      return Object.freeze({
        name: o.name,
        kind: 'file',
        digest: parseDigest(o.digest, `${at}: digest`),
        size: checkSize(o.size, at),
        executable: o.executable,
      });
    case 'directory':
      keysAre(o, ['name', 'kind', 'digest', 'size'], at);
      return Object.freeze({
        name: o.name,
        kind: 'directory',
        digest: parseDigest(o.digest, `${at}: digest`),
        size: checkSize(o.size, at),
      });
    case 'symlink':
      keysAre(o, ['name', 'kind', 'target'], at);
      return Object.freeze({ name: o.name, kind: 'symlink', target: checkTarget(o.target, at) });
    default:
      throw new EncodingError(`${at}: kind ${JSON.stringify(o.kind)} is not file, directory or symlink`);
  }
}

/**
 * Makes a tree from entries in any order: validates each entry, sorts by UTF-8 name bytes.
 * @param where names the subject in errors (e.g. the directory being ingested)
 * @throws UnsafePathError E8 for an unsafe name; EncodingError E3 for a duplicate name or a bad field;
 *   DigestError E2 for a malformed digest
 * @see specs/store.md §3
 */
export function makeTree(entries: readonly TreeEntry[], where = 'tree'): Tree {
  const checked = entries.map((e) => checkEntry(e, where));
  checked.sort((a, b) => compareNames(a.name, b.name));
  for (let i = 1; i < checked.length; i++)
    if (checked[i - 1]!.name === checked[i]!.name)
      throw new EncodingError(`${where}: entry name ${JSON.stringify(checked[i]!.name)} appears twice`);
  return Object.freeze({ version: TREE_VERSION, entries: Object.freeze(checked) }) as Tree;
}

/**
 * Parses a tree's stored bytes, accepting only its one canonical form.
 * @param what names the subject (e.g. `tree blake3:…`) in errors
 * @throws EncodingError E3 (not canonical JSON, unknown version, bad field, unsorted or duplicate
 *   names); UnsafePathError E8 (unsafe name); DigestError E2 (malformed digest)
 * @see specs/store.md §3
 */
export function parseTree(bytes: Uint8Array, what = 'tree'): Tree {
  const v = parseCanonical(bytes, what);
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new EncodingError(`${what}: not an object`);
  if (v.version !== TREE_VERSION)
    throw new EncodingError(`${what}: unknown tree version ${JSON.stringify(v.version)} (expected 1)`);
  keysAre(v, ['entries', 'version'], what);
  if (!Array.isArray(v.entries)) throw new EncodingError(`${what}: entries is not a list`);
  const entries = v.entries.map((e) => checkEntry(e, what));
  for (let i = 1; i < entries.length; i++)
    if (compareNames(entries[i - 1]!.name, entries[i]!.name) >= 0)
      throw new EncodingError(
        `${what}: entry ${JSON.stringify(entries[i]!.name)} is out of order or duplicated (names must be strictly increasing by UTF-8 bytes)`,
      );
  return Object.freeze({ version: TREE_VERSION, entries: Object.freeze(entries) }) as Tree;
}

/**
 * The canonical bytes of a tree (RFC 8785 of `{entries, version}`), written directly: a tree's
 * entries have fixed keys (emitted in sorted order), validated names and targets (well-formed
 * strings, so JSON.stringify is their canonical form), digests, safe integers and booleans, so
 * the bytes equal `encodeCanonical` of the tree, several times faster
 * (tests/store/tree-encode.test.ts compares the two).
 * @see specs/store.md §3.1
 */
export function encodeTree(tree: Tree): Uint8Array {
  let s = '{"entries":[';
  let first = true;
  for (const e of tree.entries) {
    s += first ? '{' : ',{';
    first = false;
    if (e.kind === 'file')
      s += `"digest":"${e.digest}","executable":${e.executable ? 'true' : 'false'},"kind":"file","name":${JSON.stringify(e.name)},"size":${e.size}}`;
    else if (e.kind === 'directory')
      s += `"digest":"${e.digest}","kind":"directory","name":${JSON.stringify(e.name)},"size":${e.size}}`;
    else s += `"kind":"symlink","name":${JSON.stringify(e.name)},"target":${JSON.stringify(e.target)}}`;
  }
  s += `],"version":${tree.version}}`;
  return utf8.encode(s);
}

/** The digest of a tree: BLAKE3 of its canonical bytes. @see specs/store.md §3.1 */
export function treeDigest(tree: Tree): Digest {
  return digestBytes(encodeTree(tree));
}

/**
 * The `size` a directory entry pointing at `tree` must carry: its entry count plus the sizes of
 * its subdirectory entries.
 * @see specs/store.md §3.2
 */
export function subtreeSize(tree: Tree): number {
  let n = tree.entries.length;
  for (const e of tree.entries) if (e.kind === 'directory') n += e.size;
  return n;
}

/** The digests a tree refers to directly: its files' blobs and its subdirectories' trees. */
export function treeChildren(tree: Tree): { blobs: Digest[]; trees: Digest[] } {
  const blobs: Digest[] = [];
  const trees: Digest[] = [];
  for (const e of tree.entries) {
    if (e.kind === 'file') blobs.push(e.digest);
    else if (e.kind === 'directory') trees.push(e.digest);
  }
  return { blobs, trees };
}
