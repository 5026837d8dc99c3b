/**
 * The search of the resolver (specs/lock.md §7): a DPLL/CDCL search specialised to the resolution
 * formula. `greedy` runs the whole greedy pass as one search in the pass's own order (see there
 * why its answer is the pass's); `query`/`commit` answer the query-per-try pass, incrementally
 * (the fallback past `greedy`'s conflict budget).
 *
 * The formula has one boolean per candidate `label@version` and three kinds of constraint: at most
 * one version per label; for each requirement (a root's, or a candidate's dependency), "requirer
 * chosen → one of the satisfying versions chosen"; and each root requirement holds. Every clause
 * but the roots' is guarded by a chosen version, so a label that nothing chosen requires can have
 * every version false: a model only needs versions for the labels that the chosen versions (and
 * the roots) require. The search therefore decides only required labels, and its cost is that of
 * the needed closure, not of the universe (logic-solver's MiniSat assigns every variable on every
 * call, which made each call dearer as the universe grew).
 *
 * Propagation keeps, per requirement, how many of its satisfying versions are not yet false (none
 * left: its guard becomes false, or a root fails), and per label how many versions are not false
 * (a required label with one left takes it). A chosen version makes its label's other versions
 * false and, for each of its requirements, the versions outside the range false. Decisions pick
 * the required label earliest in the resolution order and try its preferred version, then the
 * newest: the model found is the one the greedy pass would pick where it can, so its later tries
 * mostly need no call. Conflicts are analysed as in CDCL (first unique implication point): every
 * propagated literal keeps its reason, the learned clause is added and the search jumps back to
 * the level where it asserts (the conflict-driven part PubGrub has too). Learned clauses follow
 * from the formula and the commitments, which never change back, so they stay for every later
 * query: the pass is incremental. A query past its conflict budget answers `undefined` and the
 * caller asks the complete SAT solver instead, so answers are always exact and the resolution
 * never depends on which oracle answered.
 *
 * Commitments (the greedy pass's `require`) are assignments at level 0 and stay; a query assigns
 * its version at level 1 above them and undoes everything it assigned before returning.
 *
 * Pure: no I/O, no clock.
 * @see specs/lock.md §7 (resolution)
 */

/** One requirement, by variable numbers (1-based, as in the SAT encoding). */
export interface SearchReq {
  /** The requirer's variable; absent for a root requirement. */
  guard?: number;
  /** The index of the required label. */
  label: number;
  /** Variables of the required label's versions that satisfy the range. */
  sat: readonly number[];
}

/** The shape of the problem: variables are 1..nVars; `labelVars[l]` newest first. */
export interface SearchProblem {
  labelVars: readonly (readonly number[])[];
  reqs: readonly SearchReq[];
  /** Per label, the variable to try first when it is still possible (or 0). */
  preferred: readonly number[];
}

/** A satisfying choice: the chosen variables (every other variable false). */
export type Model = ReadonlySet<number>;

/** The result of a query: a model, `null` (unsatisfiable), or `undefined` (budget exceeded). */
export type Answer = Model | null | undefined;

/** Why a literal holds: the kinds of reason (the clause that implied it), see `antecedents`. */
const DECIDED = 0;
/** Another version of its label is chosen (ref: that variable): clause ¬c ∨ ¬w. */
const AMO = 1;
/** An active requirement's range excludes it (ref: the requirement): clause ¬guard ∨ ¬w. */
const RANGE = 2;
/** No satisfying version of a requirement is left (ref: the requirement): ¬guard. */
const EMPTY = 3;
/** The only version left of a required label (ref: a requirement on it). */
const LAST = 4;
/** A learned clause (ref: its index) has every other literal false. */
const LEARNED = 5;

