/**
 * `eos run ROOT [--cwd] [--network] -- CMD ARGS…`: runs a command whose `/` is the composition: its
 * composefs image mounted in a private namespace, or, where mounting is not permitted, its
 * hard-link world (said once on stderr). The command is unprivileged (user namespace, no
 * capabilities, seccomp; specs/sandbox-seccomp.md) and has no network unless `--network`.
 * Exits with the command's status.
 * @see specs/composition.md §13
 */
import { Store, UsageError, parseDigest } from '../kernel/index.ts';
import { CompositionStore, checkSwaps, runComposition } from '../../composer/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos run`. */
export interface RunCommandOptions extends GlobalOptions {
  root: string;
  cmd?: string[];
  /** Bind the caller's working directory at /work and start there. */
  cwd?: boolean;
  /** Share the host's network namespace (default: a fresh, empty one). */
  network?: boolean;
}

/**
 * Runs `eos run`.
 * @throws UsageError E1, NotFoundError E4, CompositionError E18, MountError E23; E30/E31/E32 when a
 *   swapped entry's proof is missing, does not match or does not cover
 */
export async function run(opts: RunCommandOptions): Promise<CommandResult> {
  const root = parseDigest(opts.root, 'ROOT');
  const argv = opts.cmd ?? [];
  if (argv.length === 0)
    throw new UsageError('eos run: give the command after --, e.g. eos run ROOT -- sh -c "ls /"');
  const cs = new CompositionStore(new Store(opts.store));
  // A swapped entry's proof is re-checked before its bytes are used (never trusted blindly).
  const overrides = (await checkSwaps(cs, root)).filter((s) => s.kind === 'override');
  const r = await runComposition(cs, root, {
    argv,
    ...(opts.cwd ? { cwd: process.cwd() } : {}),
    ...(opts.network ? { network: true } : {}),
  });
  const notes = overrides.map(
    (s) =>
      `eos: WARNING: entry ${s.entry} is an override (its proof does not cover): ${JSON.stringify(s.reason)}`,
  );
  if (r.mode === 'hardlink')
    notes.push(`eos: mounting not permitted (${r.reason}); used a hard-link world at ${r.path}`);
  return { exitCode: r.exitCode, ...(notes.length ? { notes } : {}) };
}
