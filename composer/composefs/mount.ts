/**
 * Mounting composefs images with the kernel (I/O): the EROFS image is loop-mounted read-only
 * (with `noacl` unless the header says HAS_ACL) on a private temporary directory, then overlayfs
 * is mounted at the target with `lowerdir=<erofs>::<objects>` (the objects directory as a
 * data-only lower layer), `redirect_dir=on,metacopy=on`; the EROFS mount is then detached, so
 * the overlay holds the only reference and {@link unmountImage} is one `umount`.
 * Needs root (CAP_SYS_ADMIN) and a kernel with data-only lower layers (≥ 6.5).
 *
 * @see specs/composefs.md §8
 */
import { execFile } from 'node:child_process';
import { mkdtemp, open, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MountError } from '../../src/kernel/index.ts';
import { CFS_FLAG_HAS_ACL, CFS_MAGIC, HDR_FLAGS, HDR_MAGIC } from './format.ts';

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((ok, fail) => {
    execFile(cmd, args, { encoding: 'utf8' }, (err, _stdout, stderr) => {
      if (err)
        fail(new MountError(`${cmd} ${args.join(' ')}: ${(stderr || err.message).trim()}`, { cause: err }));
      else ok();
    });
  });
}

function checkOptionPath(p: string, what: string): void {
  if (/[,:\\\n]/.test(p))
    throw new MountError(`${what} ${p}: paths with ',', ':' or '\\' cannot be passed as overlay options`);
}

/** Options of {@link mountImage}. */
export interface MountOptions {
  /** Pass `verity=require` to overlayfs (needs fs-verity on the objects' filesystem). */
  requireVerity?: boolean;
}

/**
 * Mounts a composefs image read-only at `target`, its files backed by `objectsDir`.
 * @param image path of the image file
 * @param objectsDir the directory the redirects (`/xx/yyyy…`) are relative to
 * @param target an existing empty directory
 * @throws MountError E23 naming the failed mount command and the kernel's message
 */
export async function mountImage(
  image: string,
  objectsDir: string,
  target: string,
  options: MountOptions = {},
): Promise<void> {
  const img = resolve(image);
  const objects = resolve(objectsDir);
  const tgt = resolve(target);
  let hasAcl = false;
  try {
    const fh = await open(img, 'r');
    try {
      const head = Buffer.alloc(32);
      await fh.read(head, 0, 32, 0);
      if (head.readUInt32LE(HDR_MAGIC) !== CFS_MAGIC) throw new MountError(`${img}: not a composefs image`);
      hasAcl = (head.readUInt32LE(HDR_FLAGS) & CFS_FLAG_HAS_ACL) !== 0;
    } finally {
      await fh.close();
    }
  } catch (e) {
    if (e instanceof MountError) throw e;
    throw new MountError(`open ${img}: ${(e as Error).message}`, { cause: e });
  }
  const erofsDir = await mkdtemp(join(tmpdir(), 'eos-erofs-'));
  checkOptionPath(erofsDir, 'erofs mount point');
  checkOptionPath(objects, 'objects directory');
  let erofsMounted = false;
  try {
    await run('mount', ['-t', 'erofs', '-o', hasAcl ? 'ro,loop' : 'ro,loop,noacl', img, erofsDir]);
    erofsMounted = true;
    const opts = [`lowerdir=${erofsDir}::${objects}`, 'redirect_dir=on', 'metacopy=on'];
    if (options.requireVerity) opts.push('verity=require');
    await run('mount', ['-t', 'overlay', 'composefs', '-o', opts.join(','), tgt]);
  } finally {
    if (erofsMounted) await run('umount', ['-l', erofsDir]).catch(() => undefined);
    await rmdir(erofsDir).catch(() => undefined);
  }
}

/**
 * Unmounts an image mounted by {@link mountImage} (the loop device is released with it).
 * @throws MountError E23
 */
export async function unmountImage(target: string): Promise<void> {
  await run('umount', [resolve(target)]);
}
