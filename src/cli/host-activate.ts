/**
 * `eos host activate --root DIR --generation N`: the detached activator (started by serve and by
 * rollback in its own session): writes a pending generation, flips `current`, activates.
 * @see specs/host.md §4
 */
import { Host, runActivator } from '../../stacks/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';
import { eosCommand, hostRootArg, intArg } from './stacks-args.ts';

/** Options of `eos host activate`. */
export interface HostActivateOptions extends GlobalOptions {
  root?: string;
  generation: string;
}

/** Runs the activator. */
export async function run(opts: HostActivateOptions): Promise<CommandResult> {
  const host = new Host(hostRootArg(opts.root));
  const r = await runActivator(host, intArg(opts.generation, '--generation')!, eosCommand());
  return {
    lines: [
      `activated\t${r.generation}\trestart=${r.restart.join(',')}\tstart=${r.start.join(',')}\tstop=${r.stop.join(',')}\tfailed=${r.failed.map((f) => f.name).join(',')}`,
    ],
  };
}
