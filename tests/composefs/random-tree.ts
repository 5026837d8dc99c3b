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

/** glibc's `makedev` (64-bit `dev_t`: major bits 0–11 at 8, 12–31 at 44; minor 0–7 at 0, 8–31 at 20). */
export function makedev(major: bigint, minor: bigint): bigint {
  return ((major & 0xfffn) << 8n) | ((major & ~0xfffn) << 32n) | (minor & 0xffn) | ((minor & ~0xffn) << 12n);
}

/** One case of {@link randomEdgeDump}: a dump line and what the writer and the kernel must make of it. */
export type EdgeCase =
  | { kind: 'device'; path: string; line: string; chr: boolean; rdev: bigint; fits: boolean }
  | { kind: 'hardlink'; path: string; line: string; target: string; written: string; dir: boolean }
  | { kind: 'size'; path: string; line: string; size: bigint; fits: boolean };

/** The largest composefs file, 2^53 bytes (specs/composefs.md §3). */
export const MAX_CFS_FILE = 2n ** 53n;

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

/** Majors and minors at the edges of the device-number encodings (8/12/20/32 bits). */
const MAJORS = [0n, 1n, 7n, 0xffn, 0x100n, 0xfffn, 0x1000n, 0x1001n, 0x2000n, 0xfffffn, 0xffffffffn];
const MINORS = [0n, 1n, 0xffn, 0x100n, 0xfffn, 0x1000n, 0xfffffn, 0x100000n, 0x100001n, 0xffffffffn];
/** Sizes around the largest file and the chunk size (2^43). */
const SIZES = [
  MAX_CFS_FILE - 1n,
  MAX_CFS_FILE,
  MAX_CFS_FILE + 1n,
  MAX_CFS_FILE + 2n,
  MAX_CFS_FILE - (1n << 43n),
  MAX_CFS_FILE - (1n << 43n) + 1n,
  1n << 43n,
  (1n << 43n) + 1n,
  (1n << 32n) + 1n,
];

/**
 * A random composefs dump (specs/composefs.md §5) of the edge cases of issue 15 item 13, with the
 * expected outcome of each: device nodes whose rdev spans the encodings' edges (major/minor at 0,
 * at 2^8/2^12/2^20, low 32 bits zero with high bits set; above 2^32 − 1 refused with E14, as
 * mkcomposefs stores 32 bits), hard links whose target is a directory or a file written with a
 * trailing or doubled slash, and external files at 2^53 − 1, 2^53 (accepted) and 2^53 + 1
 * (refused). `base` is the dump of the accepted lines; each refused line is to be appended alone.
 */
export function randomEdgeDump(seed: number, n: number): { base: string; cases: EdgeCase[] } {
  const r = rng(seed);
  const int = (k: number) => Math.floor(r() * k);
  const lines = ['/ 0 40755 2 0 0 0 0.0 - - -'];
  const dirs: string[] = [];
  const files: string[] = [];
  for (let d = 0; d < 3 + int(3); d++) {
    const dir = `/t${d}`;
    lines.push(`${dir} 0 40755 2 0 0 0 0.0 - - -`);
    dirs.push(dir);
    for (let f = 0; f < 1 + int(3); f++) {
      const file = `${dir}/f${f}`;
      lines.push(`${file} 3 100644 1 0 0 0 0.0 - ab${f} -`);
      files.push(file);
    }
  }
  lines.push('/dev 0 40755 2 0 0 0 0.0 - - -', '/links 0 40755 2 0 0 0 0.0 - - -');
  lines.push('/sizes 0 40755 2 0 0 0 0.0 - - -');
  const cases: EdgeCase[] = [];
  for (let i = 0; i < n; i++) {
    const x = r();
    if (x < 0.5) {
      const chr = r() < 0.7;
      let rdev: bigint;
      const y = r();
      if (y < 0.6) rdev = makedev(pick(r, MAJORS), pick(r, MINORS));
      else if (y < 0.8)
        // Low 32 bits zero, high bits set: what a plain u32 store would read as 0/0 (a whiteout).
        rdev = BigInt(1 + int(0xfffff)) << 32n;
      else if (y < 0.9) rdev = pick(r, [0xffffffffn, 1n << 32n, (1n << 32n) + 1n, 2n ** 53n]);
      else rdev = makedev(BigInt(int(4096)), BigInt(int(1 << 20)));
      const path = `/dev/n${i}`;
      const line = `${path} 0 ${chr ? '20644' : '60660'} 1 0 0 ${rdev} 0.0 - - -`;
      cases.push({ kind: 'device', path, line, chr, rdev, fits: rdev <= 0xffffffffn });
    } else if (x < 0.75) {
      const dir = r() < 0.5;
      const target = dir ? pick(r, dirs) : pick(r, files);
      const deco = int(4);
      const written =
        deco === 0
          ? target
          : deco === 1
            ? `${target}/`
            : deco === 2
              ? `/${target}`
              : `/${target.replace('/f', '//f')}/`;
      const path = `/links/l${i}`;
      const line = `${path} 0 @100644 1 0 0 0 0.0 ${written} - -`;
      cases.push({ kind: 'hardlink', path, line, target, written, dir });
    } else {
      const size = r() < 0.8 ? pick(r, SIZES) : MAX_CFS_FILE - BigInt(int(2 ** 30));
      const path = `/sizes/s${i}`;
      const line = `${path} ${size} 100644 1 0 0 0 0.0 ab/${'c'.repeat(62)} - -`;
      cases.push({ kind: 'size', path, line, size, fits: size <= MAX_CFS_FILE });
    }
  }
  for (const c of cases) if (c.kind === 'hardlink' || c.fits) lines.push(c.line);
  return { base: lines.join('\n') + '\n', cases };
}
