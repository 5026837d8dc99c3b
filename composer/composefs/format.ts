/**
 * The composefs EROFS on-disk layout: constants, magic numbers, feature bits and struct offsets
 * only, in the order of `specs/composefs.md`. All integers are little-endian. `writer.ts` and
 * `reader.ts` import this file; it holds no logic.
 *
 * @see specs/composefs.md
 */

// specs/composefs.md §1.1 — blocks and slots
/** Block size of every composefs image (bytes). */
export const BLOCK_SIZE = 4096;
/** log2 of {@link BLOCK_SIZE}. */
export const BLOCK_BITS = 12;
/** Inodes start on 32-byte slots; nid = byte offset / 32. */
export const SLOT_SIZE = 32;

// specs/composefs.md §1.2 — composefs header (32 bytes at offset 0)
/** Header magic (u32 at 0x00). */
export const CFS_MAGIC = 0xd078629a;
/** Header layout version (u32 at 0x04); always 1. */
export const CFS_HEADER_VERSION = 1;
/** Size of the header (bytes). */
export const CFS_HEADER_SIZE = 32;
/** Header offsets: magic, version, flags, composefs_version, unused[4]. */
export const HDR_MAGIC = 0x00;
export const HDR_VERSION = 0x04;
export const HDR_FLAGS = 0x08;
export const HDR_COMPOSEFS_VERSION = 0x0c;
/** Header flag: some inode has a POSIX ACL xattr (mount erofs without `noacl`). */
export const CFS_FLAG_HAS_ACL = 0x1;
/** Highest composefs format version this writer emits. */
export const CFS_VERSION_MAX = 1;

// specs/composefs.md §1.3 — EROFS superblock (128 bytes at offset 1024)
export const SB_OFFSET = 1024;
export const SB_SIZE = 128;
export const EROFS_SUPER_MAGIC = 0xe0f5e1e2;
export const SB_MAGIC = 0x00;
export const SB_CHECKSUM = 0x04;
export const SB_FEATURE_COMPAT = 0x08;
export const SB_BLKSZBITS = 0x0c;
export const SB_EXTSLOTS = 0x0d;
export const SB_ROOT_NID = 0x0e;
export const SB_INOS = 0x10;
export const SB_BUILD_TIME = 0x18;
export const SB_BUILD_TIME_NSEC = 0x20;
export const SB_BLOCKS = 0x24;
export const SB_META_BLKADDR = 0x28;
export const SB_XATTR_BLKADDR = 0x2c;
export const SB_UUID = 0x30;
export const SB_VOLUME_NAME = 0x40;
export const SB_FEATURE_INCOMPAT = 0x50;
/** Compat feature: superblock checksum (not used by composefs). */
export const FEATURE_COMPAT_SB_CHKSUM = 0x1;
/** Compat feature: per-inode mtime. */
export const FEATURE_COMPAT_MTIME = 0x2;
/** Compat feature: xattr name bloom filter in each inode's xattr header. */
export const FEATURE_COMPAT_XATTR_FILTER = 0x4;
/** Where inodes start: right after the superblock. */
export const INODES_START = SB_OFFSET + SB_SIZE;

// specs/composefs.md §1.4 — inodes
/** i_format bit 0: 0 compact (32 bytes), 1 extended (64 bytes). */
export const I_VERSION_BIT = 0;
/** i_format bits 1–3: data layout. */
export const I_DATALAYOUT_BIT = 1;
export const DATALAYOUT_FLAT_PLAIN = 0;
export const DATALAYOUT_FLAT_INLINE = 2;
export const DATALAYOUT_CHUNK_BASED = 4;
export const INODE_COMPACT_SIZE = 32;
export const INODE_EXTENDED_SIZE = 64;
/** Compact inode offsets. */
export const IC_FORMAT = 0;
export const IC_XATTR_ICOUNT = 2;
export const IC_MODE = 4;
export const IC_NLINK = 6;
export const IC_SIZE = 8;
export const IC_U = 16;
export const IC_INO = 20;
export const IC_UID = 24;
export const IC_GID = 26;
/** Extended inode offsets. */
export const IE_FORMAT = 0;
export const IE_XATTR_ICOUNT = 2;
export const IE_MODE = 4;
export const IE_SIZE = 8;
export const IE_U = 16;
export const IE_INO = 20;
export const IE_UID = 24;
export const IE_GID = 28;
export const IE_MTIME = 32;
export const IE_MTIME_NSEC = 40;
export const IE_NLINK = 44;
/** Chunk-based files: chunkbits − 12 is stored in i_u's low u16; at most 31 (chunkbits 43). */
export const CHUNK_FORMAT_BLKBITS_MASK = 0x1f;
/** The "hole" chunk address. */
export const NULL_ADDR = 0xffffffff;
/** More chunks than this are rejected (EFBIG in the reference writer). */
export const MAX_NONINLINE_CHUNKS = 1024;
/** Largest regular file: 1024 chunks of 2^43 bytes (2^53, exactly representable as a number). */
export const MAX_FILE_SIZE = 2 ** 53;
/** Largest device number: i_u holds 32 bits of st_rdev (Linux's dev_t is 32 bits). */
export const MAX_RDEV = 0xffffffff;

