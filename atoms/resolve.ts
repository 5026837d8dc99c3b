/**
 * Version resolution: SAT over candidate versions, complete and deterministic, newest-first. The
 * greedy pass below is computed by one CDCL search in the pass's own order
 * (atoms/resolve-search.ts `greedy`); past its conflict budget, by a satisfiability query per try
 * (the DPLL search over the closure the commitments need, with logic-solver's MiniSat behind it
 * past that search's budget). MiniSat also explains conflicts.
 *
 * Encoding (one boolean per candidate `label@version`):
 * - at most one version per label;
 * - a chosen version implies, for each dependency, one of the versions satisfying its range;
 * - each root requirement holds (one of the satisfying versions is chosen).
 *
 * Preference is greedy, not a whole-problem optimization (which does not scale past ~100 labels in
 * logic-solver): labels are visited breadth-first from the roots (each level's labels sorted); for
 * a label, its versions are tried newest first (a satisfiability query each), and the first
 * satisfiable one is committed. Each level is the set of labels first required by the previous
 * level's chosen versions, sorted as a whole (not per parent). Every commitment keeps the problem
 * satisfiable, so if any solution exists one is found (completeness), and the same input always
 * gives the same result (candidate and label orders are normalized first). In the query-per-try
 * pass, a try is skipped without a solver call when the last model already chose that version (or
 * can be repaired to it) or when a committed requirer's range excludes it.
 *
 * Unsatisfiable problems are explained by a small core: requirement clauses carry selector
 * variables and a deletion-based minimization (halving chunks, then single requirements) with
 * `solveAssuming` keeps only requirements that are needed for the conflict.
 *
 * Pure: no I/O, no clock.
 *
 * @see specs/lock.md §7 (resolution)
 */
import { createRequire } from 'node:module';
import type LogicModule from 'logic-solver';
import SemVer from 'semver/classes/semver.js';
import Range from 'semver/classes/range.js';
import semverParse from 'semver/functions/parse.js';
import semverRcompare from 'semver/functions/rcompare.js';
import { ResolutionError } from '../src/kernel/index.ts';
import type { DepSpec } from './atom-manifest.ts';
import { ResolveSearch } from './resolve-search.ts';

let logicModule: typeof LogicModule | undefined;
/**
 * logic-solver, loaded on first use: its MiniSat (emscripten) costs ~150 ms to load, which a
 * command that imports the atoms module without resolving (`eos build`) should not pay.
 */
function Logic(): typeof LogicModule {
  return (logicModule ??= createRequire(import.meta.url)('logic-solver') as typeof LogicModule);
}

/** A published (or workspace) version of a label, with its dependency ranges. */
export interface Candidate {
  version: string;
  deps: Record<string, DepSpec>;
}

/** What the root of the problem (a workspace atom, the command line) requires. */
export interface RootRequirement {
  /** Who requires it, for explanations (e.g. the workspace atom's label `app`). */
  from: string;
  label: string;
  range: string;
  prerelease?: boolean;
}

/** Options of a resolution. */
export interface ResolveOptions {
  /** Let prereleases satisfy every range (as if each dependency said `prerelease = true`). */
  prerelease?: boolean;
  /**
   * Skip solver calls the last model or a committed range already answers (default true). The
   * result is the same either way; `false` exists to measure the shortcut (bench/resolve).
   */
  shortcuts?: boolean;
  /**
   * Versions to try first, by label (e.g. the pins of an existing lock, so that versions do not
   * move on their own); a preferred version is taken when it is still possible, else the newest.
   */
  prefer?: Readonly<Record<string, string>>;
  /**
   * Which satisfiability oracle answers the greedy pass's queries (default `'search'`): the DPLL
   * search over the needed closure (atoms/resolve-search.ts), which asks MiniSat only for a query
   * past its conflict budget; or `'minisat'` alone (logic-solver over the whole formula). The
   * result is the same either way (both are exact); `'minisat'` exists for differential tests and
   * as the bench's peer (bench/resolve).
   */
  oracle?: 'search' | 'minisat';
  /**
   * Conflicts the one-search pass may analyse before per-label queries take over (default
   * 20,000); negative: no one-search pass, a query per try from the start (the resolver as it was
   * before the one-search pass). The result is the same either way; it exists so that tests reach
   * the fallback and the bench can compare the two.
   */
  conflictBudget?: number;
}

