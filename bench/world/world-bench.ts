/**
 * bench/world: the set-up time of a build world (~6k files) two ways, in one run:
 * - hard-link materialization of the merged view (`Store.materialize`, the non-root fallback),
 *   with `cp -a` of the same view as the copy peer;
 * - mounting its composefs image (EROFS loop mount + overlay over the store's objects, composefs's
 *   `mountImage`), and unmounting it;
 * then the end-to-end cost of `eos run`-style execution of `/usr/bin/true` in each world.
 * Prints seconds (median of RUNS) and ratios. Needs root for the mount path.
 *
 * Usage: npx tsx bench/world/world-bench.ts [DIR…]   (default: a ~6.5k-file set of host dirs)
 * Env: RUNS (default 5), EOS_BENCH_DIR (scratch directory, default under $TMPDIR).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../src/kernel/index.ts';
import {
  CompositionStore,
  compositionImage,
  mountImage,
  parseCompositionToml,
  runMaterialized,
  runMounted,
  unmountImage,
} from '../../composer/index.ts';
import { median, time } from '../timing.ts';

const DEFAULT_DIRS = [
  '/usr/bin',
  '/usr/lib/gcc',
  '/usr/lib/python3',
  '/usr/share/perl',
  '/usr/include/linux',
  '/usr/include/c++',
];
const RUNS = Number(process.env.RUNS ?? 5);

function fmt(s: number): string {
  return s < 1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(3)} s`;
}

async function main(): Promise<void> {
  const dirs = process.argv.slice(2).length ? process.argv.slice(2) : DEFAULT_DIRS;
  const scratch = process.env.EOS_BENCH_DIR ?? mkdtempSync(join(tmpdir(), 'eos-bench-world-'));
  mkdirSync(scratch, { recursive: true });
  const store = new Store(join(scratch, 'store'));
  const cs = new CompositionStore(store);
  // The world: the dirs at their own paths, plus the libc closure of /usr/bin/true.
  const lines: string[] = [];
  dirs.forEach((d, i) => lines.push(`[entries.d${i}]`, `at = "${d}"`, `path = "${d}"`, ''));
  const ldd = execFileSync('ldd', ['/usr/bin/true'], { encoding: 'utf8' });
  let n = 0;
  for (const m of ldd.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g))
    if (!dirs.some((d) => m[1]!.startsWith(d + '/')))
      lines.push(`[entries.lib${n++}]`, `at = "${m[1]}"`, `path = "${realpathSync(m[1]!)}"`, '');
  const tomlPath = join(scratch, 'world.toml');
  writeFileSync(tomlPath, lines.join('\n'));
  let root = '' as Awaited<ReturnType<CompositionStore['save']>>['root'];
  const ingest = await time(async () => {
    const c = await cs.resolveAuthored(parseCompositionToml(lines.join('\n'), tomlPath), scratch, tomlPath);
    root = (await cs.save(c)).root;
  });
  const view = await cs.view(root);
  const files = Number(
    execFileSync('sh', ['-c', `find ${dirs.join(' ')} -type f | wc -l`], { encoding: 'utf8' }),
  );
  console.log(`world: ${dirs.join(' ')} (+${n} libc files): ~${files} files; root ${root}`);
  console.log(`ingest + compose: ${fmt(ingest)}`);
  const imageFirst = await time(() => compositionImage(cs, root));
  console.log(`image written (first, fs-verity digests computed): ${fmt(imageFirst)}`);
  rmSync((await compositionImage(cs, root)).path);
  const imageWarm = await time(() => compositionImage(cs, root));
  console.log(`image written (fs-verity digests cached): ${fmt(imageWarm)}`);
  const image = (await compositionImage(cs, root)).path;

  const link: number[] = [];
  const copy: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const d = join(scratch, `link-${i}`);
    link.push(await time(() => store.materialize(view.tree, d)));
    const c = join(scratch, `copy-${i}`);
    copy.push(await time(() => spawnSync('cp', ['-a', d, c])));
    rmSync(d, { recursive: true, force: true });
    rmSync(c, { recursive: true, force: true });
  }
  console.log(
    `hard-link materialization: ${fmt(median(link))}   (cp -a of the same world: ${fmt(median(copy))})`,
  );

  const isRoot = process.getuid?.() === 0;
  if (!isRoot) {
    console.log('mount path skipped: needs root');
    return;
  }
  const mnt = join(scratch, 'mnt');
  mkdirSync(mnt);
  const mount: number[] = [];
  const umount: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    mount.push(await time(() => mountImage(image, store.dir('objects'), mnt)));
    umount.push(await time(() => unmountImage(mnt)));
  }
  console.log(
    `mount image from node (mountImage: 3 mount(8) spawns): ${fmt(median(mount))}   unmount: ${fmt(median(umount))}`,
  );
  // The same mounts timed inside one shell: the cost of mount(8) and the kernel, without node's
  // process-spawn overhead.
  const meta = join(scratch, 'meta');
  mkdirSync(meta);
  const script = `t0=$(date +%s%N); mount -t erofs -o ro,loop,noacl "$1" "$2"; mount -t overlay composefs -o "lowerdir=$2::$3,redirect_dir=on,metacopy=on" "$4"; umount -l "$2"; t1=$(date +%s%N); umount "$4"; echo $(( t1 - t0 ))`;
  const inShell: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const out = execFileSync('sh', ['-c', script, 'sh', image, meta, store.dir('objects'), mnt], {
      encoding: 'utf8',
    });
    inShell.push(Number(out.trim()) / 1e9);
  }
  console.log(`mount image inside one shell (mount(8) + kernel): ${fmt(median(inShell))}`);
  console.log(
    `world set-up ratio, hard-link materialization / mount from node: ${(median(link) / median(mount)).toFixed(1)}x; / mount in one shell: ${(median(link) / median(inShell)).toFixed(1)}x (goal: set-up < 50 ms: node ${median(mount) < 0.05 ? 'met' : 'not met'}, shell ${median(inShell) < 0.05 ? 'met' : 'not met'})`,
  );

  const world = (await cs.world(root)).dir;
  const runM: number[] = [];
  const runL: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    runM.push(await time(() => runMounted(image, store.dir('objects'), { argv: ['/usr/bin/true'] })));
    runL.push(await time(() => runMaterialized(world, { argv: ['/usr/bin/true'] })));
    bare.push(await time(() => spawnSync('/usr/bin/true')));
  }
  console.log(
    `run /usr/bin/true: mounted world ${fmt(median(runM))}, hard-link world (cached) ${fmt(median(runL))}, bare spawn ${fmt(median(bare))}`,
  );
  if (!process.env.EOS_BENCH_DIR) rmSync(scratch, { recursive: true, force: true });
}

await main();
