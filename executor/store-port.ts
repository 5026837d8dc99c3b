/**
 * The part of the content-addressed store the executor uses. The kernel's `Store` (src/store.ts,
 * being built in parallel) satisfies it; until it lands in main the executor runs on
 * `InterimStore` (executor/interim-store.ts), which implements the same calls.
 *
 * @see specs/store.md (the kernel store), specs/executor.md §1
 */
import type { Digest } from '../src/index.ts';

/** What `ingest` stored: a tree for a directory, a blob for a file, a symlink node. */
export interface IngestResult {
  /** The digest of the tree (directory), blob (file) or symlink node. */
  digest: Digest;
  /** What the path was. */
  kind: 'tree' | 'file' | 'symlink';
}

/** One entry of a tree as the executor reads it (sorted by name within its tree). */
export interface TreeEntry {
  name: string;
  kind: 'file' | 'dir' | 'symlink';
  /** Blob digest (file; for a symlink, the blob of its target's bytes) or tree digest (dir). */
  digest: Digest;
  sizeBytes: number;
  executable: boolean;
}

/** The store calls the executor makes; every digest is `blake3:<hex>`. */
export interface BuildStore {
  /** The store's root directory. */
  readonly dir: string;
  /** Ingests a directory (or a single file) and returns its digest. @throws UnsupportedFileError E6 */
  ingest(path: string): Promise<IngestResult>;
  /** Writes the tree's files under `dir` (hard links from the object directory where possible). */
  materialize(tree: Digest, dir: string): Promise<void>;
  /** Stores bytes as a blob and returns their digest. */
  putBlob(bytes: Uint8Array): Promise<Digest>;
  /** The path of a stored blob's object file (read-only). */
  blobPath(d: Digest): string;
  /** True when the blob or tree is present. */
  has(d: Digest): Promise<boolean>;
  /** Reads a tree's entries. @throws NotFoundError E4 */
  getTree(d: Digest): Promise<TreeEntry[]>;
  /** Stores a tree made of entries whose objects are already stored; returns its digest. */
  putTree(entries: TreeEntry[]): Promise<Digest>;
  /** Pins a digest under `roots/<name>` so garbage collection keeps it. */
  addRoot(name: string, d: Digest): Promise<void>;
}
