/**
 * The in-memory filesystem tree that the composefs writer takes, the reader returns and the dump
 * format describes: one {@link CfsInode} per inode, directories holding sorted
 * {@link CfsEntry}s, hard links as a second entry (`hardlink: true`) pointing at the same inode
 * object. {@link validateTree} checks a tree once and brands it; the writer accepts only a
 * {@link ComposefsTree}.
 *
 * Names, payloads and xattr names are byte strings (`Uint8Array`), because a dump may carry any
 * bytes; {@link utf8} makes one from a JS string.
 *
 * @see specs/composefs.md §3
 */
import { ComposefsError } from '../../src/kernel/index.ts';
import {
  INLINE_CONTENT_MAX,
  MAX_FILE_SIZE,
  MAX_NONINLINE_CHUNKS,
  MAX_RDEV,
  NAME_MAX,
  PATH_MAX,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  XATTR_NAME_MAX,
  XATTR_VALUE_MAX,
  FSVERITY_DIGEST_SIZE,
  BLOCK_BITS,
  CHUNK_FORMAT_BLKBITS_MASK,
} from './format.ts';

/** One extended attribute: full name (e.g. `user.foo`) and value bytes. */
export interface CfsXattr {
  name: Uint8Array;
  value: Uint8Array;
}

/**
 * One inode, as in a composefs dump line.
 * - `mode`: the full `st_mode` (type bits and permissions; u32, written to disk as u16)
 * - `sizeBytes`: file size; for symlinks the target length; ignored for directories
 * - `rdev`: device number (`st_rdev`, glibc encoding) for character and block devices, else 0
 * - `payload`: symlink target, or for a regular file the path of its backing object (redirect)
 * - `content`: inline content of a small regular file (at most 5000 bytes; `sizeBytes` long)
 * - `fsverityDigest`: 32-byte sha256 fs-verity digest of an external regular file's content
 * - `entries`: a directory's entries (without `.` and `..`), `null` for other types
 */
export interface CfsInode {
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  mtimeSec: number;
  mtimeNsec: number;
  sizeBytes: number;
  payload: Uint8Array | null;
  content: Uint8Array | null;
  fsverityDigest: Uint8Array | null;
  xattrs: CfsXattr[];
  entries: CfsEntry[] | null;
}

/** A directory entry. `hardlink` marks a second name of an inode whose primary entry is elsewhere. */
export interface CfsEntry {
  name: Uint8Array;
  inode: CfsInode;
  hardlink: boolean;
}

declare const validatedBrand: unique symbol;
/** A tree that passed {@link validateTree}: entries and xattrs sorted, every limit checked. */
export interface ComposefsTree {
  readonly root: CfsInode;
  readonly [validatedBrand]: true;
}

/** The file type of a mode. */
export type CfsFileType = 'file' | 'dir' | 'symlink' | 'chardev' | 'blockdev' | 'fifo' | 'socket';

/**
 * The file type of an `st_mode`.
 * @throws ComposefsError E14 for an unknown type
 */
export function fileTypeOf(mode: number, where: { toString(): string } = 'inode'): CfsFileType {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return 'file';
    case S_IFDIR:
      return 'dir';
    case S_IFLNK:
      return 'symlink';
    case S_IFCHR:
      return 'chardev';
    case S_IFBLK:
      return 'blockdev';
    case S_IFIFO:
      return 'fifo';
    case S_IFSOCK:
      return 'socket';
    default:
      throw new ComposefsError(`${where}: invalid file mode ${mode.toString(8)}`, { data: { mode } });
  }
}

const enc = new TextEncoder();
/** UTF-8 bytes of a string (for names, payloads and xattr names). */
export function utf8(s: string): Uint8Array {
  return enc.encode(s);
}

/** A fresh inode with the given mode and defaults (nlink 1, ids 0, mtime 0, no xattrs). */
export function newInode(mode: number, init: Partial<CfsInode> = {}): CfsInode {
  return {
    mode,
    nlink: 1,
    uid: 0,
    gid: 0,
    rdev: 0,
    mtimeSec: 0,
    mtimeNsec: 0,
    sizeBytes: 0,
    payload: null,
    content: null,
    fsverityDigest: null,
    xattrs: [],
    entries: (mode & S_IFMT) === S_IFDIR ? [] : null,
    ...init,
  };
}

