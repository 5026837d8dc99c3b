/**
 * The dry-run plan: which nodes are cached and which would build, without running anything.
 * A node's action id is known only when all its dependencies are cached (their outputs are part
 * of the key); below a node that must build, ids are unknown until it has built.
 *
 * @see specs/scheduler.md §9
 */
import type { Digest } from '../src/kernel/index.ts';
import type { Rebuilder } from './rebuilder.ts';
import { topologicalOrder, type KeyFunction, type SchedNode } from './scheduler.ts';

/** One node of a dry-run plan. */
export interface PlanEntry {
  label: string;
  /** The action id, or undefined when a dependency must build first. */
  action?: Digest;
  /** True when the action is cached (then `output` is its recorded output). */
  cached: boolean;
  output?: Digest;
}

/**
 * Plans a build: for each node in topological order, its action id (when knowable) and whether
 * it is cached.
 * @throws BuildClosureError E7 for an invalid graph; whatever `key` or the rebuilder throws
 * @see specs/scheduler.md §9
 */
export async function planBuild<N extends SchedNode>(opts: {
  nodes: readonly N[];
  key: KeyFunction<N>;
  rebuilder: Rebuilder;
}): Promise<PlanEntry[]> {
  const outputs = new Map<string, Digest>();
  const plan: PlanEntry[] = [];
  for (const n of topologicalOrder(opts.nodes)) {
    if (!n.deps.every((d) => outputs.has(d))) {
      plan.push({ label: n.label, cached: false });
      continue;
    }
    const depOutputs = Object.fromEntries(n.deps.map((d) => [d, outputs.get(d)!]));
    const action = await opts.key(n, depOutputs);
    const entry = await opts.rebuilder.check(action);
    if (entry) {
      outputs.set(n.label, entry.record.output);
      plan.push({ label: n.label, action, cached: true, output: entry.record.output });
    } else plan.push({ label: n.label, action, cached: false });
  }
  return plan;
}
