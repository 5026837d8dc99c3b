/**
 * Store maintenance: verify (re-hash everything, optional repair), gc (mark from roots, sweep)
 * and stats. Called through `Store.verify`, `Store.gc` and `Store.stats`, which take the locks.
 *
 * @see specs/store.md §8 (verify), §9 (gc), §10 (stats)
 */
import { existsSync, lstatSync, readdirSync, statSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { digestBytes, type Digest } from '../digest.ts';
import { pidAlive, removeDeadTemps } from '../atomic-write.ts';
import { CorruptObjectError, EosError } from '../errors.ts';
import type { Store } from './fs-store.ts';
import { sharedFilePool } from './pool.ts';
import { statKey, VerifiedRecord } from './verified.ts';
import { parseTree, treeChildren, type Tree } from './tree.ts';

/** Options for `verify`. */
export interface VerifyOptions {
  /** Delete corrupt objects, strays and dead temp files (takes the exclusive lock). */
  repair?: boolean;
}

/** One problem `verify` found. */
export interface VerifyProblem {
  /** `blob`, `tree`, `twin`: corrupt object; `incomplete`: a tree whose child is missing or damaged; `stray`: a file that is no object. */
  kind: 'blob' | 'tree' | 'twin' | 'incomplete' | 'stray';
  digest: Digest | null;
  path: string;
  reason: string;
  /** True when repair deleted it. */
  removed: boolean;
}

/** What `verify` checked and found. */
export interface VerifyReport {
  blobs: number;
  trees: number;
  twins: number;
  problems: VerifyProblem[];
  /** Temp files of dead processes removed (repair only). */
  tmpRemoved: number;
}

/** Options for `gc`. */
export interface GcOptions {
  /** Extra roots besides the files in `roots/`. */
  roots?: readonly Digest[];
  /** Objects modified less than this many seconds ago are kept (default 3600). */
  graceSeconds?: number;
}

/** What `gc` did. */
export interface GcReport {
  roots: number;
  /** Reachable objects kept. */
  reachableBlobs: number;
  reachableTrees: number;
  blobsRemoved: number;
  treesRemoved: number;
  twinsRemoved: number;
  tmpRemoved: number;
  /** Unreachable objects kept because they are younger than the grace period. */
  youngKept: number;
  /** Apparent sizes of the removed files, in bytes. */
  bytesFreed: number;
  /** Root digests not found in the store. */
  missingRoots: Digest[];
}

/** Counts and sizes of a store. @see specs/store.md §10 */
export interface StoreStats {
  blobs: number;
  blobBytes: number;
  trees: number;
  treeBytes: number;
  twins: number;
  twinBytes: number;
  roots: number;
  /** Σ over distinct stored trees of the sizes of their file entries. */
  logicalBytes: number;
  /** Σ of the sizes of the distinct blobs those entries name (each stored once). */
  referencedBytes: number;
  /** logicalBytes − referencedBytes: what deduplication saves. */
  savedBytes: number;
}

const HEX2 = /^[0-9a-f]{2}$/;
const HEX62 = /^[0-9a-f]{62}$/;

interface Listing {
  objects: Map<Digest, string>;
  strays: string[];
}

/** Lists `<dir>/<2 hex>/<62 hex>` files as digests; anything else is a stray. */
async function listObjects(dir: string): Promise<Listing> {
  const objects = new Map<Digest, string>();
  const strays: string[] = [];
  let shards: string[];
  try {
    shards = await readdir(dir);
  } catch {
    return { objects, strays };
  }
  for (const shard of shards.sort()) {
    const sp = join(dir, shard);
    if (!HEX2.test(shard)) {
      strays.push(sp);
      continue;
    }
    for (const name of (await readdir(sp)).sort()) {
      if (HEX62.test(name)) objects.set(`blake3:${shard}${name}` as Digest, join(sp, name));
      else strays.push(join(sp, name));
    }
  }
  return { objects, strays };
}

/** Removes temp files in `STORE/tmp/` whose writer (the pid their name starts with) is dead; returns how many. */
export async function cleanTmp(store: Store): Promise<number> {
  const dir = store.dir('tmp');
  let n = 0;
  let names: string[] = [];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const pid = Number(name.split(/[.-]/)[0]);
    if (pid === process.pid || pidAlive(pid)) continue;
    await rm(join(dir, name), { force: true, recursive: true });
    n++;
  }
  return n;
}

