/**
 * bench/swap: the swap against rebuilding, in one run.
 *
 * 1. The curl composition of `npm run demo` (EOS_DEMO_DIR, default .eos-demo) with OpenSSL 3.0.22
 *    built (`npm run demo:swap` builds it): swap + proof + re-root + sign + image, cold (a user's
 *    first swap after building the new OpenSSL: no rest view kept, nothing of the new node cached;
 *    see emptySwapCaches), colder (no interface manifest cached at all) and warm (median of 5), against rebuilding curl alone in
 *    the same sandboxed world with the same dependency trees (`eos build-atom`, the cost Nix and
 *    Guix pay for every dependent of a changed library). `--no-rebuild` takes the demo's own
 *    recorded curl build instead. `--copy-store` works on a hard-linked copy of the demo's store
 *    (the demo directory is then only read).
 * 2. Synthetic compositions (host libc, a gcc-built libfoo.so.1, N dependent entries each holding
 *    one gcc-built program linked against it), stored with their soname index as `eos build
 *    --compose` does: N = 100 and 1,000; and each beside 1,000 unrelated entries (programs that need
 *    only libc), to show that the cost follows the consumers, not the rest of the composition
 *    (`--rows=5`: N = 100 beside 256 MiB of other files).
 *
 * Run: `npx tsx bench/swap/swap.bench.ts [--no-rebuild] [--copy-store] [--skip-curl]
 * [--skip-synthetic] [--rows=1,2,3,4]` (root: images and the sandbox). Prints one line per
 * measurement and the ratios, and writes bench/out/swap.json for bench/run-all.sh's table. */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { mkdtempSync } from 'node:fs';
import { Store, digestHex, objectsOfTree, verifiedRecord, type Digest } from '../../src/kernel/index.ts';
import { interfaceCacheKey } from '../../extractors/index.ts';
import {
  CompositionStore,
  checkSwaps,
  compositionImage,
  imageCachePath,
  makeComposition,
  sonameIndex,
  swapEntry,
  type EntryNode,
} from '../../composer/index.ts';
import { findAtomOutputs } from '../../scheduler/index.ts';
import { median } from '../timing.ts';

const repo = join(import.meta.dirname, '..', '..');
const args = new Set(process.argv.slice(2));
const eosBin = join(repo, 'bin', 'eos.mjs');

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;
const load = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
/** Rows for bench/run-all.sh's table (bench/table.mjs). */
const tableRows: object[] = [];

/** One full swap: proof, new composition stored, signed, image written (image cache removed first). */
async function swapOnce(
  cs: CompositionStore,
  config: string,
  key: string,
  root: Digest,
  name: string,
  node: EntryNode,
): Promise<{
  ms: number;
  swapMs: number;
  proofMs: number;
  consumers: number;
  symbols: number;
  root: Digest;
}> {
  const t0 = process.hrtime.bigint();
  const r = await swapEntry(cs, root, name, node);
  const swapMs = ms(t0);
  await cs.sign(r.root, config, key, 'compositions');
  const img = imageCachePath(cs, r.root);
  rmSync(img, { force: true });
  await compositionImage(cs, r.root);
  const total = ms(t0);
  // The proof alone, as a reader re-checks it (both views merged in memory, nothing written).
  const t1 = process.hrtime.bigint();
  await checkSwaps(cs, r.root);
  return {
    ms: total,
    swapMs,
    proofMs: ms(t1),
    consumers: r.proof!.checked.consumers,
    symbols: r.proof!.checked.symbols,
    root: r.root,
  };
}

/**
 * Cold, as a user's first swap after `eos build` meets it: the kept rest views
 * (specs/composition.md §10) gone, and of the new node nothing cached: not its interface manifest
 * (the build of the new OpenSSL does not extract one; composing the old composition extracted every
 * old entry's, and its soname index is kept, as `eos build --compose` leaves both), nor the
 * fs-verity digests and verified-object marks of its blobs. `all: true` also empties every
 * entry's interface manifest (colder than any user meets: reported beside it).
 */
