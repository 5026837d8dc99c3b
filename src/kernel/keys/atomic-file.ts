/**
 * Atomic file writes for key files and the trust policy (I/O): write a temporary file in the same
 * directory, created with its final mode from the start (`O_CREAT|O_EXCL`, so a secret is never
 * readable by others, not even for an instant), fsync it, then move it into place and fsync the
 * directory. A crash at any point leaves either the old file or the new one, plus at most a
 * dot-named temporary file that readers ignore.
 */
import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** File mode, e.g. `0o600`; the file is created with it (the umask can only narrow it). */
  mode: number;
  /** When false, fail with `EEXIST` if the target exists (link instead of rename). */
  overwrite: boolean;
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes `data` to `path` atomically.
 * @throws the OS error (`EEXIST` when `overwrite` is false and `path` exists)
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  opts: AtomicWriteOptions,
): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', opts.mode);
  let placed = false;
  try {
    await fh.chmod(opts.mode);
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    if (opts.overwrite) {
      await rename(tmp, path);
      placed = true;
    } else {
      await link(tmp, path);
      await unlink(tmp);
      placed = true;
    }
    await fsyncDir(dir);
  } catch (e) {
    await fh.close().catch(() => undefined);
    if (!placed) await unlink(tmp).catch(() => undefined);
    throw e;
  }
}
