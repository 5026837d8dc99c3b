/**
 * The closure computer: given a tree (a composition's merged view) and roots, find every file the
 * dynamic loader would load, the way glibc's `ld.so` searches (DT_RPATH of the object and its
 * loaders unless it has DT_RUNPATH, DT_RUNPATH of the object, then the directories of the view's
 * `/etc/ld.so.conf` in place of `/etc/ld.so.cache`, then the default directories; `$ORIGIN`
 * expanded; wrong-class or wrong-machine candidates skipped; PT_INTERP loaded first), check every
 * required version node and versioned symbol against the provider found, and give each member its
 * reasons and each unsatisfied requirement its own item. Pure: all reads go through the injected
 * {@link ClosureTree} and {@link ClosureEntries}.
 *
 * @see specs/interface.md §10
 */
import { digestCanonical, encodeCanonical, NotFoundError, type Digest } from '../../src/kernel/index.ts';
import * as F from '../elf/format.ts';
import { isElf, isLinkable, parseElf, type ElfFile } from '../elf/parse-elf.ts';
import {
  interfaceOfElf,
  providesVersionNode,
  type ElfFileInterface,
} from '../elf-interface/interface-manifest.ts';
import { readLdSoConf } from './ld-so-conf.ts';
import {
  dirName,
  joinLoaderPath,
  ViewResolver,
  type ClosureTree,
  type FollowedLink,
  type ResolvedPath,
} from './view.ts';

/** The `kind` of a closure document. */
export const CLOSURE_KIND = 'eos.closure';
/** The closure document's format version. */
export const CLOSURE_VERSION = 1;

/** DF_1_NODEFLIB: do not search the default directories (nor the cache) for this object's needs. */
const DF_1_NODEFLIB = 0x800;
/** e_machine values with a Debian multiarch triplet. */
const EM_386 = 3;
const EM_X86_64 = 62;
const EM_AARCH64 = 183;

/** How the closure computer learns which composition entries offer a path. */
export interface ClosureEntries {
  /** Every entry name of the composition, sorted. */
  names(): readonly string[];
  /**
   * Absolute view paths of the regular files an entry offers that the view shows from it (roots
   * given as whole entries).
   */
  files(name: string): Promise<string[]>;
  /** The entries whose node at `path` (a real file or a symbolic link) is the one the view shows. */
  owners(path: string): Promise<string[]>;
  /**
   * Whether the regular file the view shows at `path` has the executable bit. When given, a root
   * entry's `#!` file that is not executable is not a root (§10.7): the kernel only reads a `#!`
   * line on exec, so a module's shebang (CPython's `base64.py`) names no dependency.
   */
  executable?(path: string): Promise<boolean>;
}

/** Why a file is in the closure. @see specs/interface.md §10.5 */
export type ClosureReason =
  /** A root given by path (`as`, before links were followed). */
  | { kind: 'root'; as: string }
  /** An ELF file of a root entry. */
  | { kind: 'entry'; entry: string }
  /** The program interpreter (PT_INTERP) of `of`. */
  | { kind: 'interpreter'; of: string }
  /** The `#!` interpreter of the script `of`. */
  | { kind: 'script'; of: string }
  /** `by` has `soname` in DT_NEEDED; the versions and strong versioned symbols it requires of it. */
  | { kind: 'needed'; by: string; soname: string; versions: string[]; symbols: string[] };

/** One file of the closure. */
export interface ClosureMember {
  /** Real path in the view (no symbolic link among its components). */
  path: string;
  /** `elf` (decoded), `script` (`#!`), or `file` (anything else). */
  kind: 'elf' | 'script' | 'file';
  /** Paths it was named by: roots as given, PT_INTERP, the loader's `dir/soname` candidates. Sorted. */
  names: string[];
  /** DT_SONAME, or null. */
  soname: string | null;
  /** Entries that offer it (empty when the tree is not a composition). */
  entries: string[];
  /** Sorted by their canonical encoding. */
  reasons: ClosureReason[];
}

