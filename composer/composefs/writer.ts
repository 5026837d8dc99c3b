/**
 * The composefs EROFS writer: a validated tree → image bytes, byte-identical to mkcomposefs 1.0.8.
 *
 * Entry point: {@link encodeImage}. Two passes: `layout` rewrites a private copy of the tree for
 * overlayfs (escaped `trusted.overlay.*` xattrs, metacopy/redirect xattrs, user whiteouts, the
 * root's opaque xattr and the 00–ff whiteout stubs), orders inodes breadth-first, builds the
 * shared xattr table and places every inode (nid, padding, inline tail or data blocks); `emit`
 * then fills one pre-sized buffer. Versions: 0 and 1 differ only in the header's
 * composefs_version and, in 1, the extra `opaque=x` xattrs on directories holding user whiteouts.
 * Deterministic: the output depends only on the tree and the options.
 *
 * @see specs/composefs.md §2
 */
import { xxHash32 } from 'js-xxhash';
import { ComposefsError } from '../../src/kernel/index.ts';
import * as F from './format.ts';
import { chunking, compareBytes, isSharedBytes, markSharedBytes } from './tree.ts';
import type { CfsInode, ComposefsTree } from './tree.ts';

/** Options of {@link encodeImage}. */
export interface ImageOptions {
  /** Lowest composefs format version to write (0 or 1; default 0). */
  minVersion?: number;
  /** Highest version the writer may raise to (default 1; raised to `minVersion` if lower). */
  maxVersion?: number;
  /**
   * A layer image (specs/composefs.md §2.9): one stacked over another image as a further overlay
   * lower layer, so its root is merged with the layers below it. The root gets neither
   * `trusted.overlay.opaque` nor the `00`–`ff` stubs; everything else is as in a whole image.
   */
  layer?: boolean;
}

/** What the writer needs of an xattr name: prefix index, suffix bytes, name-filter bit. */
interface NameInfo {
  index: number;
  suffix: Uint8Array;
  filterBit: number;
}

/** One xattr of the rewritten tree: the full name as a latin1 (byte) string and the value. */
interface WXattr {
  name: string;
  value: Uint8Array;
  info: NameInfo;
  /** The value as a latin1 string: with the name, the key for shared-table counting. */
  valueKey: string;
  /** Offset in the shared table (bytes), or -1 when inline. */
  sharedOffset: number;
}

/** An xattr before layout. */
interface RawXattr {
  name: string;
  value: Uint8Array;
}

interface WChild {
  name: string;
  nameBytes: Uint8Array;
  target: WNode;
  link: boolean;
}

/** An inode of the rewritten tree with its layout. */
interface WNode {
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
  digest: Uint8Array | null;
  xattrs: RawXattr[];
  sorted: WXattr[];
  children: WChild[] | null;
  parent: WNode | null;
  // layout
  ino: number;
  nid: number;
  compact: boolean;
  nBlocks: number;
  tailSize: number;
  xattrSize: number;
  nShared: number;
  pad: number;
  blkaddr: number;
}

/**
 * Bytes as a latin1 string (one char per byte, so string order is byte order). For an array marked
 * shared (`markSharedBytes`: names, redirects and fs-verity digests that every world image of a
 * process repeats, composer/image.ts) the string is kept per array object; others are converted
 * every time. The writer never writes into its input's arrays. specs/composefs.md §2.8
 */
function latin1(b: Uint8Array): string {
  // Only shared arrays are ever kept, so a hit needs no isSharedBytes check.
  let s = latin1Kept.get(b);
  if (s !== undefined) return s;
  const shared = isSharedBytes(b);
  if (b.length <= 64) {
    s = '';
    for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  } else s = Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
  if (shared) latin1Kept.set(b, s);
  return s;
}
const latin1Kept = new WeakMap<Uint8Array, string>();
/** The metacopy xattr value of an fs-verity digest, and the redirect value of a payload, per array. */
const metacopyKept = new WeakMap<Uint8Array, Uint8Array>();
const redirectKept = new WeakMap<Uint8Array, Uint8Array>();
const bytesOf = (s: string): Uint8Array => Buffer.from(s, 'latin1');
const EMPTY = new Uint8Array(0);
const DOT = Uint8Array.of(0x2e);
const DOTDOT = Uint8Array.of(0x2e, 0x2e);
const HEX = '0123456789abcdef';

function roundUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

function typeOf(n: WNode): number {
  return n.mode & F.S_IFMT;
}

function fileType(n: WNode): number {
  switch (typeOf(n)) {
    case F.S_IFLNK:
      return F.FT_SYMLINK;
    case F.S_IFDIR:
      return F.FT_DIR;
    case F.S_IFREG:
      return F.FT_REG_FILE;
    case F.S_IFBLK:
      return F.FT_BLKDEV;
    case F.S_IFCHR:
      return F.FT_CHRDEV;
    case F.S_IFSOCK:
      return F.FT_SOCK;
    case F.S_IFIFO:
      return F.FT_FIFO;
    default:
      return F.FT_UNKNOWN;
  }
}

const nameInfos = new Map<string, NameInfo>();
/** Prefix index, suffix and filter bit of an xattr name (cached: names repeat across inodes). */
function nameInfo(name: string): NameInfo {
  let info = nameInfos.get(name);
  if (info) return info;
  let index = 0;
  let suffix = name;
  for (const [i, prefix] of F.XATTR_PREFIXES)
    if (name.startsWith(prefix)) {
      index = i;
      suffix = name.slice(prefix.length);
      break;
    }
  const bytes = bytesOf(suffix);
  const filterBit = (xxHash32(bytes, (F.XATTR_FILTER_SEED + index) >>> 0) >>> 0) & (F.XATTR_FILTER_BITS - 1);
  info = { index, suffix: bytes, filterBit };
  if (nameInfos.size < 100_000) nameInfos.set(name, info);
  return info;
}

function entrySize(x: WXattr): number {
  return roundUp(F.XATTR_ENTRY_SIZE + x.info.suffix.length + x.value.length, 4);
}

/** Sets an xattr, replacing an existing value. */
function setX(n: WNode, name: string, value: Uint8Array): void {
  for (const x of n.xattrs)
    if (x.name === name) {
      x.value = value;
      return;
    }
  n.xattrs.push({ name, value });
}

function getX(n: WNode, name: string): Uint8Array | undefined {
  for (const x of n.xattrs) if (x.name === name) return x.value;
  return undefined;
}

function newNode(from: CfsInode | null, mode: number): WNode {
  return {
    mode,
    nlink: from?.nlink ?? 1,
    uid: from?.uid ?? 0,
    gid: from?.gid ?? 0,
    rdev: from?.rdev ?? 0,
    mtimeSec: from?.mtimeSec ?? 0,
    mtimeNsec: from?.mtimeNsec ?? 0,
    sizeBytes: from?.sizeBytes ?? 0,
    payload: from?.payload ?? null,
    content: from?.content ?? null,
    digest: from?.fsverityDigest ?? null,
    xattrs: [],
    sorted: [],
    children: null,
    parent: null,
    ino: 0,
    nid: 0,
    compact: false,
    nBlocks: 0,
    tailSize: 0,
    xattrSize: 0,
    nShared: 0,
    pad: 0,
    blkaddr: 0,
  };
}

/** The format version the writer uses for a tree: see specs/composefs.md §2.0. */
export function imageVersion(tree: ComposefsTree, options: ImageOptions = {}): number {
  const min = options.minVersion ?? 0;
  let max = options.maxVersion ?? F.CFS_VERSION_MAX;
  for (const [v, what] of [
    [min, 'minimum'],
    [max, 'maximum'],
  ] as const)
    if (!Number.isInteger(v) || v < 0 || v > F.CFS_VERSION_MAX)
      throw new ComposefsError(`${what} composefs version ${v} is not supported (0..${F.CFS_VERSION_MAX})`);
  if (max < min) max = min;
  if (min >= 1 || max < 1) return min;
  const stack = [tree.root];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if ((n.mode & F.S_IFMT) === F.S_IFCHR && n.rdev === 0) return 1;
    for (const e of n.entries ?? []) if (!e.hardlink) stack.push(e.inode);
  }
  return min;
}

