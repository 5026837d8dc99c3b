/**
 * The swap proof: does a replacement node for one entry of a composition still provide everything
 * the entry's consumers in that composition bind? Consumers are the ELF files of the other entries
 * whose DT_NEEDED resolve into the entry (found by the closure computer over the merged view:
 * search order, rpath/runpath, ld.so.conf, version nodes). The new node covers when, for every
 * consumer, each soname the old node provided is still provided by the new node, every symbol the
 * consumer binds there is defined at the same version node, default or not as before, with the
 * same symbol type and, for data objects, the same `st_size`; and the new node's own requirements
 * are satisfied inside the new composition. Files of other entries that import `dlopen` and name
 * one of the old sonames are listed as unchecked. The proof is canonical and hashed.
 *
 * I/O: reads trees and blobs from the store (and the interface-manifest cache); writes nothing.
 *
 * @see specs/interface.md §11
 */
import {
  digestCanonical,
  NotFoundError,
  type Digest,
  type ObjectStore,
  type Store,
  type Tree,
} from '../src/kernel/index.ts';
import {
  compositionClosureEntries,
  computeClosure,
  describeUnsatisfied,
  newClosureDecodeCache,
  exportedName,
  interfaceOfElf,
  isElf,
  isExported,
  lookupTreePath,
  manifestDigest,
  parseElf,
  storeClosureTree,
  symbolTypeName,
  type Closure,
  type ClosureDecodeCache,
  type ClosureEntries,
  type ElfFile,
  type ElfSymbol,
} from '../extractors/index.ts';
import { nodeDigest, type Composition, type EntryNode } from './composition.ts';
import { candidateEntries, importsDlopen, nodeManifest, sonameIndex, sonameOf } from './soname-index.ts';

/** The `kind` of a swap proof. */
export const SWAP_PROOF_KIND = 'eos.swap-proof';
/** The swap proof's format version. */
export const SWAP_PROOF_VERSION = 1;

/** STT_OBJECT and STT_TLS: data whose size a consumer may have copied (copy relocations). */
const DATA_TYPES = new Set([1, 6]);

/** One requirement the new node fails: `item` is `name@VERSION`, `name`, `version V` or `soname S`. */
export interface SwapMissing {
  item: string;
  /** Why: `absent`, `not found`, `resolves to PATH`, `now default`, `no longer default`, `type FUNC → OBJECT`, `size 4 → 8`, `version node V absent`. */
  why: string;
}

/** What one consumer requires of one soname the old node provided, and how the new node fares. */
export interface SwapSonameCheck {
  soname: string;
  /** The provider's real path in the old view. */
  old: string;
  /** The provider's real path in the new view, or null when the soname no longer resolves into the entry. */
  new: string | null;
  /** Version nodes required (from the consumer's verneed) and defined by the old provider, sorted. */
  versions: string[];
  /** Symbols the consumer binds there, `name@VERSION` or plain `name`, strong and weak, sorted. */
  symbols: string[];
  /** What the new provider fails, sorted by item. */
  missing: SwapMissing[];
  /** Weak symbols the new provider lacks (the loader leaves them unbound; not part of the verdict), sorted. */
  missingWeak: string[];
}

/** One consumer file. */
export interface SwapConsumer {
  /** Real path in the view. */
  path: string;
  /** The entries that offer it. */
  entries: string[];
  /** Its blob digest. */
  file: Digest;
  /** Sorted by soname. */
  needs: SwapSonameCheck[];
}

/** A file outside the entry that imports `dlopen` and names an old soname: not checked. */
export interface SwapUnchecked {
  path: string;
  entries: string[];
  /** The old sonames its bytes name, sorted. */
  sonames: string[];
}

/** The swap proof. @see specs/interface.md §11.3 */
export interface SwapProof {
  kind: typeof SWAP_PROOF_KIND;
  version: typeof SWAP_PROOF_VERSION;
  /** The entry replaced and its prefix. */
  entry: string;
  at: string;
  /** The node the entry was pinned to and its interface manifest digest. */
  old: { node: Digest; manifest: Digest };
  /** The replacement node and its interface manifest digest. */
  new: { node: Digest; manifest: Digest };
  /** Sorted by path. */
  consumers: SwapConsumer[];
  /** Sorted by path. */
  unchecked: SwapUnchecked[];
  /** The new node's own requirements in the new composition: its ELF files taken as roots, and what
   * is unsatisfied there that was not unsatisfied for the old node in the old composition. */
  self: { roots: number; unsatisfied: string[] };
  /** Totals: consumer files, and (consumer, soname, symbol) triples checked. */
  checked: { consumers: number; symbols: number };
  verdict: 'covered' | 'not-covered';
}

