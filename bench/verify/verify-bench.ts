/**
 * bench/verify: the cost of verified reads (specs/store.md §12) for a composition of the demo's
 * size (the world bench's ~6k host files), in one run:
 * - checking every object of the view cold (no record: every file re-hashed), against `b3sum` of
 *   the same object files (the peer: the least any BLAKE3 check of those bytes costs);
 * - checking it warm (the record covers every file: one stat per object);
 * - running `/usr/bin/true` in the composition as `eos run` does (`runComposition`, mounted when
 *   root: image + checks + mount) against mounting the cached image with no check (`runMounted`).
 * Prints seconds (median of RUNS) and writes bench/out/verify.json for bench/run-all.sh's table.
 *
 * Usage: npx tsx bench/verify/verify-bench.ts [DIR…]   Env: RUNS (default 3), EOS_BENCH_DIR.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PRIVATE_DIR, Store, checkObjects, objectsOfTree, type Digest } from '../../src/kernel/index.ts';
import {
  CompositionStore,
  compositionImage,
  parseCompositionToml,
  runComposition,
  runMounted,
} from '../../composer/index.ts';
import { median, time } from '../timing.ts';

const DEFAULT_DIRS = [
  '/usr/bin',
  '/usr/lib/gcc',
  '/usr/lib/python3',
  '/usr/share/perl',
  '/usr/include/linux',
];
const RUNS = Number(process.env.RUNS ?? 3);

async function main(): Promise<void> {
  const dirs = process.argv.slice(2).length ? process.argv.slice(2) : DEFAULT_DIRS;
  const scratch = process.env.EOS_BENCH_DIR ?? mkdtempSync(join(tmpdir(), 'eos-bench-verify-'));
  mkdirSync(scratch, { recursive: true });
  const store = new Store(join(scratch, 'store'));
  const cs = new CompositionStore(store);
  const lines: string[] = [];
  dirs.forEach((d, i) => lines.push(`[entries.d${i}]`, `at = "${d}"`, `path = "${d}"`, ''));
  const ldd = execFileSync('ldd', ['/usr/bin/true'], { encoding: 'utf8' });
  let n = 0;
  for (const m of ldd.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g))
    if (!dirs.some((d) => m[1]!.startsWith(d + '/')))
      lines.push(`[entries.lib${n++}]`, `at = "${m[1]}"`, `path = "${realpathSync(m[1]!)}"`, '');
  const tomlPath = join(scratch, 'world.toml');
  writeFileSync(tomlPath, lines.join('\n'));
  const c = await cs.resolveAuthored(parseCompositionToml(lines.join('\n'), tomlPath), scratch, tomlPath);
  const root: Digest = (await cs.save(c)).root;
  const view = await cs.view(root);
  const uses = await objectsOfTree(store, view.tree);
  const paths = uses.map((u) => store.blobPath(u.digest));
  const listFile = join(scratch, 'objects.list');
  writeFileSync(listFile, paths.join('\0'));
  const bytes = Number(
    execFileSync('sh', ['-c', `xargs -0 du -cb < ${listFile} | tail -1 | cut -f1`], { encoding: 'utf8' }),
  );
  console.log(`composition: ${dirs.join(' ')}: ${uses.length} objects, ${(bytes / 2 ** 20).toFixed(0)} MiB`);
  const forget = (): void => rmSync(join(store.root, PRIVATE_DIR), { recursive: true, force: true });

  const cold: number[] = [];
  const warm: number[] = [];
  const b3: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    b3.push(await time(() => spawnSync('sh', ['-c', `xargs -0 b3sum < ${listFile} > /dev/null`])));
    forget();
    cold.push(await time(() => checkObjects(store, uses)));
    warm.push(await time(() => checkObjects(store, uses)));
  }
  const rows: object[] = [];
  const row = (measure: string, eos: number, peer: number, goalRatio: number): void => {
    const ratio = eos / peer;
    rows.push({ measure, eos, peer, unit: 's', ratio, goal: `<= ${goalRatio}x`, met: ratio <= goalRatio });
  };
  console.log(
    `check cold (every object re-hashed): ${median(cold).toFixed(3)} s; b3sum of the same files: ${median(b3).toFixed(3)} s`,
  );
  console.log(`check warm (record covers every object): ${median(warm).toFixed(3)} s`);
  row('verify: check cold vs b3sum', median(cold), median(b3), 2);
  row('verify: check warm vs b3sum', median(warm), median(b3), 0.25);

  if (process.getuid?.() === 0) {
    const image = (await compositionImage(cs, root)).path;
    const checked: number[] = [];
    const unchecked: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      unchecked.push(await time(() => runMounted(image, store.dir('objects'), { argv: ['/usr/bin/true'] })));
      checked.push(await time(() => runComposition(cs, root, { argv: ['/usr/bin/true'] })));
    }
    console.log(
      `run true, verified (warm record) ${median(checked).toFixed(3)} s vs unverified mount ${median(unchecked).toFixed(3)} s`,
    );
    row('verify: run (warm) vs unverified run', median(checked), median(unchecked), 1.5);
  } else console.log('run rows skipped: mounting needs root');
  mkdirSync('bench/out', { recursive: true });
  writeFileSync('bench/out/verify.json', JSON.stringify({ rows }, null, 2) + '\n');
  if (!process.env.EOS_BENCH_DIR) rmSync(scratch, { recursive: true, force: true });
}

await main();
