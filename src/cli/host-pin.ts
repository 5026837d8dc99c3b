/**
 * `eos host pin N` / `eos host unpin N`: pins a generation so that gc never removes it.
 * @see specs/host.md §7
 */
import { Host } from '../../stacks/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';
import { hostRootArg, intArg } from './stacks-args.ts';

/** Options of `eos host pin`. */
export interface HostPinOptions extends GlobalOptions {
  root?: string;
  generation: string;
  op: 'pin' | 'unpin';
}

/** Runs `eos host pin|unpin`. @throws HostError E37 for an unknown generation */
export async function run(opts: HostPinOptions): Promise<CommandResult> {
  const host = new Host(hostRootArg(opts.root));
  const n = intArg(opts.generation, 'GENERATION')!;
  if (opts.op === 'pin') host.pin(n);
  else host.unpin(n);
  return { lines: [`${opts.op === 'pin' ? 'pinned' : 'unpinned'}\t${n}`] };
}