/** Step 1: a rewritten copy of the tree (overlay xattrs, whiteouts, stubs), children sorted. */
function rewrite(tree: ComposefsTree, version: number, layer: boolean): WNode {
  const map = new Map<CfsInode, WNode>();
  const root = newNode(tree.root, tree.root.mode);
  map.set(tree.root, root);
  // Create nodes for all primaries first (hard links may point forwards).
  const order: [CfsInode, WNode][] = [[tree.root, root]];
  for (let i = 0; i < order.length; i++) {
    const [inode, node] = order[i]!;
    if (!inode.entries) continue;
    for (const e of inode.entries) {
      if (e.hardlink) continue;
      const child = newNode(e.inode, e.inode.mode);
      child.parent = node;
      map.set(e.inode, child);
      order.push([e.inode, child]);
    }
  }
  for (const [inode, node] of order) {
    // Escape trusted.overlay.* names.
    for (const x of inode.xattrs) {
      let name = latin1(x.name);
      if (name.startsWith(F.OVERLAY_PREFIX))
        name = F.OVERLAY_ESCAPE_PREFIX + name.slice(F.OVERLAY_PREFIX.length);
      setX(node, name, x.value);
    }
    const type = typeOf(node);
    if (type === F.S_IFREG && node.sizeBytes > 0 && !node.content) {
      let meta: Uint8Array = EMPTY;
      if (node.digest) {
        const kept = metacopyKept.get(node.digest); // kept only for shared arrays
        if (kept) meta = kept;
        else {
          const shared = isSharedBytes(node.digest);
          meta = new Uint8Array(F.METACOPY_SIZE);
          meta[0] = 0;
          meta[1] = F.METACOPY_SIZE;
          meta[2] = 0;
          meta[3] = F.FSVERITY_HASH_ALG_SHA256;
          meta.set(node.digest, 4);
          if (shared) metacopyKept.set(node.digest, markSharedBytes(meta));
        }
      }
      setX(node, F.XATTR_METACOPY, meta);
      if (node.payload && node.payload.length > 0) {
        let redirect = redirectKept.get(node.payload); // kept only for shared arrays
        if (!redirect) {
          redirect = bytesOf('/' + latin1(node.payload));
          if (isSharedBytes(node.payload)) redirectKept.set(node.payload, markSharedBytes(redirect));
        }
        setX(node, F.XATTR_REDIRECT, redirect);
      }
    }
    if (type === F.S_IFCHR && node.rdev === 0) {
      const parent = node.parent ?? node;
      node.sizeBytes = 0;
      node.mode = (F.S_IFREG | (node.mode & ~F.S_IFMT)) >>> 0;
      setX(node, F.XATTR_ESCAPED_WHITEOUT, EMPTY);
      setX(node, F.XATTR_USER_WHITEOUT, EMPTY);
      setX(parent, F.XATTR_ESCAPED_WHITEOUTS, EMPTY);
      setX(parent, F.XATTR_USER_WHITEOUTS, EMPTY);
      if (version >= 1) {
        setX(parent, F.XATTR_ESCAPED_OPAQUE, bytesOf('x'));
        setX(parent, F.XATTR_USER_OPAQUE, bytesOf('x'));
      }
    }
  }
  // Children, with "." and "..".
  for (const [inode, node] of order) {
    if (!inode.entries) continue;
    const kids: WChild[] = [];
    for (const e of inode.entries) {
      kids.push({ name: latin1(e.name), nameBytes: e.name, target: map.get(e.inode)!, link: e.hardlink });
    }
    kids.push({ name: '.', nameBytes: DOT, target: node, link: true });
    kids.push({ name: '..', nameBytes: DOTDOT, target: node.parent ?? node, link: true });
    node.children = kids;
  }
  // A whole image's root hides every layer below it; a layer image's merges with them (§2.9).
  if (!layer) {
    setX(root, F.XATTR_OPAQUE, bytesOf('y'));
    const kids = root.children!;
    const present = new Set(kids.map((k) => k.name));
    const selinux = getX(root, F.XATTR_SELINUX);
    for (let i = 0; i < 256; i++) {
      const name = HEX[i >> 4]! + HEX[i & 15]!;
      if (present.has(name)) continue;
      const stub = newNode(null, F.S_IFCHR | 0o644);
      stub.uid = root.uid;
      stub.gid = root.gid;
      stub.mtimeSec = root.mtimeSec;
      stub.mtimeNsec = root.mtimeNsec;
      stub.parent = root;
      if (selinux) stub.xattrs.push({ name: F.XATTR_SELINUX, value: selinux });
      kids.push({ name, nameBytes: bytesOf(name), target: stub, link: false });
    }
  }
  for (const [, node] of order)
    if (node.children) node.children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return root;
}