/** Byte-wise comparison (strcmp order for strings without NUL). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

function showPath(v: Visit): string {
  const parts: string[] = [];
  for (let x: Visit | null = v; x && x.name; x = x.parent) parts.push(Buffer.from(x.name).toString('utf8'));
  return parts.length === 0 ? '/' : '/' + parts.reverse().join('/');
}

function checkUint(v: number, max: number, what: string, where: Lazy): void {
  if (!Number.isInteger(v) || v < 0 || v > max)
    throw new ComposefsError(`${where}: ${what} ${v} out of range 0..${max}`, { data: { [what]: v } });
}

/** A path rendered only when an error message needs it. */
interface Lazy {
  toString(): string;
}

function showPathLazy(v: Visit): Lazy {
  return { toString: () => showPath(v) };
}

/**
 * The number of chunks an external file of `sizeBytes` needs, and its chunk bits.
 * @see specs/composefs.md §2.5
 */
export function chunking(sizeBytes: number): { chunkBits: number; chunkCount: number } {
  // ilog2(size - 1) + 1, clamped to [12, 12 + 31]
  if (sizeBytes <= 2 ** 32) {
    // Exact for 32-bit sizes: ilog2(x) + 1 = 32 - clz32(x); at least 12 bits, so one chunk.
    const bits = sizeBytes <= 1 ? 1 : 32 - Math.clz32(sizeBytes - 1);
    if (bits <= BLOCK_BITS) return { chunkBits: BLOCK_BITS, chunkCount: sizeBytes > 0 ? 1 : 0 };
    return { chunkBits: bits, chunkCount: Math.ceil(sizeBytes / 2 ** bits) };
  }
  let chunkBits = sizeBytes <= 1 ? 1 : Math.floor(Math.log2(sizeBytes - 1)) + 1;
  // Math.log2 may round up just below a power of two; correct it exactly.
  while (chunkBits > 1 && 2 ** (chunkBits - 1) >= sizeBytes) chunkBits--;
  while (2 ** chunkBits < sizeBytes) chunkBits++;
  if (chunkBits < BLOCK_BITS) chunkBits = BLOCK_BITS;
  if (chunkBits - BLOCK_BITS > CHUNK_FORMAT_BLKBITS_MASK) chunkBits = CHUNK_FORMAT_BLKBITS_MASK + BLOCK_BITS;
  return { chunkBits, chunkCount: Math.ceil(sizeBytes / 2 ** chunkBits) };
}

/** Arrays their owner promised never to write to again (see {@link markSharedBytes}). */
const sharedBytes = new WeakSet<Uint8Array>();

/**
 * Marks `b` as shared and immutable: its owner promises never to write into it again, so the
 * writer may keep what it derives from the array object (its latin1 string, a metacopy or
 * redirect value) across images. composer/image.ts marks the names, redirects, symlink targets
 * and fs-verity digests that every world image of a process repeats. Returns `b`.
 */
export function markSharedBytes(b: Uint8Array): Uint8Array {
  sharedBytes.add(b);
  return b;
}

/** Whether `b` was marked by {@link markSharedBytes}. */
export function isSharedBytes(b: Uint8Array): boolean {
  return sharedBytes.has(b);
}

function hasByte(b: Uint8Array, v: number): boolean {
  return b.indexOf(v) >= 0;
}

