/**
 * `eos host supervise --root DIR --generation N SERVICE`: the process backend's supervisor of one
 * service (started detached by activation): runs it in its world and applies its restart policy.
 * @see specs/host.md §9.2
 */
import { Host, superviseService } from '../../stacks/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';
import { hostRootArg, intArg } from './stacks-args.ts';

/** Options of `eos host supervise`. */
export interface HostSuperviseOptions extends GlobalOptions {
  root?: string;
  generation: string;
  service: string;
}

/** Runs the supervisor until the service ends for good or SIGTERM. */
export async function run(opts: HostSuperviseOptions): Promise<CommandResult> {
  const host = new Host(hostRootArg(opts.root));
  return { exitCode: await superviseService(host, intArg(opts.generation, '--generation')!, opts.service) };
}
