/**
 * The Python interface manifest of an import root (a `site-packages` or `dist-packages` tree):
 * its distributions (`*.dist-info` with name, version, top-level modules and the `RECORD` checked
 * against the files' sha256 hashes and sizes; `*.egg-info` with name, version and top-level
 * modules), the top-level modules the tree provides, the modules each `.py` file imports, and the
 * ELF requirements of its extension modules (through the ELF extractor). Pure: it reads file bytes
 * only through the `PythonTree` it is given.
 * @see specs/interface.md §9
 */
import { createHash } from 'node:crypto';
import { digestCanonical, type Digest } from '../../src/index.ts';
import { isElf, parseElf } from '../elf/parse-elf.ts';
import { interfaceOfElf, type FileRequirements } from '../interface/manifest.ts';
import { parsePythonImports } from './imports.ts';

/** The Python extractor's identity. @see specs/interface.md §9.1 */
export const PYTHON_EXTRACTOR_IDENTITY = { name: 'eos-interface-python', version: '1.0.0' } as const;
/** The `kind` of a Python interface manifest. */
export const PYTHON_MANIFEST_KIND = 'eos.python-interface-manifest';
/** Its format version. */
export const PYTHON_MANIFEST_VERSION = 1;

/** A tree as the pure extractor sees it: its file paths (relative, `/`-separated) and a reader. */
export interface PythonTree {
  readonly paths: readonly string[];
  read(path: string): Uint8Array;
}

/** The outcome of checking a distribution's RECORD. @see specs/interface.md §9.2 */
export interface RecordCheck {
  /** Rows in RECORD. */
  rows: number;
  /** Rows whose file exists with the recorded sha256 and size. */
  verified: number;
  /** Rows without a hash (RECORD itself, `.pyc` files), not checked. */
  unhashed: number;
  /** Recorded paths that lie outside the tree (`../../bin/x`), not checked. */
  outside: number;
  /** Recorded files absent from the tree, sorted. */
  missing: string[];
  /** Files whose bytes do not match the recorded hash or size, sorted. */
  mismatched: string[];
  /** Rows that could not be read (bad CSV, unknown hash algorithm), as `line N: why`. */
  malformed: string[];
}

/** One installed distribution. */
export interface PythonDistribution {
  /** The metadata directory, e.g. `PyYAML-6.0.dist-info`. */
  path: string;
  /** `dist-info` or `egg-info`. */
  format: 'dist-info' | 'egg-info';
  /** `Name:` of METADATA/PKG-INFO, or null. */
  name: string | null;
  /** `Version:`, or null. */
  version: string | null;
  /** Top-level modules: `top_level.txt`, else derived from RECORD; sorted. */
  topLevel: string[];
  /** The RECORD check (dist-info with a RECORD), else null. */
  record: RecordCheck | null;
}

/** The imports of one Python source file. */
export interface PythonFileImports {
  path: string;
  /** Absolute module names, sorted. */
  imports: string[];
}

/** One extension module and its ELF requirements. */
export interface PythonExtension {
  path: string;
  /** Its dotted module name (`yaml._yaml`). */
  module: string;
  /** Its requirements as the ELF extractor reports them (specs/interface.md §4.2). */
  requires: FileRequirements;
}

/** The Python interface manifest of one import root. @see specs/interface.md §9 */
export interface PythonManifest {
  kind: typeof PYTHON_MANIFEST_KIND;
  version: typeof PYTHON_MANIFEST_VERSION;
  extractor: { name: string; version: string };
  /** Sorted by path. */
  distributions: PythonDistribution[];
  /** Top-level importable names the tree provides (packages, modules, extension modules), sorted. */
  modules: string[];
  /** One entry per `.py` file, sorted by path. */
  files: PythonFileImports[];
  /** Sorted by path. */
  extensions: PythonExtension[];
}

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const sorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort(byCodeUnits);
const text = new TextDecoder('utf-8');

/** An extension module's file name: `name.cpython-311-x86_64-linux-gnu.so`, `name.abi3.so`, `name.so`. */
const EXTENSION = /^([A-Za-z_][A-Za-z0-9_]*)(\.[A-Za-z0-9_-]+)*\.so$/;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses RFC 822-style METADATA/PKG-INFO headers (up to the first blank line). */
function parseHeaders(bytes: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.decode(bytes).split(/\r?\n/)) {
    if (line === '') break;
    const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
    if (m && !out.has(m[1]!.toLowerCase())) out.set(m[1]!.toLowerCase(), m[2]!.trim());
  }
  return out;
}

/** Splits one CSV line (RFC 4180 quoting, as Python's csv module writes RECORD). */
function csvFields(line: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) return null;
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            i++;
            break;
          }
        } else field += line[i++];
      }
    } else {
      const j = line.indexOf(',', i);
      field = j < 0 ? line.slice(i) : line.slice(i, j);
      i = j < 0 ? line.length : j;
    }
    out.push(field);
    if (i >= line.length) return out;
    if (line[i] !== ',') return null;
    i++;
  }
}

/** Normalizes a RECORD path against the tree root; null when it leaves the tree. */
function normalize(p: string): string | null {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) return null;
      out.pop();
    } else out.push(part);
  }
  return out.join('/');
}

/** The base64url (no padding) sha256 of bytes, as RECORD writes it. */
function sha256b64url(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64url');
}

