import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeImage, mountImage, treeFromDirectory, unmountImage } from '../../composer/composefs/index.ts';
import { fsck, setup } from './helpers.ts';
import { materialize, randomTree } from './random-tree.ts';

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('composefs mount test skipped: mounting erofs and overlayfs needs root');

interface Seen {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeNs: bigint;
  nlink: number;
  data: string;
}

/** Everything the test compares, by relative path. */
function snapshot(root: string): Map<string, Seen> {
  const out = new Map<string, Seen>();
  const walk = (rel: string) => {
    const p = join(root, rel);
    const st = lstatSync(p, { bigint: true });
    const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other';
    let data = '';
    if (type === 'file') data = createHash('sha256').update(readFileSync(p)).digest('hex');
    if (type === 'symlink') data = readlinkSync(p, { encoding: 'buffer' }).toString('hex');
    if (type === 'dir') data = readdirSync(p).sort().join('\0');
    out.set(rel || '/', {
      type,
      mode: Number(st.mode),
      uid: Number(st.uid),
      gid: Number(st.gid),
      size: type === 'dir' ? 0 : Number(st.size),
      mtimeNs: st.mtimeNs,
      nlink: Number(st.nlink),
      data,
    });
    if (type === 'dir') for (const n of readdirSync(p)) walk(rel ? `${rel}/${n}` : n);
  };
  walk('');
  return out;
}

describe.skipIf(!isRoot)('composefs kernel mount', () => {
  let work: string;
  beforeAll(() => {
    setup();
    work = mkdtempSync(join(tmpdir(), 'eos-cfs-mount-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  for (const [seed, files] of [
    [1, 3000],
    [2, 800],
  ] as const) {
    it(`mounts a random tree (seed ${seed}, ${files} files) that equals its source`, async () => {
      const src = join(work, `src${seed}`);
      const objects = join(work, `objects${seed}`);
      const mnt = join(work, `mnt${seed}`);
      const image = join(work, `image${seed}.cfs`);
      mkdirSync(src);
      mkdirSync(mnt);
      const nodes = randomTree({ files, seed, awkward: true });
      materialize(nodes, src, seed, true);
      const tree = await treeFromDirectory(src, { objectsDir: objects });
      writeFileSync(image, encodeImage(tree));
      const f = fsck(image);
      expect(f.output).toBe('');
      expect(f.ok).toBe(true);
      // objects are named by their fs-verity digest: xx/yyyy…
      const objDirs = readdirSync(objects);
      expect(objDirs.every((d) => /^[0-9a-f]{2}$/.test(d))).toBe(true);
      const want = snapshot(src);
      let got: Map<string, Seen> | undefined;
      await mountImage(image, objects, mnt);
      try {
        got = snapshot(mnt);
      } finally {
        await unmountImage(mnt);
      }
      expect(execFileSync('losetup', ['-j', image], { encoding: 'utf8' })).toBe('');
      expect(readdirSync(mnt)).toEqual([]);
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      let compared = 0;
      for (const [path, w] of want) {
        const g = got.get(path)!;
        expect({ path, ...g }).toEqual({ path, ...w });
        compared++;
      }
      expect(compared).toBeGreaterThan(files);
      const kinds = new Set([...want.values()].map((v) => v.type));
      expect([...kinds].sort()).toEqual(['dir', 'file', 'symlink']);
      // 3,000 files written, ingested, imaged and mounted: 92 s on a CI machine at load 20.
    }, 900_000);
  }

  it('reports a failed mount as E23 and leaves nothing mounted', async () => {
    const mnt = join(work, 'mnt-bad');
    mkdirSync(mnt);
    const img = join(work, 'not-an-image');
    writeFileSync(img, 'x'.repeat(8192));
    await expect(mountImage(img, work, mnt)).rejects.toThrow(/\[E23\]/);
    await expect(unmountImage(mnt)).rejects.toThrow(/\[E23\]/);
  });
});
