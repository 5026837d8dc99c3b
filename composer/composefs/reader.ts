/**
 * The composefs EROFS reader: image bytes → the validated tree the writer was given (as
 * `composefs-info dump` reads it). Every offset is bounds-checked; a malformed image ends in one
 * E14 error, never an exception of another kind or a loop (each directory is read once, so work
 * is linear in the image size).
 *
 * Undoing the writer's rewrite: the 00–ff whiteout stubs (character devices 0/0) are dropped,
 * `trusted.overlay.metacopy` becomes the fs-verity digest and `trusted.overlay.redirect` the
 * payload, escaped `trusted.overlay.overlay.*` names are unescaped, other `trusted.overlay.*`
 * xattrs (the root's `opaque=y`) and the whiteout markers are dropped, and a regular file marked
 * as an escaped whiteout becomes a character device 0/0 again.
 *
 * @see specs/composefs.md §6
 */
import { ComposefsError } from '../../src/kernel/index.ts';
import * as F from './format.ts';
import { newInode, validateTree } from './tree.ts';
import type { CfsInode, CfsXattr, ComposefsTree } from './tree.ts';

function bad(msg: string): never {
  throw new ComposefsError(`composefs image: ${msg}`);
}

const PREFIX_BY_INDEX = new Map<number, string>([
  ...F.XATTR_PREFIXES.map(([i, p]) => [i, p] as [number, string]),
  [F.XATTR_INDEX_LUSTRE, F.XATTR_PREFIX_LUSTRE],
  [0, ''],
]);

/** What {@link parseImage} reports besides the tree. */
export interface ImageInfo {
  /** The composefs format version in the header (0 or 1). */
  version: number;
  /** The header's HAS_ACL flag. */
  hasAcl: boolean;
  /** Number of inodes in the EROFS image (including the whiteout stubs). */
  inodeCount: number;
}

interface RawInode {
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  mtimeSec: number;
  mtimeNsec: number;
  sizeBytes: number;
  layout: number;
  blkaddr: number;
  /** Offset of the inline xattr area and its size. */
  xattrAt: number;
  xattrSize: number;
  /** Offset of the inline tail. */
  tailAt: number;
}

class ImageReader {
  readonly dv: DataView;
  readonly meta: number;
  readonly xattrBase: number;
  readonly buildSec: number;
  readonly buildNsec: number;
  readonly info: ImageInfo;
  readonly rootNid: number;

