/**
 * The merge rules: a composition's entries, each placed at its prefix, become one union tree (the
 * merged view). Directories merge; identical files and identical symlinks dedupe; differing
 * non-directories at one path conflict unless the composition's precedence names a winner (every
 * shadowed path is reported); a directory meeting a non-directory is always a conflict. No bytes
 * are copied: the view's file entries name the same blob digests, and unchanged subtrees are
 * reused by digest. Pure except for the injected {@link TreeAccess}.
 *
 * @see specs/composition.md §6
 */
import { CompositionError, type Digest } from '../src/kernel/index.ts';
import { prefixComponents, type CompositionData, type CompositionEntry } from './composition.ts';
import { compareNames, subtreeEntries, type TreeAccess, type ViewEntry, type ViewTree } from './view-tree.ts';

/** One path where precedence chose a winner over entries with different contents. */
export interface ShadowedPath {
  /** Absolute path in the merged view. */
  path: string;
  /** The entry whose node is visible. */
  winner: string;
  /** Entries whose differing node at this path is hidden, highest precedence first. */
  shadowed: string[];
}

/** The merged view of a composition. */
export interface MergedView {
  /** Digest of the union tree (stored through `putTree`). */
  tree: Digest;
  /** Every path where precedence resolved a conflict, sorted by path. */
  shadowed: ShadowedPath[];
}

/** A node offered at one path by one entry. */
type Candidate =
  | { entry: string; kind: 'directory'; digest: Digest | undefined; size: number | undefined }
  | { entry: string; kind: 'file'; digest: Digest; size: number; executable: boolean }
  | { entry: string; kind: 'symlink'; target: string };

/** Prefix trie: what entries bind exactly at a path, and the deeper prefixes below it. */
interface Trie {
  attached: Candidate[];
  children: Map<string, Trie>;
  /** Entries with a prefix strictly below this path (they make it an implicit directory). */
  through: string[];
}

function newTrie(): Trie {
  return { attached: [], children: new Map(), through: [] };
}

function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

function describe(c: Candidate): string {
  switch (c.kind) {
    case 'directory':
      return 'a directory';
    case 'file':
      return `file ${c.digest}${c.executable ? ' (executable)' : ''}`;
    case 'symlink':
      return `symlink -> ${JSON.stringify(c.target)}`;
  }
}

function same(a: Candidate, b: Candidate): boolean {
  if (a.kind === 'file' && b.kind === 'file') return a.digest === b.digest && a.executable === b.executable;
  if (a.kind === 'symlink' && b.kind === 'symlink') return a.target === b.target;
  return false;
}

class Merger {
  readonly shadowed: ShadowedPath[] = [];
  private readonly rank: Map<string, number>;

  constructor(
    private readonly access: TreeAccess,
    precedence: string[],
  ) {
    this.rank = new Map(precedence.map((n, i) => [n, i]));
  }

