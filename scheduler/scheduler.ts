/**
 * The Eos scheduler decides order only: which ready action runs next, how many run at once, and
 * what happens around a failure or a cancellation. Whether an action needs to run at all is the
 * rebuilder's decision; how it runs is the injected executor's.
 *
 * A node's action id can only be computed once its dependencies' outputs are known (they are part
 * of the key, for early cutoff), so the scheduler computes the key when the last dependency is
 * done, asks the rebuilder, and only then queues the node for a job slot.
 *
 * @see specs/scheduler.md, STYLE.md §4 (Build Systems à la Carte: Scheduler)
 */
import { availableParallelism } from 'node:os';
import { BuildClosureError, CorruptObjectError, type Digest } from '../src/kernel/index.ts';
import type { JobTokens } from './jobserver.ts';
import type { Rebuilder } from './rebuilder.ts';
import type { BuildRecord, CacheEntry } from './build-record.ts';

/** A node of the build DAG. */
export interface SchedNode {
  /** Unique label (the atom's label). */
  readonly label: string;
  /** Labels of the direct dependencies. */
  readonly deps: readonly string[];
  /** Estimated build time in ms, used when the history has none for this label. */
  readonly estimateMs?: number;
}

/** What the executor receives besides the node. */
export interface NodeContext {
  /** Aborted on cancellation: the executor must kill its sandbox and reject promptly. */
  readonly signal: AbortSignal;
  /** The node's action id. */
  readonly action: Digest;
  /** Output tree digest of every direct dependency, by label. */
  readonly depOutputs: Readonly<Record<string, Digest>>;
  /** This job's share of the cores, for `make -j`. @see specs/scheduler.md §4 */
  readonly makeJobs: number;
  /**
   * The build's GNU make jobserver FIFO (read and write end), for the sandbox to pass on as
   * `--jobserver-auth`; absent without a jobserver. @see specs/scheduler.md §4.3
   */
  readonly jobserverFd?: number;
  /**
   * Gives the job slot (and its jobserver token) back before the executor ends: called when the
   * part of the action that needs a slot is over (the sandbox has exited), so that another action
   * can start while this one stores its output. Optional to call; idempotent.
   * @see specs/scheduler.md §4.5
   */
  readonly slotFree?: () => void;
}

/** What a successful executor run returns. */
export interface ExecOutcome {
  /** The output tree, already in the store. */
  output: Digest;
  /** The root of the world composition it ran in. */
  world: Digest;
  /** The build log blob, already in the store. */
  log: Digest;
  /**
   * The executor's build record of this action (made with the context's action id), when it keeps
   * one: the rebuilder files this very record, so an action has one record. Absent: the rebuilder
   * makes one without details.
   */
  record?: BuildRecord;
}

/**
 * Runs one action. Rejects on failure (an `EosError`'s detail and `data.log` are reported).
 * `prepare`, when present, is told of a node that is ready (its dependencies built, its action not
 * cached) but waits for a job slot: the executor may start the part of its work that needs no
 * slot (the sandbox executor makes the action's world and its image), so that it overlaps the
 * running actions instead of following them (specs/scheduler.md §4.4). A hint only: the node
 * may still be cancelled, and its run must work whether or not it was prepared.
 */
export type Executor<N extends SchedNode> = ((node: N, ctx: NodeContext) => Promise<ExecOutcome>) & {
  prepare?: (node: N, depOutputs: Readonly<Record<string, Digest>>) => void;
};

/** Computes a node's action id from its dependencies' outputs (e.g. with `actionId`). */
export type KeyFunction<N extends SchedNode> = (
  node: N,
  depOutputs: Readonly<Record<string, Digest>>,
) => Digest | Promise<Digest>;

/** A time source in ms. The default is `Date.now`; simulations inject a virtual clock. */
export interface Clock {
  now(): number;
}

/** How a node ended. */
export type NodeStatus = 'ok' | 'cached' | 'failed' | 'skipped' | 'cancelled';

