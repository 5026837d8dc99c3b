/**
 * bench/scheduler (makespan half): runs the real scheduler over synthetic DAGs in a discrete-event
 * simulation (virtual clock, executors that sleep their simulated duration, in-memory action
 * cache) and prints the makespan over the lower bound max(critical path, total work / jobs), per
 * DAG family. Goal: ≤ 1.10. Simulated time, so the figures are exact and machine-independent.
 *
 * Usage: npx tsx bench/scheduler/makespan.ts [--nodes 1000] [--dags 5] [--jobs 2,4,8,16] [--aging 0.1]
 */
import {
  MemoryActionCache,
  VirtualClock,
  constructiveRebuilder,
  makespanLowerBound,
  schedule,
  syntheticDag,
  type DagFamily,
  type SyntheticNode,
} from '../../scheduler/index.ts';
import { digestBytes, type Digest } from '../../src/kernel/index.ts';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

const nodesN = Number(arg('nodes', '1000'));
const dags = Number(arg('dags', '5'));
const jobsList = arg('jobs', '2,4,8,16').split(',').map(Number);
const aging = Number(arg('aging', '0.1'));
const families: DagFamily[] = ['random', 'layered', 'chain-heavy', 'wide'];

async function simulate(
  nodes: SyntheticNode[],
  jobs: number,
  withHistory: boolean,
  agingPerMs = aging,
): Promise<number> {
  const clock = new VirtualClock();
  const rebuilder = constructiveRebuilder(new MemoryActionCache());
  const history = withHistory
    ? new Map(nodes.map((n) => [n.label, n.durationMs]))
    : new Map<string, number>();
  const res = await clock.run(
    schedule({
      nodes,
      jobs,
      cores: jobs,
      seedMode: 'seeded',
      clock,
      history,
      agingPerMs,
      key: (n) => digestBytes(`action ${n.label}`),
      rebuilder,
      executor: async (n, ctx) => {
        await clock.sleep(n.durationMs, ctx.signal);
        const out: Digest = digestBytes(`out ${n.label}`);
        return { output: out, world: out, log: out };
      },
    }),
  );
  for (const r of res.results.values()) if (r.status !== 'ok') throw new Error(`${r.label}: ${r.status}`);
  return res.makespanMs;
}

const t0 = performance.now();
console.log(
  `makespan / max(critical path, work/jobs): ${dags} DAGs of ${nodesN} nodes per family and job count, aging ${aging}`,
);
console.log('columns: Eos with recorded durations (mean, worst); Eos before any history (defaults);');
console.log('         Eos with history but no aging; FIFO (ready order, no critical path) for reference');
console.log(['family', 'jobs', 'eos', 'worst', 'no-hist', 'worst', 'no-aging', 'fifo'].join('\t'));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
let worstAll = 0;
const perFamily: string[] = [];
for (const family of families) {
  const famAll: number[] = [];
  for (const jobs of jobsList) {
    const withH: number[] = [];
    const noH: number[] = [];
    const noAging: number[] = [];
    const fifo: number[] = [];
    for (let s = 0; s < dags; s++) {
      const nodes = syntheticDag(family, nodesN, 1000 * s + jobs);
      const lb = makespanLowerBound(nodes, jobs).boundMs;
      withH.push((await simulate(nodes, jobs, true)) / lb);
      noH.push((await simulate(nodes, jobs, false)) / lb);
      noAging.push((await simulate(nodes, jobs, true, 0)) / lb);
      fifo.push((await simulate(nodes, jobs, true, 1e9)) / lb);
    }
    famAll.push(...withH);
    worstAll = Math.max(worstAll, ...withH);
    const f = (x: number) => x.toFixed(3);
    console.log(
      [
        family,
        jobs,
        f(mean(withH)),
        f(Math.max(...withH)),
        f(mean(noH)),
        f(Math.max(...noH)),
        f(mean(noAging)),
        f(mean(fifo)),
      ].join('\t'),
    );
  }
  perFamily.push(`${family}: mean ${mean(famAll).toFixed(3)}, worst ${Math.max(...famAll).toFixed(3)}`);
}
console.log('per family (eos, recorded durations, all job counts):');
for (const l of perFamily) console.log(`  ${l}`);
console.log(`worst ratio: ${worstAll.toFixed(3)} (goal ≤ 1.10) ${worstAll <= 1.1 ? 'met' : 'NOT met'}`);
console.log(
  `simulated in ${((performance.now() - t0) / 1000).toFixed(1)} s of wall time (virtual clock: exact, load-independent)`,
);
