/**
 * bench/scheduler (Nix half): the same 1000-node DAG shape of trivial actions built by `nix-build`
 * (unsandboxed: `--option sandbox false --option build-users-group ""`) and by Eos (the real
 * scheduler, action keys and filesystem action cache, with an UNSANDBOXED trivial executor, since
 * the sandboxed executor is not wired in here), cold and as a no-op rebuild, in the same run.
 * Prints seconds and the Eos/Nix ratios. Needs Debian's nix-bin (`scripts/setup.sh --bench`).
 *
 * Usage: npx tsx bench/scheduler/nix-compare.ts [--nodes 1000] [--family random] [--jobs 2]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { syntheticDag, type DagFamily, type SyntheticNode } from '../../scheduler/index.ts';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}
const n = Number(arg('nodes', '1000'));
const family = arg('family', 'random') as DagFamily;
const jobs = Number(arg('jobs', String(availableParallelism())));

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

function timed(cmd: string, args: string[]): number {
  const t = performance.now();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr.toString().slice(-2000)}`);
  return (performance.now() - t) / 1000;
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
  const nixCold = timed('nix-build', nixArgs);
  const nixNoop = timed('nix-build', nixArgs);

  const store = join(dir, 'eos-store');
  const eos = (): { wallS: number; inProcessS: number; executed: number } => {
    const t = performance.now();
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, 'eos-trivial.ts'),
        join(dir, 'dag.json'),
        store,
        String(jobs),
      ],
      { encoding: 'utf8', maxBuffer: 1 << 26 },
    );
    const wallS = (performance.now() - t) / 1000;
    if (r.status !== 0) throw new Error(`eos-trivial failed: ${r.stderr}`);
    return { wallS, ...JSON.parse(r.stdout) };
  };
  const eosCold = eos();
  const eosNoop = eos();
  if (eosCold.executed !== n || eosNoop.executed !== 0) throw new Error('eos: unexpected execution counts');

  const f = (x: number) => x.toFixed(2);
  console.log(`same DAG: ${n} nodes, ${edges} edges (${family}), jobs ${jobs}; both unsandboxed`);
  console.log(['', 'nix-build s', 'eos s (process)', 'eos s (in-process)', 'eos/nix'].join('\t'));
  console.log(
    ['cold', f(nixCold), f(eosCold.wallS), f(eosCold.inProcessS), f(eosCold.wallS / nixCold)].join('\t'),
  );
  console.log(
    ['no-op', f(nixNoop), f(eosNoop.wallS), f(eosNoop.inProcessS), f(eosNoop.wallS / nixNoop)].join('\t'),
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
