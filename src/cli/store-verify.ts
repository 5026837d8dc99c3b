/**
 * `eos store verify [--repair]`: re-hashes every object; prints `FAIL\tkind\tdigest\tpath\treason`
 * per problem (objects, and the composer's caches: image, view, world) and exits 1 when there is
 * any; `--repair` deletes the corrupt objects and bad caches.
 * @see specs/store.md §8
 */
import { Store } from '../kernel/store/index.ts';
import { CompositionStore, verifyCaches } from '../../composer/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos store verify`. */
export interface StoreVerifyOptions extends GlobalOptions {
  repair?: boolean;
}

/** Runs `eos store verify`. @throws IoError E12 when repair finds the store busy */
export async function run(opts: StoreVerifyOptions): Promise<CommandResult> {
  const store = new Store(opts.store);
  const r = await store.verify({ repair: Boolean(opts.repair) });
  // The composer's caches (images, views, worlds) are checked against their roots too.
  const cs = new CompositionStore(store);
  const c = opts.repair
    ? await store.withExclusiveLock(() => verifyCaches(cs, { repair: true }))
    : await verifyCaches(cs);
  const problems = [
    ...r.problems.map((p) => ({ ...p, digest: p.digest ?? '-' })),
    ...c.problems.map((p) => ({ ...p, digest: p.root })),
  ];
  const lines = problems.map((p) =>
    [p.removed ? 'REMOVED' : 'FAIL', p.kind, p.digest, p.path, p.reason].join('\t'),
  );
  const summary = `checked ${r.blobs} blobs, ${r.trees} trees, ${r.twins} twins, ${c.images} images, ${c.views} views, ${c.worlds} worlds: ${problems.length} problems`;
  if (!problems.length) lines.push(`ok\t${summary}`);
  return {
    lines,
    json: { version: 1, ok: problems.length === 0, ...r, caches: c },
    notes: problems.length
      ? [summary + (opts.repair ? ' (corrupt objects and caches removed; ingest again to restore)' : '')]
      : [],
    exitCode: problems.length ? 1 : 0,
  };
}
