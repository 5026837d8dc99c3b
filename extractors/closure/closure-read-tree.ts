/**
 * The I/O shell of the closure computer: {@link ClosureTree}s over a stored tree (a composition's
 * merged view) and over a directory on disk, and the {@link ClosureEntries} of a composition.
 *
 * @see specs/interface.md §10.2
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  IoError,
  NotFoundError,
  type Digest,
  type ObjectStore,
  type Tree,
  type TreeEntry,
} from '../../src/kernel/index.ts';
import type { ClosureEntries } from './resolve-closure.ts';
import { pathComponents, type ClosureDirEntry, type ClosureTree } from './view.ts';

/** A node a composition entry binds (structurally the composer's `EntryNode`). */
export type ClosureEntryNode =
  | { kind: 'tree'; digest: Digest }
  | { kind: 'file'; digest: Digest; executable: boolean }
  | { kind: 'symlink'; target: string };

/** The part of a composition the closure computer reads (structurally the composer's `Composition`). */
export interface ClosureComposition {
  entries: Record<string, { at: string; node: ClosureEntryNode }>;
}

/** Reads trees once per digest (a closure reads the same directories many times). */
function treeCache(store: ObjectStore): (d: Digest) => Promise<Tree> {
  const cache = new Map<Digest, Promise<Tree>>();
  return (d) => {
    let t = cache.get(d);
    if (!t) {
      t = store.trees.get(d);
      cache.set(d, t);
    }
    return t;
  };
}

/**
 * Looks up a path in a stored tree without following links: the entry, `{kind: 'root'}` for the
 * empty path, or null when absent.
 * @param getTree reads a tree object (the store's, or a pending merge's)
 */
export async function lookupTreePath(
  getTree: (d: Digest) => Promise<Tree>,
  tree: Digest,
  path: string,
): Promise<TreeEntry | { kind: 'root' } | null> {
  const parts = pathComponents(path);
  if (parts.length === 0) return { kind: 'root' };
  let dir: Tree = await getTree(tree);
  for (let i = 0; i < parts.length; i++) {
    const e = dir.entries.find((x) => x.name === parts[i]);
    if (!e) return null;
    if (i === parts.length - 1) return e;
    if (e.kind !== 'directory') return null;
    dir = await getTree(e.digest);
  }
  return null;
}

/**
 * A {@link ClosureTree} over a stored tree: directory listings come from tree objects (cached by
 * path), file bytes from blobs, link targets from the tree entries. File ids are blob digests.
 * @throws NotFoundError E4 / CorruptObjectError E5 from the store when an object is absent or damaged
 */
export function storeClosureTree(store: ObjectStore, tree: Digest): ClosureTree {
  const dirs = new Map<string, Promise<Tree | null>>();
  const getTree = treeCache(store);
  const dirAt = (path: string): Promise<Tree | null> => {
    let d = dirs.get(path);
    if (!d) {
      d = (async () => {
        const parts = pathComponents(path);
        if (parts.length === 0) return getTree(tree);
        const parent = await dirAt('/' + parts.slice(0, -1).join('/'));
        const e = parent?.entries.find((x) => x.name === parts[parts.length - 1]);
        return e && e.kind === 'directory' ? getTree(e.digest) : null;
      })();
      dirs.set(path, d);
    }
    return d;
  };
  const entryAt = async (path: string): Promise<TreeEntry> => {
    const parts = pathComponents(path);
    const parent = await dirAt('/' + parts.slice(0, -1).join('/'));
    const e = parent?.entries.find((x) => x.name === parts[parts.length - 1]);
    if (!e) throw new NotFoundError(`${path} is not in the tree ${tree}`, { data: { path, tree } });
    return e;
  };
  return {
    async listDir(path) {
      const t = await dirAt(path);
      return t
        ? t.entries.map((e): ClosureDirEntry =>
            e.kind === 'file' ? { name: e.name, kind: 'file', id: e.digest } : { name: e.name, kind: e.kind },
          )
        : null;
    },
    async readFile(path) {
      const e = await entryAt(path);
      if (e.kind !== 'file')
        throw new NotFoundError(`${path} is not a file in the tree ${tree}`, { data: { path } });
      return store.blobs.get(e.digest);
    },
    async readLink(path) {
      const e = await entryAt(path);
      if (e.kind !== 'symlink')
        throw new NotFoundError(`${path} is not a symbolic link in the tree ${tree}`, { data: { path } });
      return e.target;
    },
  };
}

