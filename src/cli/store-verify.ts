/**
 * `eos store verify [--repair]`: re-hashes every object; prints `FAIL\tkind\tdigest\tpath\treason`
 * per problem and exits 1 when there is any; `--repair` deletes the corrupt objects.
 * @see specs/store.md §8
 */
import { Store } from '../kernel/store/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos store verify`. */
export interface StoreVerifyOptions extends GlobalOptions {
  repair?: boolean;
}

/** Runs `eos store verify`. @throws IoError E12 when repair finds the store busy */
export async function run(opts: StoreVerifyOptions): Promise<CommandResult> {
  const store = new Store(opts.store);
  const r = await store.verify({ repair: Boolean(opts.repair) });
  const lines = r.problems.map((p) =>
    [p.removed ? 'REMOVED' : 'FAIL', p.kind, p.digest ?? '-', p.path, p.reason].join('\t'),
  );
  const summary = `checked ${r.blobs} blobs, ${r.trees} trees, ${r.twins} twins: ${r.problems.length} problems`;
  if (!r.problems.length) lines.push(`ok\t${summary}`);
  return {
    lines,
    json: { version: 1, ok: r.problems.length === 0, ...r },
    notes: r.problems.length
      ? [summary + (opts.repair ? ' (corrupt objects removed; ingest again to restore)' : '')]
      : [],
    exitCode: r.problems.length ? 1 : 0,
  };
}