/** @see Store.verify */
export async function verifyStore(store: Store, opts: VerifyOptions): Promise<VerifyReport> {
  const problems: VerifyProblem[] = [];
  const blobs = await listObjects(store.dir('objects'));
  const twins = await listObjects(store.dir('xobjects'));
  const trees = await listObjects(store.dir('trees'));
  for (const l of [blobs, twins, trees])
    for (const p of l.strays)
      problems.push({
        kind: 'stray',
        digest: null,
        path: p,
        reason: 'not an object file name',
        removed: false,
      });

  const badBlobs = new Set<Digest>();
  const pool = sharedFilePool();
  {
    const check = (kind: 'blob' | 'twin', map: Map<Digest, string>) =>
      Promise.all(
        [...map].map(async ([d, p]) => {
          let reason: string | undefined;
          try {
            const r = await pool.hash(p);
            if (r.digest !== d) reason = `content hashes to ${r.digest}`;
          } catch (e) {
            reason = `unreadable: ${(e as Error).message}`;
          }
          if (reason) {
            problems.push({ kind, digest: d, path: p, reason, removed: false });
            if (kind === 'blob') badBlobs.add(d);
          }
        }),
      );
    await check('blob', blobs.objects);
    await check('twin', twins.objects);
  }

  const parsed = new Map<Digest, Tree>();
  const badTrees = new Set<Digest>();
  for (const [d, p] of trees.objects) {
    let reason: string | undefined;
    try {
      const bytes = await readFile(p);
      const got = digestBytes(bytes);
      if (got !== d) reason = `content hashes to ${got}`;
      else parsed.set(d, parseTree(bytes, `tree ${d}`));
    } catch (e) {
      reason = e instanceof EosError ? e.message : `unreadable: ${(e as Error).message}`;
    }
    if (reason) {
      problems.push({ kind: 'tree', digest: d, path: p, reason, removed: false });
      badTrees.add(d);
    }
  }
  // A tree whose child is missing or damaged is incomplete (reported, not deleted: ingesting the
  // source again restores the child). Propagate to parents until nothing changes.
  const incomplete = new Set<Digest>();
  for (let changed = true; changed;) {
    changed = false;
    for (const [d, t] of parsed) {
      if (incomplete.has(d)) continue;
      const { blobs: bs, trees: ts } = treeChildren(t);
      // An object absent from the listing may have been written since (a concurrent ingest):
      // look again before calling it missing.
      const missingBlob = bs.find(
        (b) => badBlobs.has(b) || (!blobs.objects.has(b) && !existsSync(store.blobPath(b))),
      );
      const missingTree = ts.find(
        (c) => incomplete.has(c) || badTrees.has(c) || (!parsed.has(c) && !existsSync(store.treePath(c))),
      );
      if (missingBlob || missingTree) {
        incomplete.add(d);
        changed = true;
        const child = missingBlob ?? missingTree!;
        const what = missingBlob ? 'blob' : 'tree';
        const state = missingBlob
          ? blobs.objects.has(child)
            ? 'is corrupt'
            : 'is missing'
          : !trees.objects.has(child)
            ? 'is missing'
            : badTrees.has(child)
              ? 'is corrupt'
              : 'is incomplete';
        problems.push({
          kind: 'incomplete',
          digest: d,
          path: trees.objects.get(d)!,
          reason: `child ${what} ${child} ${state}`,
          removed: false,
        });
      }
    }
  }

  let tmpRemoved = 0;
  if (opts.repair) {
    for (const p of problems) {
      if (p.kind === 'incomplete') continue;
      await rm(p.path, { force: true, recursive: true });
      p.removed = true;
    }
    tmpRemoved = await cleanTmp(store);
  }
  return {
    blobs: blobs.objects.size,
    trees: trees.objects.size,
    twins: twins.objects.size,
    problems,
    tmpRemoved,
  };
}

/** @see Store.gc */
export async function gcStore(store: Store, opts: GcOptions): Promise<GcReport> {
  const graceMs = (opts.graceSeconds ?? 3600) * 1000;
  const roots = [...(await store.listRoots()).map((r) => r.digest), ...(opts.roots ?? [])];
  const liveBlobs = new Set<Digest>();
  const liveTrees = new Set<Digest>();
  const missingRoots: Digest[] = [];
  const stack: Digest[] = [];
  for (const r of roots) {
    if (await store.hasTree(r)) stack.push(r);
    else if (await store.hasBlob(r)) liveBlobs.add(r);
    else missingRoots.push(r);
  }
  while (stack.length) {
    const d = stack.pop()!;
    if (liveTrees.has(d)) continue;
    liveTrees.add(d);
    if (!(await store.hasTree(d))) continue;
    let tree: Tree;
    try {
      tree = await store.getTree(d);
    } catch (e) {
      // Never sweep with a partly unreadable graph: what it hides would look unreachable.
      throw new CorruptObjectError(
        `gc: reachable tree ${d} cannot be read (${(e as Error).message}); nothing removed`,
        {
          data: { digest: d },
          hint: 'run eos store verify --repair and ingest the source again',
          cause: e,
        },
      );
    }
    const c = treeChildren(tree);
    for (const b of c.blobs) liveBlobs.add(b);
    for (const t of c.trees) if (!liveTrees.has(t)) stack.push(t);
  }

  const report: GcReport = {
    roots: roots.length,
    reachableBlobs: 0,
    reachableTrees: 0,
    blobsRemoved: 0,
    treesRemoved: 0,
    twinsRemoved: 0,
    tmpRemoved: 0,
    youngKept: 0,
    bytesFreed: 0,
    missingRoots,
  };
  const now = Date.now();
  const sweep = async (
    dir: string,
    live: Set<Digest>,
    counter: 'blobsRemoved' | 'treesRemoved' | 'twinsRemoved',
  ) => {
    const { objects } = await listObjects(dir);
    for (const [d, p] of objects) {
      if (live.has(d)) {
        if (counter === 'blobsRemoved') report.reachableBlobs++;
        if (counter === 'treesRemoved') report.reachableTrees++;
        continue;
      }
      let st;
      try {
        st = await stat(p);
      } catch {
        continue;
      }
      if (now - st.mtimeMs < graceMs) {
        report.youngKept++;
        continue;
      }
      await rm(p, { force: true });
      report[counter]++;
      report.bytesFreed += st.size;
    }
  };
  await sweep(store.dir('trees'), liveTrees, 'treesRemoved');
  await sweep(store.dir('objects'), liveBlobs, 'blobsRemoved');
  await sweep(store.dir('xobjects'), liveBlobs, 'twinsRemoved');
  report.tmpRemoved = await cleanTmp(store);
  report.tmpRemoved += cleanDeadTemps(store);
  compactRecord(store);
  return report;
}