/** A symbolic link followed to reach a member. */
export interface ClosureLink {
  path: string;
  target: string;
  entries: string[];
}

/** One unsatisfied requirement. @see specs/interface.md §10.6 */
export type Unsatisfied =
  | {
      kind: 'missing-interpreter';
      by: string;
      /** A path; or, with `searched`, the command an `env` line names (`#!/usr/bin/env perl`). */
      interpreter: string;
      /** The directories (ENV_COMMAND_PATH) searched for an `env` command, in order. */
      searched?: string[];
    }
  | {
      kind: 'missing-soname';
      by: string;
      soname: string;
      /** Directories searched, in order, each as `DIR (source)`. */
      searched: string[];
      /** Candidates skipped for their ELF class or machine: `PATH: why`. */
      skipped: string[];
    }
  | { kind: 'bad-candidate'; by: string; soname: string; path: string; why: string }
  | { kind: 'missing-version'; by: string; soname: string; provider: string; version: string }
  | { kind: 'missing-symbol'; by: string; soname: string; provider: string; symbol: string };

/** The closure document. @see specs/interface.md §10.4 */
export interface Closure {
  kind: typeof CLOSURE_KIND;
  version: typeof CLOSURE_VERSION;
  /** What it was computed over: a composition root and/or the view's tree digest (null when unknown). */
  subject: { composition: Digest | null; tree: Digest | null };
  /** Roots given by path, sorted, and roots given as entries, sorted. */
  roots: { paths: string[]; entries: string[] };
  /** The search configuration read from the view. */
  search: { ldSoConf: string[]; confDirs: string[]; defaultDirs: string[] };
  /** Sorted by path. */
  members: ClosureMember[];
  /** Sorted by path. */
  links: ClosureLink[];
  /** The minimal set of entries that holds every member and link, sorted. */
  entries: string[];
  /** Sorted by canonical encoding; empty when the closure is complete. */
  unsatisfied: Unsatisfied[];
}

/** Options of {@link computeClosure}. */
export interface ClosureInput {
  tree: ClosureTree;
  /** The composition's entries (roots by entry name and the entry set need it). */
  entries?: ClosureEntries;
  roots: { paths?: readonly string[]; entries?: readonly string[] };
  subject?: { composition?: Digest | null; tree?: Digest | null };
  /** The loader's default directories; by default Debian's for the root's machine (§10.3). */
  defaultDirs?: readonly string[];
  /**
   * Decoded files shared between closures over trees whose file ids name the same bytes (blob
   * digests), e.g. the two views of a swap; see {@link newClosureDecodeCache}.
   */
  decodeCache?: ClosureDecodeCache;
}

/** An opaque cache of decoded ELF files by content id, shared between closure computations. */
export interface ClosureDecodeCache {
  readonly __brand: 'ClosureDecodeCache';
}

/** A new, empty {@link ClosureDecodeCache}. Only share it between trees whose file ids are content digests. */
export function newClosureDecodeCache(): ClosureDecodeCache {
  return new Map() as unknown as ClosureDecodeCache;
}

/** The default search directories of Debian's glibc loader, per ABI (`ld.so --help`). */
export function defaultLibraryDirs(abi: { bits: 32 | 64; machine: number }): string[] {
  const triplet =
    abi.machine === EM_X86_64 && abi.bits === 64
      ? 'x86_64-linux-gnu'
      : abi.machine === EM_AARCH64 && abi.bits === 64
        ? 'aarch64-linux-gnu'
        : abi.machine === EM_386 && abi.bits === 32
          ? 'i386-linux-gnu'
          : null;
  return triplet ? [`/lib/${triplet}`, `/usr/lib/${triplet}`, '/lib', '/usr/lib'] : ['/lib', '/usr/lib'];
}