  constructor(readonly buf: Uint8Array) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    if (buf.length < F.BLOCK_SIZE) bad(`${buf.length} bytes is too short`);
    if (this.u32(F.HDR_MAGIC) !== F.CFS_MAGIC) bad('bad composefs magic');
    if (this.u32(F.HDR_VERSION) !== F.CFS_HEADER_VERSION)
      bad(`unsupported composefs header version ${this.u32(F.HDR_VERSION)}`);
    const version = this.u32(F.HDR_COMPOSEFS_VERSION);
    if (version > F.CFS_VERSION_MAX) bad(`unsupported composefs format version ${version}`);
    const sb = F.SB_OFFSET;
    if (this.u32(sb + F.SB_MAGIC) !== F.EROFS_SUPER_MAGIC) bad('bad EROFS superblock magic');
    if (this.buf[sb + F.SB_BLKSZBITS] !== F.BLOCK_BITS)
      bad(`unsupported block size bits ${this.buf[sb + F.SB_BLKSZBITS]}`);
    this.meta = this.u32(sb + F.SB_META_BLKADDR) * F.BLOCK_SIZE;
    this.xattrBase = this.u32(sb + F.SB_XATTR_BLKADDR) * F.BLOCK_SIZE;
    if (this.meta >= buf.length || this.xattrBase >= buf.length)
      bad('metadata or xattr area outside the image');
    this.buildSec = this.u64(sb + F.SB_BUILD_TIME);
    this.buildNsec = this.u32(sb + F.SB_BUILD_TIME_NSEC);
    this.rootNid = this.dv.getUint16(sb + F.SB_ROOT_NID, true);
    this.info = {
      version,
      hasAcl: (this.u32(F.HDR_FLAGS) & F.CFS_FLAG_HAS_ACL) !== 0,
      inodeCount: this.u64(sb + F.SB_INOS),
    };
  }

  u32(off: number): number {
    return this.dv.getUint32(off, true);
  }

  u64(off: number): number {
    const v = this.dv.getBigUint64(off, true);
    if (v > BigInt(F.MAX_FILE_SIZE)) bad(`64-bit value at offset ${off} is too large (at most 2^53)`);
    return Number(v);
  }

  need(off: number, len: number, what: string): void {
    if (off < 0 || len < 0 || off + len > this.buf.length)
      bad(`${what} at offset ${off} (+${len}) is outside the image`);
  }

  inode(nid: number): RawInode {
    const at = this.meta + nid * F.SLOT_SIZE;
    this.need(at, F.INODE_COMPACT_SIZE, `inode ${nid}`);
    const format = this.dv.getUint16(at, true);
    const extended = (format & 1) === 1;
    const layout = (format >> F.I_DATALAYOUT_BIT) & 7;
    if (format >> 4 !== 0) bad(`inode ${nid}: unknown format bits 0x${format.toString(16)}`);
    if (
      layout !== F.DATALAYOUT_FLAT_PLAIN &&
      layout !== F.DATALAYOUT_FLAT_INLINE &&
      layout !== F.DATALAYOUT_CHUNK_BASED
    )
      bad(`inode ${nid}: unsupported data layout ${layout}`);
    const isize = extended ? F.INODE_EXTENDED_SIZE : F.INODE_COMPACT_SIZE;
    this.need(at, isize, `inode ${nid}`);
    const icount = this.dv.getUint16(at + 2, true);
    const xattrSize = icount === 0 ? 0 : F.XATTR_IBODY_HEADER_SIZE + 4 * (icount - 1);
    this.need(at + isize, xattrSize, `xattrs of inode ${nid}`);
    const mode = this.dv.getUint16(at + 4, true);
    const type = mode & F.S_IFMT;
    const raw: RawInode = {
      mode,
      nlink: 0,
      uid: 0,
      gid: 0,
      rdev: 0,
      mtimeSec: this.buildSec,
      mtimeNsec: this.buildNsec,
      sizeBytes: 0,
      layout,
      blkaddr: 0,
      xattrAt: at + isize,
      xattrSize,
      tailAt: at + isize + xattrSize,
    };
    if (extended) {
      raw.sizeBytes = this.u64(at + F.IE_SIZE);
      raw.blkaddr = this.u32(at + F.IE_U);
      raw.uid = this.u32(at + F.IE_UID);
      raw.gid = this.u32(at + F.IE_GID);
      raw.mtimeSec = this.u64(at + F.IE_MTIME);
      raw.mtimeNsec = this.u32(at + F.IE_MTIME_NSEC);
      raw.nlink = this.u32(at + F.IE_NLINK);
    } else {
      raw.nlink = this.dv.getUint16(at + F.IC_NLINK, true);
      raw.sizeBytes = this.u32(at + F.IC_SIZE);
      raw.blkaddr = this.u32(at + F.IC_U);
      raw.uid = this.dv.getUint16(at + F.IC_UID, true);
      raw.gid = this.dv.getUint16(at + F.IC_GID, true);
    }
    if (type === F.S_IFCHR || type === F.S_IFBLK) raw.rdev = raw.blkaddr;
    return raw;
  }

  /** The bytes of a flat file/dir/symlink: blocks then (for inline layouts) the tail. */
  flatData(raw: RawInode, nid: number, limit: number): Uint8Array {
    if (raw.layout === F.DATALAYOUT_CHUNK_BASED) bad(`inode ${nid}: unexpected chunk-based layout`);
    const size = raw.sizeBytes;
    if (size > limit) bad(`inode ${nid}: size ${size} exceeds ${limit}`);
    const inline = raw.layout === F.DATALAYOUT_FLAT_INLINE;
    const tail = inline ? size % F.BLOCK_SIZE : 0;
    const blockBytes = size - tail;
    const out = new Uint8Array(size);
    if (blockBytes > 0) {
      const at = raw.blkaddr * F.BLOCK_SIZE;
      this.need(at, blockBytes, `data of inode ${nid}`);
      out.set(this.buf.subarray(at, at + blockBytes));
    }
    if (tail > 0) {
      this.need(raw.tailAt, tail, `inline data of inode ${nid}`);
      if (Math.floor(raw.tailAt / F.BLOCK_SIZE) !== Math.floor((raw.tailAt + tail - 1) / F.BLOCK_SIZE))
        bad(`inode ${nid}: inline data crosses a block boundary`);
      out.set(this.buf.subarray(raw.tailAt, raw.tailAt + tail), blockBytes);
    }
    return out;
  }

  /** Directory entries (name bytes, nid, file type), `.` and `..` excluded. */
  dirents(raw: RawInode, nid: number): { name: Uint8Array; nid: number }[] {
    const size = raw.sizeBytes;
    const inline = raw.layout === F.DATALAYOUT_FLAT_INLINE;
    if (raw.layout === F.DATALAYOUT_CHUNK_BASED) bad(`directory ${nid}: unexpected chunk-based layout`);
    const tail = inline ? size % F.BLOCK_SIZE : 0;
    const nBlocks = Math.ceil((size - tail) / F.BLOCK_SIZE);
    const at = raw.blkaddr * F.BLOCK_SIZE;
    if (nBlocks > 0) this.need(at, size - tail, `blocks of directory ${nid}`);
    const out: { name: Uint8Array; nid: number }[] = [];
    for (let b = 0; b < nBlocks; b++) {
      const start = at + b * F.BLOCK_SIZE;
      const len =
        b === nBlocks - 1 && !inline && size % F.BLOCK_SIZE !== 0 ? size % F.BLOCK_SIZE : F.BLOCK_SIZE;
      this.direntBlock(this.buf.subarray(start, start + len), nid, out);
    }
    if (tail > 0) {
      this.need(raw.tailAt, tail, `inline entries of directory ${nid}`);
      this.direntBlock(this.buf.subarray(raw.tailAt, raw.tailAt + tail), nid, out);
    }
    return out;
  }

  direntBlock(block: Uint8Array, nid: number, out: { name: Uint8Array; nid: number }[]): void {
    if (block.length < F.DIRENT_SIZE) bad(`directory ${nid}: entry block of ${block.length} bytes`);
    const dv = new DataView(block.buffer, block.byteOffset, block.byteLength);
    const first = dv.getUint16(F.DIRENT_NAMEOFF, true);
    if (first < F.DIRENT_SIZE || first % F.DIRENT_SIZE !== 0 || first > block.length)
      bad(`directory ${nid}: bad first name offset ${first}`);
    const n = first / F.DIRENT_SIZE;
    for (let i = 0; i < n; i++) {
      const d = i * F.DIRENT_SIZE;
      const off = dv.getUint16(d + F.DIRENT_NAMEOFF, true);
      let end: number;
      if (i + 1 < n) end = dv.getUint16(d + F.DIRENT_SIZE + F.DIRENT_NAMEOFF, true);
      else {
        end = block.indexOf(0, off);
        if (end < 0) end = block.length;
      }
      if (off < first || end < off || end > block.length)
        bad(`directory ${nid}: bad name offsets ${off}..${end}`);
      const name = block.subarray(off, end);
      if (
        (name.length === 1 && name[0] === 0x2e) ||
        (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e)
      )
        continue;
      const child = dv.getBigUint64(d + F.DIRENT_NID, true);
      if (child > BigInt(this.buf.length)) bad(`directory ${nid}: entry nid ${child} out of range`);
      out.push({ name: Uint8Array.from(name), nid: Number(child) });
    }
  }

  xattrs(raw: RawInode, nid: number): CfsXattr[] {
    if (raw.xattrSize === 0) return [];
    const out: CfsXattr[] = [];
    const start = raw.xattrAt;
    const end = start + raw.xattrSize;
    const nShared = this.buf[start + 4]!;
    let p = start + F.XATTR_IBODY_HEADER_SIZE + 4 * nShared;
    if (p > end) bad(`inode ${nid}: ${nShared} shared xattrs do not fit its xattr area`);
    while (p + F.XATTR_ENTRY_SIZE < end) {
      const [x, size] = this.xattrEntry(p, end, nid);
      out.push(x);
      p += size;
    }
    for (let i = 0; i < nShared; i++) {
      const id = this.u32(start + F.XATTR_IBODY_HEADER_SIZE + 4 * i);
      const at = this.xattrBase + id * 4;
      const [x] = this.xattrEntry(at, this.buf.length, nid);
      out.push(x);
    }
    return out;
  }

  xattrEntry(at: number, limit: number, nid: number): [CfsXattr, number] {
    if (at + F.XATTR_ENTRY_SIZE > limit) bad(`inode ${nid}: xattr entry at ${at} outside its area`);
    const nameLen = this.buf[at]!;
    const index = this.buf[at + 1]!;
    const valueLen = this.dv.getUint16(at + 2, true);
    const size = F.XATTR_ENTRY_SIZE + nameLen + valueLen;
    if (at + size > limit) bad(`inode ${nid}: xattr entry at ${at} overruns its area`);
    const prefix = PREFIX_BY_INDEX.get(index);
    if (prefix === undefined) bad(`inode ${nid}: unknown xattr name index ${index}`);
    const suffix = this.buf.subarray(at + 4, at + 4 + nameLen);
    const name = new Uint8Array(prefix.length + nameLen);
    name.set(Buffer.from(prefix, 'latin1'));
    name.set(suffix, prefix.length);
    const value = Uint8Array.from(this.buf.subarray(at + 4 + nameLen, at + size));
    return [{ name, value }, Math.ceil(size / 4) * 4];
  }
}

