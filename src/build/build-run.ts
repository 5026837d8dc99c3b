/**
 * One `eos build` run over a DAG, independent of where the DAG and the executor come from: checks
 * the graph, narrows it with `--only`, plans (`--dry-run`) or schedules, reads and updates the
 * duration history, and turns the events into the printed surface (specs/scheduler.md §10).
 * `buildLock` (system.ts) supplies the nodes from the lock, the key function and the real
 * executor; tests supply simulated ones.
 *
 * @see specs/scheduler.md §10
 */
import { UsageError, type Digest } from '../kernel/index.ts';
import type { TreeDifference } from './check-diff.ts';
import {
  buildEventJson,
  buildExitCode,
  buildHeader,
  buildSummary,
  countResults,
  formatBuildEvent,
  formatDryRun,
} from './build-report.ts';
import {
  mergeHistory,
  planBuild,
  readHistory,
  schedule,
  writeHistory,
  type Rebuilder,
  topologicalOrder,
  type Clock,
  type Executor,
  type KeyFunction,
  type ScheduleResult,
  type SchedNode,
  type SchedulerEvent,
} from '../../scheduler/index.ts';
import type { JobTokens } from '../../scheduler/index.ts';

/** Options of {@link runBuild}. */
export interface BuildRunOptions<N extends SchedNode> {
  nodes: readonly N[];
  key: KeyFunction<N>;
  rebuilder: Rebuilder;
  executor: Executor<N>;
  seedMode: string;
  /** The store directory, for the header line. */
  storeDir: string;
  jobs?: number;
  cores?: number;
  /** Job tokens shared with the actions' makes (specs/scheduler.md §4.3). */
  jobserver?: JobTokens;
  /** Build only these labels and their dependencies. */
  only?: readonly string[];
  dryRun?: boolean;
  check?: boolean;
  /** The duration history file (read before, updated after); none when absent. */
  historyPath?: string;
  signal?: AbortSignal;
  /** Exit status when cancelled (130 SIGINT, 143 SIGTERM). */
  cancelledExit?: () => number;
  /** Also receives every event (a live progress display). */
  /**
   * Called with each stdout line (header, `[i/N]`, result records) the moment it happens, for a
   * live display; those lines are then not repeated in the result's `lines`, which keeps only
   * the summary. Absent: every line is returned in `lines` at the end.
   */
  onLine?: (line: string) => void;
  onEvent?: (e: SchedulerEvent) => void;
  /**
   * Check mode: explains a rebuild whose output differs from the record (the first differing
   * path and why, specs/scheduler.md §8.3); each explained difference prints a `differs` line.
   */
  explainDifference?: (recorded: Digest, rebuilt: Digest) => Promise<TreeDifference | undefined>;
  /** The log path of a label, named in `FAIL` lines when the executor's error names none. */
  logPath?: (label: string) => string;
  clock?: Clock;
}

/** What one run gives the CLI. */
export interface BuildRunResult {
  /** stdout lines, in order (header, `[i/N]`, records, summary). */
  lines: string[];
  /** The `--json` document: `{format: "eos.build-run", version: 1, store, dryRun, events|plan, counts, exitCode}`. */
  json: unknown;
  exitCode: number;
  result?: ScheduleResult;
}

/**
 * The nodes named by `only` and everything they depend on, in input order.
 * @throws UsageError E1 for a label that is not in the graph
 */
export function selectWithDeps<N extends SchedNode>(nodes: readonly N[], only: readonly string[]): N[] {
  const by = new Map(nodes.map((n) => [n.label, n]));
  const keep = new Set<string>();
  const stack: string[] = [];
  for (const l of only) {
    if (!by.has(l))
      throw new UsageError(`--only: ${l} is not in the build graph`, {
        data: { label: l },
        hint: `known labels: ${[...by.keys()].sort().join(', ')}`,
      });
    stack.push(l);
  }
  while (stack.length) {
    const l = stack.pop()!;
    if (keep.has(l)) continue;
    keep.add(l);
    for (const d of by.get(l)?.deps ?? []) stack.push(d);
  }
  return nodes.filter((n) => keep.has(n.label));
}

/**
 * Runs (or plans) a build.
 * @throws BuildClosureError E7 for an invalid graph and UsageError E1 for a bad `--only`, both
 *   before anything runs; EncodingError E3 for a malformed history file
 * @see specs/scheduler.md §10
 */
export async function runBuild<N extends SchedNode>(opts: BuildRunOptions<N>): Promise<BuildRunResult> {
  topologicalOrder(opts.nodes); // E7 before anything else
  const nodes = opts.only?.length ? selectWithDeps(opts.nodes, opts.only) : [...opts.nodes];
  if (opts.dryRun) {
    const plan = await planBuild({ nodes, key: opts.key, rebuilder: opts.rebuilder });
    return {
      lines: formatDryRun(plan),
      json: { format: 'eos.build-run', version: 1, store: opts.storeDir, dryRun: true, plan },
      exitCode: 0,
    };
  }
  const history = opts.historyPath ? await readHistory(opts.historyPath) : new Map<string, number>();
  const lines: string[] = [];
  const say = (l: string) => (opts.onLine ? opts.onLine(l) : lines.push(l));
  say(buildHeader(nodes.length, opts.storeDir));
  const events: SchedulerEvent[] = [];
  const result = await schedule({
    nodes,
    key: opts.key,
    rebuilder: opts.rebuilder,
    executor: opts.executor,
    seedMode: opts.seedMode,
    history,
    ...(opts.jobs !== undefined ? { jobs: opts.jobs } : {}),
    ...(opts.cores !== undefined ? { cores: opts.cores } : {}),
    ...(opts.jobserver ? { jobserver: opts.jobserver } : {}),
    ...(opts.check ? { check: true } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.clock ? { clock: opts.clock } : {}),
    onEvent: (e) => {
      events.push(e);
      for (const l of formatBuildEvent(e, opts.logPath)) say(l);
      opts.onEvent?.(e);
    },
  });
  if (opts.historyPath && result.durations.size)
    await writeHistory(opts.historyPath, mergeHistory(history, result.durations));
  const differences: ({ label: string } & TreeDifference)[] = [];
  if (opts.explainDifference)
    for (const r of result.results.values()) {
      if (!r.check || r.check.same) continue;
      const d = await opts
        .explainDifference(r.check.expected, r.check.actual)
        .catch((e: unknown): TreeDifference => ({
          path: '-',
          reason: 'unknown',
          detail: `could not compare: ${e instanceof Error ? e.message : String(e)}`,
        }));
      if (!d) continue;
      differences.push({ label: r.label, ...d });
      say(`differs\t${r.label}\t${d.path}\t${d.reason}\t${d.detail.replace(/[\t\r\n]+/g, ' ')}`);
    }
  lines.push(buildSummary(result.results.values()));
  const exitCode = buildExitCode(result.results.values(), opts.cancelledExit?.() ?? 130);
  return {
    lines,
    json: {
      format: 'eos.build-run',
      version: 1,
      store: opts.storeDir,
      dryRun: false,
      events: events.map((e) => JSON.parse(buildEventJson(e)) as unknown),
      counts: countResults(result.results.values()),
      ...(opts.check ? { differences } : {}),
      exitCode,
    },
    exitCode,
    result,
  };
}
