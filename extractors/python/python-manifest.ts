/**
 * The Python interface manifest of an import root (a `site-packages` or `dist-packages` tree):
 * what it **provides** (installed distributions with name, version, declared and actual top-level
 * modules and their `RECORD` checked file by file; the top-level modules of its files) and what it
 * **requires** (per `.py` file: the absolute modules it imports, each classified as provided in
 * the tree, standard library or external, and marked optional when a `try`/`if`/`match` encloses
 * it; per extension module: its ELF requirements). Pure: file bytes come only through the
 * `PythonTree` reader; bad file contents become located problems inside the manifest, never a
 * thrown error, so one broken file never hides the rest of the tree.
 *
 * @see specs/interface-python.md §8
 */
import {
  digestCanonical,
  parseCanonicalWith,
  ElfFormatError,
  EncodingError,
  isDigest,
  lazySchemas,
  type Digest,
} from '../../src/kernel/index.ts';
import { parseElf } from '../elf/parse-elf.ts';
import {
  interfaceOfElf,
  interfaceSchemas,
  type FileRequirements,
} from '../elf-interface/interface-manifest.ts';
import { parseImportsFromText, decodePythonSource, type SourceError } from './imports.ts';
import { parseMetadata, parseTopLevel } from './metadata.ts';
import { moduleOfPath, resolveRelativeImport, type ModuleOfFile } from './module-names.ts';
import {
  parseRecord,
  recordHash,
  resolveRecordPath,
  RECORD_HASH_ALGORITHMS,
  type RecordEntry,
} from './record.ts';
import { STDLIB_MODULE_NAMES, STDLIB_SOURCE } from './stdlib-cpython-3.11.ts';

/** The Python extractor's identity; caches key manifests by (this, subject tree digest). @see specs/interface-python.md §8 */
export const PYTHON_EXTRACTOR_IDENTITY = { name: 'eos-interface-python', version: '1.0.0' } as const;
/** The `kind` of a Python interface manifest. */
export const PYTHON_MANIFEST_KIND = 'eos.python-interface-manifest';
/** The Python manifest format version this code writes and reads. */
export const PYTHON_MANIFEST_VERSION = 1;

/** A tree as the pure extractor sees it: its regular files' paths (relative, `/`-separated) and a reader. */
export interface PythonTree {
  readonly paths: readonly string[];
  /** The bytes of one of `paths`; called at most once per path. */
  read(path: string): Uint8Array;
}

/** The ELF requirements of an extension module, or why they could not be read. */
export type ExtensionRequirements = { requires: FileRequirements } | { error: string };

/** Options of buildPythonManifest. */
export interface PythonManifestOptions {
  /**
   * Reads an extension module's ELF requirements. Default: the ELF extractor (`parseElf`, then
   * `interfaceOfElf(…).requires`, specs/interface.md §4.2), a malformed file giving its E15 message.
   */
  extensionRequirements?: (path: string, bytes: Uint8Array) => ExtensionRequirements;
}

/**
 * The ELF extractor's requirement entry of an extension module, or its E15 message.
 * @see specs/interface-python.md §7
 */
export function elfExtensionRequirements(path: string, bytes: Uint8Array): ExtensionRequirements {
  try {
    const r = interfaceOfElf(path, parseElf(bytes, path)).requires;
    if (r !== null) return { requires: r };
    return { error: new ElfFormatError(`${path}: not a loadable ELF object (ET_DYN or ET_EXEC)`).message };
  } catch (e) {
    if (e instanceof ElfFormatError) return { error: e.message };
    throw e;
  }
}

/** A file whose bytes differ from its RECORD row. */
export interface RecordMismatch {
  path: string;
  /** The hash as written (`sha256=…`) and the size from the row (null when the row has none). */
  expected: { hash: string; sizeBytes: number | null };
  /** The same algorithm over the file's bytes, and its size. */
  actual: { hash: string; sizeBytes: number };
}