/** The search state over one problem. */
export class ResolveSearch {
  private readonly nLabels: number;
  private readonly labelVars: readonly (readonly number[])[];
  private readonly preferred: readonly number[];
  private readonly reqs: readonly SearchReq[];
  private readonly varLabel: Int32Array;
  /** 0 unknown, 1 true, -1 false. */
  private readonly value: Int8Array;
  /** Per variable: decision level, reason kind and reference (see the constants above). */
  private readonly level: Int32Array;
  private readonly reasonKind: Int8Array;
  private readonly reasonRef: Int32Array;
  /** Requirements each variable satisfies. */
  private readonly occurs: number[][];
  /** Requirements each variable guards. */
  private readonly guarded: number[][];
  /** Satisfying versions of each requirement that are not false. */
  private readonly open: Int32Array;
  /** Per requirement, the variables of its label that satisfy it. */
  private readonly satSet: Set<number>[];
  /** Per label: versions not false, active requirements on it, the chosen variable (0: none). */
  private readonly live: Int32Array;
  private readonly required: Int32Array;
  private readonly selected: Int32Array;
  /** Per required label, the requirement that made it required first (valid while required). */
  private readonly firstReq: Int32Array;
  /** Per required label, its distance from the roots when it was first required. */
  private readonly depth: Int32Array;
  /** Labels with active requirements, in the order they became required (undone with the trail). */
  private readonly requiredList: number[] = [];
  /** Assigned literals, in order (+v true, -v false). */
  private readonly trail: number[] = [];
  /** Pending literals with their reasons (kind, ref), propagated last-in first-out. */
  private readonly queue: number[] = [];
  /** True literals that together contradict the formula (set by a conflict), or undefined. */
  private conflictAnte: number[] | undefined;
  private currentLevel = 0;
  /** Learned clauses (literals), their false/true literal counts, and where each literal occurs. */
  private readonly learned: number[][] = [];
  private nFalse: number[] = [];
  private nTrue: number[] = [];
  private readonly learnedOcc = new Map<number, number[]>();
  private readonly units: number[] = [];
  /** Conflicts allowed per query before it gives up (answers `undefined`). */
  budget = 5000;
  /** Figures for benchmarks: conflicts analysed and clauses learned so far. */
  readonly counts = { conflicts: 0, learned: 0 };

  /**
   * @param problem the formula (see `SearchProblem`); root requirements are activated by `start`
   * @param rank per label, its place in label order (decisions take the open label first required
   *   nearest the roots, then the lowest rank: the greedy pass's own order, so that the model found
   *   is the one the pass would choose where it can)
   */
  constructor(
    problem: SearchProblem,
    private readonly rank: readonly number[],
  ) {
    this.labelVars = problem.labelVars;
    this.preferred = problem.preferred;
    this.reqs = problem.reqs;
    this.nLabels = problem.labelVars.length;
    let nVars = 0;
    for (const vs of this.labelVars) for (const v of vs) nVars = Math.max(nVars, v);
    this.varLabel = new Int32Array(nVars + 1).fill(-1);
    this.labelVars.forEach((vs, l) => vs.forEach((v) => (this.varLabel[v] = l)));
    this.value = new Int8Array(nVars + 1);
    this.level = new Int32Array(nVars + 1);
    this.reasonKind = new Int8Array(nVars + 1);
    this.reasonRef = new Int32Array(nVars + 1);
    this.occurs = Array.from({ length: nVars + 1 }, () => []);
    this.guarded = Array.from({ length: nVars + 1 }, () => []);
    this.open = new Int32Array(this.reqs.length);
    const sets = new Map<readonly number[], Set<number>>();
    this.satSet = this.reqs.map((r) => {
      let set = sets.get(r.sat);
      if (!set) sets.set(r.sat, (set = new Set(r.sat)));
      return set;
    });
    this.reqs.forEach((r, i) => {
      this.open[i] = r.sat.length;
      for (const v of r.sat) this.occurs[v]!.push(i);
      if (r.guard !== undefined) this.guarded[r.guard]!.push(i);
    });
    this.live = new Int32Array(this.nLabels);
    this.labelVars.forEach((vs, l) => (this.live[l] = vs.length));
    this.required = new Int32Array(this.nLabels);
    this.selected = new Int32Array(this.nLabels);
    this.firstReq = new Int32Array(this.nLabels);
    this.depth = new Int32Array(this.nLabels);
  }

