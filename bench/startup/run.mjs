// bench/startup: how long `eos` takes to start, against `node -e 0` (the floor: Node itself) in the
// same run: `eos --version`, and `eos store ls` of a tree in a small store. Runs are interleaved
// (node, version, ls, node, …) so that load on a shared machine hits all three alike; the median
// of each is reported, as wall time (the goal's terms) and as CPU time (user + system of the child,
// from bash's `times`), which a loaded machine disturbs less. Writes bench/out/startup.json (rows
// for bench/run-all.sh's table).
// eos runs as the executable users run (its `#!` line applies: specs/cli.md §1.8, §1.9).
// Usage: node bench/startup/run.mjs [RUNS=20]   (EOS_BENCH_QUICK=1: 10 runs)
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '..', '..');
const eos = join(repo, 'bin', 'eos.cjs');
const runs = Number(process.argv[2] ?? (process.env.EOS_BENCH_QUICK === '1' ? 10 : 20));
const work = mkdtempSync(join(tmpdir(), 'eos-bench-startup-'));

/** Runs `[exe, ...args]`: `node` is process.execPath; `eos` is the executable, as users run it (its `#!` line applies). */
function run([exe, ...args], env = process.env) {
  const t = process.hrtime.bigint();
  const r = spawnSync(exe, args, { env, encoding: 'utf8' });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`${exe} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  if (r.stderr.includes('running the sources through tsx'))
    throw new Error(`dist/ is stale (${r.stderr.trim()}): run npm run build first`);
  return { s, out: r.stdout };
}

/** CPU seconds (user + system) of `EXE ARGS`, from bash's `times` (its children's line). */
function cpuOf(args, env = process.env) {
  const q = (a) => `'${a.replaceAll("'", "'\\''")}'`;
  const r = spawnSync('bash', ['-c', `${args.map(q).join(' ')} >/dev/null; times`], {
    env,
    encoding: 'utf8',
  });
  const line = r.stdout.trim().split('\n').pop();
  const [u, s] = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map((x) => Number(x[1]) * 60 + Number(x[2]));
  return u + s;
}

try {
  // A small store: a handful of files.
  const src = join(work, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  for (let i = 0; i < 5; i++) writeFileSync(join(src, i % 2 ? 'sub' : '', `f${i}`), `file ${i}\n`);
  const env = { ...process.env, EOS_STORE: join(work, 'store') };
  const tree = run([eos, 'store', 'add', src], env).out.trim();
  // Node itself, in the caller's environment (the goal's peer) and, for the record, without
  // NODE_EXTRA_CA_CERTS: Node parses that file at every start, which `eos`'s #! line avoids
  // (specs/cli.md §1.9), so the second is the floor eos is measured against in fact.
  const bare = { ...process.env };
  delete bare.NODE_EXTRA_CA_CERTS;
  const cases = {
    node: [[process.execPath, '-e', '0'], process.env],
    nodeBare: [[process.execPath, '-e', '0'], bare],
    version: [[eos, '--version'], process.env],
    ls: [[eos, 'store', 'ls', tree], env],
  };
  const times = { node: [], nodeBare: [], version: [], ls: [] };
  const cpu = { node: [], nodeBare: [], version: [], ls: [] };
  run(...cases.version); // warm the page cache
  for (let k = 0; k < runs; k++)
    for (const [name, c] of Object.entries(cases)) {
      times[name].push(run(...c).s);
      cpu[name].push(cpuOf(...c));
    }
  const median = (a) => {
    const b = [...a].sort((x, y) => x - y);
    return b[Math.floor(b.length / 2)];
  };
  const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  const c = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, median(v)]));
  const row = (measure, e, peer, goal) => ({
    measure,
    eos: e,
    peer,
    unit: 's',
    ratio: e / peer,
    goal: `<= ${goal}`,
    met: e / peer <= goal,
  });
  const rows = [
    row('eos --version vs node -e 0 (wall)', m.version, m.node, 1.5),
    row('eos --version vs node -e 0 (CPU)', c.version, c.node, 1.5),
    row('eos store ls (small store) vs node -e 0 (wall)', m.ls, m.node, 2),
    row('eos store ls (small store) vs node -e 0 (CPU)', c.ls, c.node, 2),
  ];
  const extraCa = process.env.NODE_EXTRA_CA_CERTS;
  const ms = (x) => `${(x * 1000).toFixed(0)} ms`;
  console.log(
    `startup (median of ${runs}; wall / CPU): node -e 0 ${ms(m.node)} / ${ms(c.node)}, ` +
      `eos --version ${ms(m.version)} / ${ms(c.version)}, eos store ls ${ms(m.ls)} / ${ms(c.ls)}` +
      (extraCa
        ? `; NODE_EXTRA_CA_CERTS=${extraCa} is set: node -e 0 without it ${ms(m.nodeBare)} / ${ms(c.nodeBare)} ` +
          `(eos --version ${(m.version / m.nodeBare).toFixed(2)}x, store ls ${(m.ls / m.nodeBare).toFixed(2)}x of that)`
        : ''),
  );
  mkdirSync(join(repo, 'bench', 'out'), { recursive: true });
  writeFileSync(
    join(repo, 'bench', 'out', 'startup.json'),
    JSON.stringify({ runs, nodeExtraCaCerts: extraCa ?? null, wall: m, cpu: c, rows }, null, 2) + '\n',
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
