/**
 * Module names of files in an import root (`site-packages`/`dist-packages`) and the resolution
 * of relative imports, as CPython's import system defines them (`importlib._bootstrap._resolve_name`).
 * Pure.
 *
 * @see specs/interface-python.md §5, §6.4
 */

/**
 * True for a Python identifier (PEP 3131: a letter or `_`, then letters, digits, marks, `_`).
 * Keywords are not excluded (a directory named `class` is not importable, but it is not a module
 * file either, and the difference does not change any manifest field).
 */
export function isIdentifier(s: string): boolean {
  return /^[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*$/u.test(s);
}

/** Where a file sits in the module namespace. */
export interface ModuleOfFile {
  /** Dotted module name: `a/b/c.py` → `a.b.c`; `a/b/__init__.py` → `a.b`. */
  module: string;
  /** True for a package's `__init__.py` (or an extension module named `__init__`). */
  isPackage: boolean;
  /** The kind of file. */
  kind: 'source' | 'extension';
}

/**
 * The file name of a CPython extension module on Linux: `NAME.so` or `NAME.TAG.so` where TAG is
 * one dot-free tag (`cpython-311-x86_64-linux-gnu`, `abi3`); returns NAME or null.
 */
export function extensionModuleName(fileName: string): string | null {
  if (!fileName.endsWith('.so')) return null;
  const stem = fileName.slice(0, -3);
  const dot = stem.indexOf('.');
  const name = dot < 0 ? stem : stem.slice(0, dot);
  if (dot >= 0 && (stem.indexOf('.', dot + 1) >= 0 || dot === stem.length - 1)) return null;
  return isIdentifier(name) ? name : null;
}

/**
 * The module a file provides, or null when it provides none: not a `.py` source or an extension
 * module, or a directory component is not an identifier (e.g. `pip-23.2.1.dist-info/…`,
 * `tests/data/bad-name.py`).
 * @param path relative to the import root, `/`-separated
 */
export function moduleOfPath(path: string): ModuleOfFile | null {
  const parts = path.split('/');
  const file = parts.pop()!;
  if (!parts.every(isIdentifier)) return null;
  let name: string | null;
  let kind: ModuleOfFile['kind'];
  if (file.endsWith('.py')) {
    name = file.slice(0, -3);
    kind = 'source';
    if (!isIdentifier(name)) return null;
  } else {
    name = extensionModuleName(file);
    kind = 'extension';
    if (name === null) return null;
  }
  if (name === '__init__') {
    if (parts.length === 0) return null;
    return { module: parts.join('.'), isPackage: true, kind };
  }
  return { module: [...parts, name].join('.'), isPackage: false, kind };
}

/**
 * The absolute name of a relative import `from <level dots><name> import …` in a file, as
 * `importlib` resolves it: the file's package (the module itself for a package's `__init__`,
 * else its parent) loses `level − 1` trailing components, then `.name` is appended.
 * @returns the absolute name, or null when the file is in no package or the import climbs above
 * the top-level package ("attempted relative import beyond top-level package")
 */
export function resolveRelativeImport(file: ModuleOfFile, level: number, name: string | null): string | null {
  const pkg = file.module.split('.');
  if (!file.isPackage) pkg.pop();
  if (pkg.length === 0 || level - 1 >= pkg.length) return null;
  const base = pkg.slice(0, pkg.length - (level - 1)).join('.');
  return name ? `${base}.${name}` : base;
}