/** The outcome of checking a distribution's RECORD against the tree. @see specs/interface-python.md §4 */
export interface RecordCheck {
  /** Rows read (malformed rows excluded). */
  rows: number;
  /** Rows whose file is present with the recorded hash (and size, when given). */
  verified: number;
  /** Rows without a hash whose file is present (the RECORD itself, bytecode caches). */
  unhashed: number;
  /**
   * Verified rows whose digest is written in hexadecimal instead of urlsafe base64 (as some
   * Debian packages write it), sorted. Not an error; listed so the deviation stays visible.
   */
  hexDigests: string[];
  /** Files whose bytes or size differ from their row, sorted by path. */
  mismatches: RecordMismatch[];
  /** Recorded paths with no file in the tree, sorted. */
  missing: string[];
  /** Files under the distribution's directories that no RECORD of the tree lists, sorted. */
  unrecorded: string[];
  /** Recorded paths outside the tree (`../../../bin/pip`, absolute paths): not checked, sorted. */
  outside: string[];
  /** Rows whose hash algorithm is not sha224/256/384/512, as `path` with the algorithm. */
  unsupported: { path: string; algorithm: string }[];
  /** Rows that could not be read, located by the line where the row starts. */
  malformed: { line: number; message: string }[];
  /** True when nothing is mismatched, missing, unrecorded, unsupported or malformed. */
  ok: boolean;
}

/** One installed distribution. @see specs/interface-python.md §3 */
export interface PythonDistribution {
  /** Its metadata directory (or `.egg-info` file), e.g. `pip-23.2.1.dist-info`. */
  path: string;
  format: 'dist-info' | 'egg-info';
  /** `Name:` as written, or null. */
  name: string | null;
  /** `Version:` as written, or null. */
  version: string | null;
  /** The lines of `top_level.txt`, sorted; null when the file is absent. */
  topLevel: string[] | null;
  /** Top-level modules of the files its RECORD lists (in the tree), sorted. */
  modules: string[];
  /** The RECORD check; null for an egg-info or a dist-info without RECORD. */
  record: RecordCheck | null;
  /** Problems reading the metadata (no Name, no RECORD, bad encoding), sorted. */
  problems: string[];
}

/** Where an imported module is found. @see specs/interface-python.md §6.6 */
export type ImportScope = 'tree' | 'stdlib' | 'external';

/** One module a file imports. */
export interface ModuleImport {
  /** Absolute dotted name. */
  name: string;
  scope: ImportScope;
  /** True when every statement importing it is inside a `try`, `if` or `match`. */
  optional: boolean;
}

/** What one `.py` file requires. @see specs/interface-python.md §6 */
export interface PythonFileRequirements {
  path: string;
  /** The file's module name, or null when its path is not importable. */
  module: string | null;
  /** Imported modules, sorted by name. */
  imports: ModuleImport[];
  /** Relative imports that cannot be resolved (no package, or beyond the top-level package). */
  unresolved: { line: number; level: number; module: string | null }[];
  /** The first encoding or syntax problem, located; null when the file parsed cleanly. */
  error: SourceError | null;
}

/** One extension module and what its ELF file requires. */
export interface PythonExtension {
  path: string;
  /** Its dotted module name (`yaml._yaml`). */
  module: string;
  /** The ELF extractor's requirement entry (specs/interface.md §4.2), or null when it could not be read. */
  requires: FileRequirements | null;
  /** Why the ELF file could not be read (a located E15 message), or null. */
  error: string | null;
}

/** The Python interface manifest of one import root. @see specs/interface-python.md §8 */
export interface PythonManifest {
  kind: typeof PYTHON_MANIFEST_KIND;
  version: typeof PYTHON_MANIFEST_VERSION;
  extractor: { name: string; version: string };
  /** The standard-library list the `stdlib` scope was decided with. */
  stdlib: { implementation: string; version: string; names: Digest };
  provides: {
    /** Sorted by path. */
    distributions: PythonDistribution[];
    /** Top-level modules the tree's files provide (packages, modules, extension modules), sorted. */
    modules: string[];
  };
  requires: {
    /** One entry per `.py` file, sorted by path. */
    files: PythonFileRequirements[];
    /** One entry per extension module, sorted by path. */
    extensions: PythonExtension[];
  };
}

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const sorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort(byCodeUnits);
const byPath = (a: { path: string }, b: { path: string }) => byCodeUnits(a.path, b.path);

const STDLIB = new Set(STDLIB_MODULE_NAMES);
/** Digest of the standard-library name list (sorted), recorded in every manifest. */
const STDLIB_DIGEST = digestCanonical(sorted(STDLIB_MODULE_NAMES));

