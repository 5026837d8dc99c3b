// Prints bench/run-all.sh's table from the rows the benches wrote to bench/out/*.json in this run:
// measure, Eos, peer, ratio, goal, met. Each file is {rows: [{measure, eos, peer, unit, ratio,
// goal, met}]}; `ratio` is in the goal's terms (Eos time / peer time, or for speeds peer / Eos).
// Usage: node bench/table.mjs FILE.json…   (a missing file prints as a row that did not run)
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';

const rows = [];
for (const f of process.argv.slice(2)) {
  if (!existsSync(f)) {
    rows.push({ measure: `${basename(f, '.json')}: did not run`, missing: true });
    continue;
  }
  rows.push(...JSON.parse(readFileSync(f, 'utf8')).rows);
}
const fmt = (x, unit) =>
  x === undefined || x === null ? '-' : unit === 's' ? `${x.toFixed(3)} s` : String(x);
const table = [['measure', 'eos', 'peer', 'ratio', 'goal', 'met']];
for (const r of rows)
  table.push(
    r.missing
      ? [r.measure, '-', '-', '-', '-', 'NOT RUN']
      : [
          r.measure,
          fmt(r.eos, r.unit),
          fmt(r.peer, r.unit),
          r.ratio.toFixed(2),
          r.goal ?? '-',
          r.met === null || r.met === undefined ? '-' : r.met ? 'met' : 'MISSED',
        ],
  );
const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
for (const r of table)
  console.log(
    r
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd(),
  );
