/**
 * Images of stored compositions (I/O): fs-verity digests of blobs (cached in `verity.log`) and the
 * composefs image of a root (cached under `images/`), written atomically.
 *
 * @see specs/composition.md §12
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import {
  CorruptObjectError,
  checkObjects,
  createDigester,
  digestBytes,
  digestHex,
  objectsOfTree,
  statKey,
  verifiedRecord,
  writeFileAtomic,
  type Digest,
  type VerifiedRecord,
} from '../src/kernel/index.ts';
import { CompositionStore, storeAccess } from './compose-store.ts';
import { FsVerityHasher, encodeImage } from './composefs/index.ts';
import { viewToComposefs } from './image.ts';

/** Blobs smaller than this are read whole for their fs-verity digest; larger ones are streamed. */
const SMALL_BLOB_BYTES = 256n * 1024n;

/**
 * fs-verity digests of blobs, kept in the store's verified-object record (`v` lines, MAC'd,
 * specs/store.md §12) and computed, when absent, in one pass over the object file that also
 * computes its BLAKE3: a digest is recorded only for bytes that hashed to the blob's digest, so a
 * corrupt object can never poison it. (Stores made before this kept an unauthenticated
 * `verity.log`; it is no longer read.)
 */
export class VerityCache {
  private readonly record: VerifiedRecord;
  /** Digests found or computed by this process, per record (every world image holds the seed's). */
  private static readonly known = new WeakMap<VerifiedRecord, Map<Digest, Uint8Array>>();
  private readonly memo: Map<Digest, Uint8Array>;

  constructor(readonly cs: CompositionStore) {
    this.record = verifiedRecord(cs.store);
    let memo = VerityCache.known.get(this.record);
    if (!memo) VerityCache.known.set(this.record, (memo = new Map()));
    this.memo = memo;
  }

  /**
   * The 32-byte fs-verity digest of a blob, recorded or computed from its object (streamed).
   * @throws CorruptObjectError E5 when the object's bytes do not hash to `d`
   */
  async get(d: Digest): Promise<Uint8Array> {
    const known = this.memo.get(d);
    if (known) return known;
    const v = await this.lookupOrCompute(d);
    this.memo.set(d, v);
    return v;
  }

  private async lookupOrCompute(d: Digest): Promise<Uint8Array> {
    const hit = this.record.verity(d);
    if (hit) return Buffer.from(hit, 'hex');
    const path = this.cs.store.blobPath(d);
    const before = statSync(path, { bigint: true });
    const b3 = createDigester();
    const fv = new FsVerityHasher();
    if (before.size < SMALL_BLOB_BYTES) {
      // One read on this thread: a stream's set-up costs more than a small file's bytes.
      const bytes = readFileSync(path);
      b3.update(bytes);
      fv.update(bytes);
    } else
      for await (const chunk of createReadStream(path) as AsyncIterable<Uint8Array>) {
        b3.update(chunk);
        fv.update(chunk);
      }
    const got = b3.digest();
    if (got !== d)
      throw new CorruptObjectError(
        `blob ${d} (${path}): content hashes to ${got}; no image is made from it`,
        {
          data: { digest: d, path },
          hint: 'run `eos store verify --repair`, then ingest or build the sources again',
        },
      );
    const v = fv.digest();
    this.record.noteVerity(d, Buffer.from(v).toString('hex'));
    // The bytes hashed to `d`: the object file is checked too (specs/store.md §12), when it did
    // not change while it was read, so the image's object check does not read it again.
    if (statKey(statSync(path, { bigint: true })) === statKey(before))
      this.record.noteChecked('o', d, before);
    return v;
  }

  /** Appends the digests computed since the last flush to the record (one write, one fsync). */
  flush(): void {
    this.record.flush();
  }
}

/** Where the image of a root is cached: `STORE/images/<root hex>.cfs`. */
export function imageCachePath(cs: CompositionStore, root: Digest): string {
  return cs.dir('images', `${digestHex(root)}.cfs`);
}

/** The record binding of a root's cached image: `image:<root hex>` → BLAKE3 of the image file. */
export function imageBinding(root: Digest): string {
  return `image:${digestHex(root)}`;
}

/** Whether the file at `path` exists and its BLAKE3 is the record's value for `binding`. */
function boundFileOk(cs: CompositionStore, path: string, binding: string): boolean {
  const bound = verifiedRecord(cs.store).binding(binding);
  if (!bound) return false;
  try {
    return digestHex(digestBytes(readFileSync(path))) === bound;
  } catch {
    return false;
  }
}