  /** Merges the directory at `path` from the trees offered there and the trie node below it. */
  async dir(
    path: string,
    offered: { entry: string; digest: Digest; size: number | undefined }[],
    trie: Trie | undefined,
  ): Promise<{ digest: Digest; size: number }> {
    const distinct = [...new Set(offered.map((o) => o.digest))];
    if (distinct.length === 1 && (!trie || trie.children.size === 0)) {
      const known = offered.find((o) => o.size !== undefined);
      const size = known ? known.size! : subtreeEntries(await this.access.getTree(distinct[0]!));
      return { digest: distinct[0]!, size };
    }
    const byName = new Map<string, Candidate[]>();
    const add = (name: string, c: Candidate): void => {
      const list = byName.get(name);
      if (list) list.push(c);
      else byName.set(name, [c]);
    };
    for (const o of offered) {
      const t = await this.access.getTree(o.digest);
      for (const e of t.entries) add(e.name, fromViewEntry(o.entry, e));
    }
    const childTries = trie?.children ?? new Map<string, Trie>();
    for (const [name, child] of childTries) {
      for (const c of child.attached) add(name, c);
      if (child.through.length)
        add(name, { entry: child.through[0]!, kind: 'directory', digest: undefined, size: undefined });
    }
    const out: ViewEntry[] = [];
    for (const name of [...byName.keys()].sort(compareNames)) {
      const cands = byName.get(name)!;
      const p = joinPath(path, name);
      const dirs = cands.filter((c) => c.kind === 'directory');
      const others = cands.filter((c) => c.kind !== 'directory');
      if (dirs.length && others.length) {
        const d = dirs[0]!;
        const o = others[0]!;
        throw new CompositionError(
          `${p}: entry ${d.entry} has a directory and entry ${o.entry} has ${describe(o)}; a directory and a non-directory at one path always conflict`,
          { data: { path: p, entries: [d.entry, o.entry] } },
        );
      }
      if (dirs.length) {
        const withDigest = dirs.flatMap((d) =>
          d.digest ? [{ entry: d.entry, digest: d.digest, size: d.size }] : [],
        );
        const merged = await this.dir(p, withDigest, childTries.get(name));
        out.push({ name, kind: 'directory', ...merged });
      } else {
        out.push(toViewEntry(name, this.pick(p, others)));
      }
    }
    const tree = { entries: out };
    return { digest: await this.access.putTree(tree), size: subtreeEntries(tree) };
  }

  /** Chooses among non-directory candidates at one path (dedupe or precedence). */
  private pick(path: string, cands: Candidate[]): Candidate {
    const first = cands[0]!;
    if (cands.every((c) => same(c, first))) return first;
    const unranked = cands.find((c) => !this.rank.has(c.entry));
    if (unranked) {
      const other = cands.find((c) => c !== unranked && !same(c, unranked))!;
      const [a, b] = [unranked, other].sort((x, y) => compareNames(x.entry, y.entry));
      throw new CompositionError(
        `${path}: entries ${a!.entry} (${describe(a!)}) and ${b!.entry} (${describe(b!)}) differ; state which wins in the precedence list`,
        {
          data: { path, entries: [a!.entry, b!.entry] },
          hint: `add [precedence] order = ["${a!.entry}", "${b!.entry}"] (first wins) to the composition`,
        },
      );
    }
    const sorted = [...cands].sort((x, y) => this.rank.get(x.entry)! - this.rank.get(y.entry)!);
    const winner = sorted[0]!;
    this.shadowed.push({
      path,
      winner: winner.entry,
      shadowed: sorted.filter((c) => !same(c, winner)).map((c) => c.entry),
    });
    return winner;
  }
}

function fromViewEntry(entry: string, e: ViewEntry): Candidate {
  switch (e.kind) {
    case 'directory':
      return { entry, kind: 'directory', digest: e.digest, size: e.size };
    case 'file':
      return { entry, kind: 'file', digest: e.digest, size: e.size, executable: e.executable };
    case 'symlink':
      return { entry, kind: 'symlink', target: e.target };
  }
}

function toViewEntry(name: string, c: Candidate): ViewEntry {
  switch (c.kind) {
    case 'file':
      return { name, kind: 'file', digest: c.digest, size: c.size, executable: c.executable };
    case 'symlink':
      return { name, kind: 'symlink', target: c.target };
    case 'directory':
      throw new Error('unreachable: directories are merged, not picked');
  }
}

/**
 * Computes the merged view of a composition.
 * @param access the store's trees (read for overlapping directories, written for merged ones)
 * @returns the union tree's digest and every shadowed path
 * @throws CompositionError E18 naming the path and both entries on a conflict
 * @throws NotFoundError E4 when a tree or blob of an entry is not in the store
 * @see specs/composition.md §6
 */