/** `$LIB` and `$PLATFORM` per ABI (Debian's values). */
function dstValues(abi: { bits: 32 | 64; machine: number }): { lib: string; platform: string } {
  const dirs = defaultLibraryDirs(abi);
  const lib = dirs[0]!.slice(1);
  const platform =
    abi.machine === EM_X86_64
      ? 'x86_64'
      : abi.machine === EM_AARCH64
        ? 'aarch64'
        : abi.machine === EM_386
          ? 'i686'
          : '';
  return { lib, platform };
}

/** A decoded file, cached by content identity. */
interface Decoded {
  bytes: Uint8Array;
  elf: ElfFile | null;
  iface: ElfFileInterface | null;
  /** Version nodes it defines (verdef without BASE). */
  defined: Set<string>;
  exports: Set<string>;
}

/** A loaded object in one root's namespace. */
interface Loaded {
  path: string;
  /** The path it was opened by (its `$ORIGIN` is this path's directory; roots use the real path). */
  openedAs: string;
  names: Set<string>;
  dec: Decoded & { elf: ElfFile };
  loader: Loaded | null;
}

const canonicalOrder = <T>(xs: T[]): T[] => {
  const keyed = xs.map((x) => [Buffer.from(encodeCanonical(x)).toString('latin1'), x] as const);
  const seen = new Set<string>();
  return keyed
    .filter(([k]) => (seen.has(k) ? false : (seen.add(k), true)))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, x]) => x);
};
const sortedUnique = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();

class ClosureComputer {
  readonly view: ViewResolver;
  private readonly decoded: Map<string, Promise<Decoded>>;
  readonly members = new Map<
    string,
    { kind: ClosureMember['kind']; names: Set<string>; soname: string | null; reasons: ClosureReason[] }
  >();
  readonly links = new Map<string, string>();
  readonly unsatisfied: Unsatisfied[] = [];
  confDirs: string[] = [];
  ldSoConf: string[] = [];
  defaultDirs: string[] | null;
  /** The default directories of the first root that searched them (for the document). */
  usedDefaultDirs: string[] | null = null;

  constructor(readonly input: ClosureInput) {
    this.view = new ViewResolver(input.tree);
    this.defaultDirs = input.defaultDirs ? [...input.defaultDirs] : null;
    this.decoded = (input.decodeCache as unknown as Map<string, Promise<Decoded>> | undefined) ?? new Map();
  }

  decode(r: ResolvedPath): Promise<Decoded> {
    let d = this.decoded.get(r.id);
    if (!d) {
      d = this.input.tree.readFile(r.path).then((bytes) => {
        const elf = isElf(bytes) ? parseElf(bytes, r.path) : null;
        const iface = elf ? interfaceOfElf(r.path, elf) : null;
        const defs = (elf?.versionDefinitions ?? []).filter((v) => (v.flags & F.VER_FLG_BASE) === 0);
        const exports = new Set(iface?.sharedObject?.symbols ?? []);
        return {
          bytes,
          elf,
          iface,
          defined: new Set(defs.map((v) => v.name)),
          exports,
        };
      });
      this.decoded.set(r.id, d);
    }
    return d;
  }

  private addLinks(links: readonly FollowedLink[]): void {
    for (const l of links) this.links.set(l.path, l.target);
  }

  private member(path: string, kind: ClosureMember['kind'], soname: string | null) {
    let m = this.members.get(path);
    if (!m) {
      m = { kind, names: new Set(), soname, reasons: [] };
      this.members.set(path, m);
    }
    return m;
  }

  /** Expands `$ORIGIN`, `$LIB`, `$PLATFORM` (and the `${…}` forms) in one search-path element. */
  private expand(s: string, obj: Loaded): string {
    const v = dstValues(obj.dec.elf);
    const origin = obj.loader === null ? dirName(obj.path) : dirName(obj.openedAs);
    return s.replace(/\$(?:\{(ORIGIN|LIB|PLATFORM)\}|(ORIGIN|LIB|PLATFORM)(?![A-Za-z0-9_]))/g, (_m, a, b) => {
      const name = (a ?? b) as string;
      return name === 'ORIGIN' ? origin : name === 'LIB' ? v.lib : v.platform;
    });
  }

