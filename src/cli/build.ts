/**
 * `eos build [LOCK]`: builds every atom of a lock with the Eos scheduler and the sandboxed
 * executor. Everything that can be checked before a build is checked first (the lock, every
 * manifest, recipes, the graph: `[E#]`, exit 1, nothing built); then actions run in parallel,
 * critical path first, cached ones skipped, one failure never stopping unrelated work.
 * Prints the surface of specs/scheduler.md §10; a progress bar on stderr when it is a terminal.
 *
 * This file parses the options, calls the build system (`src/build`'s `buildLock`) and shapes
 * what is printed; the pipeline itself lives in `src/build/system.ts`.
 *
 * @see specs/scheduler.md, specs/action.md, specs/lock.md
 */
import { resolve } from 'node:path';
import { buildLock } from '../build/index.ts';
import { SIGNAL_EXIT, abortOnSignals } from '../../scheduler/index.ts';
import { positiveInt, secondsToMs, sizeBytes } from './options.ts';
import { Store } from '../kernel/store/index.ts';
import { configDir } from '../kernel/config.ts';
import { createProgressDisplay } from './build-progress.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos build`. */
export interface BuildOptions extends GlobalOptions {
  lock?: string;
  seedLock?: string;
  jobs?: string;
  only?: string;
  dryRun?: boolean;
  check?: boolean;
  aptDir?: string;
  signKey?: string;
  timeout?: string;
  maxPids?: string;
  maxMemory?: string;
  /** Write the runtime composition of the built closure (TOML) to this file; store and sign it. */
  compose?: string;
}

/** Runs `eos build`. @throws UsageError E1 and the located errors of `buildLock` (exit 1) */
export async function run(opts: BuildOptions): Promise<CommandResult> {
  const jobs = positiveInt(opts.jobs, '--jobs');
  const timeoutMs = secondsToMs(opts.timeout, '--timeout');
  const maxPids = positiveInt(opts.maxPids, '--max-pids');
  const maxMemory = sizeBytes(opts.maxMemory, '--max-memory');
  const only = opts.only
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const signKey = opts.signKey ? { config: configDir(), name: opts.signKey } : undefined;
  const sig = abortOnSignals((s) => process.stderr.write(`eos: ${s}: cancelling (no new builds start)\n`));
  const display = opts.json ? { onEvent: () => {}, stop: () => {} } : createProgressDisplay(process.stderr);
  try {
    const r = await buildLock({
      lock: resolve(opts.lock ?? 'eos.lock'),
      store: new Store(opts.store),
      ...(opts.seedLock ? { seedLock: resolve(opts.seedLock) } : {}),
      ...(jobs !== undefined ? { jobs } : {}),
      ...(only?.length ? { only } : {}),
      ...(opts.dryRun ? { dryRun: true } : {}),
      ...(opts.check ? { check: true } : {}),
      ...(opts.aptDir ? { aptDir: opts.aptDir } : {}),
      ...(signKey ? { signKey } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(maxPids !== undefined ? { maxPids } : {}),
      ...(maxMemory !== undefined ? { maxMemory } : {}),
      ...(opts.compose ? { compose: resolve(opts.compose) } : {}),
      signal: sig.signal,
      cancelledExit: () => SIGNAL_EXIT[(sig.received() ?? 'SIGINT') as 'SIGINT' | 'SIGTERM'],
      onEvent: (e) => display.onEvent(e),
      // Records go to stdout as they happen, unless the progress bar shares the terminal with them
      // (then they follow the bar at the end) or --json collects everything into one document.
      ...(!opts.json && !(process.stdout.isTTY && process.stderr.isTTY) && opts.emit
        ? { onLine: opts.emit }
        : {}),
    });
    const c = r.composition;
    if (!c) return { lines: r.lines, json: r.json, exitCode: r.exitCode };
    return {
      // Before the summary line, which stays last.
      lines: [...r.lines.slice(0, -1), `composition\t${c.root}\t${c.file}`, ...r.lines.slice(-1)],
      json: { ...(r.json as object), composition: { root: c.root, file: c.file } },
      exitCode: r.exitCode,
      notes: [
        ...c.shadowed.map((s) => `shadowed\t${s.path}\t${s.winner} over ${s.shadowed.join(', ')}`),
        c.signedBy ? `composition signed by ${c.signedBy}` : 'composition not signed (no --sign-key)',
      ],
    };
  } finally {
    display.stop();
    sig.dispose();
  }
}
