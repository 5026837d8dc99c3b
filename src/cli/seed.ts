/**
 * `eos seed [--lock FILE] [--mode debian|host] [--apt-dir DIR]`: creates the seed (or verifies it
 * and repairs missing trees; offline when every tree is in the store), and `eos seed update`
 * re-pins it from the current index or dpkg database. Prints one line per package:
 * `ok\tNAME\tVERSION\tTREE`, then the seed root.
 */
import { ensureSeed, type SeedMode } from '../../executor/index.ts';
import { UsageError } from '../kernel/errors.ts';
import { Store } from '../kernel/store/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos seed`. */
export interface SeedCommandOptions extends GlobalOptions {
  lock?: string;
  mode?: string;
  aptDir?: string;
  /** `update` to re-pin; absent to create/verify. */
  action?: string;
  package?: string[];
}

/** Runs `eos seed` / `eos seed update`. @throws UsageError E1, SeedError E24 */
export async function run(opts: SeedCommandOptions): Promise<CommandResult> {
  if (opts.mode !== undefined && opts.mode !== 'debian' && opts.mode !== 'host')
    throw new UsageError(`--mode: ${JSON.stringify(opts.mode)} is not debian or host`);
  if (opts.action !== undefined && opts.action !== 'update')
    throw new UsageError(`eos seed ${opts.action}: unknown action (the only one is \`update\`)`);
  const notes: string[] = [];
  const r = await ensureSeed({
    store: new Store(opts.store),
    lockPath: opts.lock ?? 'seed.lock',
    ...(opts.mode ? { mode: opts.mode as SeedMode } : {}),
    ...(opts.aptDir ? { aptDir: opts.aptDir } : {}),
    ...(opts.package?.length ? { roots: opts.package } : {}),
    update: opts.action === 'update',
    log: (m) => notes.push(m),
  });
  const t = r.timings;
  notes.push(
    `seed ${r.lock.mode}: ${r.lock.packages.length} packages, ${r.built.length} trees made; ` +
      `resolve ${t.resolveMs} ms, fetch ${t.fetchMs} ms, unpack+ingest ${t.unpackIngestMs} ms, total ${t.totalMs} ms` +
      (r.lockWritten ? '; lock written' : ''),
  );
  return {
    lines: [
      ...r.lock.packages.map((p) => `ok\t${p.name}\t${p.version}\t${p.tree}`),
      `ok\tfixups\t-\t${r.lock.fixups}`,
      `root\t${r.root}`,
    ],
    json: { version: 1, root: r.root, lock: r.lock, built: r.built, timings: r.timings },
    notes,
  };
}
