/**
 * `eos seed [--lock FILE] [--mode debian|host] [--apt-dir DIR] [--repin-if-gone] [--keep-debs]`: creates the
 * seed (or verifies it and repairs missing trees; offline when every tree is in the store), and
 * `eos seed update` re-pins it from the current index or dpkg database. With `--repin-if-gone`,
 * pins that left the archive make it re-pin instead of failing; with `--keep-debs`, every pinned
 * .deb is kept in the store (those missing downloaded), as `eos seed export` needs. Prints the version diff against
 * the previous lock (`changed|added|removed\tNAME\tOLD\tNEW`), one line per package
 * (`ok\tNAME\tVERSION\tTREE`), then the seed root. `eos seed export FILE` writes the seed archive
 * (the lock and its .debs; prints `ok\tFILE\tDIGEST`); `eos seed import FILE` verifies and stores
 * its .debs, writes the lock and makes the seed offline (prints like `eos seed`).
 * @see specs/seed.md §6, §7
 */
import {
  ensureSeed,
  exportSeed,
  importSeed,
  formatSeedChanges,
  summarizeSeedChanges,
  type SeedMode,
} from '../../executor/index.ts';
import { UsageError } from '../kernel/errors.ts';
import { Store } from '../kernel/store/index.ts';
import { oneOf } from './options.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos seed`. */
export interface SeedCommandOptions extends GlobalOptions {
  lock?: string;
  mode?: string;
  aptDir?: string;
  /** `update` to re-pin, `export`/`import` for archives; absent to create/verify. */
  action?: string;
  /** The archive of `export` / `import`. */
  file?: string;
  package?: string[];
  repinIfGone?: boolean;
  /** Keep every pinned .deb in the store (download the missing ones). */
  keepDebs?: boolean;
}

/** Runs `eos seed` / `eos seed update`. @throws UsageError E1, SeedError E24 */
export async function run(opts: SeedCommandOptions): Promise<CommandResult> {
  oneOf(opts.mode, '--mode', ['debian', 'host']);
  const actions = ['update', 'export', 'import'];
  if (opts.action !== undefined && !actions.includes(opts.action))
    throw new UsageError(`eos seed ${opts.action}: unknown action (update, export FILE or import FILE)`);
  const archive = opts.action === 'export' || opts.action === 'import';
  if (archive && !opts.file) throw new UsageError(`eos seed ${opts.action}: give the archive FILE`);
  if (!archive && opts.file !== undefined)
    throw new UsageError(`eos seed${opts.action ? ' ' + opts.action : ''}: unexpected argument ${opts.file}`);
  const notes: string[] = [];
  const store = new Store(opts.store);
  const lockPath = opts.lock ?? 'seed.lock';
  if (opts.action === 'export') {
    const r = await exportSeed({ store, lockPath, file: opts.file! });
    notes.push(`seed export: ${r.lock.packages.length} .debs and the lock, ${r.size} bytes`);
    return {
      lines: [`ok\t${opts.file}\t${r.digest}`],
      json: { version: 1, file: opts.file, digest: r.digest, size: r.size, packages: r.lock.packages.length },
      notes,
    };
  }
  if (opts.action === 'import') {
    const r = await importSeed({
      store,
      lockPath,
      file: opts.file!,
      ...(opts.aptDir ? { aptDir: opts.aptDir } : {}),
      log: (m) => notes.push(m),
    });
    notes.push(
      `seed import: ${r.seed.lock.packages.length} .debs verified (${r.stored} new in the store), ` +
        `${r.seed.built.length} trees made offline`,
    );
    return {
      lines: [
        ...r.seed.lock.packages.map((p) => `ok\t${p.name}\t${p.version}\t${p.tree}`),
        `root\t${r.seed.root}`,
      ],
      json: { version: 1, root: r.seed.root, lock: r.seed.lock, built: r.seed.built, stored: r.stored },
      notes,
    };
  }
  const r = await ensureSeed({
    store,
    lockPath,
    ...(opts.mode ? { mode: opts.mode as SeedMode } : {}),
    ...(opts.aptDir ? { aptDir: opts.aptDir } : {}),
    ...(opts.package?.length ? { roots: opts.package } : {}),
    update: opts.action === 'update',
    repinIfGone: opts.repinIfGone === true,
    keepDebs: opts.keepDebs === true,
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
