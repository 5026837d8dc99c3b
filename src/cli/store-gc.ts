/**
 * `eos store gc [--grace SECONDS]`: deletes what no root reaches (objects younger than the grace
 * period, default 3600 s, are kept); prints counts as `key\tvalue` lines.
 * @see specs/store.md §9
 */
import { UsageError } from '../kernel/errors.ts';
import { Store } from '../kernel/store/index.ts';
import { sweepSandboxMounts } from '../../executor/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos store gc`. */
export interface StoreGcOptions extends GlobalOptions {
  grace?: string;
}

/** Runs `eos store gc`. @throws UsageError E1 for a bad --grace; IoError E12 when busy; E3/E5 */
export async function run(opts: StoreGcOptions): Promise<CommandResult> {
  let graceSeconds: number | undefined;
  if (opts.grace !== undefined) {
    graceSeconds = Number(opts.grace);
    if (!/^\d+$/.test(opts.grace) || !Number.isSafeInteger(graceSeconds))
      throw new UsageError(`--grace: ${JSON.stringify(opts.grace)} is not a whole number of seconds`);
  }
  const r = await new Store(opts.store).gc({ graceSeconds });
  // Host mount points of sandboxes whose build was killed are litter too.
  const sandboxMountsRemoved = sweepSandboxMounts();
  const { missingRoots, ...rest } = r;
  const counts = { ...rest, sandboxMountsRemoved };
  return {
    lines: [
      ...Object.entries(counts).map(([k, v]) => `${k}\t${v}`),
      ...missingRoots.map((d) => `missingRoot\t${d}`),
    ],
    json: { version: 1, ...r, sandboxMountsRemoved },
  };
}
