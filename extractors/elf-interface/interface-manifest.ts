/**
 * The interface manifest of a tree: what its ELF files provide (shared objects with their soname,
 * exported `name@version` symbols and version nodes; executables) and what they require (needed
 * sonames, undefined symbols grouped by the soname verneed names, the interpreter, rpath/runpath).
 * Pure: decoded ELF files in, a canonical, digestible value out. The manifest names no other
 * artifact; it is a fact about one tree's bytes.
 *
 * @see specs/interface.md §3–§5
 */
import {
  digestCanonical,
  lazySchemas,
  parseCanonicalWith,
  EncodingError,
  type Digest,
} from '../../src/kernel/index.ts';
import { parseElf, isElf, isLinkable, type ElfFile, type ElfSymbol } from '../elf/parse-elf.ts';
import * as F from '../elf/format.ts';

/** The extractor's identity; caches key manifests by (this, subject tree digest). @see specs/interface.md §3 */
export const EXTRACTOR_IDENTITY = { name: 'eos-interface-elf', version: '1.0.0' } as const;
/** The `kind` field of an interface manifest. */
export const INTERFACE_MANIFEST_KIND = 'eos.interface-manifest';
/** The `kind` field of the object an interface digest is taken over. */
export const ELF_INTERFACE_KIND = 'eos.elf-interface';
/** The manifest format version this code writes and reads. */
export const INTERFACE_MANIFEST_VERSION = 1;

/** ELF class, byte order and machine of a file: which loader (and which providers) it goes with. */
export interface ElfAbi {
  /** `elf32` or `elf64`. */
  class: 'elf32' | 'elf64';
  /** `lsb` (little-endian) or `msb` (big-endian). */
  data: 'lsb' | 'msb';
  /** e_machine (62 x86-64, 3 i386, 183 AArch64, …). */
  machine: number;
}

/** What one shared object provides. @see specs/interface.md §4.1 */
export interface SharedObjectInterface extends ElfAbi {
  /** Path relative to the tree root, `/`-separated. */
  path: string;
  /** DT_SONAME, or null when the object has none. */
  soname: string | null;
  /** Version nodes the object defines (verdef names, the BASE entry excluded), sorted. */
  versions: string[];
  /** Exported symbols as `name@@version` (default), `name@version` (non-default) or `name` (unversioned), sorted. */
  symbols: string[];
  /** digestCanonical of {kind, version, class, data, machine, soname, versions, symbols}. */
  interface: Digest;
}

/** What one ELF file requires. @see specs/interface.md §4.2 */
export interface FileRequirements extends ElfAbi {
  path: string;
  /** PT_INTERP, or null. */
  interpreter: string | null;
  /** DT_NEEDED in dynamic-section order (the loader's search order). */
  needed: string[];
  /** DT_RPATH and DT_RUNPATH as stored (not split, `$ORIGIN` not expanded), or null. */
  rpath: string | null;
  runpath: string | null;
  /** Version nodes required per needed soname (from verneed), sorted. */
  versions: Record<string, string[]>;
  /** Strong (GLOBAL) undefined versioned symbols, `name@version`, per soname verneed names, sorted. */
  symbols: Record<string, string[]>;
  /** Strong undefined symbols without a version, sorted. */
  unversioned: string[];
  /** WEAK undefined versioned symbols per soname, sorted (the loader does not insist on them). */
  weakSymbols: Record<string, string[]>;
  /** WEAK undefined symbols without a version, sorted. */
  weakUnversioned: string[];
}

/** The interface manifest of a tree. @see specs/interface.md §3 */
export interface InterfaceManifest {
  kind: typeof INTERFACE_MANIFEST_KIND;
  version: typeof INTERFACE_MANIFEST_VERSION;
  extractor: { name: string; version: string };
  provides: {
    /** Sorted by path. */
    sharedObjects: SharedObjectInterface[];
    /** Paths of executables, sorted. */
    executables: string[];
  };
  /** One entry per ELF executable or shared object, sorted by path. */
  requires: FileRequirements[];
}

/** The manifest's contribution of one decoded ELF file. */
export interface ElfFileInterface {
  sharedObject: SharedObjectInterface | null;
  executable: string | null;
  requires: FileRequirements | null;
}

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
// Array#sort without a comparator orders strings by UTF-16 code units, the order of byCodeUnits.
const sorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();

function abiOf(e: ElfFile): ElfAbi {
  return {
    class: e.bits === 64 ? 'elf64' : 'elf32',
    data: e.endian === 'little' ? 'lsb' : 'msb',
    machine: e.machine,
  };
}

/** `name@@v`, `name@v` or `name` for a defined symbol. @see specs/interface.md §4.1 */
/** How an exported symbol is written: `name@@version` (default), `name@version` (hidden) or `name`. @see specs/interface.md §4.1 */
export function exportedName(s: ElfSymbol): string {
  if (s.version === null) return s.name;
  return `${s.name}${s.hidden ? '@' : '@@'}${s.version}`;
}