/** The chosen versions and the edges between them. */
export interface Resolution {
  /** label → chosen version, keys sorted. */
  chosen: Record<string, string>;
  /** label → the labels its chosen version depends on, sorted. */
  edges: Record<string, string[]>;
  stats: ResolveStats;
}

/** Effort figures of a resolution (for benchmarks and the closing note of `eos lock`). */
export interface ResolveStats {
  /** Labels reachable from the roots through any candidate's dependencies. */
  labels: number;
  /** Candidate versions of those labels (SAT variables). */
  candidates: number;
  /**
   * Searches and `solve`/`solveAssuming` calls made, including the explanation of a conflict (the
   * one-search pass counts one).
   */
  solverCalls: number;
  /** Conflicts the DPLL/CDCL search analysed (0 with `oracle: 'minisat'`). */
  conflicts: number;
}

/** A model: which variables it chooses; `byLabel` (label → its chosen variable) when known. */
interface Model {
  has: (x: number) => boolean;
  byLabel?: Map<string, number>;
}

/** One requirement of the problem: a root's, or a candidate version's dependency. */
interface Req {
  /** Requirer: a root name, or a label. */
  from: string;
  /** Requirer's version when it is a candidate. */
  fromVersion?: string;
  label: string;
  range: string;
  /** Variables of the versions of `label` that satisfy the range. */
  sat: number[];
  /** The requirer's variable (absent for roots). */
  guard?: number;
}

/** Parsed versions, shared by every resolution (parsing dominated the set-up of a large one). */
const parsedVersions = new Map<string, SemVer | string>();
/** The SemVer of a version string (the string itself when it does not parse: semver then says so). */
function parsedVersion(v: string): SemVer | string {
  let p = parsedVersions.get(v);
  if (p === undefined) {
    p = semverParse(v) ?? v;
    if (parsedVersions.size > 100_000) parsedVersions.clear();
    parsedVersions.set(v, p);
  }
  return p;
}

/** Conflicts the one-search pass may analyse before the per-label queries take over. */
const GREEDY_BUDGET = 20_000;

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Resolves root requirements against a universe of candidates.
 * @param universe label → its candidate versions (any order; duplicates are an error)
 * @param roots the requirements that must hold (any order)
 * @returns the chosen version of every label the roots need, transitively
 * @throws ResolutionError E17 when no choice satisfies every requirement; the message names a small
 *   set of conflicting requirements, e.g. `app needs curl ^7; curl 7.88.1 needs openssl ^3.2, but
 *   app pins openssl =3.0.20`, and `data.core` lists them
 */
export function resolve(
  universe: ReadonlyMap<string, readonly Candidate[]> | Record<string, readonly Candidate[]>,
  roots: readonly RootRequirement[],
  opts: ResolveOptions = {},
): Resolution {
  return Logic().disablingAssertions(() => resolveInner(universe, roots, opts));
}

