/**
 * What `eos build --observe` adds to its output: per observed action, the read set, how much of the
 * world it touched, the prune hints (entries of the world with no file touched) and the probes for
 * paths outside the world (lookups that found nothing).
 *
 * @see specs/observe.md §5
 */
import { explainReadSet, loadReadSet, type ReadSetReport } from '../../executor/index.ts';
import type { NodeResult } from '../../scheduler/index.ts';
import type { Store } from '../kernel/index.ts';

/** How many probe paths per atom the text output lists (all are in `--json` and `eos why`). */
export const PROBES_LISTED = 10;

/** One observed action of a build. */
export interface ObservedAction {
  label: string;
  report: ReadSetReport;
}

/**
 * The observed actions among a build's results (those whose record names a read set), in label order.
 * @throws NotFoundError E4 / NotObservedError E51 when a named read set or its world is missing or malformed
 */
export async function observedActions(
  store: Store,
  results: Iterable<NodeResult>,
): Promise<ObservedAction[]> {
  const out: ObservedAction[] = [];
  for (const r of [...results].sort((a, b) => (a.label < b.label ? -1 : 1))) {
    const d = r.entry?.record.details?.readSet;
    if (!d) continue;
    out.push({ label: r.label, report: await explainReadSet(store, await loadReadSet(store, d), d) });
  }
  return out;
}

/**
 * The lines of one observed action: `observed\tLABEL\tREADSET\tT files touched, from U of N
 * entries; P probes outside the world`, then `prunable\tLABEL\tENTRY` for each untouched entry and
 * `outside\tLABEL\tPATH` for the first {@link PROBES_LISTED} probes (`outside\tLABEL\t… and K more`).
 */
export function formatObserved(o: ObservedAction): string[] {
  const r = o.report;
  const used = r.entries.length - r.prunable.length;
  const lines = [
    `observed\t${o.label}\t${r.readSet}\t${r.touched} files touched, from ${used} of ${r.entries.length} entries; ${r.missing.length} probes outside the world`,
    ...r.prunable.map((e) => `prunable\t${o.label}\t${e}`),
    ...r.missing.slice(0, PROBES_LISTED).map((p) => `outside\t${o.label}\t${p}`),
  ];
  if (r.missing.length > PROBES_LISTED)
    lines.push(
      `outside\t${o.label}\t… and ${r.missing.length - PROBES_LISTED} more (eos why ${o.label} --json)`,
    );
  return lines;
}

/** The `--json` form of an observed action. */
export function observedJson(o: ObservedAction): Record<string, unknown> {
  const r = o.report;
  return {
    label: o.label,
    readSet: r.readSet,
    world: r.world,
    touched: r.touched,
    entries: r.entries.map((e) => ({ entry: e.entry, touched: e.touched, read: e.read })),
    prunable: r.prunable,
    outside: r.missing,
  };
}
