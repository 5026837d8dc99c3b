/**
 * `/etc/ld.so.conf` read from a view, as ldconfig reads it: `#` starts a comment, `include
 * PATTERN…` reads the files matching each glob pattern (relative patterns are taken from the
 * including file's directory; matches in byte order), `hwcap` lines are ignored, any other line
 * names a directory (an old-style `=TYPE` suffix and trailing slashes removed). Pure over a
 * {@link ViewResolver}.
 *
 * @see specs/interface.md §10.3
 */
import { dirName, pathComponents, type ViewResolver } from './view.ts';

/** Includes nested deeper than this are ignored (a file including itself). */
const MAX_INCLUDE_DEPTH = 16;

/** The directories named by `/etc/ld.so.conf` and its includes, and the files read. */
export interface LdSoConf {
  /** Directory lines in the order read (absolute, not resolved; duplicates kept). */
  dirs: string[];
  /** The configuration files read, in order (as named, before resolving links). */
  files: string[];
}

/** True when `name` matches the shell glob `pattern` (`*`, `?`, `[…]`, `[!…]`; no `/`). */
export function globMatch(pattern: string, name: string): boolean {
  if (name.startsWith('.') && !pattern.startsWith('.')) return false;
  const re = globRegExp(pattern);
  return re.test(name);
}

function globRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) out += '\\[';
      else {
        let body = pattern.slice(i + 1, close);
        const negate = body.startsWith('!') || body.startsWith('^');
        if (negate) body = body.slice(1);
        out += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
        i = close;
      }
    } else out += c.replace(/[.*+?^${}()|[\]\\]/g, (m) => `\\${m}`);
  }
  return new RegExp(`^${out}$`, 'u');
}

const hasGlob = (s: string): boolean => /[*?[]/.test(s);
const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** The paths in the view that match an absolute glob pattern, sorted by their bytes. */
async function expandGlob(view: ViewResolver, pattern: string): Promise<string[]> {
  let paths = ['/'];
  for (const comp of pathComponents(pattern)) {
    const next: string[] = [];
    for (const p of paths) {
      const base = p === '/' ? '' : p;
      if (!hasGlob(comp)) {
        next.push(`${base}/${comp}`);
        continue;
      }
      const listing = await view.names(p);
      if (!listing) continue;
      for (const n of listing.names.filter((n) => globMatch(comp, n)).sort(byBytes))
        next.push(`${base}/${n}`);
    }
    paths = next;
  }
  const found: string[] = [];
  for (const p of paths) if (await view.resolve(p)) found.push(p);
  return found;
}

/** Decodes bytes as UTF-8 with malformed sequences replaced. */
const decoder = new TextDecoder('utf-8');

/**
 * Parses one ld.so.conf text into its directory lines and include patterns (absolute).
 * @param file the file's path in the view (relative include patterns are taken from its directory)
 */
export function parseLdSoConfText(
  text: string,
  file: string,
): { items: ({ dir: string } | { include: string })[] } {
  const items: ({ dir: string } | { include: string })[] = [];
  for (const raw of text.split('\n')) {
    const hash = raw.indexOf('#');
    const line = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (line === '') continue;
    if (/^include[ \t]/.test(line)) {
      for (const pat of line.slice(8).split(/[ \t]/)) {
        if (pat === '') continue;
        const abs = pat.startsWith('/') ? pat : `${dirName(file)}/${pat}`;
        items.push({ include: abs });
      }
    } else if (/^hwcap[ \t]/i.test(line)) {
      continue;
    } else {
      let dir = line;
      const eq = dir.indexOf('=');
      if (eq >= 0) dir = dir.slice(0, eq);
      dir = dir.trimEnd();
      while (dir.length > 1 && dir.endsWith('/')) dir = dir.slice(0, -1);
      if (dir.startsWith('/')) items.push({ dir }); // ldconfig ignores relative directories
    }
  }
  return { items };
}

/**
 * Reads `/etc/ld.so.conf` and its includes from the view.
 * @returns empty lists when the view has no `/etc/ld.so.conf`
 * @see specs/interface.md §10.3
 */
export async function readLdSoConf(view: ViewResolver, path = '/etc/ld.so.conf'): Promise<LdSoConf> {
  const out: LdSoConf = { dirs: [], files: [] };
  const visit = async (file: string, depth: number): Promise<void> => {
    if (depth > MAX_INCLUDE_DEPTH) return;
    const r = await view.resolve(file);
    if (!r || r.kind !== 'file') return;
    out.files.push(file);
    const text = decoder.decode(await view.tree.readFile(r.path));
    for (const item of parseLdSoConfText(text, file).items) {
      if ('dir' in item) out.dirs.push(item.dir);
      else for (const f of await expandGlob(view, item.include)) await visit(f, depth + 1);
    }
  };
  await visit(path, 0);
  return out;
}