  /**
   * Activates the root requirements and propagates (level 0).
   * @returns false when the roots alone are contradictory by propagation
   */
  start(): boolean {
    this.reqs.forEach((r, i) => {
      if (r.guard === undefined) this.activate(i);
    });
    return this.propagate();
  }

  /**
   * Finds a model with `v` chosen (or with the commitments alone when `v` is 0), undoing every
   * assignment it makes (the clauses it learns stay).
   */
  query(v: number): Answer {
    const mark = this.trail.length;
    const listMark = this.requiredList.length;
    const answer = this.search(v);
    this.undoTo(mark, listMark);
    this.currentLevel = 0;
    return answer;
  }

  /**
   * The whole greedy pass of specs/lock.md §7 as one search: labels are taken in the pass's own
   * order (breadth-first from the roots over the chosen versions, each level sorted by `rank`);
   * a label that propagation already chose keeps that version, any other is decided at a new level
   * with its preferred (else newest) version not yet false. A conflict is analysed (first UIP),
   * its clause learned, and the search jumps back to the level where the clause asserts; the pass
   * resumes at the label of the first decision undone (the order up to it depends only on the
   * choices before it, which stand). No restarts.
   *
   * Why this is the greedy pass's answer (and not just a model): every literal assigned at level k
   * follows from the formula and the first k decisions, and those decisions are labels that come
   * before it in the pass's order (a label assigned after decision k was still open when decision
   * k took the earliest open label). So when a label is reached, each version tried before the one
   * taken is false by the choices before it — that prefix plus the version is unsatisfiable — and
   * the version taken is in the final model: the first version with which the prefix stays
   * satisfiable, which is what the pass commits. The labels the pass reaches, with their versions
   * and every other version false, satisfy every clause (each requirement of a reached version was
   * activated and its label reached), whatever propagation chose for labels the pass never reaches.
   *
   * Start with `start()`; the search must be at level 0 with nothing committed. Leaves the search
   * at level 0 (the learned clauses stay) when it returns `undefined`, so that the caller can fall
   * back to per-label queries on the same state.
   * @param roots indices of the roots' labels (level 0 of the pass; duplicates allowed)
   * @param budget conflicts allowed before giving up
   * @returns per label index the chosen variable (0: the pass does not reach the label), `null`
   *   when the formula is unsatisfiable, `undefined` past the budget (or on an unexpected state)
   */
  greedy(roots: readonly number[], budget: number): Int32Array | null | undefined {
    const byRank = (a: number, b: number): number => this.rank[a]! - this.rank[b]!;
    /** The pass so far: each entry's label, its version, and the level it decided (0: none). */
    const seqLabel: number[] = [];
    const seqVar: number[] = [];
    /** Per decision level, the index of the entry that decided it. */
    const decisionAt: number[] = [-1];
    /** The levels of the pass: sorted labels, and the index of the entry that visits the first. */
    const waves: { labels: number[]; start: number }[] = [
      { labels: [...new Set(roots)].sort(byRank), start: 0 },
    ];
    /** Per label, the entry whose version first required it (-1: a root; UNQUEUED: not yet). */
    const UNQUEUED = -2;
    const queuedBy = new Int32Array(this.nLabels).fill(UNQUEUED);
    for (const l of roots) queuedBy[l] = -1;
    let next: number[] = [];
    /** Trail and required-list lengths at the start of each level (index: level). */
    const marks: [number, number][] = [[this.trail.length, this.requiredList.length]];
    const giveUp = (): undefined => {
      if (marks.length > 1) this.undoTo(marks[1]![0], marks[1]![1]);
      this.currentLevel = 0;
      return undefined;
    };
    let conflicts = 0;
    for (;;) {
      const wave = waves[waves.length - 1]!;
      const at = seqLabel.length - wave.start;
      if (at === wave.labels.length) {
        if (!next.length) break;
        waves.push({ labels: next.sort(byRank), start: seqLabel.length });
        next = [];
        continue;
      }
      const l = wave.labels[at]!;
      let x = this.selected[l]!;
      if (!x) {
        const p = this.preferred[l]!;
        if (p && this.value[p] === 0) x = p;
        else
          for (const v of this.labelVars[l]!)
            if (this.value[v] === 0) {
              x = v;
              break;
            }
        if (!x) return giveUp(); // not expected: a required label has a live version after propagation
        marks.push([this.trail.length, this.requiredList.length]);
        this.currentLevel++;
        decisionAt[this.currentLevel] = seqLabel.length;
        const decided = this.currentLevel;
        this.enqueue(x, DECIDED, 0);
        let ok = this.propagate();
        while (!ok) {
          if (this.currentLevel === 0) return null;
          if (++conflicts > budget) return giveUp();
          this.counts.conflicts++;
          const learnt = this.analyze();
          if (!learnt) return giveUp();
          const { clause, back } = learnt;
          const [tm, lm] = marks[back + 1]!;
          this.undoTo(tm, lm);
          marks.length = back + 1;
          this.currentLevel = back;
          ok = this.learn(clause);
        }
        if (this.currentLevel < decided) {
          // Resume at the label of the first decision undone: drop the entries from it on.
          const t = decisionAt[this.currentLevel + 1]!;
          decisionAt.length = this.currentLevel + 1;
          while (seqLabel.length > t) {
            const e = seqLabel.length - 1;
            for (const r of this.guarded[seqVar[e]!]!) {
              const d = this.reqs[r]!.label;
              if (queuedBy[d] === e) queuedBy[d] = UNQUEUED;
            }
            seqLabel.pop();
            seqVar.pop();
          }
          while (waves[waves.length - 1]!.start > t) waves.pop();
          next = [];
          for (let e = waves[waves.length - 1]!.start; e < t; e++)
            for (const r of this.guarded[seqVar[e]!]!) {
              const d = this.reqs[r]!.label;
              if (queuedBy[d] === e) next.push(d);
            }
          continue;
        }
      }
      const e = seqLabel.length;
      seqLabel.push(l);
      seqVar.push(x);
      for (const r of this.guarded[x]!) {
        const d = this.reqs[r]!.label;
        if (queuedBy[d] === UNQUEUED) {
          queuedBy[d] = e;
          next.push(d);
        }
      }
    }
    const out = new Int32Array(this.nLabels);
    for (let e = 0; e < seqLabel.length; e++) out[seqLabel[e]!] = seqVar[e]!;
    return out;
  }

