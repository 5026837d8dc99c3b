/**
 * Build worlds: the union of layers (the seed's package trees, its fixups, the dependencies'
 * output trees) merged under an explicit precedence, stored as one tree (the world root) and
 * hard-link materialized into a directory that the sandbox binds read-only at `/`.
 *
 * Merge rule (specs/executor.md §3): directories merge; identical nodes (same kind, digest and
 * executable bit) dedupe; different nodes at one path are a conflict unless one layer has a
 * strictly higher precedence, in which case it wins and the path is recorded as shadowed.
 * The seed's packages have precedence 0, its fixups 1, dependency outputs 2.
 *
 * @see specs/executor.md §3
 */
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import {
  CompositionError,
  digestHex,
  makeTree,
  type Digest,
  type Store,
  type TreeEntry,
} from '../src/index.ts';
import type { SeedLock } from './seed/seed-lock.ts';

/** One layer of a world. */
export interface WorldLayer {
  /** A readable name (`seed:gcc-12`, `fixups`, `dep:zlib`). */
  name: string;
  /** The tree bound at `/`. */
  tree: Digest;
  /** Higher wins over lower; equal precedence with different bytes is a conflict. */
  precedence: number;
}

/** A path where a higher-precedence layer hid another layer's node. */
export interface ShadowedPath {
  path: string;
  winner: string;
  shadowed: string;
}

/** The merged world. */
export interface World {
  /** The tree digest of the merged view. */
  root: Digest;
  layers: WorldLayer[];
  shadowed: ShadowedPath[];
}

/** Precedences of the standard layers. */
export const PRECEDENCE = { seed: 0, fixups: 1, dependency: 2 } as const;

/** The seed's layers: each package tree, then the fixups. */
export function seedLayers(lock: SeedLock): WorldLayer[] {
  return [
    ...lock.packages.map((p) => ({ name: `seed:${p.name}`, tree: p.tree, precedence: PRECEDENCE.seed })),
    { name: 'fixups', tree: lock.fixups, precedence: PRECEDENCE.fixups },
  ];
}

type Node =
  | { kind: 'dir'; layer: WorldLayer; children: Map<string, Node>; digest?: Digest }
  | { kind: 'leaf'; layer: WorldLayer; entry: TreeEntry };

function same(a: TreeEntry, b: TreeEntry): boolean {
  if (a.kind === 'file' && b.kind === 'file') return a.digest === b.digest && a.executable === b.executable;
  if (a.kind === 'symlink' && b.kind === 'symlink') return a.target === b.target;
  return false;
}

/**
 * Merges layers into one stored tree.
 * @throws CompositionError E18 naming the path and both layers on an unresolved conflict
 */
export async function buildWorld(store: Store, layers: WorldLayer[]): Promise<World> {
  const shadowed: ShadowedPath[] = [];
  const cache = new Map<Digest, readonly TreeEntry[]>();
  const getTree = async (d: Digest): Promise<readonly TreeEntry[]> => {
    let t = cache.get(d);
    if (!t) cache.set(d, (t = (await store.getTree(d)).entries));
    return t;
  };

  const insertDir = async (
    target: Map<string, Node>,
    tree: Digest,
    layer: WorldLayer,
    path: string,
  ): Promise<void> => {
    for (const e of await getTree(tree)) {
      const p = `${path}/${e.name}`;
      const cur = target.get(e.name);
      if (!cur) {
        if (e.kind === 'directory') {
          const children = new Map<string, Node>();
          target.set(e.name, { kind: 'dir', layer, children });
          await insertDir(children, e.digest, layer, p);
        } else target.set(e.name, { kind: 'leaf', layer, entry: e });
        continue;
      }
      if (cur.kind === 'dir' && e.kind === 'directory') {
        await insertDir(cur.children, e.digest, layer, p);
        continue;
      }
      if (cur.kind === 'leaf' && same(cur.entry, e)) continue;
      if (layer.precedence > cur.layer.precedence) {
        shadowed.push({ path: p, winner: layer.name, shadowed: cur.layer.name });
        if (e.kind === 'directory') {
          const children = new Map<string, Node>();
          target.set(e.name, { kind: 'dir', layer, children });
          await insertDir(children, e.digest, layer, p);
        } else target.set(e.name, { kind: 'leaf', layer, entry: e });
        continue;
      }
      if (layer.precedence < cur.layer.precedence) {
        shadowed.push({ path: p, winner: cur.layer.name, shadowed: layer.name });
        continue;
      }
      throw new CompositionError(
        `world conflict at ${p}: ${cur.layer.name} and ${layer.name} hold different nodes at equal precedence`,
        { data: { path: p, layers: [cur.layer.name, layer.name] } },
      );
    }
  };

  const top = new Map<string, Node>();
  const ordered = [...layers].sort((a, b) => a.precedence - b.precedence);
  for (const l of ordered) await insertDir(top, l.tree, l, '');

  const store_ = async (children: Map<string, Node>): Promise<{ digest: Digest; size: number }> => {
    const entries: TreeEntry[] = [];
    let size = 0;
    for (const [name, n] of children) {
      size++;
      if (n.kind === 'leaf') entries.push(n.entry);
      else {
        const sub = await store_(n.children);
        size += sub.size;
        entries.push({ name, kind: 'directory', digest: sub.digest, size: sub.size });
      }
    }
    return { digest: await store.putTree(makeTree(entries, 'world')), size };
  };
  const root = (await store_(top)).digest;
  shadowed.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { root, layers: ordered, shadowed };
}

/**
 * Materializes a world root under `<store>/cache/worlds/<hex>` (once; reused afterwards) and
 * returns that directory. Made in a temporary directory and renamed, so a half-made world is
 * never used.
 */
export async function materializeWorld(store: Store, root: Digest): Promise<string> {
  const base = join(store.root, 'cache', 'worlds');
  const dir = join(base, digestHex(root));
  if (existsSync(dir)) return dir;
  await fs.mkdir(base, { recursive: true });
  const tmp = await fs.mkdtemp(join(base, 'tmp-'));
  try {
    await store.materialize(root, join(tmp, 'w'));
    await fs.rename(join(tmp, 'w'), dir).catch(async (e: NodeJS.ErrnoException) => {
      if (!existsSync(dir)) throw e;
    });
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
  return dir;
}