function resolveInner(
  universeIn: ReadonlyMap<string, readonly Candidate[]> | Record<string, readonly Candidate[]>,
  rootsIn: readonly RootRequirement[],
  opts: ResolveOptions,
): Resolution {
  const universe = new Map<string, Candidate[]>();
  const entries: [string, readonly Candidate[]][] =
    universeIn instanceof Map
      ? [...universeIn.entries()]
      : Object.entries(universeIn as Record<string, Candidate[]>);
  for (const [label, cands] of entries) {
    const parsedOf = new Map(cands.map((c) => [c, parsedVersion(c.version)]));
    const sorted = [...cands].sort(
      (a, b) => semverRcompare(parsedOf.get(a)!, parsedOf.get(b)!) || cmpStr(a.version, b.version),
    );
    for (let i = 1; i < sorted.length; i++)
      if (sorted[i]!.version === sorted[i - 1]!.version)
        throw new ResolutionError(`${label} ${sorted[i]!.version} is offered twice`, {
          data: { label, version: sorted[i]!.version },
        });
    universe.set(label, sorted);
  }
  const roots = [...rootsIn].sort(
    (a, b) => cmpStr(a.label, b.label) || cmpStr(a.from, b.from) || cmpStr(a.range, b.range),
  );

  // Labels reachable from the roots, breadth-first with each level sorted: this is also the
  // order of the greedy pass and of explanations.
  const order: string[] = [];
  const seen = new Set<string>();
  let level = [...new Set(roots.map((r) => r.label))].sort(cmpStr);
  while (level.length) {
    const next = new Set<string>();
    for (const l of level) {
      if (seen.has(l)) continue;
      seen.add(l);
      order.push(l);
      for (const c of universe.get(l) ?? [])
        for (const d of Object.keys(c.deps)) if (!seen.has(d)) next.add(d);
    }
    level = [...next].sort(cmpStr);
  }
  const rank = new Map(order.map((l, i) => [l, i]));

  // Variables: 1-based numbers assigned in `order`, newest first within a label.
  const varOf = new Map<string, number[]>();
  const who: { label: string; version: string }[] = [];
  for (const l of order) {
    const vars: number[] = [];
    for (const c of universe.get(l) ?? []) {
      const v = who.length || 1;
      vars.push(v);
      who[v] = { label: l, version: c.version };
    }
    varOf.set(l, vars);
  }
  /**
   * Per range (by whether prereleases are included): the parsed range, whether each version
   * satisfies it (versions repeat across labels), and its satisfying variables per label (ranges
   * repeat across requirers; read-only lists).
   */
  interface RangeMemo {
    range: Range;
    tests: Map<string, boolean>;
    sat: Map<string, number[]>;
  }
  const rangeMemos = [new Map<string, RangeMemo>(), new Map<string, RangeMemo>()];
  const satisfying = (label: string, range: string, prerelease: boolean): number[] => {
    const includePrerelease = prerelease || Boolean(opts.prerelease);
    const memos = rangeMemos[includePrerelease ? 1 : 0]!;
    let m = memos.get(range);
    if (!m)
      memos.set(
        range,
        (m = { range: new Range(range, { includePrerelease }), tests: new Map(), sat: new Map() }),
      );
    let sat = m.sat.get(label);
    if (!sat) {
      const { range: r, tests } = m;
      const cands = universe.get(label) ?? [];
      sat = [];
      (varOf.get(label) ?? []).forEach((x, i) => {
        const v = cands[i]!.version;
        let ok = tests.get(v);
        if (ok === undefined) tests.set(v, (ok = r.test(parsedVersion(v))));
        if (ok) sat!.push(x);
      });
      m.sat.set(label, sat);
    }
    return sat;
  };

  const reqs: Req[] = [];
  for (const r of roots)
    reqs.push({
      from: r.from,
      label: r.label,
      range: r.range,
      sat: satisfying(r.label, r.range, Boolean(r.prerelease)),
    });
  // Requirements of a candidate, by its variable (for pruning in the greedy pass).
  const reqsOf = new Map<number, Req[]>();
  for (const l of order) {
    const cands = universe.get(l) ?? [];
    const vars = varOf.get(l)!;
    cands.forEach((c, i) => {
      const mine: Req[] = [];
      for (const d of Object.keys(c.deps).sort(cmpStr)) {
        const spec = c.deps[d]!;
        const req: Req = {
          from: l,
          fromVersion: c.version,
          label: d,
          range: spec.range,
          sat: satisfying(d, spec.range, spec.prerelease),
          guard: vars[i]!,
        };
        reqs.push(req);
        mine.push(req);
      }
      reqsOf.set(vars[i]!, mine);
    });
  }

  const stats: ResolveStats = {
    labels: order.length,
    candidates: who.length ? who.length - 1 : 0,
    solverCalls: 0,
    conflicts: 0,
  };

  // The oracles: the DPLL search over the needed closure (atoms/resolve-search.ts), and MiniSat
  // (logic-solver) over the whole formula, built only when the search gives up on a query (or
  // always with `oracle: 'minisat'`). Both are exact, so the result never depends on which answers.
  const labelIndex = new Map(order.map((l, i) => [l, i]));
  const useSearch = opts.oracle !== 'minisat';
  const search = useSearch
    ? new ResolveSearch(
        {
          labelVars: order.map((l) => varOf.get(l)!),
          reqs: reqs.map((r) => ({ guard: r.guard, label: labelIndex.get(r.label)!, sat: r.sat })),
          preferred: order.map((l) => {
            const p = opts.prefer?.[l];
            return (p !== undefined && varOf.get(l)!.find((v) => who[v]!.version === p)) || 0;
          }),
        },
        (() => {
          const byName = [...order].sort(cmpStr);
          const nameRank = new Map(byName.map((l, i) => [l, i]));
          return order.map((l) => nameRank.get(l)!);
        })(),
      )
    : undefined;
  const committed: number[] = [];
  let minisat: { solver: InstanceType<typeof LogicModule.Solver>; num: number[] } | undefined;
  const sat = (): { solver: InstanceType<typeof LogicModule.Solver>; num: number[] } => {
    if (minisat) return minisat;
    const solver = new (Logic().Solver)();
    const num: number[] = [];
    for (let v = 1; v < who.length; v++) num[v] = solver.getVarNum(`${who[v]!.label}@${who[v]!.version}`);
    for (const l of order) {
      const vars = varOf.get(l)!;
      if (vars.length > 1) solver.require(Logic().atMostOne(...vars.map((v) => num[v]!)));
    }
    for (const r of reqs) {
      const clause = (r.guard === undefined ? r.sat : [-r.guard, ...r.sat]).map((v) =>
        v < 0 ? -num[-v]! : num[v]!,
      );
      solver.require(clause.length === 0 ? Logic().FALSE : Logic().or(...clause));
    }
    for (const v of committed) solver.require(num[v]!);
    return (minisat = { solver, num });
  };
  /** A model (as a membership test on our variables) with `v` chosen (0: none), or null. */
  const ask = (v: number): Model | null => {
    stats.solverCalls++;
    if (search) {
      const m = search.query(v);
      if (m) return { has: (x) => m.has(x), byLabel: new Map([...m].map((x) => [who[x]!.label, x])) };
      if (m === null) return null;
    }
    const { solver, num } = sat();
    const m = v ? solver.solveAssuming(num[v]!) : solver.solve();
    return m && { has: (x) => m.evaluate(num[x]!) };
  };
  /** Requirements on each label, for `repair` (built when the query-per-try pass first repairs). */
  let reqsOnMemo: Map<string, Req[]> | undefined;
  const reqsOnOf = (): Map<string, Req[]> => {
    if (reqsOnMemo) return reqsOnMemo;
    reqsOnMemo = new Map<string, Req[]>();
    for (const r of reqs) {
      const list = reqsOnMemo.get(r.label);
      if (list) list.push(r);
      else reqsOnMemo.set(r.label, [r]);
    }
    return reqsOnMemo;
  };
  /**
   * The model repaired to choose `v` for `label`: `v` replaces the label's version, and each range
   * of a chosen version that the model no longer meets is met by choosing (or changing to) the
   * newest satisfying version of that label, recursively, never changing a committed label and
   * checking every chosen requirer's range on each label it changes. A satisfiable try answered
   * with no query; undefined when the repair fails or passes its budget (then a query answers).
   */
  const repair = (m: Model, label: string, v: number): Model | undefined => {
    const base = m.byLabel;
    if (!base) return undefined;
    const reqsOn = reqsOnOf();
    /** The repair's changes over the model (undefined: the label is dropped). */
    const over = new Map<string, number | undefined>();
    const byLabel = {
      get: (l: string): number | undefined => (over.has(l) ? over.get(l) : base.get(l)),
      set: (l: string, x: number): void => void over.set(l, x),
      delete: (l: string): void => void over.set(l, undefined),
    };
    const log: [string, number | undefined][] = [];
    /** Labels this repair chose: never changed again by it (so `v` stays). */
    const placed = new Set<string>();
    let budget = 400;
    const isChosen = (x: number): boolean => byLabel.get(who[x]!.label) === x;
    const place = (l: string, x: number): boolean => {
      if (--budget < 0) return false;
      const cur = byLabel.get(l);
      if (cur === x) return true;
      const fixed = chosen.get(l);
      if ((fixed !== undefined && fixed !== x) || placed.has(l)) return false;
      const ok = allowed.get(l);
      if (ok && !ok.has(x)) return false;
      for (const r of reqsOn.get(l) ?? [])
        if ((r.guard === undefined || isChosen(r.guard)) && !r.sat.includes(x)) return false;
      const mark = log.length;
      log.push([l, cur]);
      byLabel.set(l, x);
      placed.add(l);
      for (const r of reqsOf.get(x) ?? []) {
        const y = byLabel.get(r.label);
        if (y !== undefined && r.sat.includes(y)) continue;
        if (!r.sat.some((z) => place(r.label, z))) {
          while (log.length > mark) {
            const [ul, uv] = log.pop()!;
            placed.delete(ul);
            if (uv === undefined) byLabel.delete(ul);
            else byLabel.set(ul, uv);
          }
          return false;
        }
      }
      return true;
    };
    if (!place(label, v)) return undefined;
    const next = new Map(base);
    for (const [l, x] of over)
      if (x === undefined) next.delete(l);
      else next.set(l, x);
    const set = new Set(next.values());
    return { has: (x) => set.has(x), byLabel: next };
  };
  const commit = (v: number): void => {
    committed.push(v);
    search?.commit(v);
    minisat?.solver.require(minisat.num[v]!);
  };

  if (search && !search.start()) throw explain(order, rank, universe, varOf, reqs, stats);
  const shortcuts = opts.shortcuts !== false;
  const finish = (chosen: ReadonlyMap<string, number>): Resolution => {
    if (search) stats.conflicts = search.counts.conflicts;
    const out: Resolution = { chosen: {}, edges: {}, stats };
    for (const label of [...chosen.keys()].sort(cmpStr)) {
      const v = chosen.get(label)!;
      out.chosen[label] = who[v]!.version;
      out.edges[label] = (reqsOf.get(v) ?? []).map((r) => r.label).sort(cmpStr);
    }
    return out;
  };
  const budget = opts.conflictBudget ?? GREEDY_BUDGET;
  if (search && shortcuts && budget >= 0) {
    // The whole pass as one search (specs/lock.md §7); past its budget, the pass below answers
    // with a query per try, on the same search state (its learned clauses stay).
    stats.solverCalls++;
    const picks = search.greedy(
      roots.map((r) => labelIndex.get(r.label)!),
      budget,
    );
    if (picks === null) throw explain(order, rank, universe, varOf, reqs, stats);
    if (picks) {
      const chosen = new Map<string, number>();
      order.forEach((l, i) => {
        if (picks[i]) chosen.set(l, picks[i]!);
      });
      return finish(chosen);
    }
  }
  const first = ask(0);
  if (!first) throw explain(order, rank, universe, varOf, reqs, stats);
  let model: Model = first;

  // Greedy newest-first pass, breadth-first over the chosen versions' dependencies, each level
  // sorted by label (specs/lock.md §7).
  const chosen = new Map<string, number>();
  /** For each label, the allowed variables given the committed requirers. */
  const allowed = new Map<string, Set<number>>();
  const restrict = (label: string, sat: number[]): void => {
    const cur = allowed.get(label);
    if (!cur) allowed.set(label, new Set(sat));
    else for (const v of [...cur]) if (!sat.includes(v)) cur.delete(v);
  };
  for (const r of reqs) if (r.guard === undefined) restrict(r.label, r.sat);

  let wave = [...new Set(roots.map((r) => r.label))].sort(cmpStr);
  const queued = new Set(wave);
  while (wave.length) {
    const next: string[] = [];
    for (const label of wave) {
      const ok = allowed.get(label);
      let pick: number | undefined;
      const vars = varOf.get(label) ?? [];
      const preferred = opts.prefer?.[label];
      const pi = preferred === undefined ? -1 : vars.findIndex((v) => who[v]!.version === preferred);
      const tries = pi > 0 ? [vars[pi]!, ...vars.slice(0, pi), ...vars.slice(pi + 1)] : vars;
      for (const v of tries) {
        if (shortcuts && ok && !ok.has(v)) continue;
        if (shortcuts && model.has(v)) {
          pick = v;
          break;
        }
        const m: Model | null = (shortcuts && repair(model, label, v)) || ask(v);
        if (m) {
          model = m;
          pick = v;
          break;
        }
      }
      if (pick === undefined)
        // Cannot happen: the label is required by a commitment, so every model chooses a version.
        throw new ResolutionError(
          `internal: no version of ${label} is possible after the commitments so far`,
        );
      commit(pick);
      chosen.set(label, pick);
      for (const r of reqsOf.get(pick) ?? []) {
        restrict(r.label, r.sat);
        if (!queued.has(r.label)) {
          queued.add(r.label);
          next.push(r.label);
        }
      }
    }
    wave = next.sort(cmpStr);
  }
  return finish(chosen);
}

