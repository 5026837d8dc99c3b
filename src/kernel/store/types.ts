/**
 * The store interfaces every backend implements (memory and filesystem today). `put` validates
 * and returns the digest; `get` of an absent digest throws E4.
 *
 * @see specs/store.md §5 (backends)
 */
import type { Digest } from '../digest.ts';
import type { Tree } from './tree.ts';

/** Content-addressed bytes. */
export interface BlobStore {
  /** True when the blob is stored. */
  has(digest: Digest): Promise<boolean>;
  /**
   * The blob's bytes (whole; use the filesystem store's `blobPath` for large blobs).
   * @throws NotFoundError E4 when absent; CorruptObjectError E5 when the bytes no longer hash to `digest`
   */
  get(digest: Digest): Promise<Uint8Array>;
  /** Stores bytes once and returns their digest. */
  put(bytes: Uint8Array): Promise<Digest>;
}

/** Content-addressed trees; a stored tree always has all its children stored. */
export interface TreeStore {
  /** True when the tree is stored. */
  has(digest: Digest): Promise<boolean>;
  /**
   * The parsed, validated tree.
   * @throws NotFoundError E4 when absent; CorruptObjectError E5 when its bytes no longer hash to
   *   `digest`; EncodingError E3 / UnsafePathError E8 when they do not parse
   */
  get(digest: Digest): Promise<Tree>;
  /**
   * Stores a tree and returns its digest.
   * @throws NotFoundError E4 when a child blob or tree is not stored yet (children go first)
   */
  put(tree: Tree): Promise<Digest>;
}

/** A store: blobs and trees that refer to them. */
export interface ObjectStore {
  readonly blobs: BlobStore;
  readonly trees: TreeStore;
}