  /** Chooses `v` for good (level 0). The caller knows a model with `v` exists. */
  commit(v: number): void {
    for (const u of this.units) this.enqueue(u, LEARNED, -1);
    this.enqueue(v, DECIDED, 0);
    if (!this.propagate()) throw new Error('internal: a commitment the oracle allowed contradicts');
  }

  private search(v: number): Answer {
    /** Trail and required-list lengths at the start of each level (index: level). */
    const marks: [number, number][] = [[this.trail.length, this.requiredList.length]];
    let conflicts = 0;
    for (const u of this.units) this.enqueue(u, LEARNED, -1);
    let ok = this.propagate();
    for (;;) {
      if (!ok) {
        if (this.currentLevel === 0) return null;
        if (++conflicts > this.budget) return undefined;
        this.counts.conflicts++;
        const learnt = this.analyze();
        if (!learnt) return undefined;
        const { clause, back } = learnt;
        const [tm, lm] = marks[back + 1]!;
        this.undoTo(tm, lm);
        marks.length = back + 1;
        this.currentLevel = back;
        ok = this.learn(clause);
        continue;
      }
      if (v && this.value[v] === -1) return null;
      let pick = v && this.value[v] === 0 ? v : this.decision();
      if (pick === 0) {
        const model = new Set<number>();
        for (let l = 0; l < this.nLabels; l++) if (this.selected[l]) model.add(this.selected[l]!);
        return model;
      }
      marks.push([this.trail.length, this.requiredList.length]);
      this.currentLevel++;
      this.enqueue(pick, DECIDED, 0);
      pick = 0;
      ok = this.propagate();
    }
  }

