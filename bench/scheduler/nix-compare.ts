/**
 * bench/scheduler (Nix half): the same 1000-node DAG shape of trivial actions built by `nix-build`
 * (unsandboxed: `--option sandbox false --option build-users-group ""`) and by Eos (the real
 * scheduler, action keys and filesystem action cache), cold and as a no-op rebuild, in the same run.
 * By default Eos runs every action UNSANDBOXED (eos-trivial.ts); with `--sandbox` every action runs
 * in the executor's real bubblewrap sandbox in a small world set up once per run, its `$OUTPUT`
 * ingested into the store (eos-sandboxed.ts), and the per-action sandbox overhead is printed too.
 * With `--sandbox`, Nix also builds a fresh copy of the DAG with its own sandbox on (`sandbox = true`,
 * as root without build users; the host's /bin /usr /lib /lib64 bound in for `/bin/sh`).
 * Prints seconds and the Eos/Nix ratios, and writes them as table rows for bench/run-all.sh to
 * bench/out/scheduler.json (unsandboxed) or bench/out/scheduler-sandboxed.json.
 * Needs Debian's nix-bin (`scripts/setup.sh --bench`).
 *
 * The no-op rebuild runs `--noop-runs` times each (default 5), Eos and Nix alternating; the medians
 * are compared.
 *
 * Usage: npx tsx bench/scheduler/nix-compare.ts [--nodes 1000] [--family random] [--jobs 2] [--noop-runs 5]
 *          [--sandbox [--world-mount auto|composefs|hardlink] [--calibrate 50] [--output-as tree|blob]
 *           [--no-share-world] [--no-product]]
 * EOS_BENCH_KEEP=1 keeps the run's directory (its stores, workspace and logs) and prints its path.
 * With `--sandbox`, a composefs world is mounted once and shared by every action (SandboxWorlds);
 * `--no-share-world` mounts it per action, as before.
 *
 * eos-sandboxed.ts is not what `eos build` runs: it calls `runSandbox` directly, over one small
 * world for every action (its dependencies' outputs are not layered in), and skips the executor's
 * per-action work (the world's composition and image, sources, recipe, output checks, the record).
 * So with `--sandbox` the same DAG is also built by the product itself, `eos build` of a
 * generated workspace (one `std.shell` atom per node, writing `$OUTPUT/usr/share/bench/LABEL`;
 * the lock's deps are the DAG's edges; a host seed of dash and coreutils made first, untimed), on
 * a fresh store, then rebuilt as a no-op `--noop-runs` times (every atom cached), alternating with
 * nix-build's no-op: the rows named "eos build" are the product's ratios. `--no-product` leaves it out.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { syntheticDag, type DagFamily, type SyntheticNode } from '../../scheduler/index.ts';
import { encodeLock } from '../../atoms/index.ts';
import { distState } from '../../bin/dist-state.mjs';

const repo = join(import.meta.dirname, '..', '..');

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}
const n = Number(arg('nodes', '1000'));
const family = arg('family', 'random') as DagFamily;
const jobs = Number(arg('jobs', String(availableParallelism())));
const sandbox = process.argv.includes('--sandbox');
const worldMount = arg('world-mount', 'auto');
const calibrate = arg('calibrate', '50');
const outputAs = arg('output-as', 'tree');
/** `--no-share-world`: every sandboxed action mounts its world itself (the behaviour before SandboxWorlds). */
const shareWorld = !process.argv.includes('--no-share-world');
/** With `--sandbox`: also run `eos build` of the DAG as a workspace (the product path); `--no-product` skips it. */
const product = sandbox && !process.argv.includes('--no-product');
/** No-op runs of each (alternating); the median is reported. */
const noopRuns = Number(arg('noop-runs', '5'));

interface EosRun {
  wallS: number;
  /** CPU seconds (user + system) of the process and its children. */
  cpuS: number;
  inProcessS: number;
  executed: number;
  worldSetupS?: number;
  worldMount?: string;
  meanSandboxMs?: number;
  meanIngestMs?: number;
  meanExecutorMs?: number;
  calibration?: { runs: number; sandboxMs: number; plainMs: number; overheadMs: number };
}

