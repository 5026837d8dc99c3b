/**
 * A simulation harness for the scheduler tests: the real scheduler, the real action-key function,
 * the real rebuilder over the in-memory action cache, a virtual clock, and an executor that
 * sleeps each node's simulated duration and records what it saw.
 */
import { digestBytes, digestCanonical, type Digest } from '../../src/kernel/index.ts';
import {
  MemoryActionCache,
  VirtualClock,
  actionId,
  constructiveRebuilder,
  schedule,
  type ScheduleOptions,
  type ScheduleResult,
  type SchedulerEvent,
  type SyntheticNode,
} from '../../scheduler/index.ts';

/** One executor run as the harness saw it. */
export interface Run {
  label: string;
  startMs: number;
  endMs?: number;
  aborted: boolean;
  makeJobs: number;
  action: Digest;
}

/** What a simulated world looks like: per label, the atom version and the output "content". */
export interface World {
  /** Changes the node's atom digest (so its key) without changing its output. */
  atomVersion: Map<string, number>;
  /** Changes the node's output bytes. */
  outputSalt: Map<string, number>;
  /** Nodes whose executor fails. */
  failing: Set<string>;
}

export function newWorld(): World {
  return { atomVersion: new Map(), outputSalt: new Map(), failing: new Set() };
}

/** The output a node must have: a function of its own content and its dependencies' outputs. */
export function expectedOutput(label: string, world: World, depOutputs: Record<string, Digest>): Digest {
  return digestCanonical({ label, salt: world.outputSalt.get(label) ?? 0, deps: depOutputs });
}

export const TOOLCHAIN = digestBytes('toolchain');
export const RECIPE = digestBytes('recipe std.simulated');

export interface SimOptions extends Partial<ScheduleOptions<SyntheticNode>> {
  cache?: MemoryActionCache;
  clock?: VirtualClock;
  /** Abort at this virtual time. */
  abortAtMs?: number;
  /** Executors ignore their abort signal and finish anyway. */
  ignoreAbort?: boolean;
}

export interface Sim {
  result: ScheduleResult;
  runs: Run[];
  events: SchedulerEvent[];
  maxConcurrent: number;
  cache: MemoryActionCache;
  clock: VirtualClock;
}

/** Runs the scheduler over `nodes` in the world. */
export async function simulate(nodes: SyntheticNode[], world: World, opts: SimOptions = {}): Promise<Sim> {
  const clock = opts.clock ?? new VirtualClock();
  const cache = opts.cache ?? new MemoryActionCache();
  const runs: Run[] = [];
  const events: SchedulerEvent[] = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  const ctrl = new AbortController();
  if (opts.abortAtMs !== undefined)
    void clock.sleep(opts.abortAtMs).then(() => ctrl.abort(new Error('cancelled')));
  const result = await clock.run(
    schedule<SyntheticNode>({
      nodes,
      jobs: 3,
      cores: 6,
      seedMode: 'seeded',
      clock,
      signal: ctrl.signal,
      onEvent: (e) => events.push(e),
      key: (n, depOutputs) =>
        actionId({
          atom: digestBytes(`atom ${n.label} v${world.atomVersion.get(n.label) ?? 0}`),
          recipe: RECIPE,
          args: {},
          toolchain: TOOLCHAIN,
          seedMode: 'seeded',
          arch: 'x86_64-linux',
          deps: { ...depOutputs },
        }),
      rebuilder: constructiveRebuilder(cache),
      executor: async (n, ctx) => {
        const run: Run = {
          label: n.label,
          startMs: clock.now(),
          aborted: false,
          makeJobs: ctx.makeJobs,
          action: ctx.action,
        };
        runs.push(run);
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        ctx.signal.addEventListener('abort', () => (run.aborted = true));
        try {
          await clock.sleep(n.durationMs, opts.ignoreAbort ? undefined : ctx.signal);
        } finally {
          concurrent--;
          run.endMs = clock.now();
        }
        if (world.failing.has(n.label))
          throw Object.assign(new Error(`${n.label}: make exited 2`), {
            data: { log: `/logs/${n.label}.log` },
          });
        const out = expectedOutput(n.label, world, { ...ctx.depOutputs });
        return { output: out, world: TOOLCHAIN, log: digestBytes(`log ${n.label}`) };
      },
      ...opts,
    }),
  );
  return { result, runs, events, maxConcurrent, cache, clock };
}

/** Transitive dependents of `labels` (not including them). */
export function transitiveDependents(nodes: SyntheticNode[], labels: Iterable<string>): Set<string> {
  const dependents = new Map<string, string[]>(nodes.map((n) => [n.label, []]));
  for (const n of nodes) for (const d of n.deps) dependents.get(d)!.push(n.label);
  const out = new Set<string>();
  const stack = [...labels];
  while (stack.length) {
    for (const c of dependents.get(stack.pop()!)!) {
      if (out.has(c)) continue;
      out.add(c);
      stack.push(c);
    }
  }
  return out;
}
