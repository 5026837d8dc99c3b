/**
 * The coverage check: does a new provider tree cover every requirement that a set of consumers
 * resolved against the old provider tree? Per soname, set inclusion on version nodes and on
 * `name@version` symbols. The answer is a proof object (canonical, digested, versioned) that a
 * composition can store next to a swapped entry. Pure.
 *
 * @see specs/interface.md §6
 */
import { digestCanonical, type Digest } from '../../src/kernel/index.ts';
import {
  manifestDigest,
  providesVersionNode,
  type ElfAbi,
  type FileRequirements,
  type InterfaceManifest,
  type SharedObjectInterface,
} from './interface-manifest.ts';

/** The `kind` of a coverage proof. */
export const COVERAGE_PROOF_KIND = 'eos.coverage-proof';
/** The `kind` of the requirement set whose digest a proof carries. */
export const COVERAGE_REQUIREMENTS_KIND = 'eos.coverage-requirements';
/** The proof format version. */
export const COVERAGE_PROOF_VERSION = 1;

/** What the consumers resolved against one soname of the old provider. @see specs/interface.md §6.1 */
export interface SonameRequirements {
  /** Version nodes (from the consumers' verneed) that the old provider defines, sorted. */
  versions: string[];
  /** Strong symbols, `name@version` or `name` (unversioned), that the old provider exports, sorted. */
  symbols: string[];
  /** Weak symbols likewise, sorted. */
  weakSymbols: string[];
}

/** The consumers' requirement set on the old provider, per soname. @see specs/interface.md §6.1 */
export interface CoverageRequirements {
  kind: typeof COVERAGE_REQUIREMENTS_KIND;
  version: typeof COVERAGE_PROOF_VERSION;
  requirements: Record<string, SonameRequirements>;
}

/** What the new provider lacks for one soname. */
export interface SonameMissing {
  /** Required version nodes the new provider does not define, sorted. */
  versions: string[];
  /** Required strong symbols the new provider does not export, sorted. */
  symbols: string[];
}

/** The proof object of a coverage check. @see specs/interface.md §6.2 */
export interface CoverageProof {
  kind: typeof COVERAGE_PROOF_KIND;
  version: typeof COVERAGE_PROOF_VERSION;
  /** Manifest digests of the consumer trees, sorted. */
  consumers: Digest[];
  /** digestCanonical of the CoverageRequirements. */
  requirements: Digest;
  /** The old provider: its manifest digest and the interface digests of its objects per required soname. */
  old: { manifest: Digest; interfaces: Record<string, Digest[]> };
  /** The new provider likewise (an empty list when it lacks the soname). */
  new: { manifest: Digest; interfaces: Record<string, Digest[]> };
  verdict: 'covered' | 'not-covered';
  /** Per soname with something missing: the missing version nodes and strong symbols. */
  missing: Record<string, SonameMissing>;
  /** Per soname: weak symbols the new provider lacks (not part of the verdict). */
  missingWeak: Record<string, string[]>;
}

/** The result of `checkCoverage`: the proof, its digest and the requirement set it names. */
export interface CoverageResult {
  proof: CoverageProof;
  digest: Digest;
  requirements: CoverageRequirements;
}

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const sorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort(byCodeUnits);
const abiKey = (a: ElfAbi): string => `${a.class}-${a.data}-${a.machine}`;
const basename = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

/** The union of what the shared objects of one soname (and ABI) provide. */
interface Provided {
  versions: Set<string>;
  /** `name@version` for every versioned export, default or not. */
  versioned: Set<string>;
  /** Names an unversioned reference binds to: unversioned exports and default (`@@`) ones. */
  unversioned: Set<string>;
  interfaces: Set<Digest>;
}

/** The name a loader matches DT_NEEDED against: the soname, else the file name. */
function sonameOf(o: SharedObjectInterface): string {
  return o.soname ?? basename(o.path);
}

function index(m: InterfaceManifest): Map<string, Map<string, Provided>> {
  const out = new Map<string, Map<string, Provided>>();
  for (const o of m.provides.sharedObjects) {
    const s = sonameOf(o);
    let byAbi = out.get(s);
    if (!byAbi) out.set(s, (byAbi = new Map()));
    const k = abiKey(o);
    let p = byAbi.get(k);
    if (!p)
      byAbi.set(
        k,
        (p = { versions: new Set(), versioned: new Set(), unversioned: new Set(), interfaces: new Set() }),
      );
    for (const v of o.versions) p.versions.add(v);
    p.interfaces.add(o.interface);
    for (const sym of o.symbols) {
      const at = sym.indexOf('@');
      if (at < 0) p.unversioned.add(sym);
      else if (sym.startsWith('@@', at)) {
        p.unversioned.add(sym.slice(0, at));
        p.versioned.add(`${sym.slice(0, at)}@${sym.slice(at + 2)}`);
      } else p.versioned.add(sym);
    }
  }
  return out;
}