/** A merged view to prove against: its tree digest and how to read its (possibly unstored) trees. */
export interface ProofView {
  composition: Composition;
  tree: Digest;
  /** Reads a tree object: the store's, or one a pending merge has not written yet. */
  getTree(d: Digest): Promise<Tree>;
}

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const sorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort(byCodeUnits);

/** An object store whose trees come from `getTree` (pending merges) and blobs from the store. */
function viewStore(store: Store, getTree: (d: Digest) => Promise<Tree>): ObjectStore {
  return {
    trees: { get: getTree },
    blobs: { get: (d: Digest) => store.blobs.get(d) },
  } as unknown as ObjectStore;
}

/** Decodes blobs once per digest. */
class Blobs {
  private readonly elves = new Map<Digest, Promise<{ bytes: Uint8Array; elf: ElfFile | null }>>();
  constructor(private readonly store: Store) {}
  get(d: Digest, path: string): Promise<{ bytes: Uint8Array; elf: ElfFile | null }> {
    let p = this.elves.get(d);
    if (!p) {
      p = this.store.blobs
        .get(d)
        .then((bytes) => ({ bytes, elf: isElf(bytes) ? parseElf(bytes, path) : null }));
      this.elves.set(d, p);
    }
    return p;
  }
}

/** The view path of a manifest path of an entry bound at `at`. */
function viewPath(at: string, node: EntryNode, rel: string): string {
  if (node.kind !== 'tree') return at;
  return at === '/' ? `/${rel}` : `${at}/${rel}`;
}

/** The candidate roots: ELF files of other entries whose DT_NEEDED reach a soname of the entry. */
interface Candidates {
  roots: string[];
  /** The entry each candidate path came from. */
  entryOf: Map<string, string>;
  /** Files of other entries that import dlopen (view path → requirements), for the unchecked scan. */
  dlopeners: { path: string; entry: string }[];
}

/**
 * The candidates, reading the interface manifests of only the entries the composition's soname
 * index says may consume the entry (the same roots as scanning every entry: an entry none of whose
 * needs reaches the entry's sonames holds no file that does).
 */
async function candidates(
  store: Store,
  c: Composition,
  name: string,
  sonames: Set<string>,
): Promise<Candidates> {
  const files: { path: string; entry: string; needed: readonly string[]; soname: string | null }[] = [];
  const dlopeners: { path: string; entry: string }[] = [];
  const ix = await sonameIndex(store, c);
  for (const other of candidateEntries(ix, name, sonames)) {
    const e = c.entries[other]!;
    const m = await nodeManifest(store, e.node, e.at);
    const sonameByPath = new Map(m.provides.sharedObjects.map((o) => [o.path, sonameOf(o)]));
    for (const r of m.requires) {
      const path = viewPath(e.at, e.node, r.path);
      files.push({ path, entry: other, needed: r.needed, soname: sonameByPath.get(r.path) ?? null });
      if (importsDlopen(r)) dlopeners.push({ path, entry: other });
    }
  }
  // Sonames whose loading may load the entry: the entry's own, then every shared object needing one.
  const reach = new Set(sonames);
  for (let grew = true; grew;) {
    grew = false;
    for (const f of files)
      if (f.soname !== null && !reach.has(f.soname) && f.needed.some((n) => reach.has(n))) {
        reach.add(f.soname);
        grew = true;
      }
  }
  const roots = sorted(files.filter((f) => f.needed.some((n) => reach.has(n))).map((f) => f.path));
  return { roots, entryOf: new Map(files.map((f) => [f.path, f.entry])), dlopeners };
}

/** Finds an exported definition: `name@V` (default or hidden), or plain `name` (unversioned or default). */
const exportsByName = new WeakMap<ElfFile, Map<string, ElfSymbol[]>>();

