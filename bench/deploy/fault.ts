/**
 * bench/deploy/fault.ts: the 200-kill deploy fault run (tests/stacks/fault.test.ts runs fewer).
 * Usage: npx tsx bench/deploy/fault.ts [KILLS]   (needs root: services run in mounted worlds)
 * Prints one line per kill and a summary with the phase each kill landed in; exit 1 on a failure.
 */
import { faultRun } from '../../tests/stacks/fault-run.ts';

const kills = Number(process.argv[2] ?? 200);
const r = await faultRun(kills, { log: (s) => console.log(s) });
console.log(`deploy fault run: ${r.kills} kills in ${r.seconds} s`);
for (const [phase, n] of Object.entries(r.phases)) console.log(`phase\t${phase}\t${n}`);
for (const f of r.failures) console.log(`FAIL\t${f}`);
console.log(
  r.failures.length
    ? `FAIL\t${r.failures.length} check(s) did not hold`
    : 'ok\tevery check held after every kill',
);
process.exitCode = r.failures.length ? 1 : 0;