/** `=1.2.3` or `1.2.3`: a range that names one version. */
function isPin(range: string): boolean {
  return /^=?\s*v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/.test(range.trim());
}

/** Builds the E17 error with a minimized core of conflicting requirements. */
function explain(
  order: string[],
  rank: Map<string, number>,
  universe: Map<string, Candidate[]>,
  varOf: Map<string, number[]>,
  reqs: Req[],
  stats: ResolveStats,
): ResolutionError {
  // A second solver with a selector per requirement: s → clause.
  const solver = new (Logic().Solver)();
  const num: number[] = [];
  for (const l of order) {
    const vars = varOf.get(l)!;
    (universe.get(l) ?? []).forEach((c, i) => (num[vars[i]!] = solver.getVarNum(`${l}@${c.version}`)));
  }
  for (const l of order) {
    const vars = varOf.get(l)!;
    if (vars.length > 1) solver.require(Logic().atMostOne(...vars.map((v) => num[v]!)));
  }
  const selectors = reqs.map((r, i) => {
    const s = solver.getVarNum(`req#${i}`);
    const clause = (r.guard === undefined ? r.sat : [-r.guard, ...r.sat]).map((v) =>
      v < 0 ? -num[-v]! : num[v]!,
    );
    solver.require(Logic().or(-s, ...clause));
    return s;
  });
  const unsat = (ids: number[]): boolean => {
    stats.solverCalls++;
    return (
      solver.solveAssuming(ids.length ? Logic().and(...ids.map((i) => selectors[i]!)) : Logic().TRUE) === null
    );
  };

  // Candidates first: requirements with no satisfying version at all are a core by themselves
  // once their requirer is forced; try the cheap ones (roots) before the general minimization.
  let core = reqs.map((_, i) => i);
  for (const i of core) if (reqs[i]!.guard === undefined && reqs[i]!.sat.length === 0) core = [i];
  if (core.length > 1) {
    let chunk = Math.ceil(core.length / 2);
    for (;;) {
      let i = 0;
      while (i < core.length) {
        const trial = [...core.slice(0, i), ...core.slice(i + chunk)];
        if (trial.length < core.length && unsat(trial)) core = trial;
        else i += chunk;
      }
      if (chunk === 1) break;
      chunk = Math.ceil(chunk / 2);
    }
  }

  const parts = core.map((i) => reqs[i]!);
  // The label most requirements of the core point at is where the conflict shows.
  const count = new Map<string, number>();
  for (const r of parts) count.set(r.label, (count.get(r.label) ?? 0) + 1);
  // Ties: a label nothing satisfies, then the deepest label (the conflict shows at the bottom).
  const empty = new Set(parts.filter((r) => r.sat.length === 0).map((r) => r.label));
  const focus = [...count.entries()].sort(
    (a, b) =>
      b[1] - a[1] ||
      Number(empty.has(b[0])) - Number(empty.has(a[0])) ||
      (rank.get(b[0]) ?? 0) - (rank.get(a[0]) ?? 0) ||
      cmpStr(a[0], b[0]),
  )[0]![0];
  const key = (r: Req): [number, number, string, string] => [
    r.guard === undefined ? 0 : 1,
    r.guard === undefined ? -1 : (rank.get(r.from) ?? 0),
    r.fromVersion ?? '',
    r.range,
  ];
  const cmpReq = (a: Req, b: Req): number => {
    const x = key(a);
    const y = key(b);
    return (
      x[0] - y[0] ||
      x[1] - y[1] ||
      (x[2] && y[2] ? semverRcompare(x[2], y[2]) : 0) ||
      cmpStr(a.from, b.from) ||
      cmpStr(x[3], y[3])
    );
  };
  const say = (r: Req): string =>
    r.guard === undefined
      ? `${r.from} ${isPin(r.range) ? 'pins' : 'needs'} ${r.label} ${r.range}`
      : `${r.from} ${r.fromVersion} needs ${r.label} ${r.range}`;
  /** Statements, merging versions of one requirer with the same range: `curl 8.5.0, 8.4.0 need …`. */
  const sayAll = (rs: Req[]): string[] => {
    const out: string[] = [];
    for (let i = 0; i < rs.length;) {
      const r = rs[i]!;
      let j = i + 1;
      const versions = [r.fromVersion];
      while (
        r.guard !== undefined &&
        j < rs.length &&
        rs[j]!.guard !== undefined &&
        rs[j]!.from === r.from &&
        rs[j]!.label === r.label &&
        rs[j]!.range === r.range
      )
        versions.push(rs[j++]!.fromVersion);
      out.push(versions.length > 1 ? `${r.from} ${versions.join(', ')} need ${r.label} ${r.range}` : say(r));
      i = j;
    }
    return out;
  };
  const isRoot = (r: Req): number => (r.guard === undefined ? 1 : 0);
  const before = parts.filter((r) => r.label !== focus).sort(cmpReq);
  // At the focus: dependency requirements first, then the roots' ("…, but app pins openssl =3.0.20").
  const at = parts.filter((r) => r.label === focus).sort((a, b) => isRoot(a) - isRoot(b) || cmpReq(a, b));
  const lead = sayAll(before).join('; ');
  const conflict = sayAll(at);
  const statements = [...sayAll(before), ...conflict];
  const available = (universe.get(focus) ?? []).map((c) => c.version);
  let text: string;
  if (at.every((r) => r.sat.length === 0)) {
    const shown = available.slice(0, 6).join(', ') + (available.length > 6 ? ', …' : '');
    text =
      (lead ? lead + '; ' : '') +
      `${conflict.join(', ')}, but no version of ${focus} satisfies ${at.length > 1 ? 'them' : 'it'}` +
      (available.length ? ` (${focus} has ${shown})` : ` (no ${focus} is offered by the atom sets)`);
  } else {
    const last = conflict.pop()!;
    text = (lead ? lead + '; ' : '') + (conflict.length ? conflict.join(', ') + ', but ' : '') + last;
  }
  return new ResolutionError(text, {
    data: { core: statements, focus, available, solverCalls: stats.solverCalls },
    hint: `versions of ${focus}: ${available.length ? available.join(', ') : 'none'}`,
  });
}
