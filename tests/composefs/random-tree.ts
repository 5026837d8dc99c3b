/**
 * Deterministic random directory trees for the composefs mount test and the image benchmark:
 * thousands of files, directories spanning several blocks, names up to 255 bytes and names that
 * sort around `.`, symlinks up to 4095 bytes, executable bits, empty files, hard links, odd owners
 * and sub-second mtimes. `materialize` writes one to disk.
 */
import {
  chownSync,
  lchownSync,
  linkSync,
  lutimesSync,
  mkdirSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/** A seeded PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Node =
  | { kind: 'dir'; path: string; mode: number }
  | { kind: 'file'; path: string; mode: number; size: number; seed: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'hardlink'; path: string; to: string };

export interface TreeOptions {
  files: number;
  seed: number;
  /** Largest file (bytes). */
  maxFileBytes?: number;
  /** Whether to include the awkward cases (long names, big directories, long symlinks). */
  awkward?: boolean;
}

const CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-+~ ,=@';
const SPECIAL = ['+b', '-a', '.a', '0', '..a', 'a.', '~', 'z', '.hidden', ' lead', 'ab', 'é', '日本'];

/** Generates the node list of a random tree (parents before children). */
export function randomTree(opts: TreeOptions): Node[] {
  const r = rng(opts.seed);
  const int = (n: number) => Math.floor(r() * n);
  const nodes: Node[] = [];
  const dirs: string[] = [''];
  const files: string[] = [];
  const used = new Set<string>();
  const name = (len: number): string => {
    let s = '';
    for (let i = 0; i < len; i++) s += CHARS[int(CHARS.length)];
    if (s === '.' || s === '..') s += 'x';
    return s;
  };
  const add = (parent: string, n: string): string | null => {
    const p = `${parent}/${n}`;
    if (used.has(p)) return null;
    used.add(p);
    return p;
  };
  const modes = [0o644, 0o755, 0o600, 0o700, 0o444, 0o750, 0o640];
  const mkdir = (parent: string, n: string) => {
    const p = add(parent, n);
    if (!p) return;
    nodes.push({ kind: 'dir', path: p, mode: r() < 0.8 ? 0o755 : 0o700 });
    dirs.push(p);
  };
  const maxBytes = opts.maxFileBytes ?? 300_000;
  const mkfile = (parent: string, n: string) => {
    const p = add(parent, n);
    if (!p) return;
    const x = r();
    const size =
      x < 0.2
        ? 0
        : x < 0.45
          ? 1 + int(64)
          : x < 0.9
            ? 65 + int(20_000)
            : x < 0.95
              ? 4096 * (1 + int(8))
              : int(maxBytes);
    nodes.push({ kind: 'file', path: p, mode: modes[int(modes.length)]!, size, seed: int(2 ** 31) });
    files.push(p);
  };
  // Directory skeleton.
  const nDirs = Math.max(5, Math.floor(opts.files / 60));
  for (let i = 0; i < nDirs; i++) mkdir(dirs[int(dirs.length)]!, name(1 + int(12)));
  if (opts.awkward) {
    for (const s of SPECIAL) mkfile('', s);
    mkdir('', 'wide');
    mkdir('', 'long-names');
    mkdir('', 'links');
    for (const s of SPECIAL) mkfile('/wide', s);
    for (let i = 0; i < Math.min(2000, opts.files / 3); i++) mkfile('/wide', `f${i}`);
    for (let i = 0; i < 300; i++) mkfile('/long-names', name(100 + int(156)));
    mkfile('/long-names', 'n'.repeat(255));
    for (let i = 0; i < 100; i++) {
      const len = i === 0 ? 4095 : i === 1 ? 1 : 1 + int(4095);
      const p = add('/links', `l${i}`);
      if (p) nodes.push({ kind: 'symlink', path: p, target: name(len).replace(/^$/, 'x') });
    }
    mkdir('', 'empty-dir');
  }
  while (files.length < opts.files) {
    const parent = dirs[int(dirs.length)]!;
    if (r() < 0.05) {
      const p = add(parent, name(1 + int(20)));
      if (p)
        nodes.push({ kind: 'symlink', path: p, target: r() < 0.5 ? '../' + name(5) : name(1 + int(60)) });
    } else mkfile(parent, name(1 + int(30)));
  }
  const nLinks = Math.floor(opts.files / 60);
  for (let i = 0; i < nLinks; i++) {
    const to = files[int(files.length)]!;
    const p = add(dirs[int(dirs.length)]!, `hl-${name(8)}`);
    if (p) nodes.push({ kind: 'hardlink', path: p, to });
  }
  return nodes;
}

/** Deterministic file bytes. */
export function fileBytes(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  const r = rng(seed);
  let i = 0;
  for (; i + 4 <= size; i += 4) b.writeUInt32LE(Math.floor(r() * 4294967296), i);
  for (; i < size; i++) b[i] = Math.floor(r() * 256);
  return b;
}

/** Writes a tree under `dir` (which must exist). With `owners`, sets random owners and mtimes. */
export function materialize(nodes: Node[], dir: string, seed: number, owners = false): void {
  const r = rng(seed ^ 0x5a5a5a5a);
  const uids = [0, 1000, 65534, 70000];
  for (const n of nodes) {
    const p = join(dir, n.path);
    if (n.kind === 'dir') mkdirSync(p, { mode: n.mode });
    else if (n.kind === 'file') writeFileSync(p, fileBytes(n.size, n.seed), { mode: n.mode });
    else if (n.kind === 'symlink') symlinkSync(n.target, p);
    else linkSync(join(dir, n.to), p);
    if (owners && n.kind !== 'hardlink') {
      const uid = uids[Math.floor(r() * uids.length)]!;
      (n.kind === 'symlink' ? lchownSync : chownSync)(p, uid, uid === 70000 ? 5 : uid);
    }
  }
  if (!owners) return;
  // mtimes last (children change their parent's mtime), deepest first.
  for (const n of [...nodes].reverse()) {
    if (n.kind === 'hardlink') continue;
    const p = join(dir, n.path);
    const t = r() < 0.5 ? 1_600_000_000 : 1_600_000_000 + r() * 1e8;
    if (n.kind === 'symlink') lutimesSync(p, t, t);
    else utimesSync(p, t, t);
  }
}
