/**
 * fs-verity digests (sha256, 4096-byte blocks, no salt) computed in userspace, as the kernel's
 * `FS_IOC_MEASURE_VERITY` would report them: the Merkle tree root over the file's blocks, then
 * sha256 of the 256-byte descriptor. Pure (node:crypto only hashes).
 *
 * @see specs/composefs.md §4
 */
import { createHash } from 'node:crypto';
import { FSVERITY_BLOCK_SIZE, FSVERITY_DIGEST_SIZE } from './format.ts';

const ZERO_BLOCK = new Uint8Array(FSVERITY_BLOCK_SIZE);
const HASHES_PER_BLOCK = FSVERITY_BLOCK_SIZE / FSVERITY_DIGEST_SIZE;

function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * Streaming fs-verity digest: `update()` with the file's bytes in any chunking, then `digest()`.
 * Memory: one pending block per Merkle level.
 */
export class FsVerityHasher {
  private sizeBytes = 0;
  private readonly pending = new Uint8Array(FSVERITY_BLOCK_SIZE);
  private pendingLen = 0;
  /** levels[i] holds the hashes of level i not yet packed into a full block. */
  private readonly levels: Buffer[][] = [];

  /** Adds bytes of the file. */
  update(bytes: Uint8Array): this {
    let off = 0;
    this.sizeBytes += bytes.length;
    if (this.pendingLen > 0) {
      const n = Math.min(FSVERITY_BLOCK_SIZE - this.pendingLen, bytes.length);
      this.pending.set(bytes.subarray(0, n), this.pendingLen);
      this.pendingLen += n;
      off = n;
      if (this.pendingLen === FSVERITY_BLOCK_SIZE) {
        this.push(0, sha256(this.pending));
        this.pendingLen = 0;
      }
    }
    while (bytes.length - off >= FSVERITY_BLOCK_SIZE) {
      this.push(0, sha256(bytes.subarray(off, off + FSVERITY_BLOCK_SIZE)));
      off += FSVERITY_BLOCK_SIZE;
    }
    if (off < bytes.length) {
      this.pending.set(bytes.subarray(off), 0);
      this.pendingLen = bytes.length - off;
    }
    return this;
  }

  private push(level: number, hash: Buffer): void {
    const l = (this.levels[level] ??= []);
    l.push(hash);
    if (l.length === HASHES_PER_BLOCK) {
      this.levels[level] = [];
      this.push(level + 1, sha256(...l));
    }
  }

  /** The 32-byte fs-verity digest of everything added. */
  digest(): Uint8Array {
    if (this.pendingLen > 0) {
      this.push(0, sha256(this.pending.subarray(0, this.pendingLen), ZERO_BLOCK.subarray(this.pendingLen)));
      this.pendingLen = 0;
    }
    let root: Uint8Array = new Uint8Array(FSVERITY_DIGEST_SIZE);
    if (this.sizeBytes > FSVERITY_BLOCK_SIZE) {
      // Flush partial levels upwards until one hash remains at the top.
      for (let level = 0; ; level++) {
        const l = this.levels[level] ?? [];
        const higher = this.levels.slice(level + 1).some((x) => x && x.length > 0);
        if (!higher && l.length === 1 && level > 0) {
          root = l[0]!;
          break;
        }
        if (l.length > 0) {
          const used = l.length * FSVERITY_DIGEST_SIZE;
          this.levels[level] = [];
          this.push(level + 1, sha256(...l, ZERO_BLOCK.subarray(used)));
        }
      }
    } else if (this.sizeBytes > 0) {
      root = this.levels[0]![0]!;
    }
    const desc = new Uint8Array(256);
    const dv = new DataView(desc.buffer);
    desc[0] = 1; // version
    desc[1] = 1; // hash algorithm: sha256
    desc[2] = 12; // log2 block size
    desc[3] = 0; // salt size
    dv.setBigUint64(8, BigInt(this.sizeBytes), true);
    desc.set(root, 16);
    return new Uint8Array(sha256(desc));
  }
}

/**
 * The fs-verity digest (sha256, 4096-byte blocks) of a file's bytes.
 * @param content the whole file, or an async iterable of its chunks (then a Promise is returned)
 * @see specs/composefs.md §4
 */
export function computeFsVerityDigest(content: Uint8Array): Uint8Array;
export function computeFsVerityDigest(content: AsyncIterable<Uint8Array>): Promise<Uint8Array>;
export function computeFsVerityDigest(
  content: Uint8Array | AsyncIterable<Uint8Array>,
): Uint8Array | Promise<Uint8Array> {
  if (content instanceof Uint8Array) return new FsVerityHasher().update(content).digest();
  return (async () => {
    const h = new FsVerityHasher();
    for await (const chunk of content) h.update(chunk);
    return h.digest();
  })();
}