  private pathList(value: string, obj: Loaded): string[] {
    return value
      .split(':')
      .filter((e) => e !== '')
      .map((e) => this.expand(e, obj))
      .map((e) => (e.length > 1 ? e.replace(/\/+$/, '') : e));
  }

  /**
   * Opens a candidate the way ld.so's open_verify does: absent → null; another class or machine →
   * skipped; not ELF, another byte order, or not ET_DYN → a fatal bad candidate.
   */
  private async tryCandidate(
    candidate: string,
    root: Loaded,
  ): Promise<
    | { ok: ResolvedPath; dec: Decoded & { elf: ElfFile } }
    | { skip: string }
    | { bad: string; path: string }
    | null
  > {
    const r = await this.view.resolve(candidate);
    if (!r || r.kind !== 'file') return null;
    let dec: Decoded;
    try {
      dec = await this.decode(r);
    } catch (e) {
      return { bad: (e as Error).message, path: candidate };
    }
    if (!dec.elf) return { bad: 'invalid ELF header', path: candidate };
    const want = root.dec.elf;
    if (dec.elf.bits !== want.bits) return { skip: `${candidate}: ELF class ${dec.elf.bits}-bit` };
    if (dec.elf.machine !== want.machine) return { skip: `${candidate}: machine ${dec.elf.machine}` };
    if (dec.elf.endian !== want.endian)
      return { bad: `ELF byte order ${dec.elf.endian}-endian`, path: candidate };
    if (dec.elf.type !== F.ET_DYN) return { bad: `ELF type ${dec.elf.type} is not ET_DYN`, path: candidate };
    return { ok: r, dec: dec as Decoded & { elf: ElfFile } };
  }

  /** Searches for `soname` needed by `obj` in the namespace of `main`. */
  private async search(
    soname: string,
    obj: Loaded,
    main: Loaded,
  ): Promise<{ found: ResolvedPath; openedAs: string; dec: Decoded & { elf: ElfFile } } | null> {
    const dirs: { dir: string; source: string }[] = [];
    let direct: string | null = null;
    if (soname.includes('/')) {
      const p = this.expand(soname, obj);
      direct = p.startsWith('/') ? p : `/${p}`;
    } else {
      if (obj.dec.elf.runpath === null) {
        let didMain = false;
        for (let l: Loaded | null = obj; l; l = l.loader) {
          if (l.dec.elf.rpath !== null && l.dec.elf.runpath === null) {
            for (const d of this.pathList(l.dec.elf.rpath, l))
              dirs.push({ dir: d, source: `rpath of ${l.path}` });
            if (l === main) didMain = true;
          }
        }
        if (!didMain && main.dec.elf.rpath !== null && main.dec.elf.runpath === null)
          for (const d of this.pathList(main.dec.elf.rpath, main))
            dirs.push({ dir: d, source: `rpath of ${main.path}` });
      }
      if (obj.dec.elf.runpath !== null)
        for (const d of this.pathList(obj.dec.elf.runpath, obj))
          dirs.push({ dir: d, source: `runpath of ${obj.path}` });
      const nodeflib = ((obj.dec.elf.flags1 ?? 0) & DF_1_NODEFLIB) !== 0;
      if (!nodeflib) {
        for (const d of this.confDirs) dirs.push({ dir: d, source: 'ld.so.conf' });
        for (const d of this.defaultDirsFor(main)) dirs.push({ dir: d, source: 'default' });
      }
    }
    const candidates = direct ? [{ path: direct, dir: dirName(direct), source: 'path' }] : [];
    const seenDir = new Set<string>();
    for (const d of dirs) {
      const key = `${d.dir}`;
      if (seenDir.has(key)) continue;
      seenDir.add(key);
      candidates.push({ path: joinLoaderPath(d.dir, soname), dir: d.dir, source: d.source });
    }
    const skipped: string[] = [];
    for (const c of candidates) {
      const t = await this.tryCandidate(c.path, main);
      if (t === null) continue;
      if ('skip' in t) {
        skipped.push(t.skip);
        continue;
      }
      if ('bad' in t) {
        this.unsatisfied.push({ kind: 'bad-candidate', by: obj.path, soname, path: t.path, why: t.bad });
        return null;
      }
      return { found: t.ok, openedAs: c.path, dec: t.dec };
    }
    this.unsatisfied.push({
      kind: 'missing-soname',
      by: obj.path,
      soname,
      searched: candidates.map((c) => `${c.dir} (${c.source})`),
      skipped,
    });
    return null;
  }