/** Whether xattrs are already in name order (a file's metacopy and redirect usually are). */
function namesInOrder(xs: RawXattr[]): boolean {
  for (let i = 1; i < xs.length; i++) if (!(xs[i - 1]!.name < xs[i]!.name)) return false;
  return true;
}

/** Layout of the whole image. */
interface Layout {
  nodes: WNode[];
  version: number;
  hasAcl: boolean;
  minSec: number;
  minNsec: number;
  shared: WXattr[];
  sharedSize: number;
  inodesEnd: number;
  dataStart: number;
  nDataBlocks: number;
}

function layout(tree: ComposefsTree, options: ImageOptions): Layout {
  const version = imageVersion(tree, options);
  const root = rewrite(tree, version, options.layer === true);
  // Step 2: breadth-first order, nlink of directories, sorted xattrs, minimum mtime, ACL flag.
  const nodes: WNode[] = [root];
  let minSec = root.mtimeSec;
  let minNsec = root.mtimeNsec;
  let hasAcl = false;
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!;
    n.ino = i;
    if (n.children) {
      let nl = 2;
      for (const c of n.children) if (!c.link && typeOf(c.target) === F.S_IFDIR) nl++;
      n.nlink = nl;
      for (const c of n.children) if (!c.link) nodes.push(c.target);
    }
    if (n.mtimeSec < minSec || (n.mtimeSec === minSec && n.mtimeNsec < minNsec)) {
      minSec = n.mtimeSec;
      minNsec = n.mtimeNsec;
    }
    if (n.xattrs.length > 1 && !namesInOrder(n.xattrs))
      n.xattrs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    n.sorted = n.xattrs.map(({ name, value }) => {
      if (name === F.XATTR_ACL_ACCESS || name === F.XATTR_ACL_DEFAULT) hasAcl = true;
      return { name, value, info: nameInfo(name), valueKey: latin1(value), sharedOffset: -1 };
    });
  }
  // Step 3: shared xattrs (used by more than one inode), in descending canonical order.
  // Counted per name, then per value (no name+value string is built per xattr).
  type Count = { x: WXattr; count: number; offset: number };
  const counts = new Map<string, Map<string, Count>>();
  const countOf = (x: WXattr): Count | undefined => counts.get(x.name)?.get(x.valueKey);
  for (const n of nodes)
    for (const x of n.sorted) {
      let byValue = counts.get(x.name);
      if (!byValue) counts.set(x.name, (byValue = new Map()));
      const c = byValue.get(x.valueKey);
      if (c) c.count++;
      else byValue.set(x.valueKey, { x, count: 1, offset: -1 });
    }
  const sharedList: Count[] = [];
  for (const byValue of counts.values())
    for (const c of byValue.values()) if (c.count > 1) sharedList.push(c);
  sharedList.sort((c1, c2) => {
    const a = c1.x;
    const b = c2.x;
    if (a.name !== b.name) return a.name < b.name ? 1 : -1;
    if (a.value.length !== b.value.length) return b.value.length - a.value.length;
    return compareBytes(b.value, a.value);
  });
  let sharedSize = 0;
  for (const c of sharedList) {
    c.offset = sharedSize;
    sharedSize += entrySize(c.x);
  }
  for (const n of nodes) {
    let nShared = 0;
    for (const x of n.sorted) {
      const c = countOf(x)!;
      if (c.count > 1 && nShared < F.XATTR_MAX_SHARED_PER_INODE) {
        x.sharedOffset = c.offset;
        nShared++;
      }
    }
    n.nShared = nShared;
  }
  // Steps 4–6: inode size, format, tails and placement.
  let pos = F.INODES_START;
  let nDataBlocks = 0;
  for (const n of nodes) {
    sizeInode(n);
    n.compact = fitsCompact(n, minSec, minNsec);
    const isize = n.compact ? F.INODE_COMPACT_SIZE : F.INODE_EXTENDED_SIZE;
    let unshared = 0;
    for (const x of n.sorted) if (x.sharedOffset < 0) unshared += entrySize(x);
    n.xattrSize =
      n.nShared === 0 && unshared === 0
        ? 0
        : roundUp(F.XATTR_IBODY_HEADER_SIZE + n.nShared * 4 + unshared, 4);
    if (n.xattrSize > 0 && (n.xattrSize - F.XATTR_IBODY_HEADER_SIZE) / 4 + 1 > 0xffff)
      throw new ComposefsError(`inode ${n.ino}: xattrs of ${n.xattrSize} bytes do not fit an EROFS inode`);
    const ppos = pos;
    pos = roundUp(pos, F.SLOT_SIZE);
    pos += tailPadding(n, pos, isize, n.xattrSize);
    n.pad = pos - ppos;
    nDataBlocks += n.nBlocks;
    n.nid = pos / F.SLOT_SIZE;
    pos += isize + n.xattrSize + n.tailSize;
  }
  const inodesEnd = roundUp(pos, F.SLOT_SIZE);
  const dataStart = roundUp(inodesEnd + sharedSize, F.BLOCK_SIZE);
  return {
    nodes,
    version,
    hasAcl,
    minSec,
    minNsec,
    shared: sharedList.map((c) => c.x),
    sharedSize,
    inodesEnd,
    dataStart,
    nDataBlocks,
  };
}

