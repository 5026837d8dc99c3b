/**
 * `eos host gc [--keep N] [--root DIR]`: removes generations beyond the last N (never the current,
 * pending or pinned ones), then every store object, image and staged tree they do not reach.
 * @see specs/host.md §7
 */
import { Host } from '../../stacks/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';
import { hostRootArg, intArg } from './stacks-args.ts';

/** Options of `eos host gc`. */
export interface HostGcOptions extends GlobalOptions {
  root?: string;
  keep?: string;
  grace?: string;
}

/** Runs `eos host gc`. @throws HostError E37 when the host is locked */
export async function run(opts: HostGcOptions): Promise<CommandResult> {
  const host = new Host(hostRootArg(opts.root));
  const r = await host.gc(intArg(opts.keep, '--keep') ?? 5, intArg(opts.grace, '--grace') ?? 3600);
  return {
    lines: [
      `kept\t${r.kept.join(',')}`,
      `removed-generations\t${r.removedGenerations.join(',') || '-'}`,
      `removed\tblobs=${r.blobsRemoved}\ttrees=${r.treesRemoved}\timages=${r.imagesRemoved}\tbytes=${r.bytesFreed}`,
    ],
    json: { version: 1, ...r },
  };
}