/** The outcome of one node. */
export interface NodeResult {
  label: string;
  status: NodeStatus;
  /** The action id, once computed. */
  action?: Digest;
  /** The output tree (ok, cached). */
  output?: Digest;
  /** The cache entry (ok, cached). */
  entry?: CacheEntry;
  /** Why it failed or was skipped (`dependency X failed`). */
  detail?: string;
  /** The failed dependency that caused a skip. */
  failedDep?: string;
  /** The error (failed). */
  error?: unknown;
  /** Log path or digest the executor's error named, if any. */
  log?: string;
  /** Clock times of start and end of the executor run (ok, failed), ms. */
  startedAtMs?: number;
  endedAtMs?: number;
  /** `check` mode, for a node that was cached: the recorded and the rebuilt output. */
  check?: CheckOutcome;
}

/** The reproducibility check of one cached action. @see specs/scheduler.md §8 */
export interface CheckOutcome {
  /** The output in the action cache. */
  expected: Digest;
  /** The output of the rebuild. */
  actual: Digest;
  /** True when they are the same tree. */
  same: boolean;
}

/** A progress event. `atMs` is the clock's time. @see specs/scheduler.md §6 */
export type SchedulerEvent =
  | { type: 'queued'; label: string; atMs: number; total: number }
  | {
      type: 'started';
      label: string;
      atMs: number;
      index: number;
      total: number;
      action: Digest;
      makeJobs: number;
    }
  | {
      type: 'cached';
      label: string;
      atMs: number;
      index: number;
      total: number;
      action: Digest;
      output: Digest;
    }
  | {
      type: 'ok';
      label: string;
      atMs: number;
      total: number;
      action: Digest;
      output: Digest;
      durationMs: number;
      check?: CheckOutcome;
    }
  | { type: 'failed'; label: string; atMs: number; total: number; detail: string; log?: string }
  | { type: 'skipped'; label: string; atMs: number; total: number; detail: string; failedDep: string }
  | { type: 'cancelled'; label: string; atMs: number; total: number };

/** Options of {@link schedule}. */
export interface ScheduleOptions<N extends SchedNode> {
  /** The DAG. Labels unique; every dep names a node. */
  nodes: readonly N[];
  /** Computes action ids. */
  key: KeyFunction<N>;
  /** Decides staleness and records builds. */
  rebuilder: Rebuilder;
  /** Runs one action. */
  executor: Executor<N>;
  /** The seed mode written into build records. */
  seedMode: string;
  /** At most this many executors at once (default: `cores`). */
  jobs?: number;
  /** Cores to share out as `make -j` (default: the machine's available parallelism). */
  cores?: number;
  /** Cancels the run. */
  signal?: AbortSignal;
  /** Receives progress events, synchronously, in order. */
  onEvent?: (e: SchedulerEvent) => void;
  /** Recorded durations by label, ms (from the history file). */
  history?: ReadonlyMap<string, number>;
  /** Estimate for a node with neither history nor `estimateMs`, ms. Default 60 000. */
  defaultEstimateMs?: number;
  /** Aging: priority gained per ms waited in the ready queue. Default 0.1. @see specs/scheduler.md §3 */
  agingPerMs?: number;
  /** Rebuild cached actions too and compare their outputs with the cache (`eos build --check`). */
  check?: boolean;
  /** Time source (default `Date.now`). */
  clock?: Clock;
  /**
   * Job tokens shared with the actions' `make`s (a {@link Jobserver} of `jobs` tokens): a job after
   * the first starts only when it can take a token, and returns it when it ends. @see specs/scheduler.md §4.3
   */
  jobserver?: JobTokens;
}

/** The outcome of a run. */
export interface ScheduleResult {
  /** Every node's result, by label. */
  results: Map<string, NodeResult>;
  /** The run was cancelled. */
  cancelled: boolean;
  /** Measured build durations of the nodes that built ok, ms (to update the history). */
  durations: Map<string, number>;
  /** Clock time from start to end, ms. */
  makespanMs: number;
  /** Upward ranks used for ordering, ms. */
  ranks: Map<string, number>;
}

/** Default estimate of a node's duration when nothing better is known, ms. */
export const DEFAULT_ESTIMATE_MS = 60_000;
/** Default aging rate (priority ms per ms waited). */
export const DEFAULT_AGING_PER_MS = 0.1;