/** Directory blocks/tail, symlink tail, inline content or chunk index tail (step 5). */
function sizeInode(n: WNode): void {
  const type = typeOf(n);
  n.nBlocks = 0;
  n.tailSize = 0;
  if (type === F.S_IFDIR) {
    let blocks = 0;
    let used = 0;
    for (const c of n.children!) {
      const len = F.DIRENT_SIZE + c.nameBytes.length;
      if (used + len > F.BLOCK_SIZE) {
        blocks++;
        used = 0;
      }
      used += len;
    }
    if (used > F.BLOCK_SIZE / 2) {
      blocks++;
      used = 0;
    }
    n.nBlocks = blocks;
    n.tailSize = used;
  } else if (type === F.S_IFLNK) {
    n.tailSize = n.payload!.length;
  } else if (type === F.S_IFREG && n.sizeBytes > 0) {
    if (n.content) {
      n.nBlocks = Math.floor(n.sizeBytes / F.BLOCK_SIZE);
      n.tailSize = n.sizeBytes % F.BLOCK_SIZE;
      if (n.tailSize > F.BLOCK_SIZE / 2) {
        n.nBlocks++;
        n.tailSize = 0;
      }
    } else {
      n.tailSize = chunking(n.sizeBytes).chunkCount * 4;
    }
  }
}

function inodeSizeField(n: WNode): number {
  return typeOf(n) === F.S_IFDIR ? n.nBlocks * F.BLOCK_SIZE + n.tailSize : n.sizeBytes;
}