/** A distribution's metadata directory, found in the tree's first pass. */
interface DistributionSource {
  path: string;
  format: 'dist-info' | 'egg-info';
  /** The file with the core metadata (METADATA, PKG-INFO or the egg-info file itself). */
  metadata: string | null;
  record: string | null;
  topLevel: string | null;
}

/** The metadata directories at the root of the tree. @see specs/interface-python.md §3 */
function findDistributions(present: Set<string>, paths: readonly string[]): DistributionSource[] {
  const out = new Map<string, DistributionSource>();
  for (const p of paths) {
    const slash = p.indexOf('/');
    const top = slash < 0 ? p : p.slice(0, slash);
    const format = top.endsWith('.dist-info') ? 'dist-info' : top.endsWith('.egg-info') ? 'egg-info' : null;
    if (format === null || out.has(top)) continue;
    if (slash < 0) {
      // An egg-info file: PKG-INFO content in one file (as setuptools writes for distutils installs).
      if (format === 'egg-info')
        out.set(top, { path: top, format, metadata: top, record: null, topLevel: null });
      continue;
    }
    const has = (f: string) => (present.has(`${top}/${f}`) ? `${top}/${f}` : null);
    out.set(top, {
      path: top,
      format,
      metadata: has(format === 'dist-info' ? 'METADATA' : 'PKG-INFO'),
      record: format === 'dist-info' ? has('RECORD') : null,
      topLevel: has('top_level.txt'),
    });
  }
  return [...out.values()].sort(byPath);
}

/** The top-level module a path provides, or null. */
function topModuleOf(path: string): string | null {
  const m = moduleOfPath(path);
  return m === null ? null : m.module.split('.')[0]!;
}

/** The lower-case hexadecimal form of a base64url digest. */
function base64UrlToHex(b64url: string): string {
  return Buffer.from(b64url, 'base64url').toString('hex');
}

/** True when the bytes start with the ELF magic `7f 45 4c 46`. */
function hasElfMagic(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
}

/** Facts about one file's bytes that RECORD checks need. */
interface FileFacts {
  sizeBytes: number;
  hashes: Map<string, string>;
}

/**
 * Builds the Python interface manifest of an import root.
 * @param tree the regular files of the tree and a reader (called at most once per file, only for
 * metadata, RECORD-listed files with a hash, `.py` files and extension modules)
 * @see specs/interface-python.md §8
 */
