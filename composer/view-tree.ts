/**
 * The directory shape the composer reads and writes through the store: a tree is a list of
 * entries (directory, file, symlink), each naming its content by digest; the fields are the
 * store's tree entries (specs/store.md §3). The composer sees trees
 * only through {@link TreeAccess}, so its merge, diff and image code stay pure and the store
 * adapter (composer/store-access.ts) is the one place that knows the store's tree encoding.
 *
 * @see specs/composition.md §6
 */
import { compareNames, subtreeSize, type Digest, type Tree } from '../src/kernel/index.ts';

/** A subdirectory entry. */
export interface ViewDir {
  name: string;
  kind: 'directory';
  digest: Digest;
  /** Entries in the subdirectory plus, recursively, the `size` of each of its subdirectories (specs/store.md §3.2). */
  size: number;
}
/** A regular file entry: its bytes are the blob `digest`. */
export interface ViewFile {
  name: string;
  kind: 'file';
  digest: Digest;
  /** Content length in bytes (the store's field name). */
  size: number;
  executable: boolean;
}
/** A symbolic link entry; the target is verbatim. */
export interface ViewSymlink {
  name: string;
  kind: 'symlink';
  target: string;
}
/** One entry of a tree. */
export type ViewEntry = ViewDir | ViewFile | ViewSymlink;

/** A directory: entries with unique names (order is not significant to callers). */
export interface ViewTree {
  readonly entries: readonly ViewEntry[];
}

/** The `size` of a directory entry naming this tree: its entries plus its subdirectories' sizes (the kernel's `subtreeSize`). */
export function subtreeEntries(t: ViewTree): number {
  return subtreeSize(t as Tree);
}

/**
 * How the composer reaches the store's trees and blobs.
 * - `getTree`: the tree with that digest. @throws NotFoundError E4 when absent
 * - `putTree`: stores a tree and returns its digest (the store sorts and validates it).
 * - `blobSize`: the size in bytes of a stored blob. @throws NotFoundError E4 when absent
 */
export interface TreeAccess {
  getTree(digest: Digest): Promise<ViewTree>;
  putTree(tree: ViewTree): Promise<Digest>;
  blobSize(digest: Digest): Promise<number>;
}

/** Entry order: UTF-8 bytes of the names (the kernel's tree order, specs/store.md §3). */
export { compareNames };
