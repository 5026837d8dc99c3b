/**
 * The SANDBOXED Eos side of the Nix comparison: the same DAG of trivial actions as eos-trivial.ts,
 * with the real scheduler, real action keys and the store's action cache, but every action runs
 * through the executor's real sandbox (`runSandbox`: bubblewrap with `--unshare-all`, the world
 * read-only at `/`, only `/build` and `$OUTPUT` writable, a cleared environment) as
 * `/bin/sh -c 'echo LABEL DEP-OUTPUTS… > $OUTPUT/out'`, and its `$OUTPUT` is ingested into the
 * store as a tree, as `buildAtom` does (the log is stored as a blob).
 *
 * The world is set up ONCE per run: a small tree made from the host's dash (as `/bin/sh`), the C
 * library and the loader it needs (`ldd`), the usrmerge links and the sandbox's mount points,
 * ingested into the store and composed as a one-layer world (`buildWorld`); it becomes `/` the way
 * the executor chooses (`chooseWorldMount`: composefs where mounting is permitted, else a hard-link
 * materialized directory; `--world-mount` overrides). Unlike `buildAtom`, an action's world does not
 * layer its dependencies' output trees (that would be one composition and image per action); the
 * action reads only their digests, as the Nix derivations read only their inputs' store paths.
 * Nor does it do the executor's other per-action work (the world's composition and image, source
 * placement, output checks, the build record): its figures are the sandbox's, not `eos build`'s;
 * nix-compare.ts's "eos build" rows run the product itself.
 *
 * Prints one JSON line: in-process seconds, world setup seconds, executed count, statuses, the
 * mean sandbox run and executor time per action, and (with `--calibrate N`) the mean of N
 * sequential sandbox runs against N sequential unsandboxed `sh -c` spawns of the same command.
 *
 * A composefs world is mounted once and shared by every action (`SandboxWorlds`: the build's
 * launcher mounts it and starts each sandbox, specs/executor.md §4.3); `--no-share-world` mounts it
 * per action instead, as a lone `runSandbox` does.
 *
 * Usage: npx tsx bench/scheduler/eos-sandboxed.ts DAG.json STORE_DIR JOBS
 *          [--world-mount auto|composefs|hardlink] [--calibrate N] [--output-as tree|blob] [--no-share-world]
 *
 * `--output-as blob` (a diagnostic, not the executor's behaviour) stores only `$OUTPUT/out` as a
 * blob, as eos-trivial.ts does, to separate the sandbox's cost from the tree ingest's.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, realpathSync, symlinkSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Store, digestBytes, type Digest } from '../../src/kernel/index.ts';
import {
  buildWorld,
  chooseWorldMount,
  materializeWorld,
  runSandbox,
  stagingDir,
  worldImage,
  SANDBOX_MOUNT_POINTS,
  SandboxWorlds,
  type ComposefsRoot,
  type WorldMount,
} from '../../executor/index.ts';
import { actionId, schedule, storeRebuilder, type SyntheticNode } from '../../scheduler/index.ts';

const positional = process.argv
  .slice(2)
  .filter((a, i, all) => !a.startsWith('--') && !all[i - 1]?.startsWith('--'));
const [dagPath, storePath, jobsArg] = positional;
function opt(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}
if (!dagPath || !storePath) {
  process.stderr.write(
    'usage: eos-sandboxed.ts DAG.json STORE_DIR JOBS [--world-mount auto|composefs|hardlink] [--calibrate N] [--output-as tree|blob]\n',
  );
  process.exit(2);
}
const jobs = Number(jobsArg ?? 2);
const calibrate = Number(opt('calibrate', '0'));
const requestedMount = opt('world-mount', 'auto') as WorldMount | 'auto';
/** `tree` (default, as buildAtom): `$OUTPUT` ingested as a tree; `blob`: only `$OUTPUT/out` stored as a blob (diagnostic). */
const outputAs = opt('output-as', 'tree');
if (outputAs !== 'tree' && outputAs !== 'blob') {
  process.stderr.write(`--output-as ${outputAs}: expected tree or blob\n`);
  process.exit(2);
}

const t0 = performance.now();
const nodes = JSON.parse(await fs.readFile(dagPath, 'utf8')) as SyntheticNode[];
const st = new Store(storePath);

