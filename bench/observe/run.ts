/**
 * bench/observe: builds observed (the FUSE world server, specs/observe.md) against the same builds
 * in unobserved composefs worlds, in one run: zlib and curl from a built lock (the demo's), each
 * atom built once per mode, alternating, with the dependencies' outputs from the action cache and
 * one more world entry, `dep.idle` (a tree with one file that nothing uses), in both modes.
 * Checks that both modes give the same output tree, and reports each read set's size.
 * Goal: observed wall time ≤ 1.3× unobserved. Writes bench/out/observe.json (bench/table.mjs rows).
 *
 * Each observed build's record is filed in the action cache under its action id (the lock's key
 * over its dependencies' outputs and `idle`), as `eos build --observe` files it; then the bench runs
 * the real CLI, `eos why zlib`, `eos why curl` and `eos why curl PATH` for a few paths, prints what
 * they said (also in bench/out/observe-why.txt) and checks known facts both ways (curl's build read
 * `/usr/include/zlib.h` from dep.zlib and OpenSSL's headers from dep.openssl, used the compiler of
 * the seed, never touched dep.idle nor perl's modules; many seed entries are prunable). A check that
 * does not hold is printed as `CHECK FAILED` and the exit status is 1.
 *
 * Usage: npx tsx bench/observe/run.ts LOCK [--labels zlib,curl] [--runs N] [--checks-only]
 *   (store: $EOS_STORE; the seed lock beside LOCK; apt state: $EOS_BENCH_APT_DIR or STORE/cache/apt)
 *   --checks-only: no builds; only the `eos why` checks over the records of an earlier run.
 * Needs root, bwrap, /dev/fuse, and the lock built once (`eos build LOCK`, e.g. by `npm run demo`).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Store, storeDir, type Digest } from '../../src/kernel/index.ts';
import { buildAtom, observeAvailable, readSeedLock, type BuildResult } from '../../executor/index.ts';
import { findAtomOutputs, storeRebuilder } from '../../scheduler/index.ts';
import { executorSources, loadBuildGraph, lockActionKey, type BuildNode } from '../../src/build/index.ts';

const GOAL = 1.3;
const REPO = join(import.meta.dirname, '..', '..');

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

/** The idle entry: one file nothing reads, in both modes' worlds. */
async function idleTree(store: Store): Promise<Digest> {
  const d = mkdtempSync(join(tmpdir(), 'eos-bench-idle-'));
  try {
    mkdirSync(join(d, 'usr/share/idle'), { recursive: true });
    writeFileSync(join(d, 'usr/share/idle/README'), 'an entry of the world that no build uses\n');
    return (await store.ingest(d)).digest;
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

/** Runs the real CLI (`bin/eos.mjs`) on the bench's store; its stdout lines and exit status. */
function eos(store: Store, args: string[]): { lines: string[]; code: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [join(REPO, 'bin/eos.mjs'), '--store', store.root, ...args], {
    encoding: 'utf8',
  });
  return { lines: r.stdout.split('\n').filter(Boolean), code: r.status, stderr: r.stderr };
}

/**
 * `eos why` over the observed records: prints what it said, checks the known facts, returns the
 * failed checks (empty when all hold) and the text printed.
 */
function whyChecks(store: Store, labels: readonly string[]): { failed: string[]; text: string[] } {
  const failed: string[] = [];
  const text: string[] = [];
  const check = (ok: boolean, what: string) => {
    text.push(`${ok ? 'check ok' : 'CHECK FAILED'}\t${what}`);
    if (!ok) failed.push(what);
  };
  const show = (args: string[]) => {
    const r = eos(store, args);
    text.push(`$ eos ${args.join(' ')}   (exit ${r.code})`, ...r.lines);
    if (r.code !== 0) text.push(r.stderr.trim());
    return r;
  };
  const used = (lines: string[], entry: string) => lines.some((l) => l.startsWith(`used\t${entry}\t`));
  const unused = (lines: string[], entry: string) => lines.some((l) => l.startsWith(`unused\t${entry}\t`));
  const seedUse = (lines: string[]) => ({
    used: lines.filter((l) => l.startsWith('used\tseed.')).length,
    unused: lines.filter((l) => l.startsWith('unused\tseed.')).length,
  });
  for (const label of labels) {
    const w = show(['why', label]);
    check(w.code === 0, `eos why ${label} exits 0`);
    const s = seedUse(w.lines);
    text.push(`${label}: ${s.used} seed entries used, ${s.unused} never touched`);
    for (const e of ['seed.gcc-12', 'seed.libc6-dev', 'seed.make', 'seed.dash'])
      check(used(w.lines, e), `${label}'s build used ${e}`);
    check(unused(w.lines, 'seed.perl-modules-5.36'), `${label}'s build never touched seed.perl-modules-5.36`);
    check(unused(w.lines, 'dep.idle'), `${label}'s build never touched dep.idle`);
    check(s.unused >= 10, `${label}: at least 10 seed entries never touched (${s.unused})`);
    const idle = show(['why', label, '/usr/share/idle/README']);
    check(
      idle.lines[0] === 'path\t/usr/share/idle/README\tdep.idle\tnot touched',
      `${label}: /usr/share/idle/README is dep.idle's, not touched`,
    );
  }
  if (labels.includes('curl')) {
    const w = eos(store, ['why', 'curl']).lines;
    check(used(w, 'dep.zlib'), 'curl used dep.zlib');
    check(used(w, 'dep.openssl'), 'curl used dep.openssl');
    const z = show(['why', 'curl', '/usr/include/zlib.h']);
    check(
      z.lines[0] === 'path\t/usr/include/zlib.h\tdep.zlib\tread',
      'curl read /usr/include/zlib.h from dep.zlib',
    );
    const o = show(['why', 'curl', '/usr/include/openssl/ssl.h']);
    check(
      o.lines[0] === 'path\t/usr/include/openssl/ssl.h\tdep.openssl\tread',
      'curl read /usr/include/openssl/ssl.h from dep.openssl',
    );
  }
  return { failed, text };
}

async function main(): Promise<void> {
  const lockPath = resolve(process.argv[2] ?? '.eos-demo/work/root/eos.lock');
  const labels = (arg('--labels') ?? 'zlib,curl').split(',');
  const runs = Number(arg('--runs') ?? '1');
  const checksOnly = process.argv.includes('--checks-only');
  const avail = observeAvailable();
  if (!avail.ok) throw new Error(`bench/observe: ${avail.reason}`);
  const store = new Store(storeDir());
  const seed = await readSeedLock(join(dirname(lockPath), 'seed.lock'));
  const aptDir = process.env.EOS_BENCH_APT_DIR ?? join(store.root, 'cache', 'apt');
  const staging = mkdtempSync(join(tmpdir(), 'eos-bench-observe-'));
  const rows: Record<string, unknown>[] = [];
  const key = lockActionKey(seed);
  const rebuilder = storeRebuilder(store);
  const idle = await idleTree(store);
  try {
    const nodes = new Map((await loadBuildGraph(lockPath, staging)).map((n) => [n.label, n]));
    for (const label of checksOnly ? [] : labels) {
      const n: BuildNode | undefined = nodes.get(label);
      if (!n) throw new Error(`bench/observe: ${label} is not in ${lockPath}`);
      const deps: { name: string; tree: BuildResult['output'] }[] = [];
      for (const d of n.deps) {
        const dep = nodes.get(d)!;
        const out = (await findAtomOutputs(store, dep.label, dep.version))[0];
        if (!out)
          throw new Error(
            `bench/observe: ${label}'s dependency ${d} is not built: run eos build ${lockPath}`,
          );
        deps.push({ name: d, tree: out.output });
      }
      deps.push({ name: 'idle', tree: idle });
      // The action id `eos build` would give this world (the lock's key; idle is one more dependency).
      const action = await key(n, Object.fromEntries(deps.map((d) => [d.name, d.tree])));
      const once = async (worldMount: 'composefs' | 'observed') => {
        const t0 = performance.now();
        const r = await buildAtom({
          store,
          seed,
          label: n.label,
          version: n.version,
          recipe: n.manifest.build.recipe,
          args: n.manifest.build.args,
          sources: n.manifest.source.length
            ? executorSources(n.manifest, n.label)
            : [{ kind: 'path', path: n.dir, digest: n.dirDigest }],
          deps,
          baseDir: n.dir,
          aptDir,
          worldMount,
          ...(worldMount === 'observed' ? { actionId: action } : {}),
        });
        return { r, s: (performance.now() - t0) / 1000 };
      };
      let plain = Infinity;
      let observed = Infinity;
      let outputs = new Set<string>();
      let reads = 0;
      for (let i = 0; i < runs; i++) {
        const a = await once('composefs');
        const b = await once('observed');
        plain = Math.min(plain, a.s);
        observed = Math.min(observed, b.s);
        outputs = new Set([...outputs, a.r.output, b.r.output]);
        reads = b.r.observed!.readSet.paths.length;
        // Filed as `eos build --observe` files it (the executor's record, with its read set).
        await rebuilder.record(b.r.record);
        console.log(
          `${label}: composefs ${a.s.toFixed(1)} s, observed ${b.s.toFixed(1)} s, ${reads} paths in the read set ${b.r.record.details.readSet}`,
        );
      }
      if (outputs.size !== 1)
        throw new Error(
          `bench/observe: ${label}: observed and unobserved outputs differ: ${[...outputs].join(' ')}`,
        );
      const ratio = observed / plain;
      rows.push({
        measure: `observe: ${label} build observed (FUSE) vs composefs world (${reads} paths read)`,
        eos: observed,
        peer: plain,
        unit: 's',
        ratio,
        goal: `≤ ${GOAL}`,
        met: ratio <= GOAL,
      });
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  const out = join(import.meta.dirname, '..', 'out');
  mkdirSync(out, { recursive: true });
  if (!checksOnly) writeFileSync(join(out, 'observe.json'), JSON.stringify({ rows }, null, 2) + '\n');
  for (const r of rows) console.log(JSON.stringify(r));
  const { failed, text } = whyChecks(store, labels);
  writeFileSync(join(out, 'observe-why.txt'), text.join('\n') + '\n');
  console.log(text.join('\n'));
  if (failed.length) {
    console.error(`bench/observe: ${failed.length} check(s) failed: ${failed.join('; ')}`);
    process.exitCode = 1;
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