  /**
   * First-UIP analysis of the current conflict.
   * @returns the learned clause (its first literal asserts after the jump) and the level to jump
   *   to; undefined when the conflict does not involve the current level (the query then gives up)
   */
  private analyze(): { clause: number[]; back: number } | undefined {
    const seen = new Uint8Array(this.value.length);
    const lower: number[] = [];
    let here = 0;
    const add = (lit: number): void => {
      const x = Math.abs(lit);
      if (seen[x] || this.level[x] === 0) return;
      seen[x] = 1;
      if (this.level[x] === this.currentLevel) here++;
      else lower.push(lit);
    };
    for (const lit of this.conflictAnte!) add(lit);
    this.conflictAnte = undefined;
    if (here === 0) return undefined; // not expected: every conflict involves this level
    let i = this.trail.length;
    let uip = 0;
    for (;;) {
      const lit = this.trail[--i]!;
      const x = Math.abs(lit);
      if (!seen[x] || this.level[x] !== this.currentLevel) continue;
      if (--here === 0) {
        uip = lit;
        break;
      }
      for (const a of this.antecedents(lit, this.reasonKind[x]!, this.reasonRef[x]!)) add(a);
    }
    let back = 0;
    for (const lit of lower) back = Math.max(back, this.level[Math.abs(lit)]!);
    return { clause: [-uip, ...lower.map((l) => -l)], back };
  }

  /** Adds a learned clause whose first literal is the only one not false, and asserts it. */
  private learn(clause: number[]): boolean {
    this.counts.learned++;
    if (clause.length === 1) {
      this.units.push(clause[0]!);
      this.enqueue(clause[0]!, LEARNED, -1);
      return this.propagate();
    }
    const k = this.learned.length;
    this.learned.push(clause);
    let f = 0;
    let t = 0;
    for (const lit of clause) {
      const val = this.value[Math.abs(lit)]! * Math.sign(lit);
      if (val < 0) f++;
      else if (val > 0) t++;
      let occ = this.learnedOcc.get(lit);
      if (!occ) this.learnedOcc.set(lit, (occ = []));
      occ.push(k);
    }
    this.nFalse[k] = f;
    this.nTrue[k] = t;
    this.enqueue(clause[0]!, LEARNED, k);
    return this.propagate();
  }

  /** The true literals that imply `lit` by its reason (level-0 facts included). */
  private antecedents(lit: number, kind: number, ref: number): number[] {
    const x = Math.abs(lit);
    switch (kind) {
      case AMO:
        return [ref];
      case RANGE: {
        const g = this.reqs[ref]!.guard;
        return g === undefined ? [] : [g];
      }
      case EMPTY:
        return this.reqs[ref]!.sat.map((s) => -s);
      case LAST: {
        const g = this.reqs[ref]!.guard;
        const out = g === undefined ? [] : [g];
        for (const w of this.labelVars[this.varLabel[x]!]!) if (w !== x) out.push(-w);
        return out;
      }
      case LEARNED:
        return ref < 0 ? [] : this.learned[ref]!.filter((l) => l !== lit).map((l) => -l);
      default:
        return [];
    }
  }

  /** The next decision: the preferred (else newest) live version of the earliest open label. */
  private decision(): number {
    let best = -1;
    for (const l of this.requiredList)
      if (
        !this.selected[l] &&
        (best < 0 ||
          this.depth[l]! < this.depth[best]! ||
          (this.depth[l] === this.depth[best] && this.rank[l]! < this.rank[best]!))
      )
        best = l;
    if (best < 0) return 0;
    const p = this.preferred[best]!;
    if (p && this.value[p] === 0) return p;
    for (const v of this.labelVars[best]!) if (this.value[v] === 0) return v;
    throw new Error('internal: an open label with no live version');
  }

  private enqueue(lit: number, kind: number, ref: number): void {
    this.queue.push(lit, kind, ref);
  }

  /** Assigns queued literals and their consequences; false on a conflict (the queue is cleared). */
  private propagate(): boolean {
    const q = this.queue;
    while (q.length && !this.conflictAnte) {
      const ref = q.pop()!;
      const kind = q.pop()!;
      const lit = q.pop()!;
      const x = Math.abs(lit);
      const want = lit > 0 ? 1 : -1;
      const cur = this.value[x]!;
      if (cur === want) continue;
      if (cur === -want) {
        this.conflictAnte = [...this.antecedents(lit, kind, ref), -lit];
        break;
      }
      this.value[x] = want;
      this.level[x] = this.currentLevel;
      this.reasonKind[x] = kind;
      this.reasonRef[x] = ref;
      this.trail.push(lit);
      this.countLearned(lit, 1);
      if (lit > 0) this.setTrue(x);
      else this.setFalse(x);
    }
    q.length = 0;
    return this.conflictAnte === undefined;
  }

