/**
 * `eos host verify [--root DIR]`: re-hashes every object of every generation on the host; exit 3
 * when any problem is found (one `FAIL` line each).
 * @see specs/host.md §8
 */
import { Host } from '../../stacks/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';
import { hostRootArg } from './stacks-args.ts';

/** Options of `eos host verify`. */
export interface HostVerifyOptions extends GlobalOptions {
  root?: string;
}

/** Runs `eos host verify`. */
export async function run(opts: HostVerifyOptions): Promise<CommandResult> {
  const host = new Host(hostRootArg(opts.root));
  const r = await host.verify();
  const lines = r.problems.map((p) => `FAIL\thost\t${p}`);
  lines.push(
    `${r.problems.length ? 'FAIL' : 'ok'}\t${host.root}\tgenerations=${r.generations}\ttrees=${r.trees}\tblobs=${r.blobs}\tbytes=${r.bytes}`,
  );
  return { lines, json: { version: 1, root: host.root, ...r }, exitCode: r.problems.length ? 3 : 0 };
}
