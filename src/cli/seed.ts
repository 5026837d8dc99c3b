/**
 * `eos seed [--lock FILE] [--mode debian|host] [--apt-dir DIR] [--repin-if-gone]`: creates the
 * seed (or verifies it and repairs missing trees; offline when every tree is in the store), and
 * `eos seed update` re-pins it from the current index or dpkg database. With `--repin-if-gone`,
 * pins that left the archive make it re-pin instead of failing. Prints the version diff against
 * the previous lock (`changed|added|removed\tNAME\tOLD\tNEW`), one line per package
 * (`ok\tNAME\tVERSION\tTREE`), then the seed root.
 * @see specs/seed.md §6
 */
import { ensureSeed, formatSeedChanges, summarizeSeedChanges, type SeedMode } from '../../executor/index.ts';
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
  repinIfGone?: boolean;
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
    repinIfGone: opts.repinIfGone === true,
    log: (m) => notes.push(m),
  });
  if (r.changes.length || opts.action === 'update') notes.push(`seed: ${summarizeSeedChanges(r.changes)}`);
  const t = r.timings;
  notes.push(
    `seed ${r.lock.mode}: ${r.lock.packages.length} packages, ${r.built.length} trees made; ` +
      `resolve ${t.resolveMs} ms, fetch ${t.fetchMs} ms, unpack+ingest ${t.unpackIngestMs} ms, total ${t.totalMs} ms` +
      (r.lockWritten ? '; lock written' : ''),
  );
  return {
    lines: [
      ...formatSeedChanges(r.changes),
      ...r.lock.packages.map((p) => `ok\t${p.name}\t${p.version}\t${p.tree}`),
      `ok\tfixups\t-\t${r.lock.fixups}`,
      `root\t${r.root}`,
    ],
    json: {
      version: 1,
      root: r.root,
      lock: r.lock,
      built: r.built,
      changes: r.changes,
      gone: r.gone,
      timings: r.timings,
    },
    notes,
  };
}
