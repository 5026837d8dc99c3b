/**
 * The tree-reading interface the closure computer works over (a composition's merged view, a
 * stored tree or a directory), and path resolution inside it: symbolic links are followed within
 * the view (an absolute target starts again at the view's root, `..` stops at the root), so a
 * lookup never escapes the view. Pure: every read goes through the injected {@link ClosureTree}.
 *
 * @see specs/interface.md §10.2
 */

/** One name in a directory of the view. */
export interface ClosureDirEntry {
  name: string;
  kind: 'directory' | 'file' | 'symlink';
  /**
   * An identity of a file's content (e.g. its blob digest): files with the same id are decoded
   * once. Absent: the file's real path is used.
   */
  id?: string;
}

/**
 * How the closure computer reads a tree. Paths are absolute, `/`-separated, and name real
 * directories (no symbolic link among their components): the resolver below follows links itself.
 */
export interface ClosureTree {
  /** The entries of the directory at `path`, or null when there is no directory there. */
  listDir(path: string): Promise<readonly ClosureDirEntry[] | null>;
  /** The bytes of the regular file at `path`. */
  readFile(path: string): Promise<Uint8Array>;
  /** The target of the symbolic link at `path`, verbatim. */
  readLink(path: string): Promise<string>;
}

/** A symbolic link followed while resolving a path. */
export interface FollowedLink {
  /** The link's own path (its parent directories are real). */
  path: string;
  target: string;
}

/** A path that resolved to a regular file or a directory. */
export interface ResolvedPath {
  /** The real path: no symbolic link, `.` or `..` among its components. */
  path: string;
  kind: 'file' | 'directory';
  /** The file's content identity ({@link ClosureDirEntry.id}), or its real path. */
  id: string;
  /** Links followed on the way, in order. */
  links: FollowedLink[];
}

/** The kernel's limit on links followed in one lookup (MAXSYMLINKS). */
export const MAX_SYMLINKS = 40;

/** Splits a path into its non-empty components. */
export function pathComponents(p: string): string[] {
  return p.split('/').filter((c) => c !== '');
}

/** Joins real components into an absolute path. */
function joinAbs(parts: readonly string[]): string {
  return '/' + parts.join('/');
}

/**
 * Resolves paths in a {@link ClosureTree}, caching directory listings.
 */
export class ViewResolver {
  private readonly listings = new Map<string, Promise<Map<string, ClosureDirEntry> | null>>();

  constructor(readonly tree: ClosureTree) {}

  /** The entries of a real directory by name (cached), or null. */
  listing(dir: string): Promise<Map<string, ClosureDirEntry> | null> {
    let l = this.listings.get(dir);
    if (!l) {
      l = this.tree.listDir(dir).then((es) => (es ? new Map(es.map((e) => [e.name, e])) : null));
      this.listings.set(dir, l);
    }
    return l;
  }

  /**
   * Resolves `p` (absolute; a relative path is taken from `/`) to a file or directory, following
   * every symbolic link (at most {@link MAX_SYMLINKS}); `..` at the root stays at the root.
   * @returns null when a component is missing, a file is used as a directory, or links loop
   */
  async resolve(p: string): Promise<ResolvedPath | null> {
    const queue = pathComponents(p).reverse();
    const cur: string[] = [];
    const links: FollowedLink[] = [];
    let kind: 'file' | 'directory' = 'directory';
    let id = '/';
    while (queue.length) {
      const c = queue.pop()!;
      if (kind === 'file') return null; // a file used as a directory (ENOTDIR)
      if (c === '.') continue;
      if (c === '..') {
        cur.pop();
        continue;
      }
      const dir = await this.listing(joinAbs(cur));
      const e = dir?.get(c);
      if (!e) return null;
      if (e.kind === 'symlink') {
        if (links.length >= MAX_SYMLINKS) return null; // ELOOP
        const linkPath = joinAbs([...cur, c]);
        const target = await this.tree.readLink(linkPath);
        links.push({ path: linkPath, target });
        if (target.startsWith('/')) cur.length = 0;
        for (const t of pathComponents(target).reverse()) queue.push(t);
        continue;
      }
      cur.push(c);
      kind = e.kind;
      id = e.kind === 'file' ? (e.id ?? joinAbs(cur)) : joinAbs(cur);
    }
    return { path: joinAbs(cur), kind, id, links };
  }

  /**
   * The names in the directory at `p` (resolved first), or null when it is not a directory.
   */
  async names(p: string): Promise<{ dir: string; names: string[] } | null> {
    const r = await this.resolve(p);
    if (!r || r.kind !== 'directory') return null;
    const l = await this.listing(r.path);
    return l ? { dir: r.path, names: [...l.keys()] } : null;
  }
}

/**
 * Lexically joins a directory and a name as the loader does (`dir/name`), collapsing repeated
 * slashes; `.` and `..` are kept (the loader keeps them in the name it records).
 */
export function joinLoaderPath(dir: string, name: string): string {
  const d = dir.replace(/\/+/g, '/');
  return d.endsWith('/') ? d + name : `${d}/${name}`;
}

/** The directory part of a path (`/` for a file at the root). */
export function dirName(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

/** The last component of a path. */
export function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}
