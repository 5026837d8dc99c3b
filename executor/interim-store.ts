/**
 * A small filesystem store implementing `BuildStore` while the kernel's `Store` is not yet in
 * main. Layout: blobs at `objects/<2 hex>/<62 hex>` (mode 0444, mtime 1 s), executable variants
 * of the same bytes at `xobjects/…` (mode 0555) so hard links keep the executable bit, trees at
 * `trees/<2 hex>/<62 hex>` (their canonical bytes), roots at `roots/<name>` (a digest per file).
 * A tree is the canonical JSON `{version: 1, entries: [{name, kind, digest, size, executable}]}`
 * with entries sorted by name (UTF-8 bytes); a symlink's digest is that of its target's bytes.
 *
 * @see specs/executor.md §1
 */
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import {
  createDigester,
  digestBytes,
  digestCanonical,
  digestHex,
  encodeCanonical,
  parseCanonical,
  NotFoundError,
  UnsafePathError,
  UnsupportedFileError,
  type Digest,
} from '../src/index.ts';
import type { BuildStore, IngestResult, TreeEntry } from './store-port.ts';

const FIXED_MTIME_S = 1;
let tmpCounter = 0;

/** The interim filesystem store (see the module comment). */
export class InterimStore implements BuildStore {
  /** @param dir the store's root directory (created on first write) */
  constructor(readonly dir: string) {}

  private objPath(d: Digest, exec: boolean): string {
    const h = digestHex(d);
    return join(this.dir, exec ? 'xobjects' : 'objects', h.slice(0, 2), h.slice(2));
  }

  private treePath(d: Digest): string {
    const h = digestHex(d);
    return join(this.dir, 'trees', h.slice(0, 2), h.slice(2));
  }

  /** The path of a blob's (non-executable) object file. */
  blobPath(d: Digest): string {
    return this.objPath(d, false);
  }

  async has(d: Digest): Promise<boolean> {
    for (const p of [this.objPath(d, false), this.treePath(d)]) {
      try {
        await fs.access(p);
        return true;
      } catch {
        /* absent */
      }
    }
    return false;
  }

  private async writeAtomic(path: string, bytes: Uint8Array, mode: number): Promise<void> {
    await fs.mkdir(join(path, '..'), { recursive: true });
    const tmp = `${path}.tmp-${process.pid}-${tmpCounter++}`;
    const fh = await fs.open(tmp, 'w', mode);
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.chmod(tmp, mode);
    await fs.utimes(tmp, FIXED_MTIME_S, FIXED_MTIME_S);
    await fs.rename(tmp, path);
  }

  private async exists(p: string): Promise<boolean> {
    try {
      await fs.access(p);
      return true;
    } catch {
      return false;
    }
  }

  async putBlob(bytes: Uint8Array): Promise<Digest> {
    const d = digestBytes(bytes);
    const p = this.objPath(d, false);
    if (!(await this.exists(p))) await this.writeAtomic(p, bytes, 0o444);
    return d;
  }

  /** Stores a file's bytes (streamed when large) as a blob. */
  private async putFile(path: string, exec: boolean): Promise<{ digest: Digest; size: number }> {
    const st = await fs.stat(path);
    let d: Digest;
    let bytes: Buffer | undefined;
    if (st.size <= 64 << 20) {
      bytes = await fs.readFile(path);
      d = digestBytes(bytes);
    } else {
      const h = createDigester();
      for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
      d = h.digest();
    }
    const p = this.objPath(d, false);
    if (!(await this.exists(p))) {
      if (bytes) await this.writeAtomic(p, bytes, 0o444);
      else {
        await fs.mkdir(join(p, '..'), { recursive: true });
        const tmp = `${p}.tmp-${process.pid}-${tmpCounter++}`;
        await fs.copyFile(path, tmp);
        await fs.chmod(tmp, 0o444);
        await fs.utimes(tmp, FIXED_MTIME_S, FIXED_MTIME_S);
        await fs.rename(tmp, p);
      }
    }
    if (exec) {
      const x = this.objPath(d, true);
      if (!(await this.exists(x))) {
        await fs.mkdir(join(x, '..'), { recursive: true });
        const tmp = `${x}.tmp-${process.pid}-${tmpCounter++}`;
        await fs.copyFile(p, tmp);
        await fs.chmod(tmp, 0o555);
        await fs.utimes(tmp, FIXED_MTIME_S, FIXED_MTIME_S);
        await fs.rename(tmp, x);
      }
    }
    return { digest: d, size: st.size };
  }

