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
import { digestBytes, type Digest } from '../../src/index.ts';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

const nodesN = Number(arg('nodes', '1000'));
const dags = Number(arg('dags', '5'));
const jobsList = arg('jobs', '2,4,8,16').split(',').map(Number);
const aging = Number(arg('aging', '0.1'));
const families: DagFamily[] = ['random', 'layered', 'chain-heavy', 'wide'];

async function simulate(nodes: SyntheticNode[], jobs: number, withHistory: boolean): Promise<number> {
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
      agingPerMs: aging,
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
  `makespan / max(critical path, work/jobs), ${dags} DAGs of ${nodesN} nodes per family, aging ${aging}`,
);
console.log(['family', 'jobs', 'history: mean', 'worst', 'no history: mean', 'worst'].join('\t'));
let worstAll = 0;
for (const family of families) {
  for (const jobs of jobsList) {
    const withH: number[] = [];
    const noH: number[] = [];
    for (let s = 0; s < dags; s++) {
      const nodes = syntheticDag(family, nodesN, 1000 * s + jobs);
      const lb = makespanLowerBound(nodes, jobs).boundMs;
      withH.push((await simulate(nodes, jobs, true)) / lb);
      noH.push((await simulate(nodes, jobs, false)) / lb);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    worstAll = Math.max(worstAll, ...withH);
    console.log(
      [
        family,
        jobs,
        mean(withH).toFixed(3),
        Math.max(...withH).toFixed(3),
        mean(noH).toFixed(3),
        Math.max(...noH).toFixed(3),
      ].join('\t'),
    );
  }
}
console.log(`worst ratio with history: ${worstAll.toFixed(3)} (goal ≤ 1.10)`);
console.log(`simulated in ${((performance.now() - t0) / 1000).toFixed(1)} s of wall time`);
