/**
 * The Eos build system in one place, after "Build Systems à la Carte" (`System.hs`): a build
 * system is a scheduler composed with a rebuilder, run over a task description with a store. Here
 * the tasks are a lock's atoms (`loadBuildGraph`), the key of a task is its action id
 * (`lockActionKey`), the rebuilder is the store's constructive-trace rebuilder
 * (`storeRebuilder`), the executor builds one atom in the sandbox (`sandboxExecutor`), and the
 * scheduler is `runBuild`'s restarting, critical-path-first scheduler. `buildLock` composes them
 * and, when asked, turns the built closure into a runtime composition (`composeBuild`).
 *
 * Nothing here parses argv or prints: the CLI (`src/cli/build.ts`) does, and tests call
 * `buildLock` directly.
 *
 * @see specs/scheduler.md §10, specs/action.md, specs/lock.md, specs/composition.md §11
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { firstDifference } from './check-diff.ts';
import {
  buildAtom,
  DEFAULT_MAX_PIDS,
  defaultMaxMemory,
  loadRecipe,
  readSeedLock,
  seedRoot,
  type SeedLock,
} from '../../executor/index.ts';
import {
  Jobserver,
  actionId,
  historyPath,
  keySigner,
  storeRebuilder,
  type CacheEntry,
  type Executor,
  type KeyFunction,
  type SchedulerEvent,
} from '../../scheduler/index.ts';
import {
  openCache,
  substitutingRebuilder,
  type CacheBackend,
  type Refusal,
  type Substitution,
} from '../../cache/index.ts';
import { configDir, readSecretKey, readTrustContext, type Digest, type Store } from '../kernel/index.ts';
import { executorSources, loadBuildGraph, type BuildNode } from './build-graph.ts';
import { runBuild, type BuildRunResult } from './build-run.ts';
import { composeBuild, type ComposeBuildResult } from './runtime-composition.ts';

/** A builder key: its name in the key store of `config`. */
export interface SignKey {
  config: string;
  name: string;
}

/** How the executor builds each action. */
export interface ExecutorOptions {
  /** Private apt state directory for `debian-source` and `deb` sources. */
  aptDir?: string;
  /** Sign each action's record with this key (purpose `builds`), once, as the rebuilder files it. */
  signKey?: SignKey;
  /** Kill a build that runs longer than this (ms). */
  timeoutMs?: number;
  /**
   * Build in observed worlds (specs/observe.md): each action's world is served by the FUSE world
   * server and its record names the read set; a cached record without one is rebuilt, observed.
   */
  observe?: boolean;
  /** Each action's process limit (default 4096; specs/executor.md §4.1). */
  maxPids?: number;
  /** Each action's memory limit in bytes (default 3/4 of the machine's memory, at most 32 GiB). */
  maxMemory?: number;
}

/**
 * The key function of a lock's actions: the action id over the atom's content, its recipe and
 * arguments, the seed (toolchain root, mode, architecture) and the dependencies' outputs.
 * @see specs/action.md §3
 */
export function lockActionKey(seed: SeedLock): KeyFunction<BuildNode> {
  const toolchain = seedRoot(seed);
  return (n, depOutputs) =>
    actionId({
      atom: n.content,
      recipe: loadRecipe(n.manifest.build.recipe).identity,
      args: n.manifest.build.args,
      toolchain,
      seedMode: seed.mode,
      arch: seed.arch,
      deps: { ...depOutputs },
    });
}

/**
 * The executor of a lock's actions: builds one atom in the sandbox over the seed and its
 * dependencies' outputs. An atom without `[[source]]` is its own source (its directory, pinned by
 * its tree digest). Cancellation (the context's signal) kills the sandbox; nothing is stored.
 * @see specs/executor.md
 */
export function sandboxExecutor(
  store: Store,
  seed: SeedLock,
  opts: ExecutorOptions = {},
): Executor<BuildNode> {
  return async (n, ctx) => {
    const r = await buildAtom({
      store,
      seed,
      label: n.label,
      version: n.version,
      recipe: n.manifest.build.recipe,
      args: n.manifest.build.args,
      sources: n.manifest.source.length
        ? executorSources(n.manifest, n.label)
        : [{ kind: 'path', path: n.dir, digest: n.dirDigest }],
      deps: Object.entries(ctx.depOutputs).map(([name, tree]) => ({ name, tree })),
      baseDir: n.dir,
      jobs: ctx.makeJobs,
      ...(ctx.jobserverFd !== undefined ? { jobserverFd: ctx.jobserverFd } : {}),
      actionId: ctx.action,
      signal: ctx.signal,
      ...(opts.observe ? { worldMount: 'observed' as const } : {}),
      ...(opts.aptDir ? { aptDir: opts.aptDir } : {}),
      // No signKey: the rebuilder signs the record it files (one signature per action).
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.maxPids !== undefined || opts.maxMemory !== undefined
        ? {
            limits: {
              maxPids: opts.maxPids ?? DEFAULT_MAX_PIDS,
              maxMemory: opts.maxMemory ?? defaultMaxMemory(),
            },
          }
        : {}),
    });
    return { output: r.output, world: r.world.root, log: r.record.log, record: r.record };
  };
}

/**
 * Under `--observe`, whether a cached entry can stand: it has a read set, or `--only` was given and
 * does not name its atom (the dependencies of the atoms asked for are used as cached).
 * @see specs/observe.md §1
 */
function observedEnough(e: CacheEntry, only: readonly string[] | undefined): boolean {
  if (e.record.details?.readSet) return true;
  const label = e.record.details?.label;
  return Boolean(only?.length && label !== undefined && !only.includes(label));
}