async function emptySwapCaches(store: Store, fresh: Digest | null, all = false): Promise<void> {
  rmSync(join(store.root, 'cache', 'rest-view'), { recursive: true, force: true });
  if (all) rmSync(join(store.root, 'cache', 'interface'), { recursive: true, force: true });
  if (fresh === null) return;
  const hex = digestHex(interfaceCacheKey(fresh));
  rmSync(join(store.root, 'cache', 'interface', hex.slice(0, 2), hex.slice(2)), { force: true });
  const blobs = new Set([...(await objectsOfTree(store, fresh))].map((u) => digestHex(u.digest)));
  verifiedRecord(store).compact((f) => !((f[0] === 'v' || f[0] === 'o') && blobs.has(f[1]!)));
}

async function curlPart(): Promise<void> {
  const demo = process.env.EOS_DEMO_DIR ?? join(repo, '.eos-demo');
  const work = join(demo, 'work');
  let config = join(demo, 'config');
  let storeDir = join(demo, 'store');
  if (args.has('--copy-store')) {
    // Objects are never written in place (temp + rename), so hard links keep the demo's intact.
    const copy = mkdtempSync(join(tmpdir(), 'eos-bench-swap-demo-'));
    execFileSync('cp', ['-al', storeDir, join(copy, 'store')]);
    execFileSync('cp', ['-a', config, join(copy, 'config')]);
    storeDir = join(copy, 'store');
    config = join(copy, 'config');
    console.log(`curl	working on a hard-linked copy of the demo store: ${storeDir}`);
  }
  const store = new Store(storeDir);
  const cs = new CompositionStore(store);
  process.env.EOS_CONFIG_DIR = config;
  const env = { ...process.env, EOS_STORE: store.root, EOS_CONFIG_DIR: config };
  if (!existsSync(join(work, 'root', 'runtime.toml'))) {
    console.log(`curl\tskipped: no ${work}/root/runtime.toml (run npm run demo and npm run demo:swap)`);
    return;
  }
  const root = execFileSync(eosBin, ['compose', join(work, 'root', 'runtime.toml')], {
    env,
    encoding: 'utf8',
  }).trim() as Digest;
  const found = await findAtomOutputs(store, 'openssl', '3.0.22');
  if (found.length === 0) {
    console.log('curl\tskipped: OpenSSL 3.0.22 is not built (npm run demo:swap builds it)');
    return;
  }
  const node: EntryNode = { kind: 'tree', digest: found[0]!.output };
  // The index `eos build --compose` stores (a demo built before it did gets it here, once).
  await sonameIndex(store, await cs.load(root));
  await emptySwapCaches(store, node.digest);
  const cold = await swapOnce(cs, config, 'demo', root, 'openssl', node);
  await emptySwapCaches(store, node.digest, true);
  const coldAll = await swapOnce(cs, config, 'demo', root, 'openssl', node);
  const warm: number[] = [];
  const proofs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const w = await swapOnce(cs, config, 'demo', root, 'openssl', node);
    warm.push(w.ms);
    proofs.push(w.proofMs);
  }
  console.log(
    `curl swap\tcold ${cold.ms.toFixed(0)} ms (no interface manifest cached at all: ${coldAll.ms.toFixed(0)} ms)\twarm median ${median(warm).toFixed(0)} ms (5 runs: ${warm.map((x) => x.toFixed(0)).join(', ')}; proof alone ${median(proofs).toFixed(0)} ms)\t${cold.consumers} consumer(s), ${cold.symbols} symbol(s)\troot ${cold.root}`,
  );
  const c = await cs.load(root);
  const tree = (n: string): string => (c.entries[n]!.node as { digest: Digest }).digest;
  const recorded = JSON.parse(readFileSync(join(work, 'build1.json'), 'utf8')) as {
    events: { type: string; label: string; durationMs?: number }[];
  };
  const firstBuild = recorded.events.find((e) => e.type === 'ok' && e.label === 'curl')?.durationMs;
  const rows = (peer: number, how: string): void => {
    for (const [what, t] of [
      ['cold', cold.ms],
      ['warm', median(warm)],
    ] as const)
      tableRows.push({
        measure: `swap: openssl in the curl composition (${what}) vs rebuilding curl (${how})`,
        eos: t / 1000,
        peer: peer / 1000,
        unit: 's',
        ratio: peer / t,
        goal: '>= 100x faster',
        met: peer / t >= 100,
      });
  };
  if (args.has('--no-rebuild')) {
    if (firstBuild) {
      console.log(
        `curl rebuild\tnot run (--no-rebuild); the demo's own curl build took ${(firstBuild / 1000).toFixed(1)} s\tratio ${(firstBuild / cold.ms).toFixed(0)}× cold, ${(firstBuild / median(warm)).toFixed(0)}× warm`,
      );
      rows(firstBuild, "the demo's recorded build");
    }
    return;
  }
  const t0 = process.hrtime.bigint();
  const r = spawnSync(
    eosBin,
    [
      'build-atom',
      join(work, 'atoms', 'curl'),
      '--seed-lock',
      join(work, 'root', 'seed.lock'),
      '--dep',
      `openssl=${tree('openssl')}`,
      '--dep',
      `zlib=${tree('zlib')}`,
    ],
    { env, encoding: 'utf8' },
  );
  const rebuild = ms(t0);
  if (r.status !== 0) {
    console.log(`curl rebuild\tFAILED (exit ${r.status}): ${r.stderr.slice(-400)}`);
    return;
  }
  console.log(
    `curl rebuild\t${(rebuild / 1000).toFixed(1)} s (eos build-atom curl, sandboxed, same world and dependency trees)${firstBuild ? `; the demo's first build: ${(firstBuild / 1000).toFixed(1)} s` : ''}`,
  );
  console.log(
    `curl ratio\trebuild / swap: ${(rebuild / cold.ms).toFixed(0)}× (cold), ${(rebuild / median(warm)).toFixed(0)}× (warm); goal ≥ 100×`,
  );
  rows(rebuild, 'eos build-atom, this run');
}