  /** Adds `d` (1 or -1) to the learned clauses' counts for literal `lit` becoming true. */
  private countLearned(lit: number, d: number): void {
    for (const k of this.learnedOcc.get(lit) ?? []) this.nTrue[k]! += d;
    for (const k of this.learnedOcc.get(-lit) ?? []) {
      this.nFalse[k]! += d;
      if (d > 0 && this.nTrue[k] === 0 && !this.conflictAnte) {
        const c = this.learned[k]!;
        if (this.nFalse[k] === c.length) this.conflictAnte = c.map((l) => -l);
        else if (this.nFalse[k] === c.length - 1)
          for (const l of c) if (this.value[Math.abs(l)] === 0) this.enqueue(l, LEARNED, k);
      }
    }
  }

  private setTrue(c: number): void {
    const l = this.varLabel[c]!;
    this.selected[l] = c;
    for (const w of this.labelVars[l]!) if (w !== c && this.value[w] !== -1) this.enqueue(-w, AMO, c);
    for (const r of this.guarded[c]!) this.activate(r);
  }

  /** A requirement now holds (its guard is chosen, or it is a root's). */
  private activate(r: number): void {
    const req = this.reqs[r]!;
    const d = req.label;
    if (this.required[d]!++ === 0) {
      this.requiredList.push(d);
      this.firstReq[d] = r;
      this.depth[d] = req.guard === undefined ? 0 : this.depth[this.varLabel[req.guard]!]! + 1;
    }
    if (this.conflictAnte) return;
    if (this.open[r] === 0) {
      this.conflictAnte = this.antecedents(req.guard === undefined ? 0 : -req.guard, EMPTY, r);
      if (req.guard !== undefined) this.conflictAnte.push(req.guard);
      return;
    }
    const sat = this.satSet[r]!;
    for (const w of this.labelVars[d]!) if (!sat.has(w) && this.value[w] !== -1) this.enqueue(-w, RANGE, r);
    this.checkLabel(d);
  }

  private setFalse(w: number): void {
    const l = this.varLabel[w]!;
    this.live[l]!--;
    for (const r of this.occurs[w]!) {
      if (--this.open[r]! === 0 && !this.conflictAnte) {
        const g = this.reqs[r]!.guard;
        if (g === undefined || this.value[g] === 1) {
          this.conflictAnte = this.antecedents(0, EMPTY, r);
          if (g !== undefined) this.conflictAnte.push(g);
        } else if (this.value[g] === 0) this.enqueue(-g, EMPTY, r);
      }
    }
    this.checkLabel(l);
  }

  /** A required label with one version left takes it. */
  private checkLabel(l: number): void {
    if (this.conflictAnte || !this.required[l] || this.selected[l]) return;
    if (this.live[l] === 1)
      for (const v of this.labelVars[l]!) if (this.value[v] === 0) this.enqueue(v, LAST, this.firstReq[l]!);
  }

  /** Undoes assignments back to a trail length (and the required list to its length). */
  private undoTo(mark: number, listMark: number): void {
    while (this.trail.length > mark) {
      const lit = this.trail.pop()!;
      this.countLearned(lit, -1);
      if (lit > 0) {
        this.value[lit] = 0;
        this.selected[this.varLabel[lit]!] = 0;
        for (const r of this.guarded[lit]!) this.required[this.reqs[r]!.label]!--;
      } else {
        const w = -lit;
        this.value[w] = 0;
        this.live[this.varLabel[w]!]!++;
        for (const r of this.occurs[w]!) this.open[r]!++;
      }
    }
    this.requiredList.length = listMark;
    this.queue.length = 0;
    this.conflictAnte = undefined;
  }
}