function provides(p: Provided, requirement: string): boolean {
  return requirement.includes('@') ? p.versioned.has(requirement) : p.unversioned.has(requirement);
}

/**
 * Decides whether `newProvider` covers every requirement that `consumers` resolved against
 * `oldProvider`, and builds the proof.
 *
 * A consumer file resolved a requirement against the old provider when it needs (DT_NEEDED) a
 * soname the old provider has for the consumer's ABI and the old provider defines the version node
 * or exports the symbol (`name@version` exactly; an unversioned `name` binds to an unversioned or
 * default `@@` export). The new provider covers the requirements when, per soname, it defines
 * every such version node and exports every such strong symbol.
 * @see specs/interface.md §6
 */
export function checkCoverage(
  consumers: readonly InterfaceManifest[],
  oldProvider: InterfaceManifest,
  newProvider: InterfaceManifest,
): CoverageResult {
  const oldIdx = index(oldProvider);
  const newIdx = index(newProvider);
  const req = new Map<
    string,
    { versions: Set<string>; symbols: Set<string>; weak: Set<string>; abis: Set<string> }
  >();
  const consider = (r: FileRequirements) => {
    for (const s of new Set(r.needed)) {
      const p = oldIdx.get(s)?.get(abiKey(r));
      if (!p) continue;
      let q = req.get(s);
      if (!q) req.set(s, (q = { versions: new Set(), symbols: new Set(), weak: new Set(), abis: new Set() }));
      q.abis.add(abiKey(r));
      for (const v of r.versions[s] ?? []) if (providesVersionNode(p.versions, v)) q.versions.add(v);
      for (const x of r.symbols[s] ?? []) if (provides(p, x)) q.symbols.add(x);
      for (const x of r.unversioned) if (provides(p, x)) q.symbols.add(x);
      for (const x of r.weakSymbols[s] ?? []) if (provides(p, x)) q.weak.add(x);
      for (const x of r.weakUnversioned) if (provides(p, x)) q.weak.add(x);
    }
  };
  for (const c of consumers) for (const r of c.requires) consider(r);

  const requirements: CoverageRequirements = {
    kind: COVERAGE_REQUIREMENTS_KIND,
    version: COVERAGE_PROOF_VERSION,
    requirements: {},
  };
  const oldInterfaces: Record<string, Digest[]> = {};
  const newInterfaces: Record<string, Digest[]> = {};
  const missing: Record<string, SonameMissing> = {};
  const missingWeak: Record<string, string[]> = {};
  for (const s of [...req.keys()].sort(byCodeUnits)) {
    const q = req.get(s)!;
    requirements.requirements[s] = {
      versions: sorted(q.versions),
      symbols: sorted(q.symbols),
      weakSymbols: sorted(q.weak),
    };
    const olds = [...q.abis].map((a) => oldIdx.get(s)!.get(a)!);
    oldInterfaces[s] = sorted(olds.flatMap((p) => [...p.interfaces])) as Digest[];
    const news = [...q.abis].map((a) => newIdx.get(s)?.get(a)).filter((p): p is Provided => p !== undefined);
    newInterfaces[s] = sorted(news.flatMap((p) => [...p.interfaces])) as Digest[];
    const has = (x: string) => news.some((p) => provides(p, x));
    const mv = sorted([...q.versions].filter((v) => !news.some((p) => providesVersionNode(p.versions, v))));
    const ms = sorted([...q.symbols].filter((x) => !has(x)));
    const mw = sorted([...q.weak].filter((x) => !has(x)));
    if (mv.length || ms.length) missing[s] = { versions: mv, symbols: ms };
    if (mw.length) missingWeak[s] = mw;
  }
  const proof: CoverageProof = {
    kind: COVERAGE_PROOF_KIND,
    version: COVERAGE_PROOF_VERSION,
    consumers: sorted(consumers.map(manifestDigest)) as Digest[],
    requirements: digestCanonical(requirements),
    old: { manifest: manifestDigest(oldProvider), interfaces: oldInterfaces },
    new: { manifest: manifestDigest(newProvider), interfaces: newInterfaces },
    verdict: Object.keys(missing).length === 0 ? 'covered' : 'not-covered',
    missing,
    missingWeak,
  };
  return { proof, digest: digestCanonical(proof), requirements };
}