export async function mergeComposition(
  c: Pick<CompositionData, 'entries' | 'precedence'>,
  access: TreeAccess,
): Promise<MergedView> {
  const root = newTrie();
  const atRoot: { entry: string; digest: Digest; size: number | undefined }[] = [];
  for (const name of Object.keys(c.entries).sort()) {
    const e = c.entries[name]!;
    const parts = prefixComponents(e.at);
    if (parts.length === 0) {
      // makeComposition admits only trees at "/".
      if (e.node.kind === 'tree') atRoot.push({ entry: name, digest: e.node.digest, size: undefined });
      continue;
    }
    let t = root;
    for (const part of parts) {
      t.through.push(name);
      let next = t.children.get(part);
      if (!next) t.children.set(part, (next = newTrie()));
      t = next;
    }
    const node = e.node;
    t.attached.push(
      node.kind === 'tree'
        ? { entry: name, kind: 'directory', digest: node.digest, size: undefined }
        : node.kind === 'file'
          ? {
              entry: name,
              kind: 'file',
              digest: node.digest,
              size: await access.blobSize(node.digest),
              executable: node.executable,
            }
          : { entry: name, kind: 'symlink', target: node.target },
    );
  }
  const m = new Merger(access, c.precedence);
  const { digest } = await m.dir('/', atRoot, root);
  m.shadowed.sort((a, b) => compareNames(a.path, b.path));
  return { tree: digest, shadowed: m.shadowed };
}

/** The name of the rest of a composition in {@link mergeOnto} (no entry name starts with NUL). */
const REST = '\u0000rest';

/**
 * The merged view of a composition from the merged view `rest` of all its entries but `name`
 * (merged with the same precedence) and that entry: a two-way merge, so the cost follows the
 * entry's own directories and the listings of the view's directories it meets, not the number of
 * other entries. It gives exactly {@link mergeComposition}'s view of the whole composition
 * whenever it returns one: directories merge the same way in any grouping; a non-directory of the
 * entry that meets one of `rest` is taken only when both are the same node (a dedupe, which the
 * whole merge also keeps, with no shadowed path), and `rest`'s shadowed paths are kept only when
 * the entry offers nothing there.
 * @returns the view, or undefined when the entry meets `rest` where precedence (or a conflict)
 *   decides: merge the whole composition then (it reports the right winner or the conflict)
 * @throws NotFoundError E4 when a tree of `rest` or of the entry is not in the store
 * @see specs/composition.md §6
 */
export async function mergeOnto(
  rest: MergedView,
  name: string,
  entry: Pick<CompositionEntry, 'at' | 'node'>,
  access: TreeAccess,
): Promise<MergedView | undefined> {
  for (const s of rest.shadowed) if (await offersAt(access, entry, s.path)) return undefined;
  const two = {
    entries: {
      [REST]: {
        at: '/',
        node: { kind: 'tree' as const, digest: rest.tree },
        constraint: { kind: 'exact' as const, digest: rest.tree },
      },
      [name]: { ...entry, constraint: { kind: 'exact' as const, digest: rest.tree } },
    },
    precedence: [],
  };
  try {
    const v = await mergeComposition(two, access);
    return { tree: v.tree, shadowed: rest.shadowed };
  } catch (e) {
    if (e instanceof CompositionError) return undefined;
    throw e;
  }
}

/** Whether an entry offers a node at (or below) the view path `path`. */
async function offersAt(
  access: Pick<TreeAccess, 'getTree'>,
  entry: Pick<CompositionEntry, 'at' | 'node'>,
  path: string,
): Promise<boolean> {
  const want = prefixComponents(path);
  const at = prefixComponents(entry.at);
  // The entry's prefix at or below the path: it makes the path a directory (or is there itself).
  if (at.length >= want.length) return want.every((c, i) => at[i] === c);
  if (!at.every((c, i) => want[i] === c)) return false;
  if (entry.node.kind !== 'tree') return false;
  let d: Digest = entry.node.digest;
  for (let i = at.length; i < want.length; i++) {
    const e = (await access.getTree(d)).entries.find((x) => x.name === want[i]);
    if (!e) return false;
    if (i === want.length - 1) return true;
    if (e.kind !== 'directory') return false;
    d = e.digest;
  }
  return false;
}

