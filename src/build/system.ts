/**
 * The Eos build system in one place, after "Build Systems à la Carte" (`System.hs`): a build
 * system is a scheduler composed with a rebuilder, run over a task description with a store. Here
 * the tasks are a lock's atoms (`loadBuildGraph`), the key of a task is its action id
 * (`lockActionKey`), the rebuilder is the store's constructive-trace rebuilder
 * (`storeRebuilder`), the executor builds one atom in the sandbox (`sandboxExecutor`), and the
 * scheduler is `runBuild`'s restarting, critical-path-first scheduler. `buildLock` composes them
 * and, when asked, turns the built closure into a runtime composition (`composeBuild`). An atom
 * with `[fetch]` is two actions (`withFetchActions`): its fetch, replayed from its `fetch.lock`
 * (the network only through the replaying proxy, which passes nothing through), and its build over
 * the fetch tree, with no network (specs/fetch.md §7.1).
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
  FETCH_ACTION_IDENTITY,
  FETCH_RECIPE,
  loadRecipe,
  parseFetchLock,
  readSeedLock,
  runFetchAction,
  SandboxWorlds,
  seedRoot,
  type ResourceLimits,
  type SandboxWorldsStats,
  type SeedLock,
  type SourceSpec,
  prefetchActionWorld,
} from '../../executor/index.ts';
import {
  Jobserver,
  actionId,
  historyPath,
  keySigner,
  makeBuildRecord,
  storeRebuilder,
  type CacheEntry,
  type ExecOutcome,
  type Executor,
  type KeyFunction,
  type NodeContext,
  type SchedulerEvent,
} from '../../scheduler/index.ts';
import {
  openCache,
  substitutingRebuilder,
  type CacheBackend,
  type Refusal,
  type Substitution,
} from '../../cache/index.ts';
import {
  BuildClosureError,
  compiledCodeStamp,
  configDir,
  memoDerived,
  openStatMemo,
  statMemoPath,
  readSecretKey,
  readTrustContext,
  type Digest,
  type Store,
} from '../kernel/index.ts';
import {
  executorSources,
  isFetchNode,
  loadBuildGraph,
  withFetchActions,
  type BuildNode,
  type FetchNode,
  type LockNode,
} from './build-graph.ts';
import { runBuild, type BuildRunResult } from './build-run.ts';
import type { ComposeBuildResult } from './runtime-composition.ts';

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
  /**
   * The build's shared composefs worlds and their launcher (specs/executor.md §4.2–§4.3): every
   * action's world is mounted once in the launcher's namespace and its sandbox started from there;
   * observed builds mount their world themselves.
   */
  worlds?: SandboxWorlds;
  /**
   * Added to every fetch action's environment, over the atom's `[fetch] env` (`eos build
   * --fetch-env`, e.g. `npm_config_registry`); part of the fetch actions' keys.
   */
  fetchEnv?: Record<string, string>;
}

/**
 * The recipe arguments of an atom's fetch action, in its key and record: the script, its
 * environment (`[fetch] env` with `fetchEnv` over it) and the digest of its `fetch.lock`.
 * @see specs/fetch.md §7.1
 */
export function fetchActionArgs(
  n: FetchNode,
  fetchEnv: Record<string, string> = {},
): { script: string; env: Record<string, string>; 'fetch-lock': Digest } {
  const f = n.atom.manifest.fetch!;
  return { script: f.script, env: { ...f.env, ...fetchEnv }, 'fetch-lock': n.atom.fetch.digest };
}

/** An atom's sources as the executor takes them: its `[[source]]`s, or with none its directory. */
function atomSources(n: BuildNode): SourceSpec[] {
  return n.manifest.source.length
    ? executorSources(n.manifest, n.label)
    : [{ kind: 'path', path: n.dir, digest: n.dirDigest }];
}

function actionLimits(opts: ExecutorOptions): { limits?: ResourceLimits } {
  return opts.maxPids !== undefined || opts.maxMemory !== undefined
    ? {
        limits: {
          maxPids: opts.maxPids ?? DEFAULT_MAX_PIDS,
          maxMemory: opts.maxMemory ?? defaultMaxMemory(),
        },
      }
    : {};
}

/**
 * The key function of a lock's actions: the action id over the atom's content, its recipe and
 * arguments, the seed (toolchain root, mode, architecture) and the dependencies' outputs (for the
 * build of an atom with `[fetch]`, its fetch tree among them, as `LABEL.fetch`). A fetch action's
 * id has the fetch identity for recipe and `fetchActionArgs` for arguments.
 * @see specs/action.md §3, specs/fetch.md §7.1
 */