/** The exported symbols of a file by name (indexed once per decoded file). */
function exportsNamed(elf: ElfFile, name: string): readonly ElfSymbol[] {
  let m = exportsByName.get(elf);
  if (!m) {
    m = new Map();
    for (const s of elf.symbols) if (isExported(s)) (m.get(s.name) ?? m.set(s.name, []).get(s.name)!).push(s);
    exportsByName.set(elf, m);
  }
  return m.get(name) ?? [];
}

function findDef(elf: ElfFile, want: string): ElfSymbol | undefined {
  const at = want.indexOf('@');
  if (at >= 0) {
    const v = want.slice(at + 1);
    return exportsNamed(elf, want.slice(0, at)).find((s) => s.version === v);
  }
  return exportsNamed(elf, want).find((s) => s.version === null || !s.hidden);
}

function definedVersions(elf: ElfFile): Set<string> {
  return new Set(elf.versionDefinitions.filter((v) => (v.flags & 1) === 0).map((v) => v.name));
}

/** Compares one bound symbol's old and new definitions; null when they agree. */
function compareDef(oldDef: ElfSymbol, newDef: ElfSymbol | undefined): string | null {
  if (!newDef) return 'absent';
  if (oldDef.version !== null && newDef.version !== null && oldDef.hidden !== newDef.hidden)
    return newDef.hidden ? 'no longer default' : 'now default';
  if (oldDef.type !== newDef.type)
    return `type ${symbolTypeName(oldDef.type)} → ${symbolTypeName(newDef.type)}`;
  if (DATA_TYPES.has(oldDef.type) && oldDef.size !== newDef.size)
    return `size ${oldDef.size} → ${newDef.size}`;
  return null;
}

/** The needed edges of a closure into members owned by `name`, from members it does not own. */
function edgesInto(cl: Closure, name: string): { by: string; soname: string; provider: string }[] {
  const owners = new Map(cl.members.map((m) => [m.path, m.entries]));
  const out: { by: string; soname: string; provider: string }[] = [];
  for (const m of cl.members) {
    if (!m.entries.includes(name)) continue;
    for (const r of m.reasons)
      if (r.kind === 'needed' && !(owners.get(r.by) ?? []).includes(name))
        out.push({ by: r.by, soname: r.soname, provider: m.path });
  }
  return out;
}

/**
 * The closure computer's entry view, narrowed to the one question the proof asks of it: does entry
 * `name` own this path? (Asking every entry about every member would make the cost grow with the
 * number of entries, not with the consumers.) `files` is the full answer, for roots given as the
 * entry.
 */
function ownedBy(os: ObjectStore, c: Composition, view: Digest, name: string): ClosureEntries {
  const full = compositionClosureEntries(os, c, view);
  const only = compositionClosureEntries(os, { entries: { [name]: c.entries[name]! } }, view);
  return {
    names: () => full.names(),
    files: (n) => full.files(n),
    owners: (p) => only.owners(p),
    ...(full.executable ? { executable: full.executable.bind(full) } : {}),
  };
}

/** Unsatisfied requirements of the entry's own files (taken as roots) in a view, described. */
async function selfUnsatisfied(
  store: Store,
  v: ProofView,
  name: string,
  decodeCache: ClosureDecodeCache,
): Promise<{ roots: number; unsatisfied: string[] }> {
  const os = viewStore(store, v.getTree);
  const entries = ownedBy(os, v.composition, v.tree, name);
  const cl = await computeClosure({
    tree: storeClosureTree(os, v.tree),
    entries,
    roots: { entries: [name] },
    decodeCache,
  });
  const roots = cl.members.filter((m) => m.reasons.some((r) => r.kind === 'entry')).length;
  return { roots, unsatisfied: sorted(cl.unsatisfied.map(describeUnsatisfied)) };
}

/**
 * Proves (or refutes) that `next`'s node for entry `name` covers what the consumers of `base`'s
 * node (the node the entry was pinned to) bind, in the composition `next`.
 * @param base the composition with the entry at its pinned node, and its merged view
 * @param next the composition with the replacement node, and its merged view (trees may be pending)
 * @returns the proof and its digest (not stored)
 * @throws NotFoundError E4 (an object or the entry is absent), ElfFormatError E15 (a malformed ELF file)
 * @see specs/interface.md §11
 */