const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');

/** Applies the reverse of the writer's overlay rewrite to one inode's xattrs. */
function unrewrite(inode: CfsInode, xattrs: CfsXattr[]): void {
  const type = inode.mode & F.S_IFMT;
  const kept: CfsXattr[] = [];
  const names = new Set(xattrs.map((x) => latin1(x.name)));
  const hasWhiteouts = names.has(F.XATTR_ESCAPED_WHITEOUTS);
  for (const x of xattrs) {
    const name = latin1(x.name);
    if (name === F.XATTR_REDIRECT) {
      if (type === F.S_IFREG) {
        let v = x.value;
        if (v.length > 1 && v[0] === 0x2f) v = v.subarray(1);
        inode.payload = Uint8Array.from(v);
      }
      continue;
    }
    if (name === F.XATTR_METACOPY) {
      if (type === F.S_IFREG && x.value.length === F.METACOPY_SIZE) inode.fsverityDigest = x.value.slice(4);
      continue;
    }
    if (name === F.XATTR_ESCAPED_WHITEOUT && type === F.S_IFREG) {
      inode.mode = (inode.mode & ~F.S_IFMT) | F.S_IFCHR;
      inode.rdev = 0;
      inode.sizeBytes = 0;
      continue;
    }
    if (
      name === F.XATTR_ESCAPED_WHITEOUTS ||
      name === F.XATTR_USER_WHITEOUT ||
      name === F.XATTR_USER_WHITEOUTS
    )
      continue;
    if (
      hasWhiteouts &&
      (name === F.XATTR_ESCAPED_OPAQUE || name === F.XATTR_USER_OPAQUE) &&
      x.value.length === 1 &&
      x.value[0] === 0x78
    )
      continue; // the version-1 marker of a directory holding whiteouts
    if (name.startsWith(F.OVERLAY_PREFIX)) {
      if (!name.startsWith(F.OVERLAY_ESCAPE_PREFIX)) continue;
      kept.push({
        name: Buffer.from(F.OVERLAY_PREFIX + name.slice(F.OVERLAY_ESCAPE_PREFIX.length), 'latin1'),
        value: x.value,
      });
      continue;
    }
    kept.push(x);
  }
  inode.xattrs = kept;
}