function checkRecord(
  recordBytes: Uint8Array,
  tree: PythonTree,
  present: Set<string>,
): { check: RecordCheck; paths: string[] } {
  const check: RecordCheck = {
    rows: 0,
    verified: 0,
    unhashed: 0,
    outside: 0,
    missing: [],
    mismatched: [],
    malformed: [],
  };
  const paths: string[] = [];
  const lines = text.decode(recordBytes).split(/\r?\n/);
  lines.forEach((line, n) => {
    if (line.trim() === '') return;
    check.rows++;
    const f = csvFields(line);
    if (!f || f.length < 1 || f.length > 3) {
      check.malformed.push(`line ${n + 1}: not a CSV row of path,hash,size`);
      return;
    }
    const [rawPath, hash = '', size = ''] = f as [string, string?, string?];
    const p = normalize(rawPath);
    if (p === null) {
      check.outside++;
      return;
    }
    paths.push(p);
    if (hash === '') {
      check.unhashed++;
      return;
    }
    const eq = hash.indexOf('=');
    const algo = hash.slice(0, eq);
    if (eq < 0 || algo !== 'sha256') {
      check.malformed.push(`line ${n + 1}: unsupported hash ${JSON.stringify(algo || hash)}`);
      return;
    }
    if (!present.has(p)) {
      check.missing.push(p);
      return;
    }
    const bytes = tree.read(p);
    if (sha256b64url(bytes) !== hash.slice(eq + 1) || (size !== '' && Number(size) !== bytes.length))
      check.mismatched.push(p);
    else check.verified++;
  });
  check.missing.sort(byCodeUnits);
  check.mismatched.sort(byCodeUnits);
  return { check, paths };
}

/** The top-level importable name of a path under the root, or null. */
function topLevelOf(path: string): string | null {
  const first = path.split('/')[0]!;
  if (path.includes('/')) return IDENT.test(first) ? first : null;
  if (first.endsWith('.py')) return IDENT.test(first.slice(0, -3)) ? first.slice(0, -3) : null;
  const ext = EXTENSION.exec(first);
  return ext ? ext[1]! : null;
}

/**
 * Builds the Python interface manifest of an import root.
 * @throws ElfFormatError E15 when an extension module is a malformed ELF file (named by its path)
 * @see specs/interface.md §9
 */
export function buildPythonManifest(tree: PythonTree): PythonManifest {
  const present = new Set(tree.paths);
  const distributions: PythonDistribution[] = [];
  const metaDirs = new Set<string>();
  for (const p of tree.paths) {
    const m = /^([^/]+\.(dist-info|egg-info))\/(METADATA|PKG-INFO)$/.exec(p);
    if (!m) continue;
    const dir = m[1]!;
    const format = m[2] as 'dist-info' | 'egg-info';
    if (metaDirs.has(dir)) continue;
    metaDirs.add(dir);
    const headers = parseHeaders(tree.read(p));
    let record: RecordCheck | null = null;
    let recordPaths: string[] = [];
    if (format === 'dist-info' && present.has(`${dir}/RECORD`)) {
      const r = checkRecord(tree.read(`${dir}/RECORD`), tree, present);
      record = r.check;
      recordPaths = r.paths;
    }
    let topLevel: string[];
    if (present.has(`${dir}/top_level.txt`))
      topLevel = sorted(
        text
          .decode(tree.read(`${dir}/top_level.txt`))
          .split(/\r?\n/)
          .map((s) => s.trim())
          .filter((s) => s !== ''),
      );
    else
      topLevel = sorted(
        recordPaths
          .filter((p) => !p.startsWith(`${dir}/`) && !p.split('/').includes('__pycache__'))
          .map(topLevelOf)
          .filter((x): x is string => x !== null),
      );
    distributions.push({
      path: dir,
      format,
      name: headers.get('name') ?? null,
      version: headers.get('version') ?? null,
      topLevel,
      record,
    });
  }
  distributions.sort((a, b) => byCodeUnits(a.path, b.path));

  const modules = new Set<string>();
  const files: PythonFileImports[] = [];
  const extensions: PythonExtension[] = [];
  for (const p of tree.paths) {
    const parts = p.split('/');
    if (parts.includes('__pycache__') || metaDirs.has(parts[0]!)) continue;
    const top = topLevelOf(p);
    if (p.endsWith('.py')) {
      if (top !== null) modules.add(top);
      files.push({ path: p, imports: parsePythonImports(text.decode(tree.read(p)), p) });
    } else if (EXTENSION.test(parts[parts.length - 1]!)) {
      const bytes = tree.read(p);
      if (!isElf(bytes)) continue;
      if (top !== null) modules.add(top);
      const dotted = [...parts.slice(0, -1), EXTENSION.exec(parts[parts.length - 1]!)![1]!].join('.');
      const req = interfaceOfElf(p, parseElf(bytes, p)).requires;
      if (req) extensions.push({ path: p, module: dotted, requires: req });
    }
  }
  files.sort((a, b) => byCodeUnits(a.path, b.path));
  extensions.sort((a, b) => byCodeUnits(a.path, b.path));
  return {
    kind: PYTHON_MANIFEST_KIND,
    version: PYTHON_MANIFEST_VERSION,
    extractor: { ...PYTHON_EXTRACTOR_IDENTITY },
    distributions,
    modules: sorted(modules),
    files,
    extensions,
  };
}

/** The Python manifest's digest: digestCanonical(manifest). @see specs/interface.md §9 */
export function pythonManifestDigest(m: PythonManifest): Digest {
  return digestCanonical(m);
}