/** The synthetic fixture: host libc, libfoo, and N dependents (+ unrelated entries or bulk files). */
async function synthetic(
  base: string,
  n: number,
  extra: { unrelated?: number; bulkMiB?: number },
): Promise<{
  ms: number;
  swapMs: number;
  proofMs: number;
  cold: number;
  coldSwap: number;
  consumers: number;
  symbols: number;
}> {
  const dir = mkdtempSync(join(base, `syn-${n}-`));
  const store = new Store(join(dir, 'store'));
  const cs = new CompositionStore(store);
  const config = join(dir, 'config');
  mkdirSync(config, { recursive: true });
  execFileSync(eosBin, ['key', 'generate', 'bench'], {
    env: { ...process.env, EOS_CONFIG_DIR: config, EOS_STORE: store.root },
  });
  const src = join(base, 'src');
  const lib = 'usr/lib/x86_64-linux-gnu';
  const pkgs = join(dir, 'pkgs');
  const libc = join(pkgs, 'libc');
  mkdirSync(join(libc, lib), { recursive: true });
  mkdirSync(join(libc, 'usr/lib64'), { recursive: true });
  for (const f of ['libc.so.6', 'ld-linux-x86-64.so.2'])
    copyFileSync(join('/lib/x86_64-linux-gnu', f), join(libc, lib, f));
  for (const [at, to] of [
    ['bin', 'usr/bin'],
    ['lib', 'usr/lib'],
    ['lib64', 'usr/lib64'],
    ['usr/lib64/ld-linux-x86-64.so.2', '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2'],
  ] as const)
    symlinkSync(to, join(libc, at));
  const entries: Record<string, unknown> = {};
  const tree = async (name: string, d: string): Promise<Digest> => {
    const t = (await store.ingest(d)).digest;
    entries[name] = { at: '/', node: { kind: 'tree', digest: t }, constraint: { kind: 'exact', digest: t } };
    return t;
  };
  await tree('libc', libc);
  mkdirSync(join(pkgs, 'foo', lib), { recursive: true });
  copyFileSync(join(src, 'libfoo-v1.so'), join(pkgs, 'foo', lib, 'libfoo.so.1'));
  await tree('foo', join(pkgs, 'foo'));
  const app = readFileSync(join(src, 'app'));
  const plain = readFileSync(join(src, 'plain'));
  for (let i = 0; i < n; i++) {
    const d = join(pkgs, `dep${i}`, 'usr/bin');
    mkdirSync(d, { recursive: true });
    // Distinct bytes per dependent (a trailing tag after the ELF contents).
    writeFileSync(join(d, `dep${i}`), Buffer.concat([app, Buffer.from(`\0dep${i}`)]), { mode: 0o755 });
    await tree(`dep${i}`, join(pkgs, `dep${i}`));
  }
  for (let i = 0; i < (extra.unrelated ?? 0); i++) {
    const d = join(pkgs, `other${i}`, 'usr/bin');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `other${i}`), Buffer.concat([plain, Buffer.from(`\0other${i}`)]), { mode: 0o755 });
    await tree(`other${i}`, join(pkgs, `other${i}`));
  }
  if (extra.bulkMiB) {
    const d = join(pkgs, 'bulk', 'usr/share/bulk');
    mkdirSync(d, { recursive: true });
    const chunk = Buffer.alloc(1 << 20);
    for (let i = 0; i < extra.bulkMiB; i++) {
      chunk.writeUInt32LE(i, 0);
      writeFileSync(join(d, `f${i}.dat`), chunk);
    }
    await tree('bulk', join(pkgs, 'bulk'));
  }
  const composition = makeComposition({ version: 1, entries, precedence: [] });
  const root = (await cs.save(composition)).root;
  // As `eos build --compose` leaves it: the composition's soname index stored.
  await sonameIndex(store, composition);
  await emptySwapCaches(store, null);
  mkdirSync(join(pkgs, 'foo2', lib), { recursive: true });
  copyFileSync(join(src, 'libfoo-v2.so'), join(pkgs, 'foo2', lib, 'libfoo.so.1'));
  const node: EntryNode = { kind: 'tree', digest: (await store.ingest(join(pkgs, 'foo2'))).digest };
  process.env.EOS_CONFIG_DIR = config;
  const cold = await swapOnce(cs, config, 'bench', root, 'foo', node);
  const warm: number[] = [];
  const swaps: number[] = [];
  const proofs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const w = await swapOnce(cs, config, 'bench', root, 'foo', node);
    warm.push(w.ms);
    swaps.push(w.swapMs);
    proofs.push(w.proofMs);
  }
  rmSync(dir, { recursive: true, force: true });
  return {
    ms: median(warm),
    swapMs: median(swaps),
    proofMs: median(proofs),
    cold: cold.ms,
    coldSwap: cold.swapMs,
    consumers: cold.consumers,
    symbols: cold.symbols,
  };
}

