/**
 * Mounting composefs images with the kernel (I/O), and the one place that spells their mount
 * options and checks the paths that go into them. An image is the EROFS metadata image,
 * loop-mounted read-only (with `noacl` unless the header says HAS_ACL), under an overlayfs with
 * `lowerdir=<layers…>::<objects>` (the store's object directory as a data-only lower layer),
 * `redirect_dir=on,metacopy=on` and, on request, `verity=require`.
 *
 * `mountImage` mounts one at a target in the caller's mount namespace: the EROFS mount on a
 * private temporary directory, then the overlay, then the EROFS mount detached so the overlay holds
 * the only reference and {@link unmountImage} is one `umount`. The private-namespace runner
 * (`world-runner.ts`: `eos run`, the build sandbox) uses the same options.
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

/**
 * Refuses a path that cannot be written into overlayfs's options: `,` separates options, `:`
 * layers, `\` escapes, and whitespace is split by the kernel's option parser and by shells.
 * @param what names the path in the error (e.g. `objects directory`)
 * @throws MountError E23 naming the path
 */
export function checkOverlayPath(p: string, what: string): void {
  if (/[,:\\\s]/.test(p))
    throw new MountError(
      `${what} ${p}: a path with ",", ":", "\\" or whitespace cannot be an overlay option`,
      {
        data: { path: p },
        hint: 'use a store (and temporary) directory without those characters',
      },
    );
}

/** How an image is to be mounted: what its header says and what the caller asks. */
export interface MountOptions {
  /** Pass `verity=require` to overlayfs (needs fs-verity on the objects' filesystem). */
  requireVerity?: boolean;
}

/**
 * Whether the image's header has the HAS_ACL flag (then EROFS is mounted with ACLs).
 * @throws MountError E23 when the file cannot be read or is not a composefs image
 */
export async function imageHasAcl(image: string): Promise<boolean> {
  const img = resolve(image);
  try {
    const fh = await open(img, 'r');
    try {
      const head = Buffer.alloc(32);
      await fh.read(head, 0, 32, 0);
      if (head.readUInt32LE(HDR_MAGIC) !== CFS_MAGIC) throw new MountError(`${img}: not a composefs image`);
      return (head.readUInt32LE(HDR_FLAGS) & CFS_FLAG_HAS_ACL) !== 0;
    } finally {
      await fh.close();
    }
  } catch (e) {
    if (e instanceof MountError) throw e;
    throw new MountError(`open ${img}: ${(e as Error).message}`, { cause: e });
  }
}

/** The EROFS mount options of an image: `ro,loop`, plus `noacl` unless the header says HAS_ACL. */
export function erofsMountOptions(hasAcl: boolean): string {
  return hasAcl ? 'ro,loop' : 'ro,loop,noacl';
}

/**
 * The overlayfs mount options of a composefs view: read-only, the `layers` (uppermost first; the
 * EROFS mount last) over the data-only `objectsDir`, redirects and metacopy on, `verity=require`
 * when asked. Every path is checked with {@link checkOverlayPath}.
 * @throws MountError E23 for a path that cannot be an option
 */
export function overlayMountOptions(
  layers: readonly string[],
  objectsDir: string,
  opts: MountOptions = {},
): string {
  for (const l of layers) checkOverlayPath(l, 'overlay layer');
  checkOverlayPath(objectsDir, 'objects directory');
  const o = ['ro', `lowerdir=${layers.join(':')}::${objectsDir}`, 'redirect_dir=on', 'metacopy=on'];
  if (opts.requireVerity) o.push('verity=require');
  return o.join(',');
}

/**
 * Mounts a composefs image read-only at `target`, its files backed by `objectsDir`.
 * @param image path of the image file
 * @param objectsDir the directory the redirects (`/xx/yyyy…`) are relative to
 * @param target an existing empty directory
 * @throws MountError E23 naming the failed mount command and the kernel's message, or a path
 *   that cannot be an overlay option
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
  const hasAcl = await imageHasAcl(img);
  const erofsDir = await mkdtemp(join(tmpdir(), 'eos-erofs-'));
  let erofsMounted = false;
  try {
    const overlay = overlayMountOptions([erofsDir], objects, options);
    await run('mount', ['-t', 'erofs', '-o', erofsMountOptions(hasAcl), img, erofsDir]);
    erofsMounted = true;
    await run('mount', ['-t', 'overlay', 'composefs', '-o', overlay, tgt]);
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
