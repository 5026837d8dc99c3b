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
import { buildLock, formatObserved, observedActions, observedJson } from '../build/index.ts';
import { observeAvailable } from '../../executor/index.ts';
import { SIGNAL_EXIT, abortOnSignals } from '../../scheduler/index.ts';
import { isCacheUrl, readSubstituters } from '../../cache/index.ts';
import { UsageError } from '../kernel/errors.ts';
import { positiveInt, secondsToMs, sizeBytes } from './options.ts';
import { Store } from '../kernel/store/index.ts';
import { configDir } from '../kernel/config.ts';
import { createProgressDisplay } from './build-progress.ts';
import { parseEnvArgs } from './build-atom.ts';
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
  /** Build in observed worlds (FUSE; specs/observe.md): record each action's read set, print prune hints. */
  observe?: boolean;
  /** Comma-separated cache URLs; replaces cache.toml's list. */
  substituters?: string;
  requireCache?: boolean;
  /** `KEY=VALUE` added to every fetch action's environment (an atom with `[fetch]`; specs/fetch.md §7.1). */
  fetchEnv?: string[];
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
  const fetchEnv = parseEnvArgs(opts.fetchEnv, '--fetch-env');
  const signKey = opts.signKey ? { config: configDir(), name: opts.signKey } : undefined;
  const substituters =
    opts.substituters !== undefined
      ? opts.substituters
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
          .map((u) => {
            if (!isCacheUrl(u))
              throw new UsageError(
                `--substituters: ${JSON.stringify(u)} is not a cache URL (http://, https://, grpc://, grpcs://)`,
                {
                  data: { option: '--substituters', value: u },
                },
              );
            return u;
          })
      : await readSubstituters(configDir());
  const sig = abortOnSignals((s) => process.stderr.write(`eos: ${s}: cancelling (no new builds start)\n`));
  // --observe where FUSE is unavailable: say so, and build unobserved (specs/observe.md §1).
  const avail = opts.observe ? observeAvailable() : undefined;
  const observe = avail?.ok === true;
  if (avail && !avail.ok) process.stderr.write(`eos: --observe: ${avail.reason}; building unobserved\n`);
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
      ...(observe ? { observe: true } : {}),
      ...(Object.keys(fetchEnv).length ? { fetchEnv } : {}),
      substituters,
      ...(opts.requireCache ? { requireCache: true } : {}),
      signal: sig.signal,
      cancelledExit: () => SIGNAL_EXIT[(sig.received() ?? 'SIGINT') as 'SIGINT' | 'SIGTERM'],
      onEvent: (e) => display.onEvent(e),
      // Records go to stdout as they happen, unless the progress bar shares the terminal with them
      // (then they follow the bar at the end) or --json collects everything into one document.
      ...(!opts.json && !(process.stdout.isTTY && process.stderr.isTTY) && opts.emit
        ? { onLine: opts.emit }
        : {}),
    });
    const store = new Store(opts.store);
    const obs = observe && r.result ? await observedActions(store, r.result.results.values()) : [];
    // Substitutions, refusals and prune hints go before the summary line, which stays last.
    const extra = [
      ...r.substitutions.map(
        (s) => `substituted\t${s.action}\t${s.output}\t${s.cache}\t${s.objects} object(s), ${s.bytes} B`,
      ),
      ...r.refusals.map((f) => `refused\t${f.action}\t${f.cache}\t${f.error.message}`),
      ...obs.flatMap(formatObserved),
    ];
    const json = {
      ...(r.json as object),
      sharedWorlds: r.sharedWorlds,
      substituted: r.substitutions,
      refused: r.refusals.map((f) => ({ action: f.action, cache: f.cache, error: f.error.toJSON() })),
      ...(opts.observe
        ? { observed: obs.map(observedJson), observeUnavailable: avail?.ok ? null : avail?.reason }
        : {}),
    };
    const c = r.composition;
    const head = [...r.lines.slice(0, -1), ...extra];
    if (!c) return { lines: [...head, ...r.lines.slice(-1)], json, exitCode: r.exitCode };
    return {
      lines: [...head, `composition\t${c.root}\t${c.file}`, ...r.lines.slice(-1)],
      json: { ...json, composition: { root: c.root, file: c.file } },
      exitCode: r.exitCode,
      notes: [
        ...c.shadowed.map((s) => `shadowed\t${s.path}\t${s.winner} over ${s.shadowed.join(', ')}`),
        ...c.providers.map((p) => `runtime\tseed.${p.package}\t${p.provides}\tfor ${p.for}`),
        c.signedBy ? `composition signed by ${c.signedBy}` : 'composition not signed (no --sign-key)',
      ],
    };
  } finally {
    display.stop();
    sig.dispose();
  }
}