export async function proveSwap(
  store: Store,
  name: string,
  baseView: ProofView,
  nextView: ProofView,
): Promise<{ proof: SwapProof; digest: Digest }> {
  // Every lookup below walks from the view's root: read each tree once per proof.
  const base = { ...baseView, getTree: memoTrees(baseView.getTree) };
  const next = { ...nextView, getTree: memoTrees(nextView.getTree) };
  const oldEntry = base.composition.entries[name];
  const newEntry = next.composition.entries[name];
  if (!oldEntry || !newEntry)
    throw new NotFoundError(`swap: entry ${name} is not in the composition`, { data: { entry: name } });
  const [oldManifest, newManifest] = await Promise.all([
    nodeManifest(store, oldEntry.node, oldEntry.at),
    nodeManifest(store, newEntry.node, newEntry.at),
  ]);
  const oldSonames = new Set(oldManifest.provides.sharedObjects.map(sonameOf));
  const cand = await candidates(store, base.composition, name, oldSonames);
  const blobs = new Blobs(store);
  // Both views name files by blob digest: one decoding of each file serves every closure here.
  const decodeCache = newClosureDecodeCache();

  const closureOf = async (v: ProofView): Promise<Closure | null> => {
    if (cand.roots.length === 0) return null;
    const os = viewStore(store, v.getTree);
    return computeClosure({
      tree: storeClosureTree(os, v.tree),
      entries: ownedBy(os, v.composition, v.tree, name),
      roots: { paths: cand.roots },
      decodeCache,
    });
  };
  const [oldClosure, newClosure] = await Promise.all([closureOf(base), closureOf(next)]);
  const oldEdges = oldClosure ? edgesInto(oldClosure, name) : [];
  const newEdges = newClosure ? edgesInto(newClosure, name) : [];

  const fileAt = async (v: ProofView, path: string): Promise<Digest> => {
    const e = await lookupTreePath(v.getTree, v.tree, path);
    if (!e || e.kind !== 'file')
      throw new NotFoundError(`swap: ${path} is not a file of the view ${v.tree}`, { data: { path } });
    return e.digest;
  };

  // One check per (consumer, soname); several namespaces giving the same edge are one.
  const bySoname = new Map<string, { by: string; soname: string; provider: string }>();
  for (const e of oldEdges) bySoname.set(`${e.by}\0${e.soname}`, e);
  const consumers = new Map<string, SwapConsumer>();
  let symbolsChecked = 0;
  for (const key of [...bySoname.keys()].sort(byCodeUnits)) {
    const e = bySoname.get(key)!;
    let consumer = consumers.get(e.by);
    if (!consumer) {
      consumer = {
        path: e.by,
        entries: cand.entryOf.has(e.by) ? [cand.entryOf.get(e.by)!] : [],
        file: await fileAt(base, e.by),
        needs: [],
      };
      consumers.set(e.by, consumer);
    }
    const cons = await blobs.get(consumer.file, e.by);
    const req = cons.elf ? interfaceOfElf(e.by, cons.elf).requires : null;
    const oldProv = (await blobs.get(await fileAt(base, e.provider), e.provider)).elf!;
    const oldVersions = definedVersions(oldProv);
    const versions = sorted((req?.versions[e.soname] ?? []).filter((v) => oldVersions.has(v)));
    const strong = [...(req?.symbols[e.soname] ?? []), ...(req?.unversioned ?? [])].filter(
      (s) => findDef(oldProv, s) !== undefined,
    );
    const weak = [...(req?.weakSymbols[e.soname] ?? []), ...(req?.weakUnversioned ?? [])].filter(
      (s) => findDef(oldProv, s) !== undefined,
    );
    const check: SwapSonameCheck = {
      soname: e.soname,
      old: e.provider,
      new: null,
      versions,
      symbols: sorted([...strong, ...weak]),
      missing: [],
      missingWeak: [],
    };
    symbolsChecked += check.symbols.length;
    const into = newEdges.find((x) => x.by === e.by && x.soname === e.soname);
    if (!into) {
      const elsewhere = (newClosure?.members ?? []).find((m) =>
        m.reasons.some((r) => r.kind === 'needed' && r.by === e.by && r.soname === e.soname),
      );
      check.missing.push({
        item: `soname ${e.soname}`,
        why: elsewhere ? `resolves to ${elsewhere.path}, outside ${name}` : 'not found',
      });
      for (const s of sorted(strong)) check.missing.push({ item: s, why: `soname ${e.soname} not provided` });
    } else {
      check.new = into.provider;
      const newProv = (await blobs.get(await fileAt(next, into.provider), into.provider)).elf!;
      const newVersions = definedVersions(newProv);
      const goneVersions = new Set(versions.filter((v) => !newVersions.has(v)));
      for (const v of goneVersions) check.missing.push({ item: `version ${v}`, why: 'absent' });
      for (const s of sorted(strong)) {
        const v = s.includes('@') ? s.slice(s.indexOf('@') + 1) : null;
        const newDef = findDef(newProv, s);
        let why = compareDef(findDef(oldProv, s)!, newDef);
        if (why === 'absent' && v !== null && goneVersions.has(v)) why = `version node ${v} absent`;
        if (why === 'absent' && v !== null) {
          const moved = exportsNamed(newProv, s.slice(0, s.indexOf('@')))[0];
          if (moved) why = `absent (now ${exportedName(moved)})`;
        }
        if (why !== null) check.missing.push({ item: s, why });
      }
      for (const s of sorted(weak)) {
        const why = compareDef(findDef(oldProv, s)!, findDef(newProv, s));
        if (why === 'absent') check.missingWeak.push(s);
        else if (why !== null) check.missing.push({ item: s, why });
      }
    }
    check.missing.sort((a, b) => byCodeUnits(a.item, b.item));
    consumer.needs.push(check);
  }

  // dlopen users outside the entry that name an old soname.
  const consumerPaths = new Set(consumers.keys());
  const unchecked: SwapUnchecked[] = [];
  const needles = [...oldSonames].map((s) => ({ s, b: Buffer.from(s) }));
  for (const d of cand.dlopeners) {
    if (consumerPaths.has(d.path) || needles.length === 0) continue;
    const e = await lookupTreePath(base.getTree, base.tree, d.path);
    if (!e || e.kind !== 'file') continue;
    const { bytes } = await blobs.get(e.digest, d.path);
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const hits = needles.filter((n) => buf.includes(n.b)).map((n) => n.s);
    if (hits.length) unchecked.push({ path: d.path, entries: [d.entry], sonames: sorted(hits) });
  }
  unchecked.sort((a, b) => byCodeUnits(a.path, b.path));

  const [selfOld, selfNew] = await Promise.all([
    selfUnsatisfied(store, base, name, decodeCache),
    selfUnsatisfied(store, next, name, decodeCache),
  ]);
  const before = new Set(selfOld.unsatisfied);
  const self = { roots: selfNew.roots, unsatisfied: selfNew.unsatisfied.filter((u) => !before.has(u)) };

  const list = [...consumers.values()].sort((a, b) => byCodeUnits(a.path, b.path));
  const covered =
    self.unsatisfied.length === 0 && list.every((c) => c.needs.every((n) => n.missing.length === 0));
  const proof: SwapProof = {
    kind: SWAP_PROOF_KIND,
    version: SWAP_PROOF_VERSION,
    entry: name,
    at: newEntry.at,
    old: { node: nodeDigest(oldEntry.node), manifest: manifestDigest(oldManifest) },
    new: { node: nodeDigest(newEntry.node), manifest: manifestDigest(newManifest) },
    consumers: list,
    unchecked,
    self,
    checked: { consumers: list.length, symbols: symbolsChecked },
    verdict: covered ? 'covered' : 'not-covered',
  };
  return { proof, digest: digestCanonical(proof) };
}

/** Reads each tree once (by digest). */
function memoTrees(get: (d: Digest) => Promise<Tree>): (d: Digest) => Promise<Tree> {
  const seen = new Map<Digest, Promise<Tree>>();
  return (d) => {
    let t = seen.get(d);
    if (!t) seen.set(d, (t = get(d)));
    return t;
  };
}

/** Every failed item of a proof as `CONSUMER⇥SONAME⇥ITEM⇥WHY`, plus `self` lines. */
export function proofFailures(
  p: SwapProof,
): { consumer: string; soname: string; item: string; why: string }[] {
  const out: { consumer: string; soname: string; item: string; why: string }[] = [];
  for (const c of p.consumers)
    for (const n of c.needs)
      for (const m of n.missing) out.push({ consumer: c.path, soname: n.soname, ...m });
  for (const u of p.self.unsatisfied)
    out.push({ consumer: `(${p.entry})`, soname: '-', item: 'requirement', why: u });
  return out;
}
