/**
 * Planning and checking a lock (pure): from the workspace's manifests and snapshots of the atom
 * sets to a `Lock` (through the resolver), and the check that an existing lock still satisfies the
 * manifests.
 *
 * @see specs/lock.md §7–§8
 */
import semverSatisfies from 'semver/functions/satisfies.js';
import { LockError, type Digest } from '../src/kernel/index.ts';
import type { Lock, LockAtom } from './lock-file.ts';
import { LOCK_VERSION } from './lock-file.ts';
import type { DepSpec } from './atom-manifest.ts';
import { resolve, type Candidate, type ResolveStats, type RootRequirement } from './resolve.ts';

/** A workspace atom: a manifest of the workspace. */
export interface WorkspaceAtom {
  label: string;
  version: string;
  /** Its directory relative to the workspace root (`.` for the root). */
  path: string;
  deps: Record<string, DepSpec>;
}

/** A published atom as a set offers it. */
export interface SetAtom {
  label: string;
  version: string;
  record: Digest;
  content: Digest;
  deps: Record<string, DepSpec>;
}

/** An atom set at one set commit. */
export interface SetSnapshot {
  name: string;
  url: string;
  commit: string;
  atoms: SetAtom[];
}

/** Inputs of `planLock`. */
export interface PlanInput {
  workspace: WorkspaceAtom[];
  sets: SetSnapshot[];
  /** The existing lock: its pins are preferred (except for `update` labels). */
  previous?: Lock;
  /** Labels whose pins are released (`eos lock --update LABEL`). */
  update?: string[];
  prerelease?: boolean;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Refuses two workspace atoms with one label. @throws LockError E19 */
function workspaceByLabel(ws: WorkspaceAtom[]): Map<string, WorkspaceAtom> {
  const m = new Map<string, WorkspaceAtom>();
  for (const w of [...ws].sort((a, b) => cmp(a.path, b.path))) {
    const other = m.get(w.label);
    if (other)
      throw new LockError(
        `workspace: ${other.path}/atom.toml and ${w.path}/atom.toml both declare the label ${w.label}`,
        { data: { label: w.label } },
      );
    m.set(w.label, w);
  }
  return m;
}

/**
 * Resolves the workspace against the sets and builds the lock.
 * - The universe: each workspace atom (one candidate: itself), then each set in name order; a label
 *   offered by an earlier set (or the workspace) is not taken from a later one.
 * - The roots: every dependency of every workspace atom.
 * @throws ResolutionError E17 when no choice satisfies every range; LockError E19 for a workspace
 *   that declares a label twice or names a set twice
 */
export function planLock(input: PlanInput): { lock: Lock; stats: ResolveStats } {
  const ws = workspaceByLabel(input.workspace);
  const sets = [...input.sets].sort((a, b) => cmp(a.name, b.name));
  for (let i = 1; i < sets.length; i++)
    if (sets[i]!.name === sets[i - 1]!.name) throw new LockError(`set ${sets[i]!.name} is named twice`);
  const universe = new Map<string, Candidate[]>();
  const origin = new Map<string, { set: string; atoms: Map<string, SetAtom> }>();
  // Workspace atoms are candidates without dependencies: their dependencies are roots already,
  // so a conflict is explained as `app needs …`, not `app 0.1.0 needs …`.
  for (const w of ws.values()) universe.set(w.label, [{ version: w.version, deps: {} }]);
  for (const s of sets) {
    const byLabel = new Map<string, SetAtom[]>();
    for (const a of s.atoms) byLabel.set(a.label, [...(byLabel.get(a.label) ?? []), a]);
    for (const [label, atoms] of byLabel) {
      if (universe.has(label)) continue;
      universe.set(
        label,
        atoms.map((a) => ({ version: a.version, deps: a.deps })),
      );
      origin.set(label, { set: s.name, atoms: new Map(atoms.map((a) => [a.version, a])) });
    }
  }
  const roots: RootRequirement[] = [];
  for (const w of ws.values())
    for (const [label, d] of Object.entries(w.deps))
      roots.push({ from: w.label, label, range: d.range, prerelease: d.prerelease });
  // Workspace atoms nobody depends on are roots too (they must be present at their own version).
  for (const w of ws.values()) roots.push({ from: 'workspace', label: w.label, range: `=${w.version}` });
  const released = new Set(input.update ?? []);
  const prefer: Record<string, string> = {};
  for (const [label, a] of Object.entries(input.previous?.atoms ?? {}))
    if (!released.has(label)) prefer[label] = a.version;
  const r = resolve(universe, roots, { prerelease: input.prerelease ?? false, prefer });

  const lock: Lock = {
    version: LOCK_VERSION,
    prerelease: input.prerelease ?? false,
    sets: Object.fromEntries(sets.map((s) => [s.name, { url: s.url, commit: s.commit }])),
    workspace: {},
    atoms: {},
  };
  for (const w of ws.values())
    lock.workspace[w.label] = { path: w.path, version: w.version, deps: Object.keys(w.deps).sort(cmp) };
  for (const [label, version] of Object.entries(r.chosen)) {
    if (ws.has(label)) continue;
    const o = origin.get(label)!;
    const a = o.atoms.get(version)!;
    lock.atoms[label] = {
      version,
      set: o.set,
      record: a.record,
      content: a.content,
      deps: r.edges[label] ?? [],
    };
  }
  return { lock, stats: r.stats };
}

/**
 * Checks that a lock still satisfies the workspace and pins what the sets offer: the same
 * workspace atoms (paths, versions, dependency labels), every range of every workspace and locked
 * atom satisfied by the pinned version, each pinned atom offered by its set snapshot with the same
 * record and content digests and the same dependency labels, and no pinned atom that nothing needs.
 * @param setAtoms the atoms of each set at the commit the lock records, by set name
 * @throws LockError E19 naming the first problem, e.g. `eos.lock: curl needs zlib ^1.3 but the lock pins 1.2.13`
 */
export function checkLock(
  lock: Lock,
  workspace: WorkspaceAtom[],
  setAtoms: ReadonlyMap<string, readonly SetAtom[]>,
  file = 'eos.lock',
): void {
  function bad(detail: string, hint = 'run `eos lock` to update it'): never {
    throw new LockError(`${file}: ${detail}`, { data: { file }, hint });
  }
  const ws = workspaceByLabel(workspace);
  for (const w of ws.values()) {
    const l = lock.workspace[w.label];
    if (!l) bad(`the workspace atom ${w.label} (${w.path}/atom.toml) is not in the lock`);
    if (l.path !== w.path) bad(`${w.label} is at ${w.path}, but the lock says ${l.path}`);
    if (l.version !== w.version) bad(`${w.label} is version ${w.version}, but the lock says ${l.version}`);
  }
  for (const label of Object.keys(lock.workspace))
    if (!ws.has(label)) bad(`the lock has a workspace atom ${label} that no atom.toml declares`);
  const versionOf = (label: string): string | undefined =>
    lock.atoms[label]?.version ?? ws.get(label)?.version;
  const satisfied = (from: string, deps: Record<string, DepSpec>, edges: string[]): void => {
    for (const [label, d] of Object.entries(deps)) {
      const v = versionOf(label);
      if (v === undefined) bad(`${from} needs ${label} ${d.range}, which the lock does not pin`);
      if (!semverSatisfies(v, d.range, { includePrerelease: d.prerelease || lock.prerelease }))
        bad(`${from} needs ${label} ${d.range} but the lock pins ${v}`);
    }
    const want = Object.keys(deps).sort(cmp).join(', ');
    if (want !== [...edges].sort(cmp).join(', '))
      bad(`${from} depends on ${want || 'nothing'}, but the lock records ${edges.join(', ') || 'nothing'}`);
  };
  for (const w of ws.values()) satisfied(w.label, w.deps, lock.workspace[w.label]!.deps);
  const offered = new Map<string, Map<string, SetAtom>>();
  for (const [name, atoms] of setAtoms)
    offered.set(name, new Map(atoms.map((a) => [`${a.label}@${a.version}`, a])));
  for (const [label, a] of Object.entries(lock.atoms) as [string, LockAtom][]) {
    const o = offered.get(a.set)?.get(`${label}@${a.version}`);
    if (!o)
      bad(`set ${a.set} at ${lock.sets[a.set]?.commit.slice(0, 12)} does not publish ${label}@${a.version}`);
    if (o.record !== a.record)
      bad(`${label}@${a.version}: the lock pins record ${a.record}, but set ${a.set} has ${o.record}`);
    if (o.content !== a.content)
      bad(`${label}@${a.version}: the lock pins content ${a.content}, but set ${a.set} has ${o.content}`);
    satisfied(`${label} ${a.version}`, o.deps, a.deps);
  }
  // Everything pinned is needed by the workspace, transitively.
  const seen = new Set<string>();
  const stack = [...ws.keys()];
  while (stack.length) {
    const l = stack.pop()!;
    if (seen.has(l)) continue;
    seen.add(l);
    stack.push(...(lock.workspace[l]?.deps ?? lock.atoms[l]?.deps ?? []));
  }
  for (const label of Object.keys(lock.atoms))
    if (!seen.has(label)) bad(`${label} is pinned but nothing needs it`);
}