/**
 * Checks the DAG and returns its nodes in a topological order (dependencies first; ties by input
 * order).
 * @throws BuildClosureError E7 for a duplicate label, a dependency that names no node, or a cycle
 *   (the message names the labels involved)
 * @see specs/scheduler.md §1
 */
export function topologicalOrder<N extends SchedNode>(nodes: readonly N[]): N[] {
  const byLabel = new Map<string, N>();
  for (const n of nodes) {
    if (byLabel.has(n.label))
      throw new BuildClosureError(`${n.label} appears twice in the build graph`, {
        data: { label: n.label },
      });
    byLabel.set(n.label, n);
  }
  for (const n of nodes)
    for (const d of n.deps)
      if (!byLabel.has(d))
        throw new BuildClosureError(`${n.label} depends on ${d}, which is not in the build graph`, {
          data: { label: n.label, dep: d },
        });
  const state = new Map<string, 1 | 2>();
  const order: N[] = [];
  for (const root of nodes) {
    if (state.has(root.label)) continue;
    // Iterative DFS; the stack holds the path, so a back edge gives the cycle.
    const stack: { n: N; i: number }[] = [{ n: root, i: 0 }];
    state.set(root.label, 1);
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      if (top.i < top.n.deps.length) {
        const d = byLabel.get(top.n.deps[top.i++]!)!;
        const s = state.get(d.label);
        if (s === 1) {
          const path = stack.map((f) => f.n.label);
          const cycle = [...path.slice(path.indexOf(d.label)), d.label];
          throw new BuildClosureError(`dependency cycle: ${cycle.join(' -> ')}`, { data: { cycle } });
        }
        if (s === undefined) {
          state.set(d.label, 1);
          stack.push({ n: d, i: 0 });
        }
      } else {
        state.set(top.n.label, 2);
        order.push(top.n);
        stack.pop();
      }
    }
  }
  return order;
}

/**
 * Upward ranks: a node's estimated duration plus the largest rank among its dependents, i.e. the
 * estimated length of the longest path from the node's start to the end of the build.
 * @param estimate a node's estimated duration, ms
 * @throws BuildClosureError E7 as {@link topologicalOrder}
 * @see specs/scheduler.md §2
 */
export function upwardRanks<N extends SchedNode>(
  nodes: readonly N[],
  estimate: (n: N) => number,
): Map<string, number> {
  const order = topologicalOrder(nodes);
  const dependents = new Map<string, string[]>(nodes.map((n) => [n.label, []]));
  for (const n of nodes) for (const d of new Set(n.deps)) dependents.get(d)!.push(n.label);
  const rank = new Map<string, number>();
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i]!;
    let best = 0;
    for (const c of dependents.get(n.label)!) best = Math.max(best, rank.get(c)!);
    rank.set(n.label, estimate(n) + best);
  }
  return rank;
}

/** How often a job waiting for a jobserver token looks again, ms (tokens come back from other processes). */
const TOKEN_RETRY_MS = 20;

/** The `make -j` share of a job that starts when `busy` jobs (including it) can run. @see specs/scheduler.md §4 */
export function makeJobsShare(cores: number, jobs: number, busy: number): number {
  return Math.max(1, Math.floor(cores / Math.max(1, Math.min(jobs, busy))));
}

/**
 * The executor's record of an action, checked to answer it: the same action id, output, world
 * and log as the outcome.
 * @throws CorruptObjectError E5 when the record describes another action or other results
 */
function executorRecord(out: ExecOutcome, action: Digest, label: string): BuildRecord {
  const r = out.record!;
  if (r.action !== action || r.output !== out.output || r.world !== out.world || r.log !== out.log)
    throw new CorruptObjectError(`${label}: the executor's build record does not answer action ${action}`, {
      data: { label, action, recorded: r.action },
    });
  return r;
}

function errorDetail(e: unknown): { detail: string; log?: string } {
  if (e && typeof e === 'object') {
    const err = e as {
      code?: unknown;
      detail?: unknown;
      message?: unknown;
      data?: { log?: unknown; logPath?: unknown };
    };
    // An Eos error leads with its code, as the CLI prints it (`[E53] hello-npm 1.0.0: …`).
    const code = typeof err.code === 'string' && /^E\d+$/.test(err.code) ? `[${err.code}] ` : '';
    const detail =
      typeof err.detail === 'string'
        ? code + err.detail
        : typeof err.message === 'string'
          ? err.message
          : String(e);
    const log =
      typeof err.data?.logPath === 'string'
        ? err.data.logPath
        : typeof err.data?.log === 'string'
          ? err.data.log
          : undefined;
    return log === undefined ? { detail } : { detail, log };
  }
  return { detail: String(e) };
}