export function buildPythonManifest(tree: PythonTree, options: PythonManifestOptions = {}): PythonManifest {
  const present = new Set(tree.paths);
  const read = new Map<string, Uint8Array>();
  const readOnce = (p: string): Uint8Array => {
    let b = read.get(p);
    if (b === undefined) {
      b = tree.read(p);
      read.set(p, b);
    }
    return b;
  };

  // 1. Distributions: metadata, top_level.txt, RECORD rows.
  const sources = findDistributions(present, tree.paths);
  const parsedRecords = new Map<string, { entries: (RecordEntry & { resolved: string | null })[] }>();
  const wanted = new Map<string, Set<string>>(); // path → hash algorithms some RECORD wants
  const recordedAll = new Set<string>();
  const distributions: PythonDistribution[] = [];
  const malformedOf = new Map<string, { line: number; message: string }[]>();
  for (const s of sources) {
    const problems: string[] = [];
    let name: string | null = null;
    let version: string | null = null;
    if (s.metadata === null) problems.push(`no ${s.format === 'dist-info' ? 'METADATA' : 'PKG-INFO'} file`);
    else {
      const md = parseMetadata(readOnce(s.metadata));
      name = md.name;
      version = md.version;
      problems.push(...md.problems);
    }
    let topLevel: string[] | null = null;
    if (s.topLevel !== null) {
      topLevel = parseTopLevel(readOnce(s.topLevel));
      if (topLevel === null) problems.push('top_level.txt is not valid UTF-8');
    }
    if (s.format === 'dist-info' && s.record === null) problems.push('no RECORD file');
    if (s.record !== null) {
      const r = parseRecord(readOnce(s.record));
      const base = s.path.includes('/') ? s.path.slice(0, s.path.lastIndexOf('/')) : '';
      const seen = new Set<string>();
      const entries: (RecordEntry & { resolved: string | null })[] = [];
      const malformed = [...r.malformed];
      for (const e of r.entries) {
        const resolved = resolveRecordPath(base, e.path);
        const key = resolved ?? `\0${e.path}`;
        if (seen.has(key)) {
          malformed.push({ line: e.line, message: `duplicate row for ${e.path}` });
          continue;
        }
        seen.add(key);
        entries.push({ ...e, resolved });
        if (resolved === null) continue;
        recordedAll.add(resolved);
        if (
          e.algorithm !== null &&
          RECORD_HASH_ALGORITHMS[e.algorithm] !== undefined &&
          present.has(resolved)
        ) {
          let w = wanted.get(resolved);
          if (w === undefined) wanted.set(resolved, (w = new Set()));
          w.add(e.algorithm);
        }
      }
      parsedRecords.set(s.path, { entries });
      malformedOf.set(s.path, malformed);
    }
    distributions.push({
      path: s.path,
      format: s.format,
      name,
      version,
      topLevel,
      modules: [],
      record: null,
      problems: sorted(problems),
    });
  }

  // 2. Module namespace of the tree.
  const fileModules = new Map<string, ModuleOfFile>();
  const allModules = new Set<string>();
  for (const p of tree.paths) {
    const m = moduleOfPath(p);
    if (m === null) continue;
    fileModules.set(p, m);
    allModules.add(m.module);
  }
  // Every package prefix of a module is importable too (namespace packages have no __init__).
  for (const m of [...allModules]) {
    const parts = m.split('.');
    for (let i = 1; i < parts.length; i++) allModules.add(parts.slice(0, i).join('.'));
  }
  const provided = new Set([...allModules].map((m) => m.split('.')[0]!));
  const scopeOf = (name: string): ImportScope => {
    const top = name.split('.')[0]!;
    return STDLIB.has(top) ? 'stdlib' : provided.has(top) ? 'tree' : 'external';
  };

  // 3. One pass over the files: hashes for RECORD rows, imports of .py files, extension modules.
  const facts = new Map<string, FileFacts>();
  const files: PythonFileRequirements[] = [];
  const extensions: PythonExtension[] = [];
  for (const p of tree.paths) {
    const algos = wanted.get(p);
    const isSource = p.endsWith('.py');
    const mod = fileModules.get(p) ?? null;
    const isExtension = mod?.kind === 'extension';
    if (algos === undefined && !isSource && !isExtension) continue;
    const bytes = readOnce(p);
    read.delete(p);
    if (algos !== undefined) {
      const hashes = new Map<string, string>();
      for (const a of algos) hashes.set(a, recordHash(a, bytes));
      facts.set(p, { sizeBytes: bytes.length, hashes });
    }
    if (isSource) files.push(requirementsOfSource(p, mod, bytes, allModules, scopeOf));
    if (isExtension) {
      const r: ExtensionRequirements = hasElfMagic(bytes)
        ? (options.extensionRequirements ?? elfExtensionRequirements)(p, bytes)
        : {
            error: new ElfFormatError(`${p}: extension module is not an ELF file (no 7f 45 4c 46 magic)`)
              .message,
          };
      extensions.push({
        path: p,
        module: mod!.module,
        requires: 'requires' in r ? r.requires : null,
        error: 'error' in r ? r.error : null,
      });
    }
  }

  // 4. RECORD checks and each distribution's modules.
  for (const d of distributions) {
    const rec = parsedRecords.get(d.path);
    if (rec === undefined) continue;
    const check: RecordCheck = {
      rows: rec.entries.length,
      verified: 0,
      unhashed: 0,
      hexDigests: [],
      mismatches: [],
      missing: [],
      unrecorded: [],
      outside: [],
      unsupported: [],
      malformed: malformedOf.get(d.path) ?? [],
      ok: false,
    };
    const owned = new Set<string>([d.path]);
    const modules = new Set<string>();
    for (const e of rec.entries) {
      if (e.resolved === null) {
        check.outside.push(e.path);
        continue;
      }
      const p = e.resolved;
      if (p.includes('/')) owned.add(p.slice(0, p.indexOf('/')));
      if (!present.has(p)) {
        check.missing.push(p);
        continue;
      }
      const top = topModuleOf(p);
      if (top !== null) modules.add(top);
      if (e.algorithm === null) {
        check.unhashed++;
        continue;
      }
      if (RECORD_HASH_ALGORITHMS[e.algorithm] === undefined) {
        check.unsupported.push({ path: p, algorithm: e.algorithm });
        continue;
      }
      const f = facts.get(p)!;
      const actual = f.hashes.get(e.algorithm)!;
      const hex = e.digest !== null && e.digest.toLowerCase() === base64UrlToHex(actual);
      if (hex) check.hexDigests.push(p);
      if ((actual !== e.digest && !hex) || (e.sizeBytes !== null && e.sizeBytes !== f.sizeBytes))
        check.mismatches.push({
          path: p,
          expected: { hash: `${e.algorithm}=${e.digest ?? ''}`, sizeBytes: e.sizeBytes },
          actual: { hash: `${e.algorithm}=${actual}`, sizeBytes: f.sizeBytes },
        });
      else check.verified++;
    }
    for (const p of tree.paths) {
      if (recordedAll.has(p)) continue;
      const slash = p.indexOf('/');
      if (slash < 0 || !owned.has(p.slice(0, slash))) continue;
      // Bytecode caches are written by the interpreter after installation.
      if (p.endsWith('.pyc') && p.split('/').includes('__pycache__')) continue;
      check.unrecorded.push(p);
    }
    check.mismatches.sort(byPath);
    check.missing = sorted(check.missing);
    check.hexDigests = sorted(check.hexDigests);
    check.unrecorded = sorted(check.unrecorded);
    check.outside = sorted(check.outside);
    check.unsupported.sort((a, b) => byCodeUnits(a.path, b.path) || byCodeUnits(a.algorithm, b.algorithm));
    check.malformed.sort((a, b) => a.line - b.line || byCodeUnits(a.message, b.message));
    check.ok =
      check.mismatches.length === 0 &&
      check.missing.length === 0 &&
      check.unrecorded.length === 0 &&
      check.unsupported.length === 0 &&
      check.malformed.length === 0;
    d.record = check;
    d.modules = sorted(modules);
  }

  files.sort(byPath);
  extensions.sort(byPath);
  return {
    kind: PYTHON_MANIFEST_KIND,
    version: PYTHON_MANIFEST_VERSION,
    extractor: { ...PYTHON_EXTRACTOR_IDENTITY },
    stdlib: {
      implementation: STDLIB_SOURCE.implementation,
      version: STDLIB_SOURCE.version,
      names: STDLIB_DIGEST,
    },
    provides: { distributions, modules: sorted(provided) },
    requires: { files, extensions },
  };
}

