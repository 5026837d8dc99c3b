/**
 * The file operations of an ingest, run by a store worker thread (ingest-worker.ts) or inline on
 * the calling thread for small ingests (pool.ts). Files that fit in one 1 MiB chunk are read,
 * hashed with native BLAKE3 and written to a temp file in the store's tmp/ directory only when
 * their object is absent. Larger files are copied to a temp file by the kernel (copy_file_range)
 * and the copy is hashed in 1 MiB chunks, so the digest is of exactly the bytes stored and no file
 * is held whole in memory. Then fsync + rename into objects/ (or, with `stage`, both left to the
 * caller: the temp file stays in tmp/, unsynced and unrenamed, returned as `tmp`, for the caller to
 * make durable in one batch, specs/store.md §6.5). With `probe`, a larger file is hashed from the
 * source first and not copied if already stored. `hashOne` re-hashes a file for `verify`.
 * Every call is synchronous: a worker runs one at a time; the inline path blocks only briefly.
 * @see specs/store.md §6 (ingest)
 */
import { threadId } from 'node:worker_threads';
import { randomHex } from '../random-hex.ts';
import fs from 'node:fs';
import { loadBlake3 } from '../blake3-load.mjs';

// The same implementation as the main thread (native, else WebAssembly), loaded before any work.
const blake3 = await loadBlake3();
if (!blake3.impl)
  throw new Error(`[E25] no BLAKE3 implementation could be loaded: ${blake3.errors.join('; ')}`);
const { createHash } = blake3.impl;
import type { Digest } from '../digest.ts';
import type { IngestJob, HashJob, WorkerResult } from './pool.ts';

const CHUNK = 1 << 20;
const HAVE_PROC = fs.existsSync('/proc/self/fd');
const buf = Buffer.allocUnsafe(CHUNK);
let counter = 0;
const { O_RDONLY, O_NOFOLLOW, O_WRONLY, O_CREAT, O_EXCL } = fs.constants;

function readFull(fd: number, at: number): number {
  let n = 0;
  while (n < CHUNK) {
    const r = fs.readSync(fd, buf, n, CHUNK - n, at + n);
    if (r === 0) break;
    n += r;
  }
  return n;
}

function objectPath(objectsDir: string, hex: string): string {
  return `${objectsDir}/${hex.slice(0, 2)}/${hex.slice(2)}`;
}

export function ingestOne({ src, tmpDir, objectsDir, sync, stage, probe }: IngestJob): WorkerResult {
  const fd = fs.openSync(src, O_RDONLY | O_NOFOLLOW);
  let out = -1;
  let tmp = '';
  try {
    if (!fs.fstatSync(fd).isFile())
      throw Object.assign(new Error(`${src}: not a regular file`), { code: 'E6' });
    let h = createHash();
    const size = readFull(fd, 0);
    if (size < CHUNK) {
      // Whole file in one chunk: hash first, write only when the object is absent.
      h.update(buf.subarray(0, size));
      const hex = h.digest('hex');
      const dest = objectPath(objectsDir, hex);
      if (fs.existsSync(dest)) return { digest: `blake3:${hex}` as Digest, size, stored: false };
      tmp = `${tmpDir}/${process.pid}.${threadId}.${counter++}.${randomHex(4)}`;
      out = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o444);
      let w = 0;
      while (w < size) w += fs.writeSync(out, buf, w, size - w);
      return finish(out, tmp, dest, hex, size, sync, stage, () => (out = -1));
    }
    if (probe) {
      // Content seen before is likely (this ingest already met stored objects): hash the source
      // first and skip the copy when its object exists. The digest is of the bytes just read.
      let at = size;
      h.update(buf.subarray(0, size));
      for (;;) {
        const n = readFull(fd, at);
        if (n === 0) break;
        h.update(buf.subarray(0, n));
        at += n;
        if (n < CHUNK) break;
      }
      const hex = h.digest('hex');
      if (fs.existsSync(objectPath(objectsDir, hex)))
        return { digest: `blake3:${hex}` as Digest, size: at, stored: false };
      h = createHash();
    }
    tmp = `${tmpDir}/${process.pid}.${threadId}.${counter++}.${randomHex(4)}`;
    {
      // Larger files: copy in the kernel (copy_file_range), then hash the copy: the digest is of
      // exactly the bytes stored, read back from the page cache in 1 MiB chunks.
      // Copy from the file already opened (O_NOFOLLOW), not from a path that may have changed.
      fs.copyFileSync(HAVE_PROC ? `/proc/self/fd/${fd}` : src, tmp, fs.constants.COPYFILE_EXCL);
      fs.chmodSync(tmp, 0o444);
      out = fs.openSync(tmp, O_RDONLY);
      let at = 0;
      for (;;) {
        const n = readFull(out, at);
        if (n === 0) break;
        h.update(buf.subarray(0, n));
        at += n;
        if (n < CHUNK) break;
      }
      const hex = h.digest('hex');
      return finish(out, tmp, objectPath(objectsDir, hex), hex, at, sync, stage, () => (out = -1));
    }
  } catch (e) {
    if (out >= 0) fs.closeSync(out);
    if (tmp) fs.rmSync(tmp, { force: true });
    throw e;
  } finally {
    fs.closeSync(fd);
  }
}

function finish(
  out: number,
  tmp: string,
  dest: string,
  hex: string,
  size: number,
  sync: boolean,
  stage: boolean,
  closed: () => void,
): WorkerResult {
  if (sync && !stage) fs.fsyncSync(out);
  fs.closeSync(out);
  closed();
  if (fs.existsSync(dest)) {
    fs.rmSync(tmp, { force: true });
    return { digest: `blake3:${hex}` as Digest, size, stored: false };
  }
  if (stage) return { digest: `blake3:${hex}` as Digest, size, stored: true, tmp };
  try {
    fs.renameSync(tmp, dest);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    fs.mkdirSync(dest.slice(0, dest.lastIndexOf('/')), { recursive: true });
    fs.renameSync(tmp, dest);
  }
  return { digest: `blake3:${hex}` as Digest, size, stored: true };
}

export function hashOne({ path }: HashJob): WorkerResult {
  const fd = fs.openSync(path, O_RDONLY | O_NOFOLLOW);
  try {
    const h = createHash();
    let size = 0;
    for (;;) {
      const n = readFull(fd, size);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      size += n;
      if (n < CHUNK) break;
    }
    return { digest: `blake3:${h.digest('hex')}` as Digest, size };
  } finally {
    fs.closeSync(fd);
  }
}