/**
 * A {@link ClosureTree} over a directory on disk taken as `/` (links are read, never followed by
 * the file system: the resolver follows them inside the directory).
 * @throws IoError E12 when a file cannot be read
 */
export function directoryClosureTree(dir: string): ClosureTree {
  const real = (p: string) => join(dir, ...pathComponents(p));
  return {
    async listDir(path) {
      let names: string[];
      try {
        if (!lstatSync(real(path)).isDirectory()) return null;
        names = readdirSync(real(path));
      } catch {
        return null;
      }
      const out: ClosureDirEntry[] = [];
      for (const name of names) {
        const st = lstatSync(join(real(path), name));
        if (st.isDirectory()) out.push({ name, kind: 'directory' });
        else if (st.isSymbolicLink()) out.push({ name, kind: 'symlink' });
        else if (st.isFile()) out.push({ name, kind: 'file', id: `${st.dev}:${st.ino}` });
      }
      return out;
    },
    async readFile(path) {
      try {
        return readFileSync(real(path));
      } catch (e) {
        throw new IoError(`${real(path)}: ${(e as Error).message}`, { data: { path: real(path) }, cause: e });
      }
    },
    async readLink(path) {
      try {
        return readlinkSync(real(path));
      } catch (e) {
        throw new IoError(`${real(path)}: ${(e as Error).message}`, { data: { path: real(path) }, cause: e });
      }
    },
  };
}

function sameNode(a: TreeEntry, b: TreeEntry): boolean {
  if (a.kind === 'file' && b.kind === 'file') return a.digest === b.digest && a.executable === b.executable;
  if (a.kind === 'symlink' && b.kind === 'symlink') return a.target === b.target;
  return false;
}

/**
 * The {@link ClosureEntries} of a composition whose merged view is the stored tree `view`: an entry
 * owns a path when its own node there (its tree walked without following links, or its file or
 * symlink node at its prefix) is the node the view shows (so shadowed entries do not own it).
 * @throws NotFoundError E4 / CorruptObjectError E5 from the store
 * @see specs/interface.md §10.7
 */
export function compositionClosureEntries(
  store: ObjectStore,
  c: ClosureComposition,
  view: Digest,
): ClosureEntries {
  const names = Object.keys(c.entries).sort();
  const getTree = treeCache(store);
  const offered = async (name: string, path: string): Promise<TreeEntry | null> => {
    const e = c.entries[name]!;
    const n = e.node;
    if (n.kind !== 'tree') {
      if (path !== e.at) return null;
      return n.kind === 'file'
        ? { name: '', kind: 'file', digest: n.digest, size: 0, executable: n.executable }
        : { name: '', kind: 'symlink', target: n.target };
    }
    const prefix = e.at === '/' ? '' : e.at;
    if (!path.startsWith(prefix + '/')) return null;
    const found = await lookupTreePath(getTree, n.digest, path.slice(prefix.length));
    return found && found.kind !== 'root' ? found : null;
  };
  const shownAt = async (path: string): Promise<TreeEntry | null> => {
    const shown = await lookupTreePath(getTree, view, path);
    return !shown || shown.kind === 'root' || shown.kind === 'directory' ? null : shown;
  };
  return {
    names: () => names,
    async executable(path) {
      const shown = await shownAt(path);
      return shown?.kind === 'file' && shown.executable;
    },
    async owners(path) {
      const shown = await shownAt(path);
      if (!shown) return [];
      const out: string[] = [];
      for (const name of names) {
        const o = await offered(name, path);
        if (o && sameNode(o, shown)) out.push(name);
      }
      return out;
    },
    async files(name) {
      const e = c.entries[name];
      if (!e) return [];
      const n = e.node;
      const candidates: string[] = [];
      if (n.kind === 'file') candidates.push(e.at);
      else if (n.kind === 'tree') {
        const prefix = e.at === '/' ? '' : e.at;
        const walk = async (d: Digest, p: string): Promise<void> => {
          for (const x of (await getTree(d)).entries) {
            if (x.kind === 'directory') await walk(x.digest, `${p}/${x.name}`);
            else if (x.kind === 'file') candidates.push(`${p}/${x.name}`);
          }
        };
        await walk(n.digest, prefix);
      }
      // Only this entry is asked whether it owns each path (not every entry of the composition).
      const out: string[] = [];
      for (const p of candidates) {
        const shown = await shownAt(p);
        const o = shown && (await offered(name, p));
        if (shown && o && sameNode(o, shown)) out.push(p);
      }
      return out;
    },
  };
}
