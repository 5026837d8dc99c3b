/**
 * `eos run ROOT [--cwd] -- CMD ARGS…`: runs a command whose `/` is the composition: its composefs
 * image mounted in a private namespace, or, where mounting is not permitted, its hard-link world
 * (said once on stderr). Exits with the command's status.
 * @see specs/composition.md §13
 */
import { Store, UsageError, parseDigest } from '../kernel/index.ts';
import { CompositionStore, runComposition } from '../../composer/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos run`. */
export interface RunCommandOptions extends GlobalOptions {
  root: string;
  cmd?: string[];
  /** Bind the caller's working directory at /work and start there. */
  cwd?: boolean;
}

/** Runs `eos run`. @throws UsageError E1, NotFoundError E4, CompositionError E18, MountError E23 */
export async function run(opts: RunCommandOptions): Promise<CommandResult> {
  const root = parseDigest(opts.root, 'ROOT');
  const argv = opts.cmd ?? [];
  if (argv.length === 0)
    throw new UsageError('eos run: give the command after --, e.g. eos run ROOT -- sh -c "ls /"');
  const cs = new CompositionStore(new Store(opts.store));
  const r = await runComposition(cs, root, { argv, ...(opts.cwd ? { cwd: process.cwd() } : {}) });
  return {
    exitCode: r.exitCode,
    ...(r.mode === 'hardlink'
      ? { notes: [`eos: mounting not permitted (${r.reason}); used a hard-link world at ${r.path}`] }
      : {}),
  };
}
