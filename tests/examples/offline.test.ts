/**
 * The offline example (examples/offline: libgreet, a tiny C library, and hello, a program linking
 * it; std.make; sources are the atoms' own directories) published into a temporary git repository,
 * locked from a workspace root, built with `eos build --compose` in the host-seeded world, run with
 * `eos run`, then built again all cached. No network. Needs root, bwrap and the host's gcc-12
 * (skips and says so otherwise).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  claimLabel,
  lockWorkspace,
  openRepo,
  publishAtom,
  signerFromKey,
  verifierFromConfig,
} from '../../atoms/index.ts';
import { Store, parseDigest } from '../../src/kernel/index.ts';
import { run } from '../../src/cli/build.ts';
import { runtimeComposition } from '../../src/build/index.ts';
import { parseSeedLock } from '../../executor/index.ts';
import { commitAll, makeConfig, makeRepo, repoRoot } from '../atoms/fixture.ts';
import { hostSeedWorld, testCacheDir } from '../executor/helpers.ts';

const canRun = existsSync('/usr/bin/bwrap') && process.getuid?.() === 0 && existsSync('/usr/bin/gcc-12');
if (!canRun) console.warn('offline example test skipped: needs root, /usr/bin/bwrap and gcc-12');

const example = join(repoRoot, 'examples', 'offline');
let storeDir: string;
let seedLock: string;

beforeAll(async () => {
  if (!canRun) return;
  storeDir = (await hostSeedWorld()).store.root;
  seedLock = join(testCacheDir(), 'seed-host.lock');
}, 600_000);

describe.skipIf(!canRun)('examples/offline from a lock (real sandboxed builds, host seed)', () => {
  it('publishes, locks, builds with --compose, runs hello in the composition, then all cached', async () => {
    const { config, keys } = await makeConfig(['builder'], ['builder']);
    const setDir = makeRepo({ 'README.md': 'the offline example atoms\n' });
    cpSync(join(example, 'libgreet'), join(setDir, 'libgreet'), { recursive: true });
    cpSync(join(example, 'hello'), join(setDir, 'hello'), { recursive: true });
    commitAll(setDir, 'offline example');
    const repo = await openRepo(setDir);
    const signer = await signerFromKey(config, 'builder');
    for (const l of ['libgreet', 'hello']) await claimLabel(repo, l, signer);
    for (const d of ['libgreet', 'hello']) await publishAtom(repo, join(setDir, d), signer);

    const ws = mkdtempSync(join(tmpdir(), 'eos-offline-ws-'));
    cpSync(join(example, 'root'), ws, { recursive: true });
    const { lock } = await lockWorkspace({
      root: ws,
      sets: { examples: `file://${setDir}` },
      verifier: await verifierFromConfig(config),
    });
    expect(Object.keys(lock.atoms).sort()).toEqual(['hello', 'libgreet']);
    expect(lock.atoms.hello!.deps).toEqual(['libgreet']);

    const prev = process.env.EOS_CONFIG_DIR;
    process.env.EOS_CONFIG_DIR = config;
    try {
      const compose = join(ws, 'runtime.toml');
      const build = () =>
        run({
          store: storeDir,
          json: false,
          lock: join(ws, 'eos.lock'),
          seedLock,
          jobs: '2',
          signKey: 'builder',
          compose,
        });
      const first = await build();
      expect(first.exitCode).toBe(0);
      // ok on a cold test store, cached when an earlier run built the same actions.
      const outputs = Object.fromEntries(
        first
          .lines!.filter((l) => /^(ok|cached)\t/.test(l))
          .map((l) => l.split('\t'))
          .map(([, label, out]) => [label!, parseDigest(out!, label!)]),
      );
      expect(Object.keys(outputs).sort()).toEqual(['hello', 'libgreet']);
      const compLine = first.lines!.find((l) => l.startsWith('composition\t'))!;
      const root = compLine.split('\t')[1]!;
      expect(first.notes).toContain(`composition signed by ${keys.builder!.id}`);

      // The composition is the runtime seed entries plus both outputs, and its TOML re-composes to it.
      const seed = parseSeedLock(readFileSync(seedLock), seedLock);
      const expected = runtimeComposition(seed, outputs);
      expect(Object.keys(expected.entries)).toEqual(
        expect.arrayContaining(['hello', 'libgreet', 'seed.libc6', 'seed.fixups']),
      );
      const env = { ...process.env, EOS_STORE: storeDir, EOS_CONFIG_DIR: config };
      const eos = (...args: string[]) =>
        execFileSync(join(repoRoot, 'bin', 'eos.mjs'), args, { env, encoding: 'utf8' });
      expect(eos('compose', compose).trim()).toBe(root);

      // The built program, from the store: no RPATH/RUNPATH, plain sonames.
      const out = mkdtempSync(join(tmpdir(), 'eos-offline-out-'));
      await new Store(storeDir).materialize(outputs.hello!, join(out, 'hello'));
      const dyn = execFileSync('readelf', ['-d', '-W', join(out, 'hello/usr/bin/hello')], {
        encoding: 'utf8',
      });
      expect(dyn).not.toMatch(/RPATH|RUNPATH/);
      const needed = [...dyn.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]).sort();
      expect(needed).toEqual(['libc.so.6', 'libgreet.so.1']);

      // It runs in the composition: the loader finds libgreet.so.1 in /usr/lib/<triplet>.
      expect(eos('run', root, '--', 'hello', 'eos')).toBe('hello, eos\n');

      const second = await build();
      expect(second.exitCode).toBe(0);
      expect(second.lines).toContain(`composition\t${root}\t${compose}`);
      expect(second.lines!.at(-1)).toBe('2 atom(s): 0 ok, 2 cached');
    } finally {
      if (prev === undefined) delete process.env.EOS_CONFIG_DIR;
      else process.env.EOS_CONFIG_DIR = prev;
    }
  }, 600_000);
});
