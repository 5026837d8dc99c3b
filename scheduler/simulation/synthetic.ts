/**
 * Synthetic build DAGs with simulated durations, for the scheduler's tests and `bench/scheduler`.
 * Deterministic from a seed (mulberry32), pure.
 *
 * @see specs/scheduler.md §7
 */
import type { SchedNode } from '../scheduler.ts';

/** A synthetic node: a scheduler node with its true (simulated) duration, ms. */
export interface SyntheticNode extends SchedNode {
  readonly deps: string[];
  /** The simulated duration, ms. */
  readonly durationMs: number;
}

/** The DAG families of the bench. */
export type DagFamily = 'random' | 'layered' | 'chain-heavy' | 'wide';

/** A deterministic PRNG in [0, 1) (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function label(i: number): string {
  return `n${String(i).padStart(4, '0')}`;
}

/** A heavy-tailed duration (log-uniform over [10, 1000] ms, like real packages: many small, a few big). */
function duration(rnd: () => number): number {
  return Math.round(10 * Math.pow(100, rnd()));
}

function pickDistinct(rnd: () => number, from: number, to: number, k: number): number[] {
  const out = new Set<number>();
  const span = to - from;
  if (span <= 0) return [];
  while (out.size < Math.min(k, span)) out.add(from + Math.floor(rnd() * span));
  return [...out];
}

/**
 * Generates a DAG of `n` nodes of a family, listed dependencies-first.
 * - `random`: each node depends on 0–4 earlier nodes, biased to recent ones.
 * - `layered`: layers of ≈√n nodes; each node depends on 1–3 nodes of the previous layer.
 * - `chain-heavy`: four long chains (half the nodes) plus short side nodes hanging off them.
 * - `wide`: three roots; every other node depends on 0–1 of them; one final node needs ten others.
 */
export function syntheticDag(family: DagFamily, n: number, seed: number): SyntheticNode[] {
  const rnd = prng(seed);
  const deps: number[][] = [];
  switch (family) {
    case 'random':
      for (let i = 0; i < n; i++) {
        const k = Math.floor(rnd() * 5);
        const lo = Math.max(0, i - Math.max(8, Math.floor(n / 10)));
        deps.push(pickDistinct(rnd, lo, i, k));
      }
      break;
    case 'layered': {
      const width = Math.max(1, Math.round(Math.sqrt(n)));
      for (let i = 0; i < n; i++) {
        const layer = Math.floor(i / width);
        if (layer === 0) deps.push([]);
        else deps.push(pickDistinct(rnd, (layer - 1) * width, layer * width, 1 + Math.floor(rnd() * 3)));
      }
      break;
    }
    case 'chain-heavy': {
      const chains = 4;
      const chainLen = Math.max(1, Math.floor(n / 2 / chains));
      const last: (number | undefined)[] = new Array(chains).fill(undefined);
      for (let i = 0; i < n; i++) {
        if (i < chains * chainLen) {
          const c = i % chains;
          deps.push(last[c] === undefined ? [] : [last[c]!]);
          last[c] = i;
        } else {
          deps.push(pickDistinct(rnd, 0, i, 1 + Math.floor(rnd() * 2)));
        }
      }
      break;
    }
    case 'wide':
      for (let i = 0; i < n; i++) {
        if (i < 3) deps.push([]);
        else if (i === n - 1) deps.push(pickDistinct(rnd, 3, i, 10));
        else deps.push(rnd() < 0.5 ? [Math.floor(rnd() * 3)] : []);
      }
      break;
  }
  return deps.map((ds, i) => ({
    label: label(i),
    deps: ds.sort((a, b) => a - b).map(label),
    durationMs: duration(rnd),
  }));
}

/**
 * The makespan lower bound on `jobs` machines: max(critical path, total work / jobs), ms.
 * @param nodes listed dependencies-first (as {@link syntheticDag} returns them)
 */
export function makespanLowerBound(
  nodes: readonly SyntheticNode[],
  jobs: number,
): { criticalPathMs: number; workMs: number; boundMs: number } {
  const finish = new Map<string, number>();
  let cp = 0;
  let work = 0;
  for (const n of nodes) {
    let start = 0;
    for (const d of n.deps) start = Math.max(start, finish.get(d)!);
    const f = start + n.durationMs;
    finish.set(n.label, f);
    cp = Math.max(cp, f);
    work += n.durationMs;
  }
  return { criticalPathMs: cp, workMs: work, boundMs: Math.max(cp, work / jobs) };
}
