/**
 * The in-memory store backend: maps from digest to bytes. For tests and for pure pipelines that
 * never touch disk. Same contract as the filesystem store.
 *
 * @see specs/store.md §5
 */
import { digestBytes, type Digest } from '../digest.ts';
import { NotFoundError } from '../errors.ts';
import { checkChildrenPresent } from './children-present.ts';
import { encodeTree, parseTree, type Tree } from './tree.ts';
import type { BlobStore, ObjectStore, TreeStore } from './types.ts';

/** Blobs held in a map. */
export class MemoryBlobStore implements BlobStore {
  private readonly map = new Map<Digest, Uint8Array>();
  async has(digest: Digest): Promise<boolean> {
    return this.map.has(digest);
  }
  async get(digest: Digest): Promise<Uint8Array> {
    const b = this.map.get(digest);
    if (!b) throw new NotFoundError(`blob ${digest} is not in the memory store`, { data: { digest } });
    return Uint8Array.from(b);
  }
  async put(bytes: Uint8Array): Promise<Digest> {
    const d = digestBytes(bytes);
    if (!this.map.has(d)) this.map.set(d, Uint8Array.from(bytes));
    return d;
  }
  /** Every stored digest (unordered). */
  digests(): Digest[] {
    return [...this.map.keys()];
  }
}

/** Trees held in a map as their canonical bytes. */
export class MemoryTreeStore implements TreeStore {
  private readonly map = new Map<Digest, Uint8Array>();
  constructor(private readonly blobs: BlobStore) {}
  async has(digest: Digest): Promise<boolean> {
    return this.map.has(digest);
  }
  async get(digest: Digest): Promise<Tree> {
    const b = this.map.get(digest);
    if (!b) throw new NotFoundError(`tree ${digest} is not in the memory store`, { data: { digest } });
    return parseTree(b, `tree ${digest}`);
  }
  async put(tree: Tree): Promise<Digest> {
    const bytes = encodeTree(tree);
    const d = digestBytes(bytes);
    if (this.map.has(d)) return d;
    await checkChildrenPresent(tree, d, this.blobs, this);
    this.map.set(d, bytes);
    return d;
  }
}

/** A store held in memory. */
export class MemoryStore implements ObjectStore {
  readonly blobs = new MemoryBlobStore();
  readonly trees = new MemoryTreeStore(this.blobs);
}