/**
 * Reads a composefs image back into the tree it was written from.
 * Normalizations (what an image does not keep): directory `nlink` is 2 + subdirectories and the
 * directory size is the EROFS directory size; `mode` is 16 bits; an inode stored compact has the
 * image's minimum mtime; the primary entry of a hard-linked inode is the first in depth-first
 * order; payloads and digests survive only on external regular files.
 * @throws ComposefsError E14 for any malformed, truncated or unsupported image
 * @see specs/composefs.md §6
 */
export function parseImage(image: Uint8Array): { tree: ComposefsTree; info: ImageInfo } {
  const r = new ImageReader(image);
  const seen = new Map<number, CfsInode>();
  const maxInodes = Math.floor(image.length / F.SLOT_SIZE);
  const load = (nid: number): { inode: CfsInode; raw: RawInode } | null => {
    const raw = r.inode(nid);
    const type = raw.mode & F.S_IFMT;
    if (type === F.S_IFCHR && raw.rdev === 0) return null; // the 00–ff stubs
    const inode = newInode(raw.mode, {
      nlink: raw.nlink,
      uid: raw.uid,
      gid: raw.gid,
      rdev: raw.rdev,
      mtimeSec: raw.mtimeSec,
      mtimeNsec: raw.mtimeNsec,
    });
    switch (type) {
      case F.S_IFDIR:
        inode.sizeBytes = raw.sizeBytes;
        break;
      case F.S_IFLNK: {
        if (raw.sizeBytes === 0 || raw.sizeBytes >= F.PATH_MAX)
          bad(`symlink ${nid}: target length ${raw.sizeBytes}`);
        inode.payload = r.flatData(raw, nid, F.PATH_MAX - 1);
        inode.sizeBytes = raw.sizeBytes;
        break;
      }
      case F.S_IFREG:
        inode.sizeBytes = raw.sizeBytes;
        if (raw.sizeBytes > 0 && raw.layout !== F.DATALAYOUT_CHUNK_BASED)
          inode.content = r.flatData(raw, nid, F.INLINE_CONTENT_MAX);
        break;
      case F.S_IFCHR:
      case F.S_IFBLK:
      case F.S_IFIFO:
      case F.S_IFSOCK:
        break;
      default:
        bad(`inode ${nid}: invalid mode ${raw.mode.toString(8)}`);
    }
    unrewrite(inode, r.xattrs(raw, nid));
    return { inode, raw };
  };
  const rootLoaded = load(r.rootNid);
  if (!rootLoaded || (rootLoaded.inode.mode & F.S_IFMT) !== F.S_IFDIR) bad('the root is not a directory');
  const root = rootLoaded.inode;
  seen.set(r.rootNid, root);
  // Depth-first, in entry order, so that the first name of a hard-linked inode is its primary.
  const dirsRead = new Set<number>([r.rootNid]);
  type Pending = { parent: CfsInode; name: Uint8Array; nid: number };
  const pushDir = (inode: CfsInode, raw: RawInode, nid: number): void => {
    inode.entries = [];
    const ents = r.dirents(raw, nid);
    for (let i = ents.length - 1; i >= 0; i--)
      stack.push({ parent: inode, name: ents[i]!.name, nid: ents[i]!.nid });
  };
  const stack: Pending[] = [];
  pushDir(root, rootLoaded.raw, r.rootNid);
  while (stack.length > 0) {
    const { parent, name, nid } = stack.pop()!;
    const prev = seen.get(nid);
    if (prev) {
      // A second dirent to an inode read already, a directory too (mkcomposefs writes one for a
      // hard link whose target is a directory): a hard-link entry, not descended again.
      parent.entries!.push({ name, inode: prev, hardlink: true });
      continue;
    }
    const loaded = load(nid);
    if (!loaded) continue;
    seen.set(nid, loaded.inode);
    if (seen.size > maxInodes) bad('more inodes than the image can hold');
    parent.entries!.push({ name, inode: loaded.inode, hardlink: false });
    if ((loaded.inode.mode & F.S_IFMT) === F.S_IFDIR) {
      if (dirsRead.has(nid)) bad(`directory ${nid} is reachable twice`);
      dirsRead.add(nid);
      pushDir(loaded.inode, loaded.raw, nid);
    }
  }
  return { tree: validateTree(root), info: r.info };
}