/**
 * Checks a tree and brands it. Sorts every directory's entries and every inode's xattrs in place
 * (byte order) and sets a symlink's `sizeBytes` to its target length.
 *
 * Rules: the root is a directory; names are 1–255 bytes without `/` or NUL and are not `.` or
 * `..`, unique per directory; hard-link entries point at inodes that have exactly one
 * primary entry in the tree (a directory too, as mkcomposefs accepts: the entry is a second name
 * that walks do not descend); every inode has at most one primary entry; symlink targets are
 * 1–4095 bytes without NUL; inline content is at most 5000 bytes and `sizeBytes` long; external
 * files are at most 2^53 bytes (and at most 1024 chunks); digests are 32 bytes; xattr names are
 * 1–255 bytes without NUL, unique per inode, values at most 65535 bytes; numbers are integers in
 * range (ids, nlink, mode, nsec: u32; a device's rdev: at most 2^32 − 1, since the image keeps 32
 * bits and a larger value would be truncated, perhaps to 0/0, a whiteout).
 * @param trusted directory inodes that passed this check before and were not changed since: their
 *   entries are not walked again (the caller guarantees that no inode under one appears twice in
 *   the tree and that no hard link elsewhere points into one; composer/image.ts keeps subtrees)
 * @throws ComposefsError E14 naming the path and the rule
 * @see specs/composefs.md §3
 */
export function validateTree(root: CfsInode, trusted?: WeakSet<CfsInode>): ComposefsTree {
  if ((root.mode & S_IFMT) !== S_IFDIR || !root.entries)
    throw new ComposefsError('/: the root must be a directory');
  const primaries = new Set<CfsInode>([root]);
  const links: { inode: CfsInode; at: Visit }[] = [];
  const stack: Visit[] = [{ inode: root, name: null, parent: null }];
  while (stack.length > 0) {
    const at = stack.pop()!;
    const inode = at.inode;
    validateInode(inode, at);
    const entries = inode.entries;
    if (!entries) continue;
    entries.sort((a, b) => compareBytes(a.name, b.name));
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const n = e.name;
      const child: Visit = { inode: e.inode, name: n, parent: at };
      if (n.length === 0 || n.length > NAME_MAX)
        throw new ComposefsError(`${showPath(child)}: name length ${n.length} not in 1..${NAME_MAX}`);
      if (hasByte(n, 0x2f) || hasByte(n, 0))
        throw new ComposefsError(`${showPath(child)}: name contains '/' or NUL`);
      if ((n.length === 1 && n[0] === 0x2e) || (n.length === 2 && n[0] === 0x2e && n[1] === 0x2e))
        throw new ComposefsError(`${showPath(at)}: '.' and '..' are not allowed as entry names`);
      if (i > 0 && compareBytes(entries[i - 1]!.name, n) === 0)
        throw new ComposefsError(`${showPath(child)}: duplicate entry name`);
      if (e.hardlink) {
        links.push({ inode: e.inode, at: child });
        continue;
      }
      if (primaries.has(e.inode))
        throw new ComposefsError(
          `${showPath(child)}: inode already has a primary entry (use hardlink: true for a second name)`,
        );
      primaries.add(e.inode);
      if (!trusted?.has(e.inode)) stack.push(child);
    }
  }
  for (const l of links) {
    if (!primaries.has(l.inode))
      throw new ComposefsError(
        `${showPath(l.at)}: hard link to an inode that has no primary entry in the tree`,
      );
  }
  return { root } as ComposefsTree;
}