  private defaultDirsFor(main: Loaded): string[] {
    const dirs = this.defaultDirs ?? defaultLibraryDirs(main.dec.elf);
    this.usedDefaultDirs ??= dirs;
    return dirs;
  }

  /** Loads one root (and its script interpreter, recursively). */
  async root(path: string, reason: ClosureReason, seenRoots: Set<string>): Promise<void> {
    const r = await this.view.resolve(path);
    if (!r || r.kind !== 'file')
      throw new NotFoundError(`closure root ${path} is not a file in the view`, { data: { path } });
    this.addLinks(r.links);
    const dec = await this.decode(r);
    const kind: ClosureMember['kind'] = dec.elf ? 'elf' : isScript(dec.bytes) ? 'script' : 'file';
    const m = this.member(r.path, kind, dec.elf?.soname ?? null);
    m.names.add(path);
    m.reasons.push(reason);
    if (seenRoots.has(r.path)) return;
    seenRoots.add(r.path);
    if (kind === 'script') {
      const interp = scriptInterpreter(dec.bytes);
      if (interp === null) return;
      if (!(await this.view.resolve(interp))) {
        this.unsatisfied.push({ kind: 'missing-interpreter', by: r.path, interpreter: interp });
        return;
      }
      await this.root(interp, { kind: 'script', of: r.path }, seenRoots);
      const cmd = /(^|\/)env$/.test(interp) ? scriptEnvCommand(dec.bytes) : null;
      if (cmd === null) return;
      for (const d of ENV_COMMAND_PATH) {
        const found = await this.view.resolve(`${d}/${cmd}`);
        if (found?.kind !== 'file') continue;
        await this.root(`${d}/${cmd}`, { kind: 'script', of: r.path }, seenRoots);
        return;
      }
      this.unsatisfied.push({
        kind: 'missing-interpreter',
        by: r.path,
        interpreter: cmd,
        searched: [...ENV_COMMAND_PATH],
      });
      return;
    }
    if (!dec.elf || !isLinkable(dec.elf)) return;
    await this.namespace(r, dec as Decoded & { elf: ElfFile });
  }

