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
  type Executor,
  type KeyFunction,
  type SchedulerEvent,
} from '../../scheduler/index.ts';
import { readSecretKey, type Digest, type Store } from '../kernel/index.ts';
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
  /** Write the runtime composition of the built closure (TOML) to this file; store it (and sign it with `signKey`). */
  compose?: string;
}

/** What {@link buildLock} did: the run, plus the runtime composition when one was asked for and the build succeeded. */
export interface BuildLockResult extends BuildRunResult {
  composition?: ComposeBuildResult & { file: string };
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
  try {
    const nodes = await loadBuildGraph(lockPath, staging);
    const seed = await readSeedLock(resolve(opts.seedLock ?? join(dirname(lockPath), 'seed.lock')));
    const r = await runBuild<BuildNode>({
      nodes,
      key: lockActionKey(seed),
      rebuilder: storeRebuilder(store, signer ? { signer } : {}),
      executor: sandboxExecutor(store, seed, opts),
      storeDir: store.root,
      seedMode: seed.mode,
      historyPath: historyPath(store.root),
      ...(opts.jobs !== undefined ? { jobs: opts.jobs } : {}),
      ...(jobserver ? { jobserver } : {}),
      ...(opts.only?.length ? { only: opts.only } : {}),
      ...(opts.dryRun ? { dryRun: true } : {}),
      ...(opts.check ? { check: true } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.cancelledExit ? { cancelledExit: opts.cancelledExit } : {}),
      ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
      ...(opts.onLine ? { onLine: opts.onLine } : {}),
    });
    if (!opts.compose || opts.dryRun || r.exitCode !== 0 || !r.result) return r;
    // The result as a composition (issue #6 item 4): runtime seed entries + every output.
    const outputs: Record<string, Digest> = {};
    for (const [label, res] of r.result.results) if (res.output) outputs[label] = res.output;
    const file = resolve(opts.compose);
    const c = await composeBuild({
      store,
      seed,
      outputs,
      file,
      ...(opts.signKey ? { sign: opts.signKey } : {}),
    });
    return { ...r, composition: { ...c, file } };
  } finally {
    jobserver?.close();
    await rm(staging, { recursive: true, force: true });
  }
}