/**
 * Whether the cached image of `root` is the one this store wrote for it (its BLAKE3 matches the
 * record's binding). False when absent, unbound or edited.
 */
export function cachedImageOk(cs: CompositionStore, root: Digest): boolean {
  return boundFileOk(cs, imageCachePath(cs, root), imageBinding(root));
}

/**
 * The image of view tree `tree` cached at `path` under `binding`: every object it references is
 * first checked against its digest (`checkObjects`, specs/store.md §12); the cached file is used
 * only when it matches the binding, else it is written (atomically), with fs-verity digests
 * computed only from bytes checked against their BLAKE3. `layer`: a layer image (specs/composefs.md §2.9).
 */
async function cachedImage(
  cs: CompositionStore,
  tree: Digest,
  path: string,
  binding: string,
  layer: boolean,
): Promise<{ path: string; cached: boolean; sizeBytes: number }> {
  const uses = await objectsOfTree(cs.store, tree);
  if (boundFileOk(cs, path, binding)) {
    await checkObjects(cs.store, uses);
    return { path, cached: true, sizeBytes: statSync(path).size };
  }
  // The fs-verity pass hashes each blob without a recorded digest (BLAKE3 and fs-verity in one
  // read) and marks it checked; the object check then reads only what is still unchecked. Nothing
  // is written before both passed.
  const verity = new VerityCache(cs);
  const cfs = await viewToComposefs(storeAccess(cs.store), tree, (d) => verity.get(d));
  await checkObjects(cs.store, uses, { flush: false });
  const bytes = encodeImage(cfs, layer ? { layer: true } : {});
  // Bound first, then written: a SIGKILL between leaves a binding with no file, never an image
  // file that `store verify` finds unbound (as a view was, issue 15). The fs-verity digests, the
  // objects checked and the binding go to the record in one append and fsync, off the event loop.
  const record = verifiedRecord(cs.store);
  record.noteBinding(binding, digestHex(digestBytes(bytes)));
  await record.flushAsync();
  await writeFileAtomic(path, bytes, { mkdir: true });
  return { path, cached: false, sizeBytes: bytes.length };
}

/**
 * The composefs image of a stored composition, ready to mount: the image of its merged view,
 * cached at {@link imageCachePath} under {@link imageBinding} (objects checked first, written when
 * the cached one is absent or does not match its binding).
 * @returns the image path, its size and whether it came from the cache
 * @throws NotFoundError E4, CorruptObjectError E5, CompositionError E18, ComposefsError E14
 * @see specs/composition.md §12
 */
export async function compositionImage(
  cs: CompositionStore,
  root: Digest,
): Promise<{ path: string; cached: boolean; sizeBytes: number }> {
  const v = await cs.view(root);
  return cachedImage(cs, v.tree, imageCachePath(cs, root), imageBinding(root), false);
}

/** Where the layer image of a tree is cached: `STORE/images/layer-<tree hex>.cfs`. */
export function layerImagePath(cs: CompositionStore, tree: Digest): string {
  return cs.dir('images', `layer-${digestHex(tree)}.cfs`);
}

/** The record binding of a tree's cached layer image: `layer:<tree hex>` → BLAKE3 of the file. */
export function layerImageBinding(tree: Digest): string {
  return `layer:${digestHex(tree)}`;
}

/** Whether the cached layer image of `tree` is the one this store wrote (its BLAKE3 is bound). */
export function cachedLayerImageOk(cs: CompositionStore, tree: Digest): boolean {
  return boundFileOk(cs, layerImagePath(cs, tree), layerImageBinding(tree));
}

/**
 * The composefs layer image of a stored tree (specs/composefs.md §2.9, specs/composition.md §12.1):
 * the tree's own files, redirected into `objects/` with their fs-verity digests, under a root that
 * is not opaque, so that mounted as an overlay lower layer above another image it merges with it
 * (a world's dependency output over its seed, specs/executor.md §2.2). Every object it references
 * is checked against its digest first; the cached image is used only when it matches the record's
 * `layer:` binding, else it is written (atomically), as {@link compositionImage} writes a root's.
 * @returns the image path, its size and whether it came from the cache
 * @throws NotFoundError E4, CorruptObjectError E5, ComposefsError E14
 */
export async function layerImage(
  cs: CompositionStore,
  tree: Digest,
): Promise<{ path: string; cached: boolean; sizeBytes: number }> {
  return cachedImage(cs, tree, layerImagePath(cs, tree), layerImageBinding(tree), true);
}