/**
 * Removes the atomic-write temp files and staging directories of dead processes outside `tmp/`
 * (`.<name>.<pid>.<hex>.tmp`, `<name>.tmp-<pid>-<hex>`): in the store directory, each of its other
 * directories (`compositions/`, `images/`, `worlds/`, `private/`, `roots/`, …) and their `*.sigs`
 * subdirectories. Object directories are not looked into. @returns how many were removed
 */
export function cleanDeadTemps(store: Store): number {
  const skip = new Set(['objects', 'trees', 'xobjects', 'tmp', 'locks']);
  let n = removeDeadTemps(store.root).length;
  let names: string[] = [];
  try {
    names = readdirSync(store.root);
  } catch {
    return n;
  }
  for (const d of names) {
    if (skip.has(d)) continue;
    const dir = join(store.root, d);
    if (!lstatSync(dir).isDirectory()) continue;
    n += removeDeadTemps(dir).length;
    for (const sub of readdirSync(dir))
      if (sub.endsWith('.sigs') && lstatSync(join(dir, sub)).isDirectory())
        n += removeDeadTemps(join(dir, sub)).length;
  }
  return n;
}

/** Rewrites the verified-object record keeping only lines that still describe stored files (§12). */
function compactRecord(store: Store): void {
  const record = VerifiedRecord.open(store.root, false);
  if (!record.usable) return;
  const hexPath = (dir: string, hex: string): string => join(store.root, dir, hex.slice(0, 2), hex.slice(2));
  record.compact((f) => {
    const [kind, hex] = f as [string, string];
    if (kind === 'o' || kind === 'x') {
      try {
        return (
          statKey(statSync(hexPath(kind === 'o' ? 'objects' : 'xobjects', hex), { bigint: true })) ===
          f.slice(2).join(' ')
        );
      } catch {
        return false;
      }
    }
    if (kind === 'v') return existsSync(hexPath('objects', hex));
    return kind === 'b';
  });
}

/** @see Store.stats */
export async function statsStore(store: Store): Promise<StoreStats> {
  const s: StoreStats = {
    blobs: 0,
    blobBytes: 0,
    trees: 0,
    treeBytes: 0,
    twins: 0,
    twinBytes: 0,
    roots: (await store.listRoots()).length,
    logicalBytes: 0,
    referencedBytes: 0,
    savedBytes: 0,
  };
  const blobSize = new Map<Digest, number>();
  for (const [d, p] of (await listObjects(store.dir('objects'))).objects) {
    const size = (await stat(p)).size;
    blobSize.set(d, size);
    s.blobs++;
    s.blobBytes += size;
  }
  for (const [, p] of (await listObjects(store.dir('xobjects'))).objects) {
    s.twins++;
    s.twinBytes += (await stat(p)).size;
  }
  const referenced = new Set<Digest>();
  for (const [d, p] of (await listObjects(store.dir('trees'))).objects) {
    const bytes = await readFile(p);
    s.trees++;
    s.treeBytes += bytes.length;
    let tree: Tree;
    try {
      tree = parseTree(bytes, `tree ${d}`);
    } catch {
      continue;
    }
    for (const e of tree.entries)
      if (e.kind === 'file') {
        s.logicalBytes += e.size;
        referenced.add(e.digest);
      }
  }
  for (const d of referenced) s.referencedBytes += blobSize.get(d) ?? 0;
  s.savedBytes = s.logicalBytes - s.referencedBytes;
  return s;
}