function nixExpr(nodes: SyntheticNode[], salt: string): string {
  const lines = nodes.map((x) => `  ${x.label} = mk "${x.label}" [ ${x.deps.join(' ')} ];`);
  return `let
  mk = name: deps: derivation {
    inherit name;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" "echo \${name} \${builtins.concatStringsSep " " deps} > $out" ];
    salt = "${salt}";
  };
${lines.join('\n')}
in [ ${nodes.map((x) => x.label).join(' ')} ]
`;
}

/**
 * The DAG as a workspace of `std.shell` atoms and its lock (`eos.lock` in `dir`): each writes
 * `$OUTPUT/usr/share/bench/LABEL` (its label and its dependencies' labels; its world has their
 * files at /usr/share/bench); the lock's deps are the DAG's edges.
 * @returns the lock's path
 */
async function writeWorkspace(nodes: SyntheticNode[], dir: string): Promise<string> {
  const workspace: Record<string, { path: string; version: string; deps: string[] }> = {};
  for (const x of nodes) {
    await mkdir(join(dir, x.label), { recursive: true });
    const script = `mkdir -p "$OUTPUT/usr/share/bench" && echo ${x.label} ${x.deps.join(' ')} > "$OUTPUT/usr/share/bench/${x.label}"`;
    await writeFile(
      join(dir, x.label, 'atom.toml'),
      [
        '[atom]',
        `label = "${x.label}"`,
        'version = "1.0.0"',
        '',
        ...(x.deps.length ? ['[deps]', ...x.deps.map((d) => `${d} = "^1.0"`), ''] : []),
        '[build]',
        'recipe = "std.shell"',
        `script = '''${script}'''`,
        '',
      ].join('\n'),
    );
    workspace[x.label] = { path: x.label, version: '1.0.0', deps: [...x.deps] };
  }
  const lock = join(dir, 'eos.lock');
  await writeFile(lock, encodeLock({ version: 1, prerelease: false, sets: {}, atoms: {}, workspace }));
  return lock;
}

/** One row of bench/run-all.sh's table: Eos seconds against the peer's, lower is better. */
function row(measure: string, eosS: number, peerS: number, goal: number | null) {
  const ratio = eosS / peerS;
  return {
    measure,
    eos: eosS,
    peer: peerS,
    unit: 's',
    ratio,
    goal: goal === null ? null : `<= ${goal}`,
    met: goal === null ? null : ratio <= goal,
  };
}

/**
 * Runs `cmd args` through bash, whose `times` gives the CPU seconds (user + system) of the command
 * and its children; its stdout goes to `stdoutFile` (or nowhere). Returns wall and CPU seconds.
 */