/**
 * What one `.py` file requires: its import statements turned into absolute module names.
 * `import a.b` gives `a.b`; `from M import n` gives `M`, and also `M.n` when the tree has a module
 * `M.n` (a submodule import); relative forms are resolved against the file's package first.
 * @see specs/interface-python.md §6
 */
function requirementsOfSource(
  path: string,
  mod: ModuleOfFile | null,
  bytes: Uint8Array,
  allModules: Set<string>,
  scopeOf: (name: string) => ImportScope,
): PythonFileRequirements {
  const decoded = decodePythonSource(bytes);
  const parsed =
    'error' in decoded ? { imports: [], error: decoded.error } : parseImportsFromText(decoded.text);
  const optional = new Map<string, boolean>(); // name → every occurrence optional
  const add = (name: string, opt: boolean) => optional.set(name, (optional.get(name) ?? true) && opt);
  const unresolved: PythonFileRequirements['unresolved'] = [];
  for (const s of parsed.imports) {
    if (s.kind === 'import') {
      for (const n of s.names) add(n.name, s.optional);
      continue;
    }
    let base: string | null = s.module;
    if (s.level > 0) {
      base = mod === null ? null : resolveRelativeImport(mod, s.level, s.module);
      if (base === null) {
        unresolved.push({ line: s.line, level: s.level, module: s.module });
        continue;
      }
    }
    add(base!, s.optional);
    for (const n of s.names)
      if (n.name !== '*' && allModules.has(`${base}.${n.name}`)) add(`${base}.${n.name}`, s.optional);
  }
  const imports = sorted(optional.keys()).map((name) => ({
    name,
    scope: scopeOf(name),
    optional: optional.get(name)!,
  }));
  unresolved.sort(
    (a, b) => a.line - b.line || a.level - b.level || byCodeUnits(a.module ?? '', b.module ?? ''),
  );
  return {
    path,
    module: mod?.kind === 'source' ? mod.module : null,
    imports,
    unresolved,
    error: parsed.error,
  };
}