  /** Loads a root ELF file's dependencies breadth-first, as ld.so does, then checks versions. */
  private async namespace(r: ResolvedPath, dec: Decoded & { elf: ElfFile }): Promise<void> {
    const main: Loaded = { path: r.path, openedAs: r.path, names: new Set(), dec, loader: null };
    if (dec.elf.soname) main.names.add(dec.elf.soname);
    const ns: Loaded[] = [];
    if (dec.elf.interpreter !== null) {
      const interp = dec.elf.interpreter;
      const t = await this.tryCandidate(interp, main);
      if (t === null || 'skip' in t || 'bad' in t) {
        this.unsatisfied.push({ kind: 'missing-interpreter', by: r.path, interpreter: interp });
      } else {
        this.addLinks(t.ok.links);
        const l: Loaded = {
          path: t.ok.path,
          openedAs: interp,
          names: new Set([interp, ...(t.dec.elf.soname ? [t.dec.elf.soname] : [])]),
          dec: t.dec,
          loader: null,
        };
        const m = this.member(l.path, 'elf', t.dec.elf.soname);
        m.names.add(interp);
        m.reasons.push({ kind: 'interpreter', of: r.path });
        ns.push(l);
      }
    }
    ns.push(main);
    const edges: { by: Loaded; soname: string; to: Loaded }[] = [];
    const queue: Loaded[] = [main];
    while (queue.length) {
      const obj = queue.shift()!;
      for (const soname of obj.dec.elf.needed) {
        let to = ns.find((l) => l.names.has(soname));
        if (!to) {
          const s = await this.search(soname, obj, main);
          if (!s) continue;
          this.addLinks(s.found.links);
          to = ns.find((l) => l.path === s.found.path);
          if (to) to.names.add(soname);
          else {
            to = {
              path: s.found.path,
              openedAs: s.openedAs,
              names: new Set([soname, s.openedAs, ...(s.dec.elf.soname ? [s.dec.elf.soname] : [])]),
              dec: s.dec,
              loader: obj,
            };
            ns.push(to);
            queue.push(to);
          }
          this.member(to.path, 'elf', to.dec.elf.soname).names.add(s.openedAs);
        }
        edges.push({ by: obj, soname, to });
      }
    }
    for (const e of edges) {
      const req = e.by.dec.iface?.requires;
      this.member(e.to.path, 'elf', e.to.dec.elf.soname).reasons.push({
        kind: 'needed',
        by: e.by.path,
        soname: e.soname,
        versions: [...(req?.versions[e.soname] ?? [])],
        symbols: [...(req?.symbols[e.soname] ?? [])],
      });
    }
    this.checkVersions(ns);
  }

  /** Every verneed entry of every loaded object against the object loaded for its file. */
  private checkVersions(ns: Loaded[]): void {
    // ld.so binds a versioned reference to the first object of the global scope (the root and
    // everything it loaded) that defines the name at that version; the verneed file only has to
    // define the version node. glibc 2.34+ relies on this: libpthread.so.0 and libdl.so.2 are stubs
    // whose symbols live in libc.so.6.
    const inScope = (name: string, version: string): boolean =>
      ns.some((l) => l.dec.exports.has(`${name}@@${version}`) || l.dec.exports.has(`${name}@${version}`));
    for (const obj of ns) {
      const req = obj.dec.iface?.requires;
      for (const need of obj.dec.elf.versionNeeds) {
        const provider = ns.find((l) => l.names.has(need.file));
        if (!provider) continue; // reported as a missing soname when it is needed
        const missingVersions = new Set<string>();
        for (const v of need.versions) {
          if (providesVersionNode(provider.dec.defined, v.name)) continue;
          missingVersions.add(v.name);
          if ((v.flags & F.VER_FLG_WEAK) !== 0) continue;
          this.unsatisfied.push({
            kind: 'missing-version',
            by: obj.path,
            soname: need.file,
            provider: provider.path,
            version: v.name,
          });
        }
        for (const s of req?.symbols[need.file] ?? []) {
          const at = s.indexOf('@');
          const name = s.slice(0, at);
          const version = s.slice(at + 1);
          if (missingVersions.has(version)) continue;
          if (inScope(name, version)) continue;
          this.unsatisfied.push(missingSymbol(obj, need.file, provider, s));
        }
      }
    }
  }
}

function missingSymbol(obj: Loaded, soname: string, provider: Loaded, symbol: string): Unsatisfied {
  return { kind: 'missing-symbol', by: obj.path, soname, provider: provider.path, symbol };
}

function isScript(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x23 && bytes[1] === 0x21;
}

/**
 * Where the command of a `#!/usr/bin/env NAME` line is looked for, in order: the directories of a
 * default `PATH` (`env` searches the caller's `PATH`, which the closure cannot know; the first of
 * these that has NAME is what such a `PATH` finds).
 */
export const ENV_COMMAND_PATH: readonly string[] = [
  '/usr/local/bin',
  '/usr/bin',
  '/bin',
  '/usr/sbin',
  '/sbin',
];

/**
 * The command an `env` `#!` line runs: its first word after the interpreter that is not an option
 * (`-S`, `-i`) or an assignment (`A=1`), when it is a plain name (no `/`); else null.
 */
