/**
 * Closures of an action's outputs, both ways: the objects a local store holds below a root (what
 * `eos cache push` offers, children first), and the objects a cache serves below a root, fetched,
 * each checked against its BLAKE3 digest (and a file's size against its tree entry), and stored
 * only once every one of them is checked (so a refused substitution leaves nothing in the store).
 *
 * @see specs/cache.md §5 (fetching a closure)
 */
import {
  CacheObjectRefusedError,
  EosError,
  digestBytes,
  parseTree,
  type Digest,
  type Store,
  type Tree,
} from '../src/kernel/index.ts';
import type { CacheHit, ObjectKind, PushObject } from './backend.ts';
import { TRANSFERS_IN_FLIGHT, limiter, settleAll } from './limit.ts';

/**
 * The objects of a local store below `roots` (trees or blobs), each once, children before the
 * trees that name them.
 * @throws NotFoundError E4 when a root or child is not stored
 */
export async function localClosure(store: Store, roots: readonly Digest[]): Promise<PushObject[]> {
  const out: PushObject[] = [];
  const seen = new Set<Digest>();
  const blob = (d: Digest, size: number) => {
    if (seen.has(d)) return;
    seen.add(d);
    out.push({ kind: 'blob', digest: d, size, bytes: () => store.blobs.get(d) });
  };
  const visit = async (d: Digest): Promise<void> => {
    if (seen.has(d)) return;
    seen.add(d);
    const bytes = await store.readTreeBytes(d);
    const tree = parseTree(bytes, `tree ${d}`);
    const children: Digest[] = [];
    for (const e of tree.entries) {
      if (e.kind === 'file') blob(e.digest, e.size);
      else if (e.kind === 'directory') await visit(e.digest);
      else continue;
      children.push(e.digest);
    }
    out.push({ kind: 'tree', digest: d, size: bytes.length, bytes: async () => bytes, children });
  };
  for (const r of roots) {
    if (await store.trees.has(r)) await visit(r);
    else blob(r, (await store.blobs.get(r)).length);
  }
  return out;
}

/** Objects fetched and checked, not yet stored. */
export interface FetchedClosure {
  /** Blobs by digest. */
  blobs: Map<Digest, Uint8Array>;
  /** Trees, children before parents. */
  trees: Tree[];
  /** Objects fetched (blobs and trees). */
  objects: number;
  /** Bytes fetched. */
  bytes: number;
}

/**
 * Fetches what the store lacks of the closures of `roots` from a cache hit, checking every object
 * against its digest (a tree the store holds already has its whole closure, specs/store.md §5.2);
 * the children of every tree are fetched together, {@link TRANSFERS_IN_FLIGHT} objects at once.
 * Nothing is stored; the first refusal stops further requests.
 * @throws CacheObjectRefusedError E60 when an object is missing from the cache, does not hash to
 *   its digest, has another size than its tree entry, or is a tree that does not parse
 * @throws CacheTransportError E58 when the cache cannot be read
 */
export async function fetchClosure(
  store: Store,
  hit: CacheHit,
  roots: readonly Digest[],
  url: string,
): Promise<FetchedClosure> {
  const got: FetchedClosure = { blobs: new Map(), trees: [], objects: 0, bytes: 0 };
  // Each object is fetched once; a second tree naming it waits for the same promise, so a tree is
  // listed only after its whole closure (children first, as storeClosure needs).
  const pending = new Map<Digest, Promise<void>>();
  const limit = limiter(hit.inFlight ?? TRANSFERS_IN_FLIGHT);
  const refuse = (d: Digest, why: string) =>
    new CacheObjectRefusedError(`cache ${url}: object ${d}: ${why}; nothing was stored`, {
      data: { url, digest: d, reason: why },
    });
  const fetchChecked = async (kind: ObjectKind, d: Digest): Promise<Uint8Array | undefined> => {
    const bytes = await limit.run(() => hit.object(kind, d));
    if (!bytes) return undefined;
    const actual = digestBytes(bytes);
    if (actual !== d) throw refuse(d, `its ${bytes.length} bytes hash to ${actual}`);
    got.objects++;
    got.bytes += bytes.length;
    return bytes;
  };
  const once = (d: Digest, f: () => Promise<void>): Promise<void> => {
    let p = pending.get(d);
    if (!p) {
      p = f();
      pending.set(d, p);
    }
    return p;
  };
  const blob = (d: Digest, size?: number) =>
    once(d, async () => {
      if (await store.blobs.has(d)) return;
      const bytes = await fetchChecked('blob', d);
      if (!bytes) throw refuse(d, 'the cache lacks this blob');
      if (size !== undefined && bytes.length !== size)
        throw refuse(d, `${bytes.length} bytes, the tree entry says ${size}`);
      got.blobs.set(d, bytes);
    });
  const tree = async (d: Digest, bytes: Uint8Array) => {
    let t: Tree;
    try {
      t = parseTree(bytes, `tree ${d}`);
    } catch (e) {
      if (e instanceof EosError) throw refuse(d, `not a tree: ${e.message}`);
      throw e;
    }
    const children: Promise<void>[] = [];
    for (const e of t.entries) {
      if (e.kind === 'file') children.push(blob(e.digest, e.size));
      else if (e.kind === 'directory') children.push(child(e.digest));
    }
    await settleAll(children);
    got.trees.push(t);
  };
  const child = (d: Digest) =>
    once(d, async () => {
      if (await store.trees.has(d)) return;
      const bytes = await fetchChecked('tree', d);
      if (!bytes) throw refuse(d, 'the cache lacks this tree');
      await tree(d, bytes);
    });
  for (const r of roots) {
    if (pending.has(r) || (await store.trees.has(r)) || (await store.blobs.has(r))) continue;
    const asTree = await fetchChecked('tree', r);
    if (asTree) await once(r, () => tree(r, asTree));
    else await blob(r);
  }
  await settleAll([...pending.values()]);
  return got;
}

/**
 * Stores a checked closure with one durability step (`Store.putObjects`): blobs, then trees
 * children first (so the store's rule that a tree's children are stored before it holds at every
 * step, and a kill leaves complete objects only).
 * @throws IoError E12
 */
export async function storeClosure(store: Store, c: FetchedClosure): Promise<void> {
  await store.putObjects([...c.blobs.values()], c.trees);
}