function fitsCompact(n: WNode, minSec: number, minNsec: number): boolean {
  if (n.mtimeSec !== minSec || n.mtimeNsec !== minNsec) return false;
  if (n.nlink > 0xffff || n.uid > 0xffff || n.gid > 0xffff) return false;
  return inodeSizeField(n) <= 0xffffffff;
}

/** Padding before an inode so that its inline tail does not cross a block (step 6). */
function tailPadding(n: WNode, pos: number, isize: number, xsize: number): number {
  const B = F.BLOCK_SIZE;
  if (typeOf(n) === F.S_IFLNK) {
    const total = isize + xsize + n.tailSize;
    const posBlock = Math.floor(pos / B);
    const endBlock = Math.floor((pos + total - 1) / B);
    if (Math.floor(total / B) > 0) {
      n.nBlocks++;
      n.tailSize = 0;
    }
    return posBlock !== endBlock ? roundUp(pos, B) - pos : 0;
  }
  let rem = B - ((pos + isize + xsize) % B);
  if (rem < n.tailSize) {
    const extra = roundUp(rem, F.SLOT_SIZE);
    rem = B - ((pos + isize + xsize + extra) % B);
    if (n.tailSize <= rem) return extra;
    n.nBlocks++;
    n.tailSize = 0;
    return roundUp(pos, B) - pos;
  }
  return 0;
}

/** Writes one xattr entry at `off`; returns the offset after it (4-aligned). */
function writeXattr(buf: Uint8Array, dv: DataView, off: number, x: WXattr): number {
  const { index, suffix } = x.info;
  buf[off] = suffix.length & 0xff;
  buf[off + 1] = index;
  dv.setUint16(off + 2, x.value.length, true);
  buf.set(suffix, off + 4);
  buf.set(x.value, off + 4 + suffix.length);
  return off + roundUp(4 + suffix.length + x.value.length, 4);
}

/** Writes `count` children of `n` starting at `first` as one dirent chunk at `off`. */
function writeDirents(
  buf: Uint8Array,
  dv: DataView,
  off: number,
  n: WNode,
  first: number,
  count: number,
): void {
  let nameoff = count * F.DIRENT_SIZE;
  let p = off + nameoff;
  const kids = n.children!;
  for (let i = 0; i < count; i++) {
    const c = kids[first + i]!;
    const d = off + i * F.DIRENT_SIZE;
    dv.setBigUint64(d + F.DIRENT_NID, BigInt(c.target.nid), true);
    dv.setUint16(d + F.DIRENT_NAMEOFF, nameoff & 0xffff, true);
    buf[d + F.DIRENT_FILE_TYPE] = fileType(c.target);
    nameoff += c.nameBytes.length;
    buf.set(c.nameBytes, p);
    p += c.nameBytes.length;
  }
}

/** Splits a directory's children into chunks: full blocks then the tail chunk (as layout decided). */
function direntChunks(n: WNode): { blocks: [number, number][]; tail: [number, number] | null } {
  const kids = n.children!;
  const blocks: [number, number][] = [];
  let used = 0;
  let first = 0;
  for (let i = 0; i < kids.length; i++) {
    const len = F.DIRENT_SIZE + kids[i]!.nameBytes.length;
    if (used + len > F.BLOCK_SIZE) {
      blocks.push([first, i - first]);
      used = 0;
      first = i;
    }
    used += len;
  }
  if (blocks.length < n.nBlocks) {
    blocks.push([first, kids.length - first]);
    used = 0;
    first = kids.length;
  }
  return { blocks, tail: used > 0 ? [first, kids.length - first] : null };
}

/**
 * Writes the composefs EROFS image of a validated tree.
 * - shape: header (32 bytes), superblock at 1024, inodes from 1152 (root nid 36), shared xattrs,
 *   then 4096-byte data blocks (directory blocks, long symlinks, inline-content blocks)
 * - units: bytes; the result's length is a multiple of 4096
 * @throws ComposefsError E14 for unsupported versions or xattrs that do not fit an inode
 * @see specs/composefs.md §2
 */
