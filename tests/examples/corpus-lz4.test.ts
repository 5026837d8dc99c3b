/**
 * One corpus package end to end (issue 17): examples/corpus/atoms/lz4 (Debian's orig tarball,
 * upstream's Makefile through std.make) published into a temporary atom set, locked, built by
 * `eos build` in the Debian-seeded world (the demo's seed, shared with the zlib chain test, so the
 * suite's real builds stay zlib plus this one), rebuilt with `--check` (same tree), composed into
 * its runtime composition, smoke-tested there with `eos run` (lz4 --version, a compress/decompress
 * round trip) and its closure checked (`eos closure` exit 0, plain-soname DT_NEEDED, no
 * RPATH/RUNPATH). Needs root, bwrap, dpkg-deb and an apt source (skips and says so otherwise).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  claimLabel,
  lockWorkspace,
  openRepo,
  publishAtom,
  signerFromKey,
  verifierFromConfig,
} from '../../atoms/index.ts';
import { parseDigest } from '../../src/kernel/index.ts';
import { run } from '../../src/cli/build.ts';
import { ensureSeed, readHostAptSources } from '../../executor/index.ts';
import { commitAll, makeConfig, makeRepo, repoRoot } from '../atoms/fixture.ts';
import { testCacheDir, testStore, withDebianSeedLock } from '../executor/helpers.ts';

const canRun =
  existsSync('/usr/bin/bwrap') &&
  process.getuid?.() === 0 &&
  existsSync('/usr/bin/dpkg-deb') &&
  readHostAptSources().length > 0;
if (!canRun) console.warn('corpus lz4 test skipped: needs root, bwrap, dpkg-deb and an apt source');

describe.skipIf(!canRun)('examples/corpus/atoms/lz4 through eos build, eos run and eos closure', () => {
  it('builds lz4 1.9.4 reproducibly; it runs in its runtime composition with a complete closure', async () => {
    const store = testStore();
    const aptDir = join(testCacheDir(), 'apt');
    const ws = mkdtempSync(join(tmpdir(), 'eos-corpus-lz4-'));
    const seedLock = join(ws, 'seed.lock');
    cpSync(join(repoRoot, 'examples', 'seed', 'seed.lock'), seedLock);
    await withDebianSeedLock(() =>
      ensureSeed({ store, mode: 'debian', lockPath: seedLock, aptDir, repinIfGone: true, log: () => {} }),
    );

    const { config } = await makeConfig(['corpus'], ['corpus']);
    const setDir = makeRepo({ 'README.md': 'corpus atoms\n' });
    cpSync(join(repoRoot, 'examples', 'corpus', 'atoms', 'lz4'), join(setDir, 'lz4'), { recursive: true });
    commitAll(setDir, 'lz4');
    const repo = await openRepo(setDir);
    const signer = await signerFromKey(config, 'corpus');
    await claimLabel(repo, 'lz4', signer);
    await publishAtom(repo, join(setDir, 'lz4'), signer);
    writeFileSync(
      join(ws, 'atom.toml'),
      '[atom]\nlabel = "root"\nversion = "0.1.0"\n\n[deps]\nlz4 = "^1.9"\n',
    );
    const { lock } = await lockWorkspace({
      root: ws,
      sets: { corpus: `file://${setDir}` },
      verifier: await verifierFromConfig(config),
    });
    expect(lock.atoms.lz4?.version).toBe('1.9.4');

    const compose = join(ws, 'runtime.toml');
    const opts = { store: store.root, json: false, lock: join(ws, 'eos.lock'), seedLock, jobs: '2', aptDir };
    const first = await run({ ...opts, compose });
    expect(first.exitCode).toBe(0);
    // lz4 needs nothing of the seed beyond the C runtime: the runtime composition takes no provider.
    expect(first.notes?.filter((n) => n.startsWith('runtime\t'))).toEqual([]);
    const line = first.lines!.find((l) => /^(ok|cached)\tlz4\t/.test(l))!;
    const output = parseDigest(line.split('\t')[2]!, 'lz4 output');

    const check = await run({ ...opts, check: true });
    expect(check.exitCode).toBe(0);
    expect(check.lines).toContain(`ok\tlz4\t${output}`);
    expect(check.lines!.some((l) => l.startsWith('differs\t'))).toBe(false);

    const eos = (...args: string[]): string =>
      execFileSync(process.execPath, [join(repoRoot, 'bin', 'eos.mjs'), '--store', store.root, ...args], {
        encoding: 'utf8',
        env: { ...process.env, EOS_CONFIG_DIR: config },
      });
    const root = eos('compose', compose).trim();
    expect(root).toMatch(/^blake3:[0-9a-f]{64}$/);
    const version = eos('run', root, '--', '/usr/bin/lz4', '--version');
    expect(version).toMatch(/v1\.9\.4/);
    const trip = eos('run', root, '--', '/bin/sh', '-c', 'echo corpus | lz4 -c | lz4 -dc');
    expect(trip).toBe('corpus\n');
    // The closure of the binary and the library: every DT_NEEDED found (exit 0 or execFileSync throws).
    const closure = eos('closure', root, '--roots', '/usr/bin/lz4,/usr/lib/x86_64-linux-gnu/liblz4.so.1');
    expect(closure).toMatch(/liblz4\.so\.1/);

    const out = mkdtempSync(join(tmpdir(), 'eos-corpus-lz4-out-'));
    await store.materialize(output, out);
    const libDir = join(out, 'usr/lib/x86_64-linux-gnu');
    const lib = readdirSync(libDir).find((f) => /^liblz4\.so\.1\.9\.4$/.test(f));
    expect(lib).toBeDefined();
    for (const f of [join(out, 'usr/bin/lz4'), join(libDir, lib!)]) {
      const dyn = execFileSync('readelf', ['-d', '-W', f], { encoding: 'utf8' });
      const needed = [...dyn.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]!);
      expect(needed.length).toBeGreaterThan(0);
      expect(needed.filter((n) => n.includes('/'))).toEqual([]);
      expect(dyn).not.toMatch(/RPATH|RUNPATH/);
    }
    execFileSync('rm', ['-rf', out, ws]);
  }, 900_000);
});
