/**
 * The modules a Python source file imports, found with a real Python parser (@lezer/python), not
 * regular expressions: `import a.b as c, d` and `from .x import y` statements anywhere in the file
 * (module level, functions, `try` blocks), never text in strings or comments. Relative imports are
 * resolved against the file's package. Pure.
 * @see specs/interface.md §9.3
 */
import { parser } from '@lezer/python';

/**
 * The package a file belongs to, as dotted parts: `a/b/c.py` → `[a, b]`, `a/b/__init__.py` → `[a, b]`.
 * @param path the file's path relative to the import root (site-packages), `/`-separated
 */
export function packageOf(path: string): string[] {
  const parts = path.split('/');
  parts.pop();
  return parts;
}

/**
 * Resolves a relative module reference (`level` leading dots, then `name`, possibly empty) against
 * a package; null when it climbs above the import root.
 */
function resolveRelative(pkg: string[], level: number, name: string): string | null {
  if (level - 1 > pkg.length) return null;
  const base = pkg.slice(0, pkg.length - (level - 1));
  const full = [...base, ...(name ? name.split('.') : [])];
  return full.length ? full.join('.') : null;
}

/**
 * The absolute module names a Python file imports, sorted and deduplicated. For
 * `from M import n` the module `M` is recorded (not `M.n`, which may be an attribute). A relative
 * import that climbs above the root is kept as written (leading dots).
 * @param source the file's text
 * @param path the file's path relative to the import root, for relative imports
 */
export function parsePythonImports(source: string, path: string): string[] {
  const tree = parser.parse(source);
  const out = new Set<string>();
  const pkg = packageOf(path);
  const cursor = tree.cursor();
  do {
    if (cursor.name !== 'ImportStatement') continue;
    const tokens: { name: string; text: string }[] = [];
    const c = cursor.node.cursor();
    if (c.firstChild()) {
      do tokens.push({ name: c.name, text: source.slice(c.from, c.to) });
      while (c.nextSibling());
    }
    if (tokens[0]?.name === 'from') {
      let i = 1;
      let level = 0;
      const parts: string[] = [];
      for (; i < tokens.length && tokens[i]!.name !== 'import'; i++) {
        const t = tokens[i]!;
        if (t.name === 'VariableName') parts.push(t.text);
        else if (parts.length === 0 && /^\.+$/.test(t.text)) level += t.text.length;
      }
      const name = parts.join('.');
      if (level === 0) {
        if (name) out.add(name);
      } else out.add(resolveRelative(pkg, level, name) ?? `${'.'.repeat(level)}${name}`);
    } else if (tokens[0]?.name === 'import') {
      let parts: string[] = [];
      let alias = false;
      const flush = () => {
        if (parts.length) out.add(parts.join('.'));
        parts = [];
        alias = false;
      };
      for (let i = 1; i < tokens.length; i++) {
        const t = tokens[i]!;
        if (t.name === ',') flush();
        else if (t.name === 'as') alias = true;
        else if (t.name === 'VariableName' && !alias) parts.push(t.text);
      }
      flush();
    }
  } while (cursor.next());
  return [...out].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
