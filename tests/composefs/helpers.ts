/** Shared helpers of the composefs tests: vector paths, fsck, tree normalization. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { CfsInode, ComposefsTree } from '../../composer/composefs/index.ts';

export const repoRoot = join(import.meta.dirname, '..', '..');
export const vectorsDir = join(repoRoot, '..', 'shared', 'vectors', 'composefs');

export interface Vector {
  name: string;
  path: string;
  bytes: Uint8Array;
  sha256: string;
  version: number | undefined;
}

/** Every golden vector: `NAME.dump` or `NAME.dump.gz` with `.sha256` and optional `.version`. */
export function vectors(): Vector[] {
  return readdirSync(vectorsDir)
    .filter((f) => /\.dump(\.gz)?$/.test(f))
    .sort()
    .map((name) => {
      const path = join(vectorsDir, name);
      let bytes: Uint8Array = readFileSync(path);
      if (name.endsWith('.gz')) bytes = gunzipSync(bytes);
      const sha256 = readFileSync(path + '.sha256', 'utf8')
        .trim()
        .split(/\s+/)[0]!;
      const vf = path + '.version';
      const version = existsSync(vf) ? Number(readFileSync(vf, 'utf8').trim()) : undefined;
      return { name, path, bytes, sha256, version };
    });
}

/** Runs `fsck.erofs` (and with `extract`, `fsck.erofs --extract`, which reads every file). */
export function fsck(image: string, extract = true): { ok: boolean; output: string } {
  const r = spawnSync('fsck.erofs', extract ? ['--extract', image] : [image], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

/** Installs the machine packages the tests need (erofs-utils, fsverity) when running as root. */
export function setup(): void {
  if (process.getuid?.() === 0)
    execFileSync('bash', [join(repoRoot, 'scripts', 'setup.sh')], { stdio: 'inherit' });
}

/**
 * What an image keeps of a tree (specs/composefs.md §6): directory nlink = 2 + subdirectories,
 * directory sizes not compared (set to 0), modes as 16 bits, a user whiteout's size 0, payload and
 * digest only on external regular files. Returns a normalized deep copy.
 */
export function normalizeForImage(tree: ComposefsTree): CfsInode {
  const copies = new Map<CfsInode, CfsInode>();
  const copy = (n: CfsInode): CfsInode => {
    const prev = copies.get(n);
    if (prev) return prev;
    const c: CfsInode = { ...n, xattrs: [...n.xattrs], entries: null };
    copies.set(n, c);
    c.mode = n.mode & 0xffff;
    const type = c.mode & 0o170000;
    if (type === 0o040000) c.sizeBytes = 0;
    if (type === 0o020000 && c.rdev === 0) c.sizeBytes = 0;
    const external = type === 0o100000 && !c.content && c.sizeBytes > 0;
    if (!external && type !== 0o120000) c.payload = null;
    if (!external) c.fsverityDigest = null;
    if (external && c.payload && c.payload.length === 0) c.payload = null;
    if (n.entries) {
      c.entries = n.entries.map((e) => ({ ...e, inode: copy(e.inode) }));
      c.nlink = 2 + n.entries.filter((e) => !e.hardlink && (e.inode.mode & 0o170000) === 0o040000).length;
    }
    return c;
  };
  return copy(tree.root);
}