export function scriptEnvCommand(bytes: Uint8Array): string | null {
  if (!isScript(bytes)) return null;
  let end = bytes.indexOf(0x0a);
  if (end < 0) end = Math.min(bytes.length, 256);
  const words = new TextDecoder()
    .decode(bytes.subarray(2, end))
    .trim()
    .split(/[ \t]+/)
    .slice(1);
  const w = words.find((x) => x !== '' && !x.startsWith('-') && !x.includes('='));
  return w === undefined || w.includes('/') ? null : w;
}

/** The interpreter path of a `#!` line (first word after `#!`), or null. */
export function scriptInterpreter(bytes: Uint8Array): string | null {
  if (!isScript(bytes)) return null;
  let end = bytes.indexOf(0x0a);
  if (end < 0) end = Math.min(bytes.length, 256);
  const line = new TextDecoder().decode(bytes.subarray(2, end)).trim();
  const word = line.split(/[ \t]/)[0] ?? '';
  return word === '' ? null : word;
}

const REASON_RANK: Record<ClosureReason['kind'], number> = {
  root: 0,
  entry: 1,
  script: 2,
  interpreter: 3,
  needed: 4,
};

/** Reasons by kind (root, entry, script, interpreter, needed), then by canonical encoding. */
function orderReasons(rs: ClosureReason[]): ClosureReason[] {
  return canonicalOrder(rs).sort((a, b) => REASON_RANK[a.kind] - REASON_RANK[b.kind]);
}

/**
 * Chooses the minimal set of entries covering every path: entries that alone offer a path first,
 * then, for each path still uncovered (in path order), its first owner by name.
 */
