/**
 * Differences between two compositions: entries added, removed or changed, then the paths whose
 * contents differ between their merged views (subtrees with equal digests are skipped unread).
 * Pure except for the injected tree reader.
 *
 * @see specs/composition.md §8
 */
import type { Digest } from '../src/kernel/index.ts';
import { nodeDigest, type Composition, type CompositionEntry } from './composition.ts';
import { compareNames, type TreeAccess, type ViewEntry } from './view-tree.ts';

/** One entry-level change. */
export interface EntryChange {
  name: string;
  change: 'added' | 'removed' | 'changed';
  /** The entry in A (absent when added). */
  before?: CompositionEntry;
  /** The entry in B (absent when removed). */
  after?: CompositionEntry;
}

/** One path-level change in the merged view. */
export interface PathChange {
  path: string;
  change: 'added' | 'removed' | 'changed';
}

/** Compares the entries of two compositions (by name), sorted by name. */
export function diffEntries(a: Composition, b: Composition): EntryChange[] {
  const names = [...new Set([...Object.keys(a.entries), ...Object.keys(b.entries)])].sort(compareNames);
  const out: EntryChange[] = [];
  for (const name of names) {
    const x = a.entries[name];
    const y = b.entries[name];
    if (!x) out.push({ name, change: 'added', after: y! });
    else if (!y) out.push({ name, change: 'removed', before: x });
    else if (
      x.at !== y.at ||
      x.node.kind !== y.node.kind ||
      nodeDigest(x.node) !== nodeDigest(y.node) ||
      (x.node.kind === 'file' && y.node.kind === 'file' && x.node.executable !== y.node.executable) ||
      JSON.stringify(x.constraint) !== JSON.stringify(y.constraint)
    )
      out.push({ name, change: 'changed', before: x, after: y });
  }
  return out;
}

function sameEntry(a: ViewEntry, b: ViewEntry): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'file' && b.kind === 'file') return a.digest === b.digest && a.executable === b.executable;
  if (a.kind === 'symlink' && b.kind === 'symlink') return a.target === b.target;
  return (a as { digest: Digest }).digest === (b as { digest: Digest }).digest;
}

/**
 * The paths that differ between two view trees, sorted. A directory that appears or disappears is
 * listed with every path below it; a path that changes kind is `changed`.
 */
export async function diffViews(
  access: Pick<TreeAccess, 'getTree'>,
  a: Digest,
  b: Digest,
): Promise<PathChange[]> {
  const out: PathChange[] = [];
  const join = (dir: string, name: string): string => (dir === '/' ? `/${name}` : `${dir}/${name}`);
  const all = async (dir: string, d: Digest, change: 'added' | 'removed'): Promise<void> => {
    for (const e of (await access.getTree(d)).entries) {
      const p = join(dir, e.name);
      out.push({ path: p, change });
      if (e.kind === 'directory') await all(p, e.digest, change);
    }
  };
  const walk = async (dir: string, x: Digest, y: Digest): Promise<void> => {
    if (x === y) return;
    const ex = new Map((await access.getTree(x)).entries.map((e) => [e.name, e]));
    const ey = new Map((await access.getTree(y)).entries.map((e) => [e.name, e]));
    for (const name of [...new Set([...ex.keys(), ...ey.keys()])]) {
      const p = join(dir, name);
      const u = ex.get(name);
      const v = ey.get(name);
      if (!u) {
        out.push({ path: p, change: 'added' });
        if (v!.kind === 'directory') await all(p, v!.digest, 'added');
      } else if (!v) {
        out.push({ path: p, change: 'removed' });
        if (u.kind === 'directory') await all(p, u.digest, 'removed');
      } else if (u.kind === 'directory' && v.kind === 'directory') {
        await walk(p, u.digest, v.digest);
      } else if (!sameEntry(u, v)) {
        out.push({ path: p, change: 'changed' });
        if (u.kind === 'directory') await all(p, u.digest, 'removed');
        if (v.kind === 'directory') await all(p, v.digest, 'added');
      }
    }
  };
  await walk('/', a, b);
  return out.sort((p, q) => compareNames(p.path, q.path));
}
