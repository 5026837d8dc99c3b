// A store worker thread (plain JavaScript so it runs without a TypeScript loader). It reads a
// file once, hashing it with native streaming BLAKE3 and writing it to a temp file in the store's
// tmp/ directory, then fsyncs and renames it into objects/. Files that fit in one chunk are hashed
// first and written only when absent. It also re-hashes files for `verify`.
// Protocol: {id, op: 'ingest', src, tmpDir, objectsDir, sync} → {id, digest, size, stored}
//           {id, op: 'hash', path} → {id, digest, size}; failures → {id, error: {code, message}}.
// See specs/store.md §6 (ingest).
import { parentPort, threadId } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createHash } from 'blake3';

const CHUNK = 1 << 20;
const buf = Buffer.allocUnsafe(CHUNK);
let counter = 0;
const { O_RDONLY, O_NOFOLLOW, O_WRONLY, O_CREAT, O_EXCL } = fs.constants;

function readFull(fd, at) {
  let n = 0;
  while (n < CHUNK) {
    const r = fs.readSync(fd, buf, n, CHUNK - n, at + n);
    if (r === 0) break;
    n += r;
  }
  return n;
}

function objectPath(objectsDir, hex) {
  return `${objectsDir}/${hex.slice(0, 2)}/${hex.slice(2)}`;
}

function ingest({ src, tmpDir, objectsDir, sync }) {
  const fd = fs.openSync(src, O_RDONLY | O_NOFOLLOW);
  let out = -1;
  let tmp = '';
  try {
    if (!fs.fstatSync(fd).isFile()) throw Object.assign(new Error(`${src}: not a regular file`), { code: 'E6' });
    const h = createHash();
    let size = readFull(fd, 0);
    if (size < CHUNK) {
      // Whole file in one chunk: hash first, write only when the object is absent.
      h.update(buf.subarray(0, size));
      const hex = h.digest('hex');
      const dest = objectPath(objectsDir, hex);
      if (fs.existsSync(dest)) return { digest: `blake3:${hex}`, size, stored: false };
      tmp = `${tmpDir}/${process.pid}.${threadId}.${counter++}.${randomBytes(4).toString('hex')}`;
      out = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o444);
      let w = 0;
      while (w < size) w += fs.writeSync(out, buf, w, size - w);
      return finish(out, tmp, dest, hex, size, sync, () => (out = -1));
    }
    tmp = `${tmpDir}/${process.pid}.${threadId}.${counter++}.${randomBytes(4).toString('hex')}`;
    out = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o444);
    let n = size;
    for (;;) {
      h.update(buf.subarray(0, n));
      let w = 0;
      while (w < n) w += fs.writeSync(out, buf, w, n - w);
      if (n < CHUNK) break;
      n = readFull(fd, size);
      if (n === 0) break;
      size += n;
    }
    const hex = h.digest('hex');
    return finish(out, tmp, objectPath(objectsDir, hex), hex, size, sync, () => (out = -1));
  } catch (e) {
    if (out >= 0) fs.closeSync(out);
    if (tmp) fs.rmSync(tmp, { force: true });
    throw e;
  } finally {
    fs.closeSync(fd);
  }
}

function finish(out, tmp, dest, hex, size, sync, closed) {
  if (sync) fs.fsyncSync(out);
  fs.closeSync(out);
  closed();
  if (fs.existsSync(dest)) {
    fs.rmSync(tmp, { force: true });
    return { digest: `blake3:${hex}`, size, stored: false };
  }
  fs.renameSync(tmp, dest);
  return { digest: `blake3:${hex}`, size, stored: true };
}

function hashFile({ path }) {
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
    return { digest: `blake3:${h.digest('hex')}`, size };
  } finally {
    fs.closeSync(fd);
  }
}

parentPort.on('message', (m) => {
  try {
    const r = m.op === 'hash' ? hashFile(m) : ingest(m);
    parentPort.postMessage({ id: m.id, ...r });
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: { code: e.code ?? 'EIO', message: e.message } });
  }
});
