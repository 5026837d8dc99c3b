/**
 * An in-memory {@link TreeAccess}: trees are kept by the digest of their canonical form (entries
 * sorted by name), blobs by the digest of their bytes. The composer's pure functions run on it in
 * dry runs (`eos compose` checks a composition before anything is written) and in tests.
 */
import {
  CompositionError,
  NotFoundError,
  digestBytes,
  digestCanonical,
  type Digest,
} from '../src/kernel/index.ts';
import { compareNames, type TreeAccess, type ViewTree } from './view-tree.ts';

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
    const entries = [...tree.entries].sort((a, b) => compareNames(a.name, b.name));
    for (let i = 1; i < entries.length; i++)
      if (entries[i]!.name === entries[i - 1]!.name)
        throw new CompositionError(`tree: entry ${entries[i]!.name} appears twice`);
    const d = digestCanonical({ entries, version: 1 });
    this.trees.set(d, { entries });
    return d;
  }

  async blobSize(digest: Digest): Promise<number> {
    const b = this.blobs.get(digest);
    if (!b) throw new NotFoundError(`blob ${digest} is not in the memory store`, { data: { digest } });
    return b.length;
  }
}