// specs/composefs.md §1.5 — file modes
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

// specs/composefs.md §1.6 — directories
/** Dirent size: nid u64, nameoff u16, file_type u8, reserved u8. */
export const DIRENT_SIZE = 12;
export const DIRENT_NID = 0;
export const DIRENT_NAMEOFF = 8;
export const DIRENT_FILE_TYPE = 10;
export const FT_UNKNOWN = 0;
export const FT_REG_FILE = 1;
export const FT_DIR = 2;
export const FT_CHRDEV = 3;
export const FT_BLKDEV = 4;
export const FT_FIFO = 5;
export const FT_SOCK = 6;
export const FT_SYMLINK = 7;
/** Longest file name (bytes). */
export const NAME_MAX = 255;

// specs/composefs.md §1.7 — xattrs
/** Inline xattr header: h_name_filter u32, h_shared_count u8, reserved[7]. */
export const XATTR_IBODY_HEADER_SIZE = 12;
/** Xattr entry header: e_name_len u8, e_name_index u8, e_value_size u16. */
export const XATTR_ENTRY_SIZE = 4;
/** Name prefixes by index (0 = the full name is stored). */
export const XATTR_PREFIXES: readonly (readonly [index: number, prefix: string])[] = [
  [1, 'user.'],
  [2, 'system.posix_acl_access'],
  [3, 'system.posix_acl_default'],
  [4, 'trusted.'],
  [6, 'security.'],
];
/** Readers also accept index 5. */
export const XATTR_INDEX_LUSTRE = 5;
export const XATTR_PREFIX_LUSTRE = 'lustre.';
/** At most this many shared xattrs per inode; the rest stay inline. */
export const XATTR_MAX_SHARED_PER_INODE = 128;
/** Name filter: bit = xxh32(suffix, seed + index) & 31; the stored filter is the complement. */
export const XATTR_FILTER_SEED = 0x25bbe08f;
export const XATTR_FILTER_BITS = 32;
export const XATTR_FILTER_DEFAULT = 0xffffffff;
/** Longest xattr name and value accepted (bytes). */
export const XATTR_NAME_MAX = 255;
export const XATTR_VALUE_MAX = 65535;
/** Limit of the per-inode xattr accounting for external (dump) input. */
export const XATTR_EXTERNAL_MAX = 32767;

// specs/composefs.md §2.1 — overlayfs xattrs
export const OVERLAY_PREFIX = 'trusted.overlay.';
export const OVERLAY_ESCAPE_PREFIX = 'trusted.overlay.overlay.';
export const XATTR_METACOPY = 'trusted.overlay.metacopy';
export const XATTR_REDIRECT = 'trusted.overlay.redirect';
export const XATTR_OPAQUE = 'trusted.overlay.opaque';
export const XATTR_ESCAPED_WHITEOUT = 'trusted.overlay.overlay.whiteout';
export const XATTR_ESCAPED_WHITEOUTS = 'trusted.overlay.overlay.whiteouts';
export const XATTR_ESCAPED_OPAQUE = 'trusted.overlay.overlay.opaque';
export const XATTR_USER_WHITEOUT = 'user.overlay.whiteout';
export const XATTR_USER_WHITEOUTS = 'user.overlay.whiteouts';
export const XATTR_USER_OPAQUE = 'user.overlay.opaque';
export const XATTR_ACL_ACCESS = 'system.posix_acl_access';
export const XATTR_ACL_DEFAULT = 'system.posix_acl_default';
export const XATTR_SELINUX = 'security.selinux';
/** metacopy value: version 0, length 36, flags 0, hash algorithm 1 (sha256), then the digest. */
export const METACOPY_SIZE = 36;
export const FSVERITY_HASH_ALG_SHA256 = 1;

// specs/composefs.md §2.5 — inline content
/** Largest inline content accepted from a dump (bytes). */
export const INLINE_CONTENT_MAX = 5000;
/** Largest file content mkcomposefs inlines when building from a directory (bytes). */
export const RECOMMENDED_INLINE_CONTENT_MAX = 64;
/** Longest symlink target / payload (bytes, PATH_MAX − 1). */
export const PATH_MAX = 4096;

// specs/composefs.md §4 — fs-verity
export const FSVERITY_BLOCK_SIZE = 4096;
export const FSVERITY_DIGEST_SIZE = 32;