/** Options of {@link buildLock}. */
export interface BuildLockOptions extends ExecutorOptions {
  /** The lock file (absolute, or relative to the working directory). */
  lock: string;
  store: Store;
  /** The seed lock; default `seed.lock` beside the lock. */
  seedLock?: string;
  jobs?: number;
  /** Build only these labels and their dependencies. */
  only?: readonly string[];
  dryRun?: boolean;
  /** Rebuild cached actions and compare their outputs. */
  check?: boolean;
  signal?: AbortSignal;
  /** Exit status when cancelled (130 SIGINT, 143 SIGTERM). */
  cancelledExit?: () => number;
  onEvent?: (e: SchedulerEvent) => void;
  /** Receives the stdout lines as they happen (see `BuildRunOptions.onLine`). */
  onLine?: (line: string) => void;
  /**
   * Store the runtime composition of the built closure (and sign it with `signKey`); a path: also
   * write its TOML to that file; `true`: store it only.
   */
  compose?: string | true;
  /**
   * Binary caches asked for each action the local action cache lacks, in order, before it is
   * built (specs/cache.md §3). Not asked in a dry run.
   */
  substituters?: readonly string[];
  /** The configuration directory whose `trust.toml` decides which cache records are accepted. */
  trustConfig?: string;
  /** Fail an action no cache can substitute instead of building it (`--require-cache`). */
  requireCache?: boolean;
}

/** What {@link buildLock} did: the run, plus the runtime composition when one was asked for and the build succeeded. */
export interface BuildLockResult extends BuildRunResult {
  /** `file` is absent when `compose` was `true`. */
  composition?: ComposeBuildResult & { file?: string };
  /** The actions taken from a binary cache instead of built, in the order they were. */
  substitutions: Substitution[];
  /** The caches that were asked and refused (or could not be read). */
  refusals: Refusal[];
}

/**
 * Builds every atom of a lock: loads the graph (everything that can be checked is checked before
 * anything runs), then schedules the actions over the store's rebuilder and the sandbox executor.
 * @throws the located errors of `loadBuildGraph` (E19, E16, E7, E20, E4), SeedError E24 for the
 *   seed lock, KeyError E9 for the builder key, and `runBuild`'s E7/E1 — all before any build
 * @see specs/scheduler.md §10
 */
export async function buildLock(opts: BuildLockOptions): Promise<BuildLockResult> {
  const lockPath = resolve(opts.lock);
  const { store } = opts;
  const signer = opts.signKey
    ? keySigner((await readSecretKey(opts.signKey.config, opts.signKey.name)).seed)
    : undefined;
  const staging = await mkdtemp(join(tmpdir(), 'eos-build-atoms-'));
  // --jobs N owns N job tokens, shared by every running action's make (specs/scheduler.md §4.3).
  const jobserver = opts.dryRun ? undefined : new Jobserver(opts.jobs ?? availableParallelism());
  const substitutions: Substitution[] = [];
  const refusals: Refusal[] = [];
  const caches: CacheBackend[] = [];
  try {
    const local = storeRebuilder(store, {
      ...(signer ? { signer } : {}),
      ...(opts.observe ? { accept: (e: CacheEntry) => observedEnough(e, opts.only) } : {}),
    });
    // An observed build needs this machine's own run (a substituted record has no read set here),
    // so --observe asks no cache (specs/observe.md §1, specs/cache.md §3).
    const substitute = !opts.dryRun && !opts.observe && (opts.substituters?.length || opts.requireCache);
    if (substitute) for (const u of opts.substituters ?? []) caches.push(openCache(u));
    const rebuilder = substitute
      ? substitutingRebuilder(local, {
          store,
          caches,
          trust: await readTrustContext(opts.trustConfig ?? configDir()),
          ...(opts.requireCache ? { requireCache: true } : {}),
          onSubstituted: (s) => substitutions.push(s),
          onRefused: (r) => refusals.push(r),
        })
      : local;
    const nodes = await loadBuildGraph(lockPath, staging);
    const seed = await readSeedLock(resolve(opts.seedLock ?? join(dirname(lockPath), 'seed.lock')));
    const r = await runBuild<BuildNode>({
      nodes,
      key: lockActionKey(seed),
      rebuilder,
      executor: sandboxExecutor(store, seed, opts),
      storeDir: store.root,
      seedMode: seed.mode,
      historyPath: historyPath(store.root),
      ...(opts.jobs !== undefined ? { jobs: opts.jobs } : {}),
      ...(jobserver ? { jobserver } : {}),
      ...(opts.only?.length ? { only: opts.only } : {}),
      ...(opts.dryRun ? { dryRun: true } : {}),
      ...(opts.check
        ? { check: true, explainDifference: (a: Digest, b: Digest) => firstDifference(store, a, b) }
        : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.cancelledExit ? { cancelledExit: opts.cancelledExit } : {}),
      ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
      ...(opts.onLine ? { onLine: opts.onLine } : {}),
    });
    if (!opts.compose || opts.dryRun || r.exitCode !== 0 || !r.result)
      return { ...r, substitutions, refusals };
    // The result as a composition (issue #6 item 4): runtime seed entries + every output.
    const outputs: Record<string, Digest> = {};
    for (const [label, res] of r.result.results) if (res.output) outputs[label] = res.output;
    const file = opts.compose === true ? undefined : resolve(opts.compose);
    const c = await composeBuild({
      store,
      seed,
      outputs,
      ...(file !== undefined ? { file } : {}),
      ...(opts.signKey ? { sign: opts.signKey } : {}),
    });
    return { ...r, composition: { ...c, ...(file !== undefined ? { file } : {}) }, substitutions, refusals };
  } finally {
    for (const c of caches) c.close();
    jobserver?.close();
    await rm(staging, { recursive: true, force: true });
  }
}
