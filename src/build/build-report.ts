/**
 * The text and JSON surface of `eos build` (pure): the lines the CLI prints for scheduler events,
 * the summary, the dry-run lines and the exit status, after the build CLI of
 * `../shared/seeds/punix-build-cli.txt`. Tab-separated records go to stdout; nothing here prints.
 *
 * @see specs/scheduler.md §10
 */
import type { NodeResult, PlanEntry, SchedulerEvent } from '../../scheduler/index.ts';

/** Format name and version of `eos build --json` event lines (NDJSON). @see specs/scheduler.md §10 */
export const BUILD_EVENT_FORMAT = 'eos.build-event';
export const BUILD_EVENT_VERSION = 1;

/** `→ building N atom(s) into STORE`. */
export function buildHeader(count: number, storeDir: string): string {
  return `→ building ${count} atom(s) into ${storeDir}`;
}

/**
 * The stdout lines for one event: `[i/N] LABEL` when an action starts or is found cached, then
 * `ok\tLABEL\tOUTPUT`, `cached\tLABEL\tOUTPUT`, `FAIL\tLABEL\tDETAIL (log: PATH)`,
 * `skipped\tLABEL\tdependency X failed`, `cancelled\tLABEL`; in check mode a rebuilt cached action
 * whose output differs is `FAIL\tLABEL\tnot reproducible: recorded …, rebuilt …`. `queued` prints nothing.
 * @param logPath the log path of a label, for failures whose executor error named none
 */
export function formatBuildEvent(e: SchedulerEvent, logPath?: (label: string) => string): string[] {
  switch (e.type) {
    case 'queued':
      return [];
    case 'started':
      return [`[${e.index}/${e.total}] ${e.label}`];
    case 'cached':
      return [`[${e.index}/${e.total}] ${e.label}`, `cached\t${e.label}\t${e.output}`];
    case 'ok':
      if (e.check && !e.check.same)
        return [
          `FAIL\t${e.label}\tnot reproducible: recorded ${e.check.expected}, rebuilt ${e.check.actual}`,
        ];
      return [`ok\t${e.label}\t${e.output}`];
    case 'failed': {
      const log = e.log ?? logPath?.(e.label);
      return [`FAIL\t${e.label}\t${oneLine(e.detail)}${log ? ` (log: ${log})` : ''}`];
    }
    case 'skipped':
      return [`skipped\t${e.label}\t${e.detail}`];
    case 'cancelled':
      return [`cancelled\t${e.label}`];
  }
}

function oneLine(s: string): string {
  return s.replace(/[\t\r\n]+/g, ' ').trim();
}

/** Counts of a run's results by status. */
export function countResults(results: Iterable<NodeResult>): Record<NodeResult['status'], number> & {
  irreproducible: number;
} {
  const c = { ok: 0, cached: 0, failed: 0, skipped: 0, cancelled: 0, irreproducible: 0 };
  for (const r of results) {
    c[r.status]++;
    if (r.check && !r.check.same) c.irreproducible++;
  }
  return c;
}

/** The summary line, e.g. `4 atom(s): 2 ok, 1 cached, 1 failed`; zero counts are left out (except ok). */
export function buildSummary(results: Iterable<NodeResult>): string {
  const c = countResults(results);
  const total = c.ok + c.cached + c.failed + c.skipped + c.cancelled;
  const parts = [`${c.ok} ok`];
  if (c.cached) parts.push(`${c.cached} cached`);
  if (c.failed) parts.push(`${c.failed} failed`);
  if (c.skipped) parts.push(`${c.skipped} skipped`);
  if (c.cancelled) parts.push(`${c.cancelled} cancelled`);
  if (c.irreproducible) parts.push(`${c.irreproducible} not reproducible`);
  return `${total} atom(s): ${parts.join(', ')}`;
}

/**
 * The exit status of a build: 0 when every action is ok or cached (and, in check mode,
 * reproduced); 3 when any failed, was skipped or did not reproduce; `cancelledExit` (130 for
 * SIGINT, 143 for SIGTERM) when the run was cancelled.
 */
export function buildExitCode(results: Iterable<NodeResult>, cancelledExit = 130): number {
  const c = countResults(results);
  if (c.cancelled) return cancelledExit;
  return c.failed || c.skipped || c.irreproducible ? 3 : 0;
}

/** `dry-run\tLABEL\tACTION-ID\tcached|build` (ACTION-ID `-` when a dependency must build first). */
export function formatDryRun(plan: readonly PlanEntry[]): string[] {
  return plan.map((p) => `dry-run\t${p.label}\t${p.action ?? '-'}\t${p.cached ? 'cached' : 'build'}`);
}

/** One `--json` event line (NDJSON): the event with the format and version. */
export function buildEventJson(e: SchedulerEvent): string {
  return JSON.stringify({ format: BUILD_EVENT_FORMAT, version: BUILD_EVENT_VERSION, ...e });
}