/** The small world's tree: host dash as /bin/sh, its libraries and loader, mount points. */
async function miniWorldTree(): Promise<Digest> {
  const dir = await stagingDir(st, 'miniworld');
  try {
    const put = (hostPath: string, at: string): void => {
      const dest = join(dir, at);
      mkdirSync(dirname(dest), { recursive: true });
      copyFileSync(realpathSync(hostPath), dest);
    };
    const dash = realpathSync('/bin/dash');
    put(dash, 'usr/bin/dash');
    put(dash, 'usr/bin/sh');
    // ldd lines: "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (…)" and "/lib64/ld-linux-x86-64.so.2 (…)"
    for (const line of execFileSync('ldd', [dash], { encoding: 'utf8' }).split('\n')) {
      const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)/.exec(line);
      if (!m) continue;
      const p = m[1]!;
      // usrmerge: /lib/… and /lib64/… live under usr/ in the world
      const rel = p.replace(/^\/(usr\/)?/, 'usr/');
      put(p, rel);
      if (basename(p) !== basename(realpathSync(p))) put(p, join(dirname(rel), basename(realpathSync(p))));
    }
    for (const l of ['bin', 'lib', 'lib64', 'sbin']) {
      mkdirSync(join(dir, 'usr', l), { recursive: true });
      symlinkSync(`usr/${l}`, join(dir, l));
    }
    for (const p of SANDBOX_MOUNT_POINTS) mkdirSync(join(dir, p));
    return (await st.ingest(dir)).digest;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

const tw = performance.now();
const worldTree = await miniWorldTree();
const world = await buildWorld(st, [{ name: 'bench.sh', tree: worldTree, precedence: 0 }]);
const worldMount = chooseWorldMount(requestedMount);
const worldDir = worldMount === 'hardlink' ? await materializeWorld(st, world.root) : '';
const composefs: ComposefsRoot | undefined =
  worldMount === 'composefs'
    ? { image: await worldImage(st, world.root), objectsDir: st.dir('objects') }
    : undefined;
const worldSetupS = (performance.now() - tw) / 1000;
/** `--share-world` (default on; `--no-share-world` mounts the world per action, as before). */
const shareWorld = !process.argv.includes('--no-share-world');
const worlds = shareWorld ? new SandboxWorlds() : undefined;

/** One sandboxed run of `script` in fresh /build and /output; returns the staging dir and timing. */
async function sandboxed(script: string, jobsShare: number): Promise<{ top: string; ms: number }> {
  const top = await stagingDir(st, 'build');
  const buildDir = join(top, 'build');
  const outputDir = join(top, 'output');
  await fs.mkdir(buildDir);
  await fs.mkdir(outputDir);
  const logPath = join(top, 'log');
  const r = await runSandbox({
    worldDir,
    ...(composefs ? { composefs } : {}),
    ...(worlds ? { worlds } : {}),
    buildDir,
    outputDir,
    argv: ['/bin/sh', '-c', script],
    sourceDateEpoch: 1700000000,
    jobs: jobsShare,
    timeoutMs: 120_000,
    logPath,
  });
  if (r.exitCode !== 0) {
    const log = await fs.readFile(logPath, 'utf8').catch(() => '');
    await fs.rm(top, { recursive: true, force: true });
    throw new Error(`sandbox exited ${r.exitCode ?? r.signal}: ${log.slice(-500)}`);
  }
  return { top, ms: r.durationMs };
}

const recipe = digestBytes("recipe: sandboxed sh -c 'echo NAME DEPS > $OUTPUT/out'");
let executed = 0;
let sandboxMsTotal = 0;
let executorMsTotal = 0;
let ingestMsTotal = 0;
const res = await schedule({
  nodes,
  jobs,
  seedMode: 'fast',
  key: (n, depOutputs) =>
    actionId({
      atom: digestBytes(`atom ${n.label}`),
      recipe,
      args: {},
      toolchain: world.root,
      seedMode: 'fast',
      arch: 'x86_64-linux',
      deps: { ...depOutputs },
    }),
  rebuilder: storeRebuilder(st),
  executor: async (n, ctx) => {
    const te = performance.now();
    executed++;
    const deps = Object.values(ctx.depOutputs).join(' ');
    const { top, ms } = await sandboxed(`echo ${n.label} ${deps} > "$OUTPUT/out"`, ctx.makeJobs);
    try {
      sandboxMsTotal += ms;
      const log = await st.putBlob(await fs.readFile(join(top, 'log')));
      const ti = performance.now();
      const output =
        outputAs === 'tree'
          ? (await st.ingest(join(top, 'output'))).digest
          : await st.putBlob(await fs.readFile(join(top, 'output', 'out')));
      ingestMsTotal += performance.now() - ti;
      executorMsTotal += performance.now() - te;
      return { output, world: world.root, log };
    } finally {
      await fs.rm(top, { recursive: true, force: true });
    }
  },
});
const inProcessS = (performance.now() - t0) / 1000;

let calibration: { runs: number; sandboxMs: number; plainMs: number; overheadMs: number } | undefined;
if (calibrate > 0) {
  const cmd = 'echo calib x y z > "$OUTPUT/out"';
  let sb = 0;
  for (let i = 0; i < calibrate; i++) {
    const t = performance.now();
    const { top } = await sandboxed(cmd, 1);
    sb += performance.now() - t;
    await fs.rm(top, { recursive: true, force: true });
  }
  const plainDir = await stagingDir(st, 'plain');
  let pl = 0;
  for (let i = 0; i < calibrate; i++) {
    const t = performance.now();
    await new Promise<void>((resolve, reject) => {
      const c = spawn('/bin/sh', ['-c', cmd], {
        env: { OUTPUT: plainDir, PATH: '/usr/bin:/bin' },
        stdio: 'ignore',
      });
      c.on('error', reject);
      c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sh exited ${code}`))));
    });
    pl += performance.now() - t;
  }
  await fs.rm(plainDir, { recursive: true, force: true });
  calibration = {
    runs: calibrate,
    sandboxMs: sb / calibrate,
    plainMs: pl / calibrate,
    overheadMs: (sb - pl) / calibrate,
  };
}

await worlds?.close();
const counts: Record<string, number> = {};
for (const r of res.results.values()) counts[r.status] = (counts[r.status] ?? 0) + 1;
process.stdout.write(
  JSON.stringify({
    inProcessS,
    worldSetupS,
    worldMount,
    sharedWorld: Boolean(worlds && composefs),
    outputAs,
    world: world.root,
    executed,
    counts,
    makespanMs: res.makespanMs,
    meanSandboxMs: executed ? sandboxMsTotal / executed : 0,
    meanIngestMs: executed ? ingestMsTotal / executed : 0,
    meanExecutorMs: executed ? executorMsTotal / executed : 0,
    ...(calibration ? { calibration } : {}),
  }) + '\n',
);