/**
 * Runs a build DAG: computes each node's action id once its dependencies are done, skips what the
 * rebuilder says is cached, and runs the rest through the executor under the job budget, highest
 * priority (upward rank plus aging) first. A failure skips exactly its transitive dependents;
 * everything else continues. Cancellation stops new work, aborts running executors and records
 * nothing for them.
 *
 * Never rejects for a node's failure (that is in the result); rejects for an invalid graph, and
 * (after the run has ended) with the first error an `onEvent` callback threw.
 * @throws BuildClosureError E7 before anything runs, for a duplicate label, missing dependency or cycle
 * @see specs/scheduler.md
 */
export async function schedule<N extends SchedNode>(opts: ScheduleOptions<N>): Promise<ScheduleResult> {
  const clock = opts.clock ?? { now: () => Date.now() };
  const cores = Math.max(1, Math.floor(opts.cores ?? availableParallelism()));
  const jobs = Math.max(1, Math.floor(opts.jobs ?? cores));
  const aging = opts.agingPerMs ?? DEFAULT_AGING_PER_MS;
  const defEst = opts.defaultEstimateMs ?? DEFAULT_ESTIMATE_MS;
  const history = opts.history ?? new Map<string, number>();
  // A throwing event callback must not wedge the run: the first error is rethrown at the end.
  let callbackError: { e: unknown } | undefined;
  const emit = (e: SchedulerEvent): void => {
    try {
      opts.onEvent?.(e);
    } catch (err) {
      callbackError ??= { e: err };
    }
  };
  const signal = opts.signal;
  const nodes = opts.nodes;
  const tokens = opts.jobserver;
  let retryTimer: NodeJS.Timeout | undefined;
  /** A running job holds the implicit token (the one a jobserver's owner has without taking it). */
  let implicitHeld = false;
  const total = nodes.length;

  const ranks = upwardRanks(nodes, (n) => history.get(n.label) ?? n.estimateMs ?? defEst);
  const byLabel = new Map(nodes.map((n) => [n.label, n]));
  const dependents = new Map<string, string[]>(nodes.map((n) => [n.label, []]));
  for (const n of nodes) for (const d of new Set(n.deps)) dependents.get(d)!.push(n.label);
  const waiting = new Map(nodes.map((n) => [n.label, new Set(n.deps)]));

  const results = new Map<string, NodeResult>();
  const durations = new Map<string, number>();
  type Ready = { node: N; action: Digest; readyAtMs: number; expected?: CacheEntry };
  const ready: Ready[] = [];
  const controllers = new Map<string, AbortController>();
  const t0 = clock.now();
  /** Actions holding a job slot. */
  let running = 0;
  /** Executors not yet ended (a slot given back early still runs until it settles). */
  let inFlight = 0;
  let checking = 0;
  let begun = 0;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  let finished = false;

  const aborted = () => signal?.aborted === true;

  function settle(r: NodeResult): void {
    if (results.has(r.label)) return;
    results.set(r.label, r);
    const at = clock.now();
    switch (r.status) {
      case 'ok':
        emit({
          type: 'ok',
          label: r.label,
          atMs: at,
          total,
          action: r.action!,
          output: r.output!,
          durationMs: Math.round(r.endedAtMs! - r.startedAtMs!),
          ...(r.check ? { check: r.check } : {}),
        });
        break;
      case 'cached':
        break; // emitted with its index where it is found
      case 'failed':
        emit({
          type: 'failed',
          label: r.label,
          atMs: at,
          total,
          detail: r.detail!,
          ...(r.log === undefined ? {} : { log: r.log }),
        });
        break;
      case 'skipped':
        emit({
          type: 'skipped',
          label: r.label,
          atMs: at,
          total,
          detail: r.detail!,
          failedDep: r.failedDep!,
        });
        break;
      case 'cancelled':
        emit({ type: 'cancelled', label: r.label, atMs: at, total });
        break;
    }
    if (r.status === 'ok' || r.status === 'cached') {
      for (const c of dependents.get(r.label)!) {
        const w = waiting.get(c)!;
        w.delete(r.label);
        if (w.size === 0 && !results.has(c)) void depsDone(byLabel.get(c)!);
      }
    } else if (r.status === 'failed' || r.status === 'skipped') {
      const failedDep = r.status === 'failed' ? r.label : r.failedDep!;
      for (const c of dependents.get(r.label)!)
        settle({ label: c, status: 'skipped', detail: `dependency ${failedDep} failed`, failedDep });
    }
    maybeFinish();
  }

  /** The output trees of `n`'s dependencies, by label (every one has ended ok). */
  function depOutputsOf(n: N): Record<string, Digest> {
    const out: Record<string, Digest> = {};
    for (const d of n.deps) out[d] = results.get(d)!.output!;
    return out;
  }

  function maybeFinish(): void {
    if (finished) return;
    if (results.size === total || (aborted() && inFlight === 0 && checking === 0)) {
      finished = true;
      // Cancellation: whatever never got to run ends as cancelled.
      for (const item of ready.splice(0))
        settle({ label: item.node.label, status: 'cancelled', action: item.action });
      for (const n of nodes) if (!results.has(n.label)) settle({ label: n.label, status: 'cancelled' });
      finish();
    }
  }

  async function depsDone(n: N): Promise<void> {
    if (aborted()) return settle({ label: n.label, status: 'cancelled' });
    checking++;
    let action: Digest | undefined;
    let entry: CacheEntry | undefined;
    let failure: { e: unknown } | undefined;
    try {
      const depOutputs = depOutputsOf(n);
      action = await opts.key(n, depOutputs);
      entry = await opts.rebuilder.check(action);
    } catch (e) {
      failure = { e };
    }
    checking--;
    if (failure) {
      const { detail, log } = errorDetail(failure.e);
      settle({
        label: n.label,
        status: 'failed',
        ...(action ? { action } : {}),
        detail,
        error: failure.e,
        log,
      });
    } else if (aborted()) {
      settle({ label: n.label, status: 'cancelled', ...(action ? { action } : {}) });
    } else if (entry && opts.check) {
      ready.push({ node: n, action: action!, readyAtMs: clock.now(), expected: entry });
    } else if (entry) {
      const output = entry.record.output;
      emit({
        type: 'cached',
        label: n.label,
        atMs: clock.now(),
        index: ++begun,
        total,
        action: action!,
        output,
      });
      settle({ label: n.label, status: 'cached', action: action!, output, entry });
    } else ready.push({ node: n, action: action!, readyAtMs: clock.now() });
    pump();
    maybeFinish();
  }

  function priority(it: Ready, now: number): number {
    return ranks.get(it.node.label)! + aging * (now - it.readyAtMs);
  }

  function pick(): Ready {
    const now = clock.now();
    let best = 0;
    let bestP = -Infinity;
    for (let i = 0; i < ready.length; i++) {
      const it = ready[i]!;
      const p = priority(it, now);
      if (p > bestP || (p === bestP && it.node.label < ready[best]!.node.label)) {
        best = i;
        bestP = p;
      }
    }
    return ready.splice(best, 1)[0]!;
  }

  // Starts ready nodes while slots are free. Waits while cache checks are in flight, so that
  // nodes becoming ready together compete by priority (and share cores) as one batch.
  function pump(): void {
    if (checking > 0) return;
    while (!aborted() && running < jobs && ready.length > 0) {
      // One running job holds the implicit token; every further one takes a token first.
      const needToken = Boolean(tokens && implicitHeld);
      if (needToken && !tokens!.tryAcquire()) {
        retryTimer ??= setTimeout(() => {
          retryTimer = undefined;
          pump();
        }, TOKEN_RETRY_MS);
        prepareAhead();
        return;
      }
      if (!needToken) implicitHeld = true;
      start(pick(), needToken);
    }
    prepareAhead();
  }

  // Ready nodes told to the executor's `prepare` that have not started yet (at most `jobs`): the
  // ones `pick` takes next (by priority now, ties by label), not the first ones to become ready.
  const prepared = new Set<string>();
  function prepareAhead(): void {
    const prepare = opts.executor.prepare;
    if (!prepare || aborted() || prepared.size >= jobs || ready.length === 0) return;
    const now = clock.now();
    const next = ready
      .map((it) => ({ it, p: priority(it, now) }))
      .sort((a, b) => b.p - a.p || (a.it.node.label < b.it.node.label ? -1 : 1));
    for (const { it } of next) {
      if (prepared.size >= jobs) return;
      if (prepared.has(it.node.label)) continue;
      prepared.add(it.node.label);
      prepare(it.node, depOutputsOf(it.node));
    }
  }

  function start(item: Ready, token = false): void {
    const { node, action, expected } = item;
    prepared.delete(node.label);
    running++;
    inFlight++;
    let slotHeld = true;
    const freeSlot = (): void => {
      if (!slotHeld) return;
      slotHeld = false;
      running--;
      if (token) tokens!.release();
      else implicitHeld = false;
      // Nothing runs: no make holds a token; refill what a killed one may have kept.
      if (tokens && running === 0) tokens.reset();
    };
    const makeJobs = makeJobsShare(cores, jobs, running + ready.length);
    const ctrl = new AbortController();
    controllers.set(node.label, ctrl);
    const depOutputs = depOutputsOf(node);
    const startedAtMs = clock.now();
    emit({ type: 'started', label: node.label, atMs: startedAtMs, index: ++begun, total, action, makeJobs });
    const run = async (): Promise<NodeResult> => {
      try {
        const ctx: NodeContext = {
          signal: ctrl.signal,
          action,
          depOutputs,
          makeJobs,
          ...(tokens?.fd !== undefined ? { jobserverFd: tokens.fd } : {}),
          slotFree: () => {
            if (!slotHeld) return;
            freeSlot();
            // Not from inside the executor's own call stack: start the next action on a new turn.
            queueMicrotask(pump);
          },
        };
        const out = await opts.executor(node, ctx);
        const endedAtMs = clock.now();
        if (aborted() || ctrl.signal.aborted) return { label: node.label, status: 'cancelled', action };
        const durationMs = Math.max(0, Math.round(endedAtMs - startedAtMs));
        if (expected) {
          // --check: the cache keeps its record; dependents see the recorded output.
          durations.set(node.label, durationMs);
          const want = expected.record.output;
          const check = { expected: want, actual: out.output, same: want === out.output };
          return {
            label: node.label,
            status: 'ok',
            action,
            output: want,
            entry: expected,
            startedAtMs,
            endedAtMs,
            check,
          };
        }
        const entry = await opts.rebuilder.record(
          out.record
            ? executorRecord(out, action, node.label)
            : {
                action,
                output: out.output,
                world: out.world,
                log: out.log,
                durationMs,
                seedMode: opts.seedMode,
              },
        );
        durations.set(node.label, durationMs);
        return { label: node.label, status: 'ok', action, output: out.output, entry, startedAtMs, endedAtMs };
      } catch (e) {
        const endedAtMs = clock.now();
        if (aborted() || ctrl.signal.aborted) return { label: node.label, status: 'cancelled', action };
        const { detail, log } = errorDetail(e);
        return { label: node.label, status: 'failed', action, detail, error: e, log, startedAtMs, endedAtMs };
      }
    };
    void run().then((r) => {
      controllers.delete(node.label);
      inFlight--;
      freeSlot();
      settle(r);
      pump();
      maybeFinish();
    });
  }

  const onAbort = (): void => {
    for (const c of controllers.values()) c.abort(signal?.reason);
    maybeFinish();
  };
  signal?.addEventListener('abort', onAbort, { once: true });

  try {
    for (const n of nodes) emit({ type: 'queued', label: n.label, atMs: t0, total });
    if (aborted()) onAbort();
    else for (const n of nodes) if (n.deps.length === 0 && !results.has(n.label)) void depsDone(n);
    maybeFinish();
    await done;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (retryTimer) clearTimeout(retryTimer);
  }
  if (callbackError) throw callbackError.e;
  return { results, cancelled: aborted(), durations, makespanMs: clock.now() - t0, ranks };
}