/** glibc's major() of an st_rdev value (64-bit encoding). */
function rdevMajor(rdev: number): bigint {
  const d = BigInt(rdev);
  return ((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn);
}

/** glibc's minor() of an st_rdev value (64-bit encoding). */
function rdevMinor(rdev: number): bigint {
  const d = BigInt(rdev);
  return (d & 0xffn) | ((d >> 12n) & ~0xffn & 0xffffffffn);
}

/** A node being validated and how it was reached (for error messages only). */
interface Visit {
  inode: CfsInode;
  name: Uint8Array | null;
  parent: Visit | null;
}

function validateInode(inode: CfsInode, at: Visit): void {
  const where = showPathLazy(at);
  const type = fileTypeOf(inode.mode, where);
  checkUint(inode.mode, 0xffffffff, 'mode', where);
  checkUint(inode.nlink, 0xffffffff, 'nlink', where);
  checkUint(inode.uid, 0xffffffff, 'uid', where);
  checkUint(inode.gid, 0xffffffff, 'gid', where);
  if (type === 'chardev' || type === 'blockdev') {
    if (Number.isInteger(inode.rdev) && inode.rdev > MAX_RDEV)
      throw new ComposefsError(
        `${where}: ${type === 'chardev' ? 'character' : 'block'} device number ${inode.rdev} ` +
          `(major ${rdevMajor(inode.rdev)}, minor ${rdevMinor(inode.rdev)}) does not fit the 32 bits ` +
          `composefs stores (Linux device numbers are 32 bits; truncated it would read ` +
          `${rdevMajor(inode.rdev % 2 ** 32)}/${rdevMinor(inode.rdev % 2 ** 32)})`,
        { data: { rdev: inode.rdev } },
      );
    checkUint(inode.rdev, MAX_RDEV, 'rdev', where);
  } else checkUint(inode.rdev, Number.MAX_SAFE_INTEGER, 'rdev', where);
  checkUint(inode.mtimeSec, Number.MAX_SAFE_INTEGER, 'mtimeSec', where);
  checkUint(inode.mtimeNsec, 0xffffffff, 'mtimeNsec', where);
  checkUint(inode.sizeBytes, MAX_FILE_SIZE, 'sizeBytes', where);
  if (type === 'dir' && !inode.entries) throw new ComposefsError(`${where}: directory without entries`);
  if (type !== 'dir' && inode.entries) throw new ComposefsError(`${where}: only directories have entries`);
  if (inode.payload) {
    if (inode.payload.length >= PATH_MAX)
      throw new ComposefsError(
        `${where}: payload of ${inode.payload.length} bytes is too long (max ${PATH_MAX - 1})`,
      );
    if (hasByte(inode.payload, 0)) throw new ComposefsError(`${where}: payload contains NUL`);
  }
  if (type === 'symlink') {
    if (!inode.payload || inode.payload.length === 0)
      throw new ComposefsError(`${where}: a symlink needs a non-empty target`);
    if (inode.content && inode.content.length > 0)
      throw new ComposefsError(`${where}: a symlink cannot have content`);
    inode.sizeBytes = inode.payload.length;
  }
  if (inode.content) {
    if (type !== 'file') throw new ComposefsError(`${where}: only regular files have inline content`);
    if (inode.content.length > INLINE_CONTENT_MAX)
      throw new ComposefsError(
        `${where}: inline content of ${inode.content.length} bytes exceeds ${INLINE_CONTENT_MAX}`,
      );
    if (inode.content.length !== inode.sizeBytes)
      throw new ComposefsError(
        `${where}: inline content is ${inode.content.length} bytes but size is ${inode.sizeBytes}`,
      );
  }
  if (type === 'file' && !inode.content && inode.sizeBytes > 0) {
    if (chunking(inode.sizeBytes).chunkCount > MAX_NONINLINE_CHUNKS)
      throw new ComposefsError(`${where}: file of ${inode.sizeBytes} bytes is too large`);
  }
  if (inode.fsverityDigest && inode.fsverityDigest.length !== FSVERITY_DIGEST_SIZE)
    throw new ComposefsError(`${where}: fs-verity digest must be ${FSVERITY_DIGEST_SIZE} bytes`);
  const xs = inode.xattrs;
  xs.sort((a, b) => compareBytes(a.name, b.name));
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    if (x.name.length === 0 || x.name.length > XATTR_NAME_MAX)
      throw new ComposefsError(`${where}: xattr name length ${x.name.length} not in 1..${XATTR_NAME_MAX}`);
    if (hasByte(x.name, 0)) throw new ComposefsError(`${where}: xattr name contains NUL`);
    if (x.value.length > XATTR_VALUE_MAX)
      throw new ComposefsError(`${where}: xattr value of ${x.value.length} bytes exceeds ${XATTR_VALUE_MAX}`);
    if (i > 0 && compareBytes(xs[i - 1]!.name, x.name) === 0)
      throw new ComposefsError(`${where}: duplicate xattr ${Buffer.from(x.name).toString('latin1')}`);
  }
}