/** Reads a whole view tree into a flat map `path → entry` (directories included), for tests and diffs. */
export async function listView(
  access: Pick<TreeAccess, 'getTree'>,
  tree: Digest,
): Promise<Map<string, ViewEntry>> {
  const out = new Map<string, ViewEntry>();
  const walk = async (dir: string, d: Digest): Promise<void> => {
    const t: ViewTree = await access.getTree(d);
    for (const e of [...t.entries].sort((a, b) => compareNames(a.name, b.name))) {
      const p = joinPath(dir, e.name);
      out.set(p, e);
      if (e.kind === 'directory') await walk(p, e.digest);
    }
  };
  await walk('/', tree);
  return out;
}

/** Name → entry indexes of directory listings met by {@link isUnionOnto}, by tree digest. */
const listingIndex = new Map<Digest, Map<string, ViewEntry>>();
const LISTING_INDEX_MAX = 4096;

async function indexOf(access: Pick<TreeAccess, 'getTree'>, d: Digest): Promise<Map<string, ViewEntry>> {
  let m = listingIndex.get(d);
  if (!m) {
    m = new Map((await access.getTree(d)).entries.map((e) => [e.name, e]));
    if (listingIndex.size >= LISTING_INDEX_MAX) listingIndex.clear();
    listingIndex.set(d, m);
  }
  return m;
}

/** The digest of a directory entry (the caller has checked its kind). */
function dirDigest(e: ViewEntry): Digest {
  return (e as { digest: Digest }).digest;
}

function sameEntry(a: ViewEntry, b: ViewEntry): boolean {
  if (a.kind === 'file' && b.kind === 'file') return a.digest === b.digest && a.executable === b.executable;
  if (a.kind === 'symlink' && b.kind === 'symlink') return a.target === b.target;
  return false;
}

/**
 * Whether trees bound at `/` over the merged view `base` (each with a precedence above every entry
 * of `base`, as a world's dependency outputs over its seed) form a union with it: at no path do
 * two of them, or one of them and `base`, hold different non-directories or a directory against a
 * non-directory, and none holds a node at one of `base`'s shadowed paths. Exactly then the merged
 * view of `base`'s entries plus these trees is the overlay of `base`'s view and each tree's,
 * stacked in any order (specs/executor.md §2.2), with `base`'s shadowed paths and no other; when
 * false, precedence or a conflict decides somewhere and the caller merges the whole composition.
 * Pure; reads only the trees' directories that meet another's, and `base`'s listings there.
 * @throws NotFoundError E4 when a tree is not stored
 * @see specs/composition.md §6
 */
export async function isUnionOnto(
  base: MergedView,
  trees: readonly Digest[],
  access: Pick<TreeAccess, 'getTree'>,
): Promise<boolean> {
  const shadowed = base.shadowed.map((s) => s.path);
  const shadowedSet = new Set(shadowed);
  const walk = async (
    path: string,
    baseDir: Digest | undefined,
    dirs: readonly Digest[],
  ): Promise<boolean> => {
    const names = new Map<string, ViewEntry[]>();
    for (const d of dirs)
      for (const e of (await access.getTree(d)).entries) {
        const l = names.get(e.name);
        if (l) l.push(e);
        else names.set(e.name, [e]);
      }
    const below = baseDir === undefined ? undefined : await indexOf(access, baseDir);
    for (const [name, es] of names) {
      const p = joinPath(path, name);
      if (shadowedSet.has(p)) return false;
      const b = below?.get(name);
      const all = b ? [b, ...es] : es;
      if (all.length === 1) continue;
      const first = all[0]!;
      if (first.kind === 'directory') {
        if (!all.every((e) => e.kind === 'directory')) return false;
        const digests = es.map(dirDigest);
        // The same tree everywhere merges to itself, unless it holds a shadowed path of base.
        if (all.every((e) => dirDigest(e) === first.digest)) {
          if (shadowed.some((s) => s.startsWith(`${p}/`))) return false;
          continue;
        }
        if (!(await walk(p, b && dirDigest(b), digests))) return false;
      } else if (!all.every((e) => sameEntry(e, first))) return false;
    }
    return true;
  };
  return trees.length === 0 || walk('/', base.tree, trees);
}