function minimalEntries(owners: Map<string, string[]>): string[] {
  const chosen = new Set<string>();
  for (const os of owners.values()) if (os.length === 1) chosen.add(os[0]!);
  for (const [, os] of [...owners].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    if (os.length > 1 && !os.some((o) => chosen.has(o))) chosen.add(os[0]!);
  return [...chosen].sort();
}

/**
 * Computes the runtime closure of `roots` in a tree.
 * @returns the canonical closure document (§10.4); unsatisfied requirements are items, not errors
 * @throws NotFoundError E4 when a root path is not a file of the view or a root entry is unknown
 * @throws UsageError E1 when roots are given as entries without {@link ClosureInput.entries}
 * @see specs/interface.md §10
 */
export async function computeClosure(input: ClosureInput): Promise<Closure> {
  const cc = new ClosureComputer(input);
  const conf = await readLdSoConf(cc.view);
  cc.ldSoConf = conf.files;
  const seenDirs = new Set<string>();
  for (const d of conf.dirs) {
    const r = await cc.view.resolve(d);
    if (!r || r.kind !== 'directory' || seenDirs.has(r.path)) continue; // ldconfig skips absent and repeated directories
    seenDirs.add(r.path);
    cc.confDirs.push(d);
  }
  const rootPaths = sortedUnique(input.roots.paths ?? []);
  const rootEntries = sortedUnique(input.roots.entries ?? []);
  const seenRoots = new Set<string>();
  for (const p of rootPaths) await cc.root(p, { kind: 'root', as: p }, seenRoots);
  if (rootEntries.length && !input.entries)
    throw new NotFoundError(`closure roots ${rootEntries.join(', ')}: entries need a composition`, {
      data: { entries: rootEntries },
    });
  for (const name of rootEntries) {
    if (!input.entries!.names().includes(name))
      throw new NotFoundError(`closure root entry ${name} is not in the composition`, {
        data: { entry: name },
      });
    for (const f of (await input.entries!.files(name)).sort()) {
      const r = await cc.view.resolve(f);
      if (!r || r.kind !== 'file') continue;
      const dec = await cc.decode(r);
      if (!dec.elf && !isScript(dec.bytes)) continue;
      if (!dec.elf && input.entries!.executable && !(await input.entries!.executable(f))) continue;
      await cc.root(f, { kind: 'entry', entry: name }, seenRoots);
    }
  }
  const owners = new Map<string, string[]>();
  const ownersOf = async (p: string): Promise<string[]> => {
    const os = input.entries ? sortedUnique(await input.entries.owners(p)) : [];
    owners.set(p, os);
    return os;
  };
  const members: ClosureMember[] = [];
  for (const [path, m] of [...cc.members].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    members.push({
      path,
      kind: m.kind,
      names: sortedUnique(m.names),
      soname: m.soname,
      entries: await ownersOf(path),
      reasons: orderReasons(m.reasons),
    });
  const links: ClosureLink[] = [];
  for (const [path, target] of [...cc.links].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    links.push({ path, target, entries: await ownersOf(path) });
  const entries = input.entries ? minimalEntries(owners) : [];
  for (const e of rootEntries) if (!entries.includes(e)) entries.push(e);
  const defaultDirs = input.defaultDirs ? [...input.defaultDirs] : (cc.usedDefaultDirs ?? []);
  return {
    kind: CLOSURE_KIND,
    version: CLOSURE_VERSION,
    subject: { composition: input.subject?.composition ?? null, tree: input.subject?.tree ?? null },
    roots: { paths: rootPaths, entries: rootEntries },
    search: { ldSoConf: conf.files, confDirs: cc.confDirs, defaultDirs },
    members,
    links,
    entries: entries.sort(),
    unsatisfied: canonicalOrder(cc.unsatisfied),
  };
}

/** The closure document's digest: digestCanonical(closure). */
export function closureDigest(c: Closure): Digest {
  return digestCanonical(c);
}

/** The name a member is shown by: its soname, else its path. */
function shownName(c: Closure, path: string): string {
  return c.members.find((m) => m.path === path)?.soname ?? path;
}

/**
 * One line of text for a reason: `libssl.so.3 ← libcurl.so.4 needs SSL_read@OPENSSL_3.0.0 (+N more)`,
 * `ld-linux-x86-64.so.2 ← /usr/bin/dash interpreter`, `/usr/bin/dash ← root /bin/sh`.
 */
export function describeReason(c: Closure, member: ClosureMember, r: ClosureReason): string {
  const me = member.soname ?? member.path;
  switch (r.kind) {
    case 'root':
      return `${me} ← root ${r.as}`;
    case 'entry':
      return `${me} ← entry ${r.entry}`;
    case 'interpreter':
      return `${me} ← ${shownName(c, r.of)} interpreter`;
    case 'script':
      return `${me} ← ${shownName(c, r.of)} script interpreter`;
    case 'needed': {
      const by = shownName(c, r.by);
      if (r.symbols.length)
        return `${me} ← ${by} needs ${r.symbols[0]}${r.symbols.length > 1 ? ` (+${r.symbols.length - 1} more)` : ''}`;
      if (r.versions.length) return `${me} ← ${by} needs version ${r.versions[0]}`;
      return `${me} ← ${by} needs ${r.soname}`;
    }
  }
}

/** One line of text for an unsatisfied requirement. */
export function describeUnsatisfied(u: Unsatisfied): string {
  switch (u.kind) {
    case 'missing-interpreter':
      return u.searched
        ? `${u.by}: env command ${u.interpreter} not found (searched ${u.searched.join(', ')})`
        : `${u.by}: interpreter ${u.interpreter} not found`;
    case 'missing-soname':
      return `${u.soname} needed by ${u.by}: not found (searched ${u.searched.join(', ') || 'nothing'})${
        u.skipped.length ? `; skipped ${u.skipped.join(', ')}` : ''
      }`;
    case 'bad-candidate':
      return `${u.soname} needed by ${u.by}: ${u.path}: ${u.why}`;
    case 'missing-version':
      return `${u.soname} (${u.provider}) lacks version ${u.version} required by ${u.by}`;
    case 'missing-symbol':
      return `${u.soname} (${u.provider}) does not export ${u.symbol} required by ${u.by}`;
  }
}