async function syntheticPart(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'eos-bench-swap-'));
  const src = join(base, 'src');
  mkdirSync(src, { recursive: true });
  writeFileSync(
    join(src, 'foo.c'),
    'int foo_table[4] = {1, 2, 3, 4};\nint foo_a(int x){return x+1;}\nint foo_b(int x){return x+2;}\n',
  );
  writeFileSync(join(src, 'foo.map'), 'FOO_1.0 { global: foo_a; foo_b; foo_table; local: *; };\n');
  for (const [out, extra] of [
    ['libfoo-v1.so', ''],
    ['libfoo-v2.so', 'int foo_c(int x){return x+3;}\n'],
  ] as const) {
    writeFileSync(join(src, 'foo-x.c'), readFileSync(join(src, 'foo.c'), 'utf8') + extra);
    execFileSync('gcc', [
      '-shared',
      '-fPIC',
      '-O1',
      '-o',
      join(src, out),
      join(src, 'foo-x.c'),
      '-Wl,-soname,libfoo.so.1',
      `-Wl,--version-script=${join(src, 'foo.map')}`,
    ]);
  }
  copyFileSync(join(src, 'libfoo-v1.so'), join(src, 'libfoo.so.1'));
  writeFileSync(
    join(src, 'app.c'),
    '#include <stdio.h>\nextern int foo_table[4];int foo_a(int);int foo_b(int);\nint main(void){printf("%d\\n", foo_a(1)+foo_b(1)+foo_table[3]);return 0;}\n',
  );
  execFileSync('gcc', ['-O1', '-o', join(src, 'app'), join(src, 'app.c'), `-L${src}`, '-l:libfoo.so.1']);
  writeFileSync(join(src, 'plain.c'), '#include <stdio.h>\nint main(void){puts("plain");return 0;}\n');
  execFileSync('gcc', ['-O1', '-o', join(src, 'plain'), join(src, 'plain.c')]);
  const rows: [string, number, { unrelated?: number; bulkMiB?: number }][] = [
    ['100 dependents', 100, {}],
    ['1,000 dependents', 1000, {}],
    ['100 dependents + 1,000 unrelated entries', 100, { unrelated: 1000 }],
    ['1,000 dependents + 1,000 unrelated entries', 1000, { unrelated: 1000 }],
    ['100 dependents + 256 MiB of other files', 100, { bulkMiB: 256 }],
  ];
  const results = new Map<number, Awaited<ReturnType<typeof synthetic>>>();
  // --rows=1,3: only those rows (1-based), for a partial rerun; rows 1–4 by default.
  const only = process.argv.find((a) => a.startsWith('--rows='));
  const pick = new Set(only ? only.slice(7).split(',').map(Number) : [1, 2, 3, 4]);
  for (const [i, [title, n, extra]] of rows.entries()) {
    if (!pick.has(i + 1)) continue;
    const r = await synthetic(base, n, extra);
    results.set(i + 1, r);
    console.log(
      `synthetic\t${title}\twarm median ${r.ms.toFixed(0)} ms: swap ${r.swapMs.toFixed(0)} ms + sign + image (re-check alone ${r.proofMs.toFixed(0)} ms)\tcold ${r.cold.toFixed(0)} ms (swap ${r.coldSwap.toFixed(0)} ms)\t${r.consumers} consumer(s), ${r.symbols} symbol(s)\tload ${load()}`,
    );
  }
  // Against the same number of consumers without the other entries: the swap (proof + new root)
  // and the re-check are to follow the consumers (goal: within 1.5× with 1,000 more entries).
  const versus = (a: number, b: number, what: string, goals: boolean): void => {
    const x = results.get(a);
    const y = results.get(b);
    if (!x || !y) return;
    const line: string[] = [];
    for (const [m, ex, ey, goal] of [
      ['swap (proof + new root), warm', x.swapMs, y.swapMs, 1.5],
      ['re-check (compose verify), warm', x.proofMs, y.proofMs, 1.5],
      ['swap + sign + image, warm', x.ms, y.ms, null],
      ['swap, cold', x.coldSwap, y.coldSwap, null],
    ] as const) {
      line.push(`${m} ${(ex / ey).toFixed(2)}×`);
      tableRows.push({
        measure: `swap: ${m}, ${rows[a - 1]![0]} vs ${rows[b - 1]![0]}`,
        eos: ex / 1000,
        peer: ey / 1000,
        unit: 's',
        ratio: ex / ey,
        goal: goal === null || !goals ? undefined : `<= ${goal}x`,
        met: goal === null || !goals ? null : ex / ey <= goal,
      });
    }
    console.log(`synthetic ratios\t${what}\t${line.join('\t')}`);
  };
  versus(2, 1, '1,000 / 100 dependents', false);
  versus(3, 1, '+1,000 unrelated entries (100 dependents)', true);
  versus(4, 2, '+1,000 unrelated entries (1,000 dependents)', true);
  versus(5, 1, '+256 MiB of other files (100 dependents)', true);
  rmSync(base, { recursive: true, force: true });
}

console.log(`load before: ${load()}`);
if (!args.has('--skip-curl')) await curlPart();
if (!args.has('--skip-synthetic')) await syntheticPart();
console.log(`load after: ${load()}`);
mkdirSync(join(repo, 'bench', 'out'), { recursive: true });
writeFileSync(join(repo, 'bench', 'out', 'swap.json'), JSON.stringify({ rows: tableRows }, null, 2) + '\n');
