/**
 * `eos host rollback [--to N] [--root DIR] [--no-activate]`: flips `current` to generation N
 * (default: the one before the current) in one rename, after checking its objects are present,
 * then activates it. Allowed for any generation the host accepted, whatever its sequence.
 * @see specs/host.md §4.3
 */
import { Host, rollbackHost } from '../../stacks/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';
import { rollbackLines } from './rollback.ts';
import { eosCommand, hostRootArg, intArg } from './stacks-args.ts';

/** Options of `eos host rollback`. */
export interface HostRollbackOptions extends GlobalOptions {
  root?: string;
  to?: string;
  activate?: boolean;
}

/** Runs `eos host rollback`. @throws HostError E37 */
export async function run(opts: HostRollbackOptions): Promise<CommandResult> {
  const host = new Host(hostRootArg(opts.root));
  const r = await rollbackHost(host, intArg(opts.to, '--to'), eosCommand(), {
    activate: opts.activate !== false,
  });
  const out = rollbackLines(r.from, r.generation, r.result, host.root);
  return {
    ...out,
    notes: [`eos: flipped current to generation ${r.generation} in ${r.flipMs.toFixed(3)} ms (one rename)`],
  };
}
