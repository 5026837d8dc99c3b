/**
 * Images from compositions: the merged view as a composefs tree whose regular files redirect into
 * the store's object directory (`/<2 hex>/<62 hex>` of the BLAKE3 digest, relative to `objects/`)
 * and carry the fs-verity digest of their bytes. Pure except for the injected readers.
 *
 * @see specs/composition.md §12
 */
import { digestHex, type Digest } from '../src/kernel/index.ts';
import {
  markSharedBytes,
  newInode,
  utf8,
  validateTree,
  type CfsInode,
  type ComposefsTree,
} from './composefs/index.ts';
import type { TreeAccess } from './view-tree.ts';

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

/** The redirect path of a blob, relative to the object directory: `<2 hex>/<62 hex>`. @see specs/composition.md §12 */
export function objectRedirect(d: Digest): string {
  const hex = digestHex(d);
  return `${hex.slice(0, 2)}/${hex.slice(2)}`;
}

/**
 * UTF-8 bytes of names, redirects and symlink targets, kept across the images of a process (every
 * world image of a build repeats its seed's); the arrays are shared and never written to.
 */
const utf8Kept = new Map<string, Uint8Array>();
const UTF8_KEPT_MAX = 200_000;
function keptUtf8(s: string): Uint8Array {
  let b = utf8Kept.get(s);
  if (!b) {
    if (utf8Kept.size >= UTF8_KEPT_MAX) utf8Kept.clear();
    b = markSharedBytes(utf8(s));
    utf8Kept.set(s, b);
  }
  return b;
}

/** A view subtree's composefs inodes: its directory inode and every directory inode under it. */
interface KeptSubtree {
  inode: CfsInode;
  dirs: CfsInode[];
  entries: number;
}

/**
 * The composefs inodes of view subtrees by tree digest, kept across the images of a process (a
 * tree digest names its content, and an fs-verity digest is a function of a blob's bytes, so the
 * inodes are the same whichever store or image asks): every world image of a build repeats its
 * seed's `/usr/lib`, `/usr/bin`, …, and only the directories a dependency's output changes are
 * built again (specs/composefs.md §2.8). The inodes are shared by the trees returned and never
 * written to (the writer copies what it lays out). Cleared when it holds more than
 * {@link SUBTREES_KEPT_MAX} entries in all.
 */
const subtreesKept = new Map<Digest, KeptSubtree>();
const SUBTREES_KEPT_MAX = 2_000_000;
let subtreesKeptEntries = 0;
/** Directory inodes that passed `validateTree` as part of an earlier tree (not walked again). */
const validated = new WeakSet<CfsInode>();

/**
 * Builds the composefs tree of a view tree: directories 0755, files 0644/0755 (external, redirected
 * to their object, fs-verity digest from `verity`; empty files have no redirect), symlinks 0777;
 * owner 0:0, mtime 0, nlink as the kernel counts it (2 + subdirectories for a directory).
 * Subtrees seen before in this process are reused (each at most once per tree: a second
 * occurrence of a directory in one view gets inodes of its own).
 * @param verity the 32-byte fs-verity digest of a blob's bytes; the array is kept and shared
 *   across trees, and must not be written to afterwards
 * @throws ComposefsError E14 when the tree exceeds a composefs limit
 * @see specs/composition.md §12, specs/composefs.md §2.8
 */
export async function viewToComposefs(
  access: Pick<TreeAccess, 'getTree'>,
  view: Digest,
  verity: (d: Digest) => Promise<Uint8Array>,
): Promise<ComposefsTree> {
  // Each occurrence of a directory is its own inode: `used` holds this tree's directory inodes.
  const used = new Set<CfsInode>();
  const made: CfsInode[] = [];
  const dir = async (d: Digest): Promise<KeptSubtree> => {
    const kept = subtreesKept.get(d);
    if (kept && !kept.dirs.some((x) => used.has(x))) {
      for (const x of kept.dirs) used.add(x);
      return kept;
    }
    const t = await access.getTree(d);
    const inode = newInode(S_IFDIR | 0o755);
    const dirs = [inode];
    let subdirs = 0;
    for (const e of t.entries) {
      let child: CfsInode;
      if (e.kind === 'directory') {
        const sub = await dir(e.digest);
        child = sub.inode;
        for (const x of sub.dirs) dirs.push(x);
        subdirs++;
      } else if (e.kind === 'file') {
        child = newInode(S_IFREG | (e.executable ? 0o755 : 0o644), { sizeBytes: e.size });
        if (e.size > 0) {
          child.payload = keptUtf8(objectRedirect(e.digest));
          child.fsverityDigest = markSharedBytes(await verity(e.digest));
        }
      } else {
        const target = keptUtf8(e.target);
        child = newInode(S_IFLNK | 0o777, { sizeBytes: target.length, payload: target });
      }
      inode.entries!.push({ name: keptUtf8(e.name), inode: child, hardlink: false });
    }
    inode.nlink = 2 + subdirs;
    used.add(inode);
    made.push(inode);
    const sub = { inode, dirs, entries: t.entries.length };
    if (subtreesKeptEntries + sub.entries > SUBTREES_KEPT_MAX) {
      subtreesKept.clear();
      subtreesKeptEntries = 0;
    }
    const before = subtreesKept.get(d);
    if (before) subtreesKeptEntries -= before.entries;
    subtreesKept.set(d, sub);
    subtreesKeptEntries += sub.entries;
    return sub;
  };
  const root = (await dir(view)).inode;
  const tree = validateTree(root, validated);
  for (const x of made) validated.add(x);
  return tree;
}
