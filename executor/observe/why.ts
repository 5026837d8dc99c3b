/**
 * Explaining an observed build (`eos why`, and the prune hints of `eos build --observe`): for each
 * entry of the world, how many files (and symlinks) it declares and how many the build touched or
 * read; the entries never touched (prunable); the probes for paths outside the world; and, for one
 * path, which entries hold it, which one provided it, and whether the build read it.
 *
 * @see specs/observe.md §4, §5
 */
import { CompositionStore } from '../../composer/index.ts';
import { type Digest, type Store, type Tree, type TreeEntry } from '../../src/kernel/index.ts';
import type { WorldLayer } from '../build-world.ts';
import { parseReadSet, type ReadOp, type ReadPath, type ReadSet } from './read-set.ts';

/** How one world entry was used. */
export interface EntryUse {
  entry: string;
  /** Files and symlinks in the entry's tree (null when not counted). */
  declared: number | null;
  /** Its files and symlinks the build looked up, opened, read or followed (provided by this entry). */
  touched: number;
  /** Of those, the ones opened, read or followed (readlink). */
  read: number;
}

/** What an observed build used of its world. */
export interface ReadSetReport {
  world: Digest;
  readSet: Digest;
  /** Every entry of the world, in precedence order (highest first). */
  entries: EntryUse[];
  /** The entries none of whose files or symlinks was touched: candidates to prune from the world. */
  prunable: string[];
  /** Paths looked up and not found (probes outside the world), sorted. */
  missing: string[];
  /** Files and symlinks touched, in total. */
  touched: number;
}

/** Whether a path's operations read its content (open, read, readlink, readdir), not only looked it up. */
export function isRead(ops: readonly ReadOp[]): boolean {
  return ops.some((o) => o !== 'lookup');
}

/**
 * A stored world's layers (its composition's tree entries), in precedence order.
 * @throws NotFoundError E4 when the composition is not stored
 */
export async function worldLayers(store: Store, world: Digest): Promise<WorldLayer[]> {
  const c = await new CompositionStore(store).load(world);
  const n = c.precedence.length;
  return c.precedence.flatMap((name, i) => {
    const e = c.entries[name];
    return e && e.node.kind === 'tree' ? [{ name, tree: e.node.digest, precedence: n - i }] : [];
  });
}

/** Counts the files and symlinks of stored trees (each subtree counted once). */
export class FileCounter {
  private readonly memo = new Map<Digest, number>();
  constructor(private readonly store: Store) {}
  /** Files and symlinks below tree `d`. @throws NotFoundError E4 for a tree not stored */
  async count(d: Digest): Promise<number> {
    const hit = this.memo.get(d);
    if (hit !== undefined) return hit;
    let n = 0;
    for (const e of (await this.store.getTree(d)).entries)
      n += e.kind === 'directory' ? await this.count(e.digest) : 1;
    this.memo.set(d, n);
    return n;
  }
}

/**
 * Loads a stored read set.
 * @throws NotFoundError E4 when absent; EncodingError E3 / NotObservedError E51 when malformed
 */
export async function loadReadSet(store: Store, digest: Digest): Promise<ReadSet> {
  return parseReadSet(await store.readBlob(digest), `read set ${digest}`);
}

/**
 * What an observed build used of its world (specs/observe.md §5).
 * @param declared count each entry's files too (walks every entry's tree; `eos why` does)
 * @throws NotFoundError E4 when the world's composition or a tree is not stored
 */
export async function explainReadSet(
  store: Store,
  readSet: ReadSet,
  digest: Digest,
  opts: { declared?: boolean } = {},
): Promise<ReadSetReport> {
  const layers = await worldLayers(store, readSet.world);
  const counter = opts.declared ? new FileCounter(store) : undefined;
  const uses = new Map<string, EntryUse>();
  for (const l of layers)
    uses.set(l.name, {
      entry: l.name,
      declared: counter ? await counter.count(l.tree) : null,
      touched: 0,
      read: 0,
    });
  let touched = 0;
  const missing: string[] = [];
  for (const p of readSet.paths) {
    if (p.kind === 'missing') missing.push(p.path);
    if (!p.entry) continue;
    const u = uses.get(p.entry);
    if (!u) continue;
    touched++;
    u.touched++;
    if (isRead(p.ops)) u.read++;
  }
  const entries = [...uses.values()];
  return {
    world: readSet.world,
    readSet: digest,
    entries,
    prunable: entries.filter((u) => u.touched === 0).map((u) => u.entry),
    missing,
    touched,
  };
}

/** Where one path of a world comes from. */
export interface PathProvenance {
  path: string;
  /** The entries holding a node at the path, in precedence order, with its kind there. */
  holders: { entry: string; kind: 'file' | 'directory' | 'symlink' }[];
  /** The entry whose node is visible (a file or symlink); null for a directory or an absent path. */
  provider: string | null;
  /** What the build did with the path; null when it never touched it. */
  observed: ReadPath | null;
}

/**
 * Which entries of the read set's world hold `path`, which one provided it, and what the build did with it.
 * @throws NotFoundError E4 when the world's composition or a tree is not stored
 */
export async function explainPath(store: Store, readSet: ReadSet, path: string): Promise<PathProvenance> {
  const norm = '/' + path.split('/').filter(Boolean).join('/');
  const holders: PathProvenance['holders'] = [];
  for (const l of await worldLayers(store, readSet.world)) {
    let node: { kind: 'file' | 'directory' | 'symlink'; digest?: Digest } | undefined = {
      kind: 'directory',
      digest: l.tree,
    };
    for (const part of norm.split('/').filter(Boolean)) {
      if (node.kind !== 'directory' || !node.digest) {
        node = undefined;
        break;
      }
      const tree: Tree = await store.getTree(node.digest);
      const e: TreeEntry | undefined = tree.entries.find((x) => x.name === part);
      node = e ? { kind: e.kind, ...(e.kind !== 'symlink' ? { digest: e.digest } : {}) } : undefined;
      if (!node) break;
    }
    if (node) holders.push({ entry: l.name, kind: node.kind });
  }
  const first = holders[0];
  return {
    path: norm,
    holders,
    provider: first && first.kind !== 'directory' ? first.entry : null,
    observed: readSet.paths.find((p) => p.path === norm) ?? null,
  };
}
