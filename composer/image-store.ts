/**
 * Images of stored compositions (I/O): fs-verity digests of blobs (cached in `verity.log`) and the
 * composefs image of a root (cached under `images/`), written atomically.
 *
 * @see specs/composition.md §12
 */
import {
  closeSync,
  createReadStream,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  statSync,
  writeSync,
} from 'node:fs';
import { digestHex, writeFileAtomicSync, type Digest } from '../src/kernel/index.ts';
import { CompositionStore, storeAccess } from './compose-store.ts';
import { computeFsVerityDigest, encodeImage } from './composefs/index.ts';
import { viewToComposefs } from './image.ts';

const VERITY_LINE = /^([0-9a-f]{64}) ([0-9a-f]{64})$/;

/**
 * fs-verity digests of blobs, cached in one append-only file `STORE/verity.log` of lines
 * `<blake3 hex> <fs-verity sha256 hex>`; a torn or malformed line is ignored (and recomputed).
 * New digests are appended with one write and one fsync by {@link VerityCache.flush}.
 */
export class VerityCache {
  private readonly known = new Map<string, string>();
  private pending: string[] = [];
  readonly path: string;

  constructor(readonly cs: CompositionStore) {
    this.path = cs.dir('verity.log');
    let text = '';
    try {
      text = readFileSync(this.path, 'utf8');
    } catch {
      // no cache yet
    }
    for (const line of text.split('\n')) {
      const m = VERITY_LINE.exec(line);
      if (m) this.known.set(m[1]!, m[2]!);
    }
  }

  /** The 32-byte fs-verity digest of a blob, cached or computed from its object (streamed). */
  async get(d: Digest): Promise<Uint8Array> {
    const hex = digestHex(d);
    const hit = this.known.get(hex);
    if (hit) return Buffer.from(hit, 'hex');
    const v = await computeFsVerityDigest(
      createReadStream(this.cs.store.blobPath(d)) as AsyncIterable<Uint8Array>,
    );
    const vh = Buffer.from(v).toString('hex');
    this.known.set(hex, vh);
    this.pending.push(`${hex} ${vh}\n`);
    return v;
  }

  /** Appends the digests computed since the last flush (one write, one fsync). */
  flush(): void {
    if (this.pending.length === 0) return;
    const fd = openSync(this.path, 'a', 0o644);
    try {
      writeSync(fd, this.pending.join(''));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.pending = [];
  }
}

/** Where the image of a root is cached: `STORE/images/<root hex>.cfs`. */
export function imageCachePath(cs: CompositionStore, root: Digest): string {
  return cs.dir('images', `${digestHex(root)}.cfs`);
}

/**
 * The composefs image of a stored composition: from the cache, else written there (atomically)
 * from the merged view.
 * @returns the image path, its size and whether it came from the cache
 * @throws NotFoundError E4, CompositionError E18, ComposefsError E14
 * @see specs/composition.md §12
 */
export async function compositionImage(
  cs: CompositionStore,
  root: Digest,
): Promise<{ path: string; cached: boolean; sizeBytes: number }> {
  const path = imageCachePath(cs, root);
  if (existsSync(path)) return { path, cached: true, sizeBytes: statSync(path).size };
  const v = await cs.view(root);
  const verity = new VerityCache(cs);
  const tree = await viewToComposefs(storeAccess(cs.store), v.tree, (d) => verity.get(d));
  verity.flush();
  const bytes = encodeImage(tree);
  writeFileAtomicSync(path, bytes, { mkdir: true });
  return { path, cached: false, sizeBytes: bytes.length };
}