export function lockActionKey(
  seed: SeedLock,
  opts: Pick<ExecutorOptions, 'fetchEnv'> = {},
): KeyFunction<LockNode> {
  const toolchain = seedRoot(seed);
  return (n, depOutputs) =>
    isFetchNode(n)
      ? actionId({
          atom: n.atom.content,
          recipe: FETCH_ACTION_IDENTITY,
          args: fetchActionArgs(n, opts.fetchEnv),
          toolchain,
          seedMode: seed.mode,
          arch: seed.arch,
          deps: { ...depOutputs },
        })
      : actionId({
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
 * A fetch action of a lock: the atom's `[fetch]` replayed from the `fetch.lock` read with the graph
 * (parsed here: a malformed one fails this action with E54), in the atom's world, through the
 * replaying proxy; its record names the fetch identity and `fetchActionArgs`.
 * @throws FetchLockError E54, UnrecordedRequestError E53, RecordingMissingError E55,
 *   FixedOutputMismatchError E13, BuildFailedError E22, FetchProxyError E52, SandboxError E21
 * @see specs/fetch.md §7.1
 */
async function runLockFetch(
  store: Store,
  seed: SeedLock,
  opts: ExecutorOptions,
  n: FetchNode,
  ctx: Parameters<Executor<LockNode>>[1],
): Promise<Awaited<ReturnType<Executor<LockNode>>>> {
  const a = n.atom;
  const lock = parseFetchLock(a.fetch.bytes, a.fetch.file);
  const args = fetchActionArgs(n, opts.fetchEnv);
  const deps = Object.entries(ctx.depOutputs).map(([name, tree]) => ({ name, tree }));
  const t0 = Date.now();
  const r = await runFetchAction({
    store,
    seed,
    label: a.label,
    version: a.version,
    script: args.script,
    env: args.env,
    sources: atomSources(a),
    deps,
    mode: 'replay',
    lock,
    baseDir: a.dir,
    jobs: ctx.makeJobs,
    signal: ctx.signal,
    ...(opts.aptDir ? { aptDir: opts.aptDir } : {}),
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...actionLimits(opts),
  });
  const record = makeBuildRecord({
    action: ctx.action,
    output: r.output,
    world: r.world,
    log: r.log,
    durationMs: Date.now() - t0,
    seedMode: seed.mode,
    details: {
      label: n.label,
      atomVersion: a.version,
      recipe: { name: FETCH_RECIPE, identity: FETCH_ACTION_IDENTITY, args },
      seed: { mode: seed.mode, root: seedRoot(seed) },
      shadowed: [],
      sources: r.sources,
      dependencies: deps,
      sourceDateEpoch: r.sourceDateEpoch,
      warnings: [],
    },
  });
  return { output: r.output, world: r.world, log: r.log, record };
}

/**
 * The executor of a lock's actions: builds one atom in the sandbox over the seed and its
 * dependencies' outputs. An atom without `[[source]]` is its own source (its directory, pinned by
 * its tree digest). A fetch node replays the atom's fetch (`runLockFetch`); the build of an atom
 * with `[fetch]` gets its fetch tree (the output of `LABEL.fetch`) at `/build/sources/fetch`, not
 * in its world, and no network. Cancellation (the context's signal) kills the sandbox; nothing is
 * stored.
 * @see specs/executor.md, specs/fetch.md §6, §7.1
 */
export function sandboxExecutor(
  store: Store,
  seed: SeedLock,
  opts: ExecutorOptions = {},
): Executor<LockNode> {
  const depLayers = (n: BuildNode, depOutputs: Readonly<Record<string, Digest>>) =>
    Object.entries(depOutputs)
      .filter(([name]) => name !== n.fetch?.label)
      .map(([name, tree]) => ({ name, tree }));
  const run = async (n: LockNode, ctx: NodeContext): Promise<ExecOutcome> => {
    if (isFetchNode(n)) return runLockFetch(store, seed, opts, n, ctx);
    const fetched = n.fetch ? ctx.depOutputs[n.fetch.label] : undefined;
    if (n.fetch && !fetched)
      throw new BuildClosureError(`${n.label}: its fetch tree (${n.fetch.label}) is not among its inputs`, {
        data: { label: n.label },
      });
    const r = await buildAtom({
      store,
      seed,
      label: n.label,
      version: n.version,
      recipe: n.manifest.build.recipe,
      args: n.manifest.build.args,
      sources: atomSources(n),
      deps: depLayers(n, ctx.depOutputs),
      ...(fetched ? { fetched } : {}),
      baseDir: n.dir,
      jobs: ctx.makeJobs,
      ...(ctx.jobserverFd !== undefined ? { jobserverFd: ctx.jobserverFd } : {}),
      ...(ctx.slotFree ? { onSandboxDone: ctx.slotFree } : {}),
      actionId: ctx.action,
      signal: ctx.signal,
      ...(opts.observe ? { worldMount: 'observed' as const } : {}),
      ...(!opts.observe && opts.worlds ? { worlds: opts.worlds } : {}),
      ...(opts.aptDir ? { aptDir: opts.aptDir } : {}),
      // No signKey: the rebuilder signs the record it files (one signature per action).
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...actionLimits(opts),
    });
    return { output: r.output, world: r.world.root, log: r.record.log, record: r.record };
  };
  // A build waiting for a slot has its world made, and mounted, meanwhile (specs/scheduler.md
  // §4.4); an observed world is served, not made, and a fetch action makes its own.
  const prepare = (n: LockNode, depOutputs: Readonly<Record<string, Digest>>): void => {
    if (!isFetchNode(n) && !opts.observe)
      prefetchActionWorld(store, seed, depLayers(n, depOutputs), undefined, opts.worlds);
  };
  return Object.assign(run, { prepare });
}

/**
 * Under `--observe`, whether a cached entry can stand: it has a read set, it is a fetch action's
 * (a fetch is never observed), or `--only` was given and does not name its atom (the dependencies
 * of the atoms asked for are used as cached).
 * @see specs/observe.md §1
 */
function observedEnough(e: CacheEntry, only: readonly string[] | undefined): boolean {
  if (e.record.details?.readSet || e.record.details?.recipe.name === FETCH_RECIPE) return true;
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
  /**
   * The build's shared composefs worlds: how many were mounted and how many sandboxes entered one
   * (specs/executor.md §4.2); zero for a dry run, observed or hard-link builds.
   */
  sharedWorlds: SandboxWorldsStats;
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
  // One set of shared worlds per build, closed however the build ends (specs/executor.md §4.2).
  const worlds = opts.dryRun || opts.observe ? undefined : new SandboxWorlds();
  const sharedWorlds = (): SandboxWorldsStats => worlds?.stats() ?? { mounted: 0, entered: 0 };
  // One shared store lock for the whole build once it first writes (specs/store.md §9).
  const releaseStoreLock = store.keepWriteLock();
  // Objects and trees found good are not looked at again during the build (specs/store.md §12.4).
  const endRun = store.beginRun();
  // Files unchanged since a run read them (atom manifests and files, the lock, action-cache
  // entries) are not read and parsed again (specs/scheduler.md §11.6).
  const memo = openStatMemo(statMemoPath(store.root), compiledCodeStamp());
  try {
    const local = storeRebuilder(store, {
      memo,
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
    const nodes = withFetchActions(await loadBuildGraph(lockPath, staging, memo));
    const seedPath = resolve(opts.seedLock ?? join(dirname(lockPath), 'seed.lock'));
    const seed = await memoDerived(memo, 'seed-lock', seedPath, () => readSeedLock(seedPath));
    const r = await runBuild<LockNode>({
      nodes,
      key: lockActionKey(seed, opts),
      rebuilder,
      executor: sandboxExecutor(store, seed, {
        ...opts,
        ...(worlds ? { worlds } : {}),
      }),
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
    await worlds?.close(); // before the composition: no holder outlives the actions
    if (!opts.compose || opts.dryRun || r.exitCode !== 0 || !r.result)
      return { ...r, sharedWorlds: sharedWorlds(), substitutions, refusals };
    // The result as a composition (issue #6 item 4): runtime seed entries + every output.
    const outputs: Record<string, Digest> = {};
    // A fetch tree is an input of its atom's build, not a part of the closure.
    const fetches = new Set(nodes.filter(isFetchNode).map((n) => n.label));
    for (const [label, res] of r.result.results)
      if (res.output && !fetches.has(label)) outputs[label] = res.output;
    const file = opts.compose === true ? undefined : resolve(opts.compose);
    // Loaded here: the composition pulls in the extractors (ELF and Python parsers), which a build
    // that composes nothing never needs (specs/cli.md §1.4).
    const { composeBuild } = await import('./runtime-composition.ts');
    const c = await composeBuild({
      store,
      seed,
      outputs,
      ...(file !== undefined ? { file } : {}),
      ...(opts.signKey ? { sign: opts.signKey } : {}),
    });
    return {
      ...r,
      composition: { ...c, ...(file !== undefined ? { file } : {}) },
      sharedWorlds: sharedWorlds(),
      substitutions,
      refusals,
    };
  } finally {
    memo.save();
    releaseStoreLock();
    endRun();
    await worlds?.close();
    for (const c of caches) c.close();
    jobserver?.close();
    await rm(staging, { recursive: true, force: true });
  }
}
