/**
 * bench/ingest/kill.ts: the 50-kill store kill run (tests/store/cli.test.ts runs 20): rounds of 5
 * concurrent `eos store add` of a ≈ 40 MiB tree, each SIGKILLed at a random moment
 * (tests/store/kill-run.ts), then `eos store verify` must pass and a last ingest must complete
 * the tree. Usage: npx tsx bench/ingest/kill.ts [ROUNDS]   (default 10: 50 kills at most)
 * Prints the counts and one ok/FAIL line; exit 1 on a failure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../src/kernel/index.ts';
import { buildBulk, eos, ingestKillRun } from '../../tests/store/kill-run.ts';

const rounds = Number(process.argv[2] ?? 10);
const dir = mkdtempSync(join(tmpdir(), 'eos-kill-bench-'));
const src = join(dir, 'src');
const store = join(dir, 'store');
buildBulk(src, 'kill');
const expected = (await new Store(join(dir, 'ref')).ingest(src)).digest;
const t0 = Date.now();
eos(store, '--version');
const startMs = Date.now() - t0;
const t1 = Date.now();
eos(join(dir, 'timing'), 'store', 'add', src);
const fullMs = Date.now() - t1;
const r = await ingestKillRun(store, src, rounds, { startMs, fullMs });
console.log(`store kill run: ${r.rounds} rounds, ${r.killed} killed, ${r.litter} temp files left`);
const failures = [...r.failures];
if (r.litter === 0) failures.push('no kill landed in the middle of writing an object');
const v = eos(store, 'store', 'verify');
if (v.code !== 0) failures.push(`verify exited ${v.code}: ${v.stdout}${v.stderr}`);
const last = eos(store, 'store', 'add', src);
if (last.code !== 0 || last.stdout.trim() !== expected)
  failures.push(`the last ingest gave ${last.stdout.trim()} (exit ${last.code}), expected ${expected}`);
for (const f of failures) console.log(`FAIL\t${f}`);
console.log(
  failures.length
    ? `FAIL\t${failures.length} check(s) did not hold`
    : 'ok\tthe store verified clean after every kill',
);
rmSync(dir, { recursive: true, force: true });
process.exitCode = failures.length ? 1 : 0;