export function encodeImage(tree: ComposefsTree, options: ImageOptions = {}): Uint8Array {
  const L = layout(tree, options);
  const total = L.dataStart + L.nDataBlocks * F.BLOCK_SIZE;
  const buf = new Uint8Array(total);
  const dv = new DataView(buf.buffer);
  // Header.
  dv.setUint32(F.HDR_MAGIC, F.CFS_MAGIC, true);
  dv.setUint32(F.HDR_VERSION, F.CFS_HEADER_VERSION, true);
  dv.setUint32(F.HDR_FLAGS, L.hasAcl ? F.CFS_FLAG_HAS_ACL : 0, true);
  dv.setUint32(F.HDR_COMPOSEFS_VERSION, L.version, true);
  // Superblock.
  const sb = F.SB_OFFSET;
  dv.setUint32(sb + F.SB_MAGIC, F.EROFS_SUPER_MAGIC, true);
  dv.setUint32(sb + F.SB_FEATURE_COMPAT, F.FEATURE_COMPAT_MTIME | F.FEATURE_COMPAT_XATTR_FILTER, true);
  buf[sb + F.SB_BLKSZBITS] = F.BLOCK_BITS;
  dv.setUint16(sb + F.SB_ROOT_NID, L.nodes[0]!.nid, true);
  dv.setBigUint64(sb + F.SB_INOS, BigInt(L.nodes.length), true);
  dv.setBigUint64(sb + F.SB_BUILD_TIME, BigInt(L.minSec), true);
  dv.setUint32(sb + F.SB_BUILD_TIME_NSEC, L.minNsec >>> 0, true);
  dv.setUint32(sb + F.SB_BLOCKS, L.dataStart / F.BLOCK_SIZE + L.nDataBlocks, true);
  dv.setUint32(sb + F.SB_META_BLKADDR, 0, true);
  dv.setUint32(sb + F.SB_XATTR_BLKADDR, Math.floor(L.inodesEnd / F.BLOCK_SIZE), true);
  // Inodes.
  let dataEnd = L.dataStart;
  const sharedBase = L.inodesEnd % F.BLOCK_SIZE;
  for (const n of L.nodes) {
    const at = n.nid * F.SLOT_SIZE;
    const type = typeOf(n);
    const xicount = n.xattrSize === 0 ? 0 : (n.xattrSize - F.XATTR_IBODY_HEADER_SIZE) / 4 + 1;
    let layoutKind = n.tailSize > 0 ? F.DATALAYOUT_FLAT_INLINE : F.DATALAYOUT_FLAT_PLAIN;
    let size = 0;
    let chunkFormat = -1;
    if (type === F.S_IFDIR) size = n.nBlocks * F.BLOCK_SIZE + n.tailSize;
    else if (type === F.S_IFREG) {
      size = n.sizeBytes;
      if (size > 0 && !n.content) {
        layoutKind = F.DATALAYOUT_CHUNK_BASED;
        chunkFormat = chunking(size).chunkBits - F.BLOCK_BITS;
      }
    } else if (type === F.S_IFLNK) size = n.nBlocks === 0 ? n.tailSize : n.sizeBytes;
    const format = (layoutKind << F.I_DATALAYOUT_BIT) | ((n.compact ? 0 : 1) << F.I_VERSION_BIT);
    let iu = 0;
    if (type === F.S_IFCHR || type === F.S_IFBLK) iu = n.rdev % 2 ** 32;
    else if ((type === F.S_IFDIR || type === F.S_IFREG || type === F.S_IFLNK) && n.nBlocks > 0) {
      iu = dataEnd / F.BLOCK_SIZE;
      n.blkaddr = iu;
      dataEnd += n.nBlocks * F.BLOCK_SIZE;
    }
    if (n.compact) {
      dv.setUint16(at + F.IC_FORMAT, format, true);
      dv.setUint16(at + F.IC_XATTR_ICOUNT, xicount, true);
      dv.setUint16(at + F.IC_MODE, n.mode & 0xffff, true);
      dv.setUint16(at + F.IC_NLINK, n.nlink & 0xffff, true);
      dv.setUint32(at + F.IC_SIZE, size, true);
      dv.setUint32(at + F.IC_U, iu >>> 0, true);
      if (chunkFormat >= 0) dv.setUint16(at + F.IC_U, chunkFormat, true);
      dv.setUint32(at + F.IC_INO, n.ino, true);
      dv.setUint16(at + F.IC_UID, n.uid, true);
      dv.setUint16(at + F.IC_GID, n.gid, true);
    } else {
      dv.setUint16(at + F.IE_FORMAT, format, true);
      dv.setUint16(at + F.IE_XATTR_ICOUNT, xicount, true);
      dv.setUint16(at + F.IE_MODE, n.mode & 0xffff, true);
      dv.setBigUint64(at + F.IE_SIZE, BigInt(size), true);
      dv.setUint32(at + F.IE_U, iu >>> 0, true);
      if (chunkFormat >= 0) dv.setUint16(at + F.IE_U, chunkFormat, true);
      dv.setUint32(at + F.IE_INO, n.ino, true);
      dv.setUint32(at + F.IE_UID, n.uid, true);
      dv.setUint32(at + F.IE_GID, n.gid, true);
      dv.setBigUint64(at + F.IE_MTIME, BigInt(n.mtimeSec), true);
      dv.setUint32(at + F.IE_MTIME_NSEC, n.mtimeNsec, true);
      dv.setUint32(at + F.IE_NLINK, n.nlink, true);
    }
    let p = at + (n.compact ? F.INODE_COMPACT_SIZE : F.INODE_EXTENDED_SIZE);
    if (n.xattrSize > 0) {
      let filter = 0;
      for (const x of n.sorted) filter |= 1 << x.info.filterBit;
      dv.setUint32(p, (F.XATTR_FILTER_DEFAULT & ~filter) >>> 0, true);
      buf[p + 4] = n.nShared;
      let q = p + F.XATTR_IBODY_HEADER_SIZE;
      for (const x of n.sorted)
        if (x.sharedOffset >= 0) {
          dv.setUint32(q, (sharedBase + x.sharedOffset) / 4, true);
          q += 4;
        }
      for (const x of n.sorted) if (x.sharedOffset < 0) q = writeXattr(buf, dv, q, x);
      p += n.xattrSize;
    }
    // Inline tail.
    if (type === F.S_IFDIR) {
      const { tail } = direntChunks(n);
      if (tail) writeDirents(buf, dv, p, n, tail[0], tail[1]);
    } else if (type === F.S_IFLNK) {
      if (n.nBlocks === 0) buf.set(n.payload!, p);
    } else if (type === F.S_IFREG && n.tailSize > 0) {
      if (n.content) buf.set(n.content.subarray(n.sizeBytes - n.tailSize), p);
      else {
        const count = n.tailSize / 4;
        for (let i = 0; i < count; i++) dv.setUint32(p + 4 * i, F.NULL_ADDR, true);
      }
    }
  }
  // Shared xattrs.
  let q = L.inodesEnd;
  for (const x of L.shared) q = writeXattr(buf, dv, q, x);
  // Data blocks, in inode order.
  for (const n of L.nodes) {
    if (n.nBlocks === 0) continue;
    let at = n.blkaddr * F.BLOCK_SIZE;
    const type = typeOf(n);
    if (type === F.S_IFDIR) {
      for (const [first, count] of direntChunks(n).blocks) {
        writeDirents(buf, dv, at, n, first, count);
        at += F.BLOCK_SIZE;
      }
    } else if (type === F.S_IFREG && !n.content) {
      for (let i = 0; i < F.BLOCK_SIZE; i += 4) dv.setUint32(at + i, F.NULL_ADDR, true);
    } else {
      const data = type === F.S_IFLNK ? n.payload! : n.content!;
      buf.set(data.subarray(0, n.nBlocks * F.BLOCK_SIZE), at);
    }
  }
  return buf;
}
