/**
 * The one world runner's mount options and path check (composer/world-runner.ts with
 * composefs/mount.ts), as `eos run`, the build sandbox and `eos mount` all use them: the same
 * refused characters, the image's ACL flag honoured, `verity=require` on request.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkOverlayPath,
  composefsRootCommand,
  erofsMountOptions,
  overlayMountOptions,
} from '../../composer/index.ts';
import { CFS_FLAG_HAS_ACL, CFS_MAGIC, HDR_FLAGS, HDR_MAGIC } from '../../composer/composefs/format.ts';

const dir = mkdtempSync(join(tmpdir(), 'eos-world-runner-'));

/** A file with a composefs header (magic and flags): all the runner reads of an image. */
function header(flags: number): string {
  const b = Buffer.alloc(32);
  b.writeUInt32LE(CFS_MAGIC, HDR_MAGIC);
  b.writeUInt32LE(flags, HDR_FLAGS);
  const p = join(dir, `image-${flags}.cfs`);
  writeFileSync(p, b);
  return p;
}

describe('the one set of composefs mount options', () => {
  it.each([',', ':', '\\', ' ', '\t', '\n'])('refuses a path holding %j (E23)', (c) => {
    expect(() => checkOverlayPath(`/store${c}x/objects`, 'objects directory')).toThrow(
      /^\[E23\] objects directory \/store.x\/objects: a path with/s,
    );
    expect(() => overlayMountOptions(['/a'], `/store${c}x`)).toThrow(/^\[E23\] /);
  });

  it('spells the overlay and EROFS options once', () => {
    expect(overlayMountOptions(['/m/stub', '/m/meta'], '/s/objects')).toBe(
      'ro,lowerdir=/m/stub:/m/meta::/s/objects,redirect_dir=on,metacopy=on',
    );
    expect(overlayMountOptions(['/m/meta'], '/s/objects', { requireVerity: true })).toBe(
      'ro,lowerdir=/m/meta::/s/objects,redirect_dir=on,metacopy=on,verity=require',
    );
    expect(erofsMountOptions(false)).toBe('ro,loop,noacl');
    expect(erofsMountOptions(true)).toBe('ro,loop');
  });

  it('the namespace command honours the image ACL flag and verity=require', async () => {
    const how = {
      mnt: '/tmp/m',
      mountPoints: ['proc', 'dev'],
      source: 'eos-test',
      command: (v: string) => ['run', v],
    };
    const [cmd, args] = await composefsRootCommand({ image: header(0), objectsDir: '/s/objects' }, how);
    expect(cmd).toBe('setpriv');
    expect(args.slice(0, 8)).toEqual([
      '--pdeathsig',
      'KILL',
      'unshare',
      '--mount',
      '--fork',
      '--kill-child=SIGKILL',
      '--propagation',
      'private',
    ]);
    expect(args.slice(-9)).toEqual([
      '/tmp/m',
      'proc dev',
      'ro,lowerdir=/tmp/m/stub:/tmp/m/meta0::/s/objects,redirect_dir=on,metacopy=on',
      'eos-test',
      '1',
      header(0),
      'ro,loop,noacl',
      'run',
      '/tmp/m/root',
    ]);
    // Layer images, highest first, over the image: one EROFS mount each, all lower layers.
    const layered = await composefsRootCommand(
      { image: header(0), layers: [header(CFS_FLAG_HAS_ACL), header(0)], objectsDir: '/s/objects' },
      how,
    );
    expect(layered[1].slice(-13)).toEqual([
      '/tmp/m',
      'proc dev',
      'ro,lowerdir=/tmp/m/stub:/tmp/m/meta0:/tmp/m/meta1:/tmp/m/meta2::/s/objects,redirect_dir=on,metacopy=on',
      'eos-test',
      '3',
      header(CFS_FLAG_HAS_ACL),
      'ro,loop',
      header(0),
      'ro,loop,noacl',
      header(0),
      'ro,loop,noacl',
      'run',
      '/tmp/m/root',
    ]);
    const acl = await composefsRootCommand(
      { image: header(CFS_FLAG_HAS_ACL), objectsDir: '/s/objects', requireVerity: true },
      how,
    );
    expect(acl[1]).toContain('ro,loop');
    expect(acl[1]).not.toContain('ro,loop,noacl');
    expect(acl[1]).toContain(
      'ro,lowerdir=/tmp/m/stub:/tmp/m/meta0::/s/objects,redirect_dir=on,metacopy=on,verity=require',
    );
    await expect(
      composefsRootCommand({ image: join(dir, 'none.cfs'), objectsDir: '/s' }, how),
    ).rejects.toThrow(/^\[E23\] open /);
  });
});