/** The Python manifest's digest: digestCanonical(manifest). @see specs/interface-python.md §8 */
export function pythonManifestDigest(m: PythonManifest): Digest {
  return digestCanonical(m);
}

/** The manifest's zod schema, made on first use (src/kernel/lazy-modules.ts). */
const manifestSchema = lazySchemas((z) => {
  const fileRequirementsSchema = interfaceSchemas().fileRequirements;
  /** A digest field, typed as `Digest` (so the parsed value needs no cast). */
  const digestSchema = z.custom<Digest>(isDigest, { message: 'is not a digest' });
  const sourceErrorSchema = z
    .object({
      kind: z.enum(['encoding', 'syntax']),
      line: z.number().int().nonnegative(),
      column: z.number().int().nonnegative(),
      message: z.string(),
    })
    .strict();
  const recordCheckSchema = z
    .object({
      rows: z.number().int().nonnegative(),
      verified: z.number().int().nonnegative(),
      unhashed: z.number().int().nonnegative(),
      hexDigests: z.array(z.string()),
      mismatches: z.array(
        z
          .object({
            path: z.string(),
            expected: z
              .object({ hash: z.string(), sizeBytes: z.number().int().nonnegative().nullable() })
              .strict(),
            actual: z.object({ hash: z.string(), sizeBytes: z.number().int().nonnegative() }).strict(),
          })
          .strict(),
      ),
      missing: z.array(z.string()),
      unrecorded: z.array(z.string()),
      outside: z.array(z.string()),
      unsupported: z.array(z.object({ path: z.string(), algorithm: z.string() }).strict()),
      malformed: z.array(z.object({ line: z.number().int().nonnegative(), message: z.string() }).strict()),
      ok: z.boolean(),
    })
    .strict();
  return z
    .object({
      kind: z.literal(PYTHON_MANIFEST_KIND),
      version: z.literal(PYTHON_MANIFEST_VERSION),
      extractor: z.object({ name: z.string(), version: z.string() }).strict(),
      stdlib: z.object({ implementation: z.string(), version: z.string(), names: digestSchema }).strict(),
      provides: z
        .object({
          distributions: z.array(
            z
              .object({
                path: z.string(),
                format: z.enum(['dist-info', 'egg-info']),
                name: z.string().nullable(),
                version: z.string().nullable(),
                topLevel: z.array(z.string()).nullable(),
                modules: z.array(z.string()),
                record: recordCheckSchema.nullable(),
                problems: z.array(z.string()),
              })
              .strict(),
          ),
          modules: z.array(z.string()),
        })
        .strict(),
      requires: z
        .object({
          files: z.array(
            z
              .object({
                path: z.string(),
                module: z.string().nullable(),
                imports: z.array(
                  z
                    .object({
                      name: z.string(),
                      scope: z.enum(['tree', 'stdlib', 'external']),
                      optional: z.boolean(),
                    })
                    .strict(),
                ),
                unresolved: z.array(
                  z
                    .object({
                      line: z.number().int().nonnegative(),
                      level: z.number().int().positive(),
                      module: z.string().nullable(),
                    })
                    .strict(),
                ),
                error: sourceErrorSchema.nullable(),
              })
              .strict(),
          ),
          extensions: z.array(
            z
              .object({
                path: z.string(),
                module: z.string(),
                requires: fileRequirementsSchema.nullable(),
                error: z.string().nullable(),
              })
              .strict(),
          ),
        })
        .strict(),
    })
    .strict();
});

/**
 * Decodes and validates a Python manifest's canonical bytes (as stored in a cache).
 * @param what names the subject in errors
 * @throws EncodingError E3 when the bytes are not canonical, the kind or version is unknown, or a field is malformed
 * @see specs/interface-python.md §8
 */
export function parsePythonManifest(bytes: Uint8Array, what = 'python interface manifest'): PythonManifest {
  return parseCanonicalWith(manifestSchema(), bytes, what, EncodingError);
}