  /** Stores a tree object and returns its digest. */
  async putTree(entries: TreeEntry[]): Promise<Digest> {
    const sorted = [...entries].sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
    const value = { version: 1, entries: sorted };
    const d = digestCanonical(value);
    const p = this.treePath(d);
    if (!(await this.exists(p))) await this.writeAtomic(p, encodeCanonical(value), 0o444);
    return d;
  }

  /** Reads a tree's entries. @throws NotFoundError E4 */
  async getTree(d: Digest): Promise<TreeEntry[]> {
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(this.treePath(d));
    } catch {
      throw new NotFoundError(`tree ${d} is not in the store ${this.dir}`, { data: { digest: d } });
    }
    const v = parseCanonical(bytes, `tree ${d}`) as unknown as { entries: TreeEntry[] };
    return v.entries;
  }

  private async ingestDir(dir: string): Promise<Digest> {
    const names = await fs.readdir(dir);
    const entries: TreeEntry[] = [];
    for (const name of names) {
      const p = join(dir, name);
      const st = await fs.lstat(p);
      if (st.isSymbolicLink()) {
        const target = await fs.readlink(p);
        const d = await this.putBlob(Buffer.from(target));
        entries.push({
          name,
          kind: 'symlink',
          digest: d,
          sizeBytes: Buffer.byteLength(target),
          executable: false,
        });
      } else if (st.isDirectory()) {
        entries.push({ name, kind: 'dir', digest: await this.ingestDir(p), sizeBytes: 0, executable: false });
      } else if (st.isFile()) {
        const exec = (st.mode & 0o111) !== 0;
        const { digest, size } = await this.putFile(p, exec);
        entries.push({ name, kind: 'file', digest, sizeBytes: size, executable: exec });
      } else {
        throw new UnsupportedFileError(`${p}: a socket, device or FIFO cannot be stored`, {
          data: { path: p },
        });
      }
    }
    return this.putTree(entries);
  }

  async ingest(path: string): Promise<IngestResult> {
    const st = await fs.lstat(path);
    if (st.isDirectory()) return { digest: await this.ingestDir(path), kind: 'tree' };
    if (st.isSymbolicLink())
      return { digest: await this.putBlob(Buffer.from(await fs.readlink(path))), kind: 'symlink' };
    if (st.isFile())
      return { digest: (await this.putFile(path, (st.mode & 0o111) !== 0)).digest, kind: 'file' };
    throw new UnsupportedFileError(`${path}: a socket, device or FIFO cannot be stored`, { data: { path } });
  }

  async materialize(tree: Digest, dir: string): Promise<void> {
    await fs.mkdir(dir, { recursive: true });
    for (const e of await this.getTree(tree)) {
      if (e.name === '' || e.name === '.' || e.name === '..' || e.name.includes('/') || e.name.includes('\0'))
        throw new UnsafePathError(`tree ${tree}: entry name ${JSON.stringify(e.name)} is unsafe`);
      const p = join(dir, e.name);
      if (e.kind === 'dir') await this.materialize(e.digest, p);
      else if (e.kind === 'symlink')
        await fs.symlink((await fs.readFile(this.blobPath(e.digest))).toString(), p);
      else {
        const src = this.objPath(e.digest, e.executable);
        try {
          await fs.link(src, p);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
          await fs.copyFile(src, p);
          await fs.chmod(p, e.executable ? 0o755 : 0o644);
        }
      }
    }
  }

  async addRoot(name: string, d: Digest): Promise<void> {
    await this.writeAtomic(join(this.dir, 'roots', name), Buffer.from(d + '\n'), 0o644);
  }
}