function measured(cmd: string, args: string[], stdoutFile = '/dev/null'): { wallS: number; cpuS: number } {
  const t = performance.now();
  const r = spawnSync(
    'bash',
    ['-c', '"$@" >"$EOS_BENCH_OUT"; rc=$?; times >&3; exit $rc', 'bash', cmd, ...args],
    {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
      env: { ...process.env, EOS_BENCH_OUT: stdoutFile },
      maxBuffer: 1 << 28,
    },
  );
  const wallS = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${String(r.stderr).slice(-2000)}`);
  const line = String(r.output[3]).trim().split('\n').pop()!; // the children's line: "0m0.26s 0m0.08s"
  const [u, sys] = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map((x) => Number(x[1]) * 60 + Number(x[2]));
  return { wallS, cpuS: u! + sys! };
}

try {
  execFileSync('nix-build', ['--version'], { stdio: 'ignore' });
} catch {
  process.stderr.write('nix-build not found: run scripts/setup.sh --bench first\n');
  process.exit(1);
}

const dir = await mkdtemp(join(tmpdir(), 'eos-bench-nix-'));
try {
  const nodes = syntheticDag(family, n, 1);
  const edges = nodes.reduce((a, x) => a + x.deps.length, 0);
  const salt = `${Date.now()}-${process.pid}`; // a fresh salt makes every derivation new: a cold build
  await writeFile(join(dir, 'default.nix'), nixExpr(nodes, salt));
  await writeFile(join(dir, 'dag.json'), JSON.stringify(nodes));
  const nixArgs = [
    join(dir, 'default.nix'),
    '--no-out-link',
    '--option',
    'sandbox',
    'false',
    '--option',
    'build-users-group',
    '',
    '--max-jobs',
    String(jobs),
  ];
  const nixColdRun = measured('nix-build', nixArgs);
  const nixCold = nixColdRun.wallS;
  const nixNoopRuns = [measured('nix-build', nixArgs)];
  let nixSandboxRun: { wallS: number; cpuS: number } | undefined;
  if (sandbox) {
    // The same DAG again under a new salt (cold), with Nix's own sandbox on.
    await writeFile(join(dir, 'sandboxed.nix'), nixExpr(nodes, `${salt}-sandboxed`));
    const sbArgs = [join(dir, 'sandboxed.nix'), ...nixArgs.slice(1)];
    sbArgs[sbArgs.indexOf('sandbox') + 1] = 'true';
    nixSandboxRun = measured('nix-build', [...sbArgs, '--option', 'sandbox-paths', '/bin /usr /lib /lib64']);
  }

  const store = join(dir, 'eos-store');
  const script = sandbox ? 'eos-sandboxed.ts' : 'eos-trivial.ts';
  const eos = (calibrateRuns?: string): EosRun => {
    const extra = sandbox
      ? [
          '--world-mount',
          worldMount,
          '--output-as',
          outputAs,
          ...(shareWorld ? [] : ['--no-share-world']),
          ...(calibrateRuns ? ['--calibrate', calibrateRuns] : []),
        ]
      : [];
    // The compiled script (dist/bench/…, built with the CLI) when current: tsx's start-up is no
    // part of Eos's cost; the sources through tsx otherwise.
    const compiled = join(repo, 'dist', 'bench', 'scheduler', script.replace(/\.ts$/, '.js'));
    const runner = distState(repo).fresh
      ? [compiled]
      : ['--import', 'tsx', join(import.meta.dirname, script)];
    const out = join(dir, 'eos-run.json');
    const { wallS, cpuS } = measured(
      process.execPath,
      [...runner, join(dir, 'dag.json'), store, String(jobs), ...extra],
      out,
    );
    return { ...(JSON.parse(readFileSync(out, 'utf8')) as Omit<EosRun, 'wallS' | 'cpuS'>), wallS, cpuS };
  };
  const eosCold = eos();
  // The no-ops, short, alternate with Nix's (so that load hits both alike): the median of each.
  const eosNoops = [eos()];
  for (let i = 1; i < noopRuns; i++) {
    nixNoopRuns.push(measured('nix-build', nixArgs));
    eosNoops.push(eos());
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const nixNoops = nixNoopRuns.map((r) => r.wallS);
  const nixNoop = median(nixNoops);
  const nixNoopCpu = median(nixNoopRuns.map((r) => r.cpuS));
  const eosNoopCpu = median(eosNoops.map((r) => r.cpuS));
  const nixSandboxCold = nixSandboxRun?.wallS;
  const eosNoop = [...eosNoops].sort((a, b) => a.wallS - b.wallS)[Math.floor(eosNoops.length / 2)]!;
  if (eosNoops.some((r) => r.executed !== 0)) throw new Error('eos: a no-op run executed actions');
  // A third run on the warm store (all cached) measures the sandbox alone, outside the timed runs.
  const calib = sandbox ? eos(calibrate).calibration : undefined;
  if (eosCold.executed !== n || eosNoop.executed !== 0) throw new Error('eos: unexpected execution counts');

  // The product: `eos build` of the DAG as a workspace, on a fresh store with a small host seed.
  let productRun: { wallS: number; cpuS: number; ok: number; sharedWorlds?: unknown } | undefined;
  /** The product's no-op rebuilds (`eos build` of the same lock on the built store) and Nix's beside them. */
  let productNoop:
    { eos: { wallS: number; cpuS: number }[]; nix: { wallS: number; cpuS: number }[] } | undefined;
  if (product) {
    const pstore = join(dir, 'product-store');
    const seedLock = join(dir, 'seed.lock');
    // The `eos` executable run as users run it (its `#!` line's node flags apply: specs/cli.md §1.8).
    const eosBin = join(repo, 'bin', 'eos.cjs');
    const seeded = spawnSync(
      process.execPath,
      [
        eosBin,
        '--store',
        pstore,
        'seed',
        '--mode',
        'host',
        '--package',
        'dash',
        '--package',
        'coreutils',
        '--lock',
        seedLock,
      ],
      { encoding: 'utf8' },
    );
    if (seeded.status !== 0) throw new Error(`eos seed: ${seeded.stderr}`);
    const lock = await writeWorkspace(nodes, join(dir, 'ws'));
    const out = join(dir, 'product.json');
    const m = measured(
      eosBin,
      ['--store', pstore, '--json', 'build', lock, '--seed-lock', seedLock, '-j', String(jobs)],
      out,
    );
    const doc = JSON.parse(readFileSync(out, 'utf8')) as {
      counts: Record<string, number>;
      sharedWorlds?: unknown;
    };
    if (doc.counts.ok !== n) throw new Error(`eos build: ${JSON.stringify(doc.counts)} of ${n}`);
    productRun = { ...m, ok: doc.counts.ok, sharedWorlds: doc.sharedWorlds };
    // No-op: the same `eos build` again, every atom cached; alternating with nix-build's no-op.
    productNoop = { eos: [], nix: [] };
    for (let i = 0; i < noopRuns; i++) {
      productNoop.nix.push(measured('nix-build', nixArgs));
      const r = measured(
        eosBin,
        ['--store', pstore, '--json', 'build', lock, '--seed-lock', seedLock, '-j', String(jobs)],
        out,
      );
      const again = JSON.parse(readFileSync(out, 'utf8')) as { counts: Record<string, number> };
      if (again.counts.cached !== n || again.counts.ok !== 0)
        throw new Error(`eos build no-op: ${JSON.stringify(again.counts)} of ${n}`);
      productNoop.eos.push(r);
    }
  }

  const f = (x: number) => x.toFixed(2);
  console.log(
    `same DAG: ${n} nodes, ${edges} edges (${family}), jobs ${jobs}; nix-build unsandboxed, eos ${
      sandbox
        ? `SANDBOXED (bwrap, world mounted by ${eosCold.worldMount}${eosCold.worldMount === 'composefs' ? (shareWorld ? ' once, shared' : ' per action') : ''}, output stored as ${outputAs === 'tree' ? 'a tree, as the executor does' : 'a blob: diagnostic'})`
        : 'unsandboxed'
    }`,
  );
  console.log(['', 'nix-build s', 'eos s (process)', 'eos s (in-process)', 'eos/nix'].join('\t'));
  console.log(
    ['cold', f(nixCold), f(eosCold.wallS), f(eosCold.inProcessS), f(eosCold.wallS / nixCold)].join('\t'),
  );
  console.log(
    ['no-op', f(nixNoop), f(eosNoop.wallS), f(eosNoop.inProcessS), f(eosNoop.wallS / nixNoop)].join('\t'),
  );
  console.log(
    `no-op runs (${noopRuns} each, alternating): nix ${nixNoops.map(f).join(' ')}; eos ${eosNoops.map((r) => f(r.wallS)).join(' ')}`,
  );
  console.log(
    `CPU s (user + system, with children): cold nix ${f(nixColdRun.cpuS)} eos ${f(eosCold.cpuS)} (${f(eosCold.cpuS / nixColdRun.cpuS)}); ` +
      `no-op medians nix ${f(nixNoopCpu)} eos ${f(eosNoopCpu)} (${f(eosNoopCpu / nixNoopCpu)})` +
      (nixSandboxRun
        ? `; cold nix sandboxed ${f(nixSandboxRun.cpuS)} (eos/nix ${f(eosCold.cpuS / nixSandboxRun.cpuS)})`
        : ''),
  );
  console.log(
    `load: ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} on ${availableParallelism()} cores`,
  );
  const rows = sandbox
    ? [
        row(
          `cold build, ${n} sandboxed actions (bench executor: runSandbox over one world, not eos build): eos vs nix-build sandboxed`,
          eosCold.wallS,
          nixSandboxCold!,
          1.0,
        ),
        row(
          `cold build, ${n} sandboxed actions (bench executor: runSandbox over one world, not eos build): eos vs nix-build unsandboxed`,
          eosCold.wallS,
          nixCold,
          2.0,
        ),
        row(
          `cold build, ${n} sandboxed actions (bench executor: runSandbox over one world, not eos build): eos vs nix-build unsandboxed (CPU)`,
          eosCold.cpuS,
          nixColdRun.cpuS,
          2.0,
        ),
        ...(productRun
          ? [
              row(
                `cold eos build, ${n} atoms (the product path): eos vs nix-build sandboxed`,
                productRun.wallS,
                nixSandboxCold!,
                1.0,
              ),
              row(
                `cold eos build, ${n} atoms (the product path): eos vs nix-build unsandboxed`,
                productRun.wallS,
                nixCold,
                2.0,
              ),
              row(
                `cold eos build, ${n} atoms (the product path): eos vs nix-build sandboxed (CPU)`,
                productRun.cpuS,
                nixSandboxRun!.cpuS,
                1.0,
              ),
              row(
                `cold eos build, ${n} atoms (the product path): eos vs nix-build unsandboxed (CPU)`,
                productRun.cpuS,
                nixColdRun.cpuS,
                2.0,
              ),
            ]
          : []),
        ...(productNoop
          ? [
              row(
                `no-op eos build, ${n} cached atoms (the product path): eos vs nix-build`,
                median(productNoop.eos.map((r) => r.wallS)),
                median(productNoop.nix.map((r) => r.wallS)),
                0.5,
              ),
              row(
                `no-op eos build, ${n} cached atoms (the product path): eos vs nix-build (CPU)`,
                median(productNoop.eos.map((r) => r.cpuS)),
                median(productNoop.nix.map((r) => r.cpuS)),
                0.5,
              ),
            ]
          : []),
      ]
    : [
        row(
          `cold build, ${n} unsandboxed actions: eos vs nix-build unsandboxed`,
          eosCold.wallS,
          nixCold,
          null,
        ),
        row(`no-op build, ${n} cached actions: eos vs nix-build`, eosNoop.wallS, nixNoop, 0.5),
        row(`no-op build, ${n} cached actions: eos vs nix-build (CPU)`, eosNoopCpu, nixNoopCpu, 0.5),
      ];
  if (sandbox)
    console.log(
      [
        'cold, nix sandboxed',
        f(nixSandboxCold!),
        f(eosCold.wallS),
        '',
        f(eosCold.wallS / nixSandboxCold!),
      ].join('\t'),
    );
  if (productRun)
    console.log(
      `eos build (the product path: ${n} std.shell atoms of the DAG, worlds layering their dependencies): cold ${f(productRun.wallS)} s wall, ${f(productRun.cpuS)} s CPU; ` +
        `vs nix-build sandboxed ${f(productRun.wallS / nixSandboxCold!)} (CPU ${f(productRun.cpuS / nixSandboxRun!.cpuS)}), ` +
        `vs unsandboxed ${f(productRun.wallS / nixCold)} (CPU ${f(productRun.cpuS / nixColdRun.cpuS)}); shared worlds ${JSON.stringify(productRun.sharedWorlds)}`,
    );
  if (productNoop)
    console.log(
      `eos build no-op (the product path, ${noopRuns} runs each, alternating): eos ${productNoop.eos.map((r) => f(r.wallS)).join(' ')} s; ` +
        `nix ${productNoop.nix.map((r) => f(r.wallS)).join(' ')} s; median ratio ${f(median(productNoop.eos.map((r) => r.wallS)) / median(productNoop.nix.map((r) => r.wallS)))} ` +
        `(CPU ${f(median(productNoop.eos.map((r) => r.cpuS)) / median(productNoop.nix.map((r) => r.cpuS)))})`,
    );
  await mkdir(join(import.meta.dirname, '..', 'out'), { recursive: true });
  await writeFile(
    join(import.meta.dirname, '..', 'out', sandbox ? 'scheduler-sandboxed.json' : 'scheduler.json'),
    JSON.stringify({ nodes: n, jobs, rows }, null, 2) + '\n',
  );
  if (sandbox) {
    const ms = (x: number | undefined) => (x ?? 0).toFixed(1);
    console.log(
      `eos cold, per action (mean over ${eosCold.executed}, ${jobs} at a time): sandbox run ${ms(eosCold.meanSandboxMs)} ms, ` +
        `output store ${ms(eosCold.meanIngestMs)} ms, whole executor ${ms(eosCold.meanExecutorMs)} ms; ` +
        `world setup once ${f(eosCold.worldSetupS ?? 0)} s`,
    );
    const c = calib;
    if (c)
      console.log(
        `sandbox overhead per action (${c.runs} sequential runs of the same sh -c): sandboxed ${ms(c.sandboxMs)} ms, ` +
          `plain spawn ${ms(c.plainMs)} ms, overhead ${ms(c.overheadMs)} ms`,
      );
  }
} finally {
  // EOS_BENCH_KEEP=1 keeps the run's directory (stores, workspace, logs) to look into.
  if (process.env.EOS_BENCH_KEEP === '1') console.log(`kept ${dir}`);
  else await rm(dir, { recursive: true, force: true });
}
