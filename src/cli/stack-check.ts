/**
 * `eos stack check FILE`: evaluates a stack against the local store without signing or pushing:
 * every composition resolved, every executable found, every unit rendered.
 * @see specs/stack.md §4
 */
import { Store } from '../kernel/index.ts';
import { evaluateStack, deploymentDigest } from '../../stacks/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';
import { lockComposer, transportArg, type TargetOptions } from './stacks-args.ts';

/** Options of `eos stack check`. */
export interface StackCheckOptions extends GlobalOptions, TargetOptions {
  file: string;
}

/** Runs `eos stack check`. @throws StackError E33 located */
export async function run(opts: StackCheckOptions): Promise<CommandResult> {
  const t = transportArg(opts);
  const store = new Store(opts.store);
  const { spec, deployment } = await evaluateStack(store, opts.file, {
    hostRoot: t.hostRoot,
    composeLock: lockComposer(store),
    sequence: 0,
    nowSeconds: Math.floor(Date.now() / 1000),
  });
  const lines = [`ok\t${spec.name}\t${spec.backend}\t${Object.keys(deployment.services).length} service(s)`];
  for (const [n, c] of Object.entries(deployment.compositions)) lines.push(`composition\t${n}\t${c}`);
  for (const [n, s] of Object.entries(deployment.services))
    lines.push(`service\t${n}\t${s.world}\t${s.exec}`);
  for (const [u, r] of Object.entries(deployment.units)) lines.push(`unit\t${u}\t${r.digest}`);
  for (const [p, r] of Object.entries(deployment.files)) lines.push(`file\t${p}\t${r.digest}`);
  return { lines, json: { version: 1, ok: true, digest: deploymentDigest(deployment), deployment } };
}