/** Whether a dynamic symbol is exported (defined, global/weak/unique, default/protected, not from verneed). @see specs/interface.md §4.1 */
export function isExported(s: ElfSymbol): boolean {
  return (
    s.index > 0 &&
    s.defined &&
    s.versionFile === null &&
    (s.binding === F.STB_GLOBAL || s.binding === F.STB_WEAK || s.binding === F.STB_GNU_UNIQUE) &&
    (s.visibility === F.STV_DEFAULT || s.visibility === F.STV_PROTECTED) &&
    s.type !== 3 /* STT_SECTION */ &&
    s.type !== 4 /* STT_FILE */
  );
}

/** The interface digest of a shared object's exported set. @see specs/interface.md §4.1 */
export function interfaceDigest(
  abi: ElfAbi,
  soname: string | null,
  versions: readonly string[],
  symbols: readonly string[],
): Digest {
  return digestCanonical({
    kind: ELF_INTERFACE_KIND,
    version: INTERFACE_MANIFEST_VERSION,
    class: abi.class,
    data: abi.data,
    machine: abi.machine,
    soname,
    versions: sorted(versions),
    symbols: sorted(symbols),
  });
}

/**
 * Whether a provider whose version definitions (verdef, non-BASE names) are `defined` satisfies a
 * reference to version node `version`. The one rule of the closure (`missing-version`) and the
 * coverage check (`version V: absent`): only a verdef entry of that name does. A provider without
 * any version definitions satisfies none: glibc's ld.so (2.36, `check_match` in dl-lookup.c)
 * asserts and aborts when a versioned reference meets the object its verneed names and that
 * object has no version information.
 * @see specs/interface.md §6, §10.3
 */
export function providesVersionNode(defined: ReadonlySet<string>, version: string): boolean {
  return defined.has(version);
}

/**
 * What one decoded ELF file contributes to its tree's manifest: a shared-object interface (ET_DYN
 * with a soname, or without a PT_INTERP and not flagged PIE), an executable (ET_EXEC, or ET_DYN
 * with a PT_INTERP or DF_1_PIE) and its requirements. Other ELF types (relocatable objects, core
 * files) and separate debug-information files ({@link isLinkable}) contribute nothing.
 * @param path the file's path relative to the tree root
 * @see specs/interface.md §4
 */
export function interfaceOfElf(path: string, e: ElfFile): ElfFileInterface {
  if (!isLinkable(e)) return { sharedObject: null, executable: null, requires: null };
  const abi = abiOf(e);
  const isExecutable =
    e.type === F.ET_EXEC || e.interpreter !== null || (e.flags1 !== null && (e.flags1 & F.DF_1_PIE) !== 0);
  const isShared = e.type === F.ET_DYN && (e.soname !== null || !isExecutable);
  let sharedObject: SharedObjectInterface | null = null;
  if (isShared) {
    const versions = sorted(
      e.versionDefinitions.filter((v) => (v.flags & F.VER_FLG_BASE) === 0).map((v) => v.name),
    );
    const symbols = sorted(e.symbols.filter(isExported).map(exportedName));
    sharedObject = {
      path,
      ...abi,
      soname: e.soname,
      versions,
      symbols,
      interface: interfaceDigest(abi, e.soname, versions, symbols),
    };
  }
  const versions: Record<string, Set<string>> = {};
  for (const n of e.versionNeeds) for (const v of n.versions) (versions[n.file] ??= new Set()).add(v.name);
  const symbols: Record<string, Set<string>> = {};
  const weakSymbols: Record<string, Set<string>> = {};
  const unversioned = new Set<string>();
  const weakUnversioned = new Set<string>();
  for (const s of e.symbols) {
    // Undefined symbols, and defined ones whose version comes from verneed (copy relocations in
    // executables: the loader still looks the symbol up in the needed file).
    if (s.index === 0 || (s.defined && s.versionFile === null)) continue;
    if (s.binding !== F.STB_GLOBAL && s.binding !== F.STB_WEAK) continue;
    const weak = s.binding === F.STB_WEAK;
    if (s.versionFile !== null && s.version !== null) {
      const groups = weak ? weakSymbols : symbols;
      (groups[s.versionFile] ??= new Set()).add(`${s.name}@${s.version}`);
    } else (weak ? weakUnversioned : unversioned).add(s.name);
  }
  const done = (g: Record<string, Set<string>>): Record<string, string[]> =>
    Object.fromEntries(Object.entries(g).map(([k, v]) => [k, sorted(v)]));
  return {
    sharedObject,
    executable: isExecutable ? path : null,
    requires: {
      path,
      ...abi,
      interpreter: e.interpreter,
      needed: [...e.needed],
      rpath: e.rpath,
      runpath: e.runpath,
      versions: done(versions),
      symbols: done(symbols),
      unversioned: sorted(unversioned),
      weakSymbols: done(weakSymbols),
      weakUnversioned: sorted(weakUnversioned),
    },
  };
}

