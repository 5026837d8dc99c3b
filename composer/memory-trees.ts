/**
 * An in-memory {@link TreeAccess}: trees are kept by the digest of their canonical form (entries
 * sorted by name), blobs by the digest of their bytes. The composer's pure functions run on it in
 * dry runs (`eos compose` checks a composition before anything is written) and in tests.
 */
import {
  CompositionError,
  EncodingError,
  NotFoundError,
  digestBytes,
  makeTree,
  treeDigest,
  type Digest,
  type Tree,
  type TreeEntry,
} from '../src/kernel/index.ts';
import type { TreeAccess, ViewTree } from './view-tree.ts';

/** A {@link TreeAccess} held in memory, plus helpers to add blobs. */
export class MemoryTrees implements TreeAccess {
  readonly trees = new Map<Digest, ViewTree>();
  readonly blobs = new Map<Digest, Uint8Array>();

  /** Stores bytes and returns their digest. */
  putBlob(bytes: Uint8Array | string): Digest {
    const b = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
    const d = digestBytes(b);
    this.blobs.set(d, b);
    return d;
  }

  async getTree(digest: Digest): Promise<ViewTree> {
    const t = this.trees.get(digest);
    if (!t) throw new NotFoundError(`tree ${digest} is not in the memory store`, { data: { digest } });
    return t;
  }

  async putTree(tree: ViewTree): Promise<Digest> {
    // The kernel's tree model: the same validation, order and digest as the filesystem store.
    let t: Tree;
    try {
      t = makeTree(tree.entries as TreeEntry[], 'tree');
    } catch (e) {
      if (e instanceof EncodingError) throw new CompositionError(e.detail, { cause: e });
      throw e;
    }
    const d = treeDigest(t);
    this.trees.set(d, { entries: t.entries });
    return d;
  }

  async blobSize(digest: Digest): Promise<number> {
    const b = this.blobs.get(digest);
    if (!b) throw new NotFoundError(`blob ${digest} is not in the memory store`, { data: { digest } });
    return b.length;
  }
}
