/**
 * bench/observe: builds observed (the FUSE world server, specs/observe.md) against the same builds
 * in unobserved composefs worlds, in one run: zlib and curl from a built lock (the demo's), each
 * atom built once per mode, alternating, with the dependencies' outputs from the action cache.
 * Checks that both modes give the same output tree, and reports each read set's size.
 * Goal: observed wall time ≤ 1.3× unobserved. Writes bench/out/observe.json (bench/table.mjs rows).
 *
 * Usage: npx tsx bench/observe/run.ts LOCK [--labels zlib,curl] [--runs N]
 *   (store: $EOS_STORE; the seed lock beside LOCK; apt state: $EOS_BENCH_APT_DIR or STORE/cache/apt)
 * Needs root, bwrap, /dev/fuse, and the lock built once (`eos build LOCK`, e.g. by `npm run demo`).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Store, storeDir } from '../../src/kernel/index.ts';
import { buildAtom, observeAvailable, readSeedLock, type BuildResult } from '../../executor/index.ts';
import { findAtomOutputs } from '../../scheduler/index.ts';
import { executorSources, loadBuildGraph, type BuildNode } from '../../src/build/index.ts';

const GOAL = 1.3;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const lockPath = resolve(process.argv[2] ?? '.eos-demo/work/root/eos.lock');
  const labels = (arg('--labels') ?? 'zlib,curl').split(',');
  const runs = Number(arg('--runs') ?? '1');
  const avail = observeAvailable();
  if (!avail.ok) throw new Error(`bench/observe: ${avail.reason}`);
  const store = new Store(storeDir());
  const seed = await readSeedLock(join(dirname(lockPath), 'seed.lock'));
  const aptDir = process.env.EOS_BENCH_APT_DIR ?? join(store.root, 'cache', 'apt');
  const staging = mkdtempSync(join(tmpdir(), 'eos-bench-observe-'));
  const rows: Record<string, unknown>[] = [];
  try {
    const nodes = new Map((await loadBuildGraph(lockPath, staging)).map((n) => [n.label, n]));
    for (const label of labels) {
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
        console.log(
          `${label}: composefs ${a.s.toFixed(1)} s, observed ${b.s.toFixed(1)} s, ${reads} paths in the read set`,
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
  writeFileSync(join(out, 'observe.json'), JSON.stringify({ rows }, null, 2) + '\n');
  for (const r of rows) console.log(JSON.stringify(r));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
