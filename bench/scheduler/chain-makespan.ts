/**
 * bench/scheduler (real chain): the makespan of a real cold `eos build` against the sum of its
 * actions' wall times, from the build's own `--json` document (its `events`: `queued`/`started`
 * with `atMs`, `ok` with `atMs` and `durationMs`). For the demo's chain zlib → OpenSSL → curl every
 * action runs alone (each depends on the one before), and with the jobserver (specs/scheduler.md
 * §11) each gets every token, so each `durationMs` is that action's wall time alone with every
 * core and the ratio makespan / Σ durationMs measures what the scheduler adds between actions
 * (staleness checks, record signing, output ingest outside the action's own time). Goal ≤ 1.10.
 * When actions overlapped (not a chain), Σ durationMs is not "each alone" and the row says so.
 *
 * Usage: npx tsx bench/scheduler/chain-makespan.ts BUILD.json [LOAD]
 *   BUILD.json: `eos --json build … --jobs $(nproc)` output (the demo writes $EOS_DEMO_DIR/work/build1.json)
 *   LOAD: the 1-minute load average during the build, printed with the figures (optional)
 * Writes bench/out/makespan-chain.json (a row for bench/run-all.sh's table).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface BuildEvent {
  type: string;
  label: string;
  atMs: number;
  durationMs?: number;
}

const [file, load] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: chain-makespan.js BUILD.json [LOAD]\n');
  process.exit(2);
}
const doc = JSON.parse(readFileSync(file, 'utf8')) as { events?: BuildEvent[] };
const events = doc.events ?? [];
const ok = events.filter((e) => e.type === 'ok');
if (!ok.length) {
  process.stderr.write(`${file}: no action ran (ok events): not a cold build\n`);
  process.exit(1);
}
const start = Math.min(
  ...events.filter((e) => e.type === 'queued' || e.type === 'started').map((e) => e.atMs),
);
const end = Math.max(...ok.map((e) => e.atMs));
const makespanMs = end - start;
const sumMs = ok.reduce((a, e) => a + (e.durationMs ?? 0), 0);
// Overlap: any two actions' [end - duration, end] intervals intersect.
const spans = ok.map((e) => [e.atMs - (e.durationMs ?? 0), e.atMs] as const).sort((a, b) => a[0] - b[0]);
const overlapped = spans.some((s, i) => i > 0 && s[0] < spans[i - 1]![1]);
const ratio = makespanMs / sumMs;
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
console.log(
  `real build ${file}: ${ok.length} action(s) ${ok.map((e) => `${e.label} ${s(e.durationMs ?? 0)}`).join(', ')}; ` +
    `makespan ${s(makespanMs)}, sum ${s(sumMs)}, ratio ${ratio.toFixed(3)} (goal <= 1.10)` +
    (overlapped ? '; actions overlapped: the sum is not of solo runs' : '; no two actions overlapped') +
    (load ? `; load average ${load}` : ''),
);
// The repository's bench/out, whether this runs compiled (dist/bench/scheduler) or through tsx.
const out = join(import.meta.dirname.replace(/\/(dist\/)?bench\/scheduler$/, ''), 'bench', 'out');
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, 'makespan-chain.json'),
  JSON.stringify(
    {
      file,
      load: load ?? null,
      overlapped,
      rows: [
        {
          measure: `cold build makespan vs sum of ${ok.length} actions alone (${ok.map((e) => e.label).join(', ')})`,
          eos: makespanMs / 1000,
          peer: sumMs / 1000,
          unit: 's',
          ratio,
          goal: '<= 1.1',
          met: !overlapped && ratio <= 1.1,
        },
      ],
    },
    null,
    2,
  ) + '\n',
);