/**
 * Assembles a tree's manifest from its files' contributions (in any order).
 * @throws EncodingError E3 when two contributions have the same path
 * @see specs/interface.md §3
 */
export function assembleManifest(parts: Iterable<ElfFileInterface>): InterfaceManifest {
  const sharedObjects: SharedObjectInterface[] = [];
  const executables: string[] = [];
  const requires: FileRequirements[] = [];
  for (const p of parts) {
    if (p.sharedObject) sharedObjects.push(p.sharedObject);
    if (p.executable !== null) executables.push(p.executable);
    if (p.requires) requires.push(p.requires);
  }
  const byPath = (a: { path: string }, b: { path: string }) => byCodeUnits(a.path, b.path);
  sharedObjects.sort(byPath);
  requires.sort(byPath);
  executables.sort(byCodeUnits);
  for (let i = 1; i < requires.length; i++)
    if (requires[i]!.path === requires[i - 1]!.path)
      throw new EncodingError(`interface manifest: path ${requires[i]!.path} appears twice`, {
        data: { path: requires[i]!.path },
      });
  return {
    kind: INTERFACE_MANIFEST_KIND,
    version: INTERFACE_MANIFEST_VERSION,
    extractor: { ...EXTRACTOR_IDENTITY },
    provides: { sharedObjects, executables },
    requires,
  };
}

/**
 * The interface manifest of a tree given as (path, bytes) pairs: files that are not ELF are
 * ignored; each ELF file is decoded with its path as its name.
 * @param files paths relative to the tree root, `/`-separated
 * @throws ElfFormatError E15 naming the first malformed ELF file
 * @see specs/interface.md §3
 */
export function buildInterfaceManifest(
  files: Iterable<{ path: string; bytes: Uint8Array }>,
): InterfaceManifest {
  const parts: ElfFileInterface[] = [];
  for (const f of files) if (isElf(f.bytes)) parts.push(interfaceOfElf(f.path, parseElf(f.bytes, f.path)));
  return assembleManifest(parts);
}

/** The manifest's digest: digestCanonical(manifest). @see specs/interface.md §3 */
export function manifestDigest(m: InterfaceManifest): Digest {
  return digestCanonical(m);
}

/**
 * The manifest's zod schemas, made on first use (src/kernel/lazy-modules.ts): `fileRequirements` is
 * the schema of one {@link FileRequirements} (specs/interface.md §4.2), which the Python manifest
 * reuses for an extension module's ELF requirements (specs/interface-python.md §8).
 */
export const interfaceSchemas = lazySchemas((z) => {
  /** A digest field, typed as `Digest` (so the parsed value needs no cast). */
  const digestSchema = z.custom<Digest>(
    (v) => typeof v === 'string' && /^blake3:[0-9a-f]{64}$/.test(v),
    'is not a digest',
  );
  const abiSchema = {
    class: z.enum(['elf32', 'elf64']),
    data: z.enum(['lsb', 'msb']),
    machine: z.number().int().nonnegative(),
  };
  const groups = z.record(z.string(), z.array(z.string()));
  /**
   * The schema of one {@link FileRequirements} (specs/interface.md §4.2); the Python manifest reuses it
   * for an extension module's ELF requirements (specs/interface-python.md §8).
   */
  const fileRequirementsSchema = z
    .object({
      path: z.string(),
      ...abiSchema,
      interpreter: z.string().nullable(),
      needed: z.array(z.string()),
      rpath: z.string().nullable(),
      runpath: z.string().nullable(),
      versions: groups,
      symbols: groups,
      unversioned: z.array(z.string()),
      weakSymbols: groups,
      weakUnversioned: z.array(z.string()),
    })
    .strict();
  const manifestSchema = z
    .object({
      kind: z.literal(INTERFACE_MANIFEST_KIND),
      version: z.literal(INTERFACE_MANIFEST_VERSION),
      extractor: z.object({ name: z.string(), version: z.string() }).strict(),
      provides: z
        .object({
          sharedObjects: z.array(
            z
              .object({
                path: z.string(),
                ...abiSchema,
                soname: z.string().nullable(),
                versions: z.array(z.string()),
                symbols: z.array(z.string()),
                interface: digestSchema,
              })
              .strict(),
          ),
          executables: z.array(z.string()),
        })
        .strict(),
      requires: z.array(fileRequirementsSchema),
    })
    .strict();
  return { fileRequirements: fileRequirementsSchema, manifest: manifestSchema };
});

/**
 * Decodes and validates a manifest's canonical bytes (as stored in a cache).
 * @param what names the subject in errors
 * @throws EncodingError E3 when the bytes are not canonical, the kind or version is unknown, or a field is malformed
 * @see specs/interface.md §3
 */
export function parseInterfaceManifest(bytes: Uint8Array, what = 'interface manifest'): InterfaceManifest {
  return parseCanonicalWith(interfaceSchemas().manifest, bytes, what, EncodingError);
}
