/**
 * What a binary cache is to Eos: a place that answers an action id with a cache entry (a signed
 * build record) and serves the objects of its output closure by their BLAKE3 digests, and that
 * accepts the same on push. Two backends implement it: a static HTTP(S) file tree (`http.ts`) and a
 * REAPI v2 CAS with BuildStream's ReferenceStorage (`reapi.ts`).
 *
 * @see specs/cache.md §2 (backends)
 */
import type { Digest } from '../src/kernel/index.ts';

/** Which store an object belongs in: a blob (`objects/`) or a tree encoding (`trees/`). */
export type ObjectKind = 'blob' | 'tree';

/** One object offered to {@link CacheBackend.push}: its kind, digest, size (bytes) and bytes. */
export interface PushObject {
  kind: ObjectKind;
  digest: Digest;
  size: number;
  bytes: () => Promise<Uint8Array>;
  /** A tree's children (blobs and trees), each listed before it; uploaded before it. */
  children?: readonly Digest[];
}

/** What one push of an action sent. */
export interface PushCounts {
  /** Objects uploaded (the cache lacked them). */
  sent: number;
  /** Bytes of the uploaded objects. */
  sentBytes: number;
  /** Objects the cache held already. */
  present: number;
  /** Whether the entry itself was uploaded (false: the cache held these very bytes). */
  entrySent: boolean;
}

/** An entry a cache answered for an action, and how to read the objects it names. */
export interface CacheHit {
  /** The entry's bytes exactly as served (an `eos.action-cache-entry`, specs/action.md §5). */
  entry: Uint8Array;
  /**
   * The bytes the cache holds under `digest` (unverified), or undefined when it lacks them.
   * @throws CacheTransportError E58 when the cache cannot be read
   */
  object(kind: ObjectKind, digest: Digest): Promise<Uint8Array | undefined>;
  /** How many `object` calls a fetch keeps in flight (default 16; more where reads are batched). */
  inFlight?: number;
}

/** A binary cache backend. */
export interface CacheBackend {
  /** The cache's URL, as configured (it names the cache in every message). */
  readonly url: string;
  /**
   * The entry filed under `action`, or undefined when the cache has none (a miss).
   * @throws CacheTransportError E58 when the cache cannot be reached or answers wrongly
   */
  lookup(action: Digest): Promise<CacheHit | undefined>;
  /**
   * Uploads the objects the cache lacks, several at once (a tree only after its children), then,
   * once every object is there, the entry: a reader never finds an entry that names a missing
   * object, even when the push is killed midway. `objects` is the whole closure, children first.
   * @throws CacheTransportError E58
   */
  push(action: Digest, entry: Uint8Array, objects: readonly PushObject[]): Promise<PushCounts>;
  /** Releases connections. */
  close(): void;
}
