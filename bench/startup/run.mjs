// bench/startup: how long `eos` takes to start, against `node -e 0` (the floor: Node itself) in the
// same run: `eos --version`, and `eos store ls` of a tree in a small store. Runs are interleaved
// (node, version, ls, node, …) so that load on a shared machine hits all three alike; the median
// of each is reported. Writes bench/out/startup.json (rows for bench/run-all.sh's table).
// Usage: node bench/startup/run.mjs [RUNS=20]   (EOS_BENCH_QUICK=1: 10 runs)
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '..', '..');
const eos = join(repo, 'bin', 'eos.mjs');
const runs = Number(process.argv[2] ?? (process.env.EOS_BENCH_QUICK === '1' ? 10 : 20));
const work = mkdtempSync(join(tmpdir(), 'eos-bench-startup-'));

function run(args, env = process.env) {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env, encoding: 'utf8' });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  if (r.stderr.includes('running the sources through tsx'))
    throw new Error(`dist/ is stale (${r.stderr.trim()}): run npm run build first`);
  return { s, out: r.stdout };
}

try {
  // A small store: a handful of files.
  const src = join(work, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  for (let i = 0; i < 5; i++) writeFileSync(join(src, i % 2 ? 'sub' : '', `f${i}`), `file ${i}\n`);
  const env = { ...process.env, EOS_STORE: join(work, 'store') };
  const tree = run([eos, 'store', 'add', src], env).out.trim();
  const cases = {
    node: [['-e', '0'], process.env],
    version: [[eos, '--version'], process.env],
    ls: [[eos, 'store', 'ls', tree], env],
  };
  const times = { node: [], version: [], ls: [] };
  run(...cases.version); // warm the page cache
  for (let k = 0; k < runs; k++) for (const [name, c] of Object.entries(cases)) times[name].push(run(...c).s);
  const median = (a) => {
    const b = [...a].sort((x, y) => x - y);
    return b[Math.floor(b.length / 2)];
  };
  const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  const row = (measure, e, goal) => ({
    measure,
    eos: e,
    peer: m.node,
    unit: 's',
    ratio: e / m.node,
    goal: `<= ${goal}`,
    met: e / m.node <= goal,
  });
  const rows = [
    row('eos --version vs node -e 0', m.version, 1.5),
    row('eos store ls (small store) vs node -e 0', m.ls, 2),
  ];
  console.log(
    `startup (median of ${runs}): node -e 0 ${(m.node * 1000).toFixed(0)} ms, eos --version ${(m.version * 1000).toFixed(0)} ms, eos store ls ${(m.ls * 1000).toFixed(0)} ms`,
  );
  mkdirSync(join(repo, 'bench', 'out'), { recursive: true });
  writeFileSync(
    join(repo, 'bench', 'out', 'startup.json'),
    JSON.stringify({ runs, medians: m, rows }, null, 2) + '\n',
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
