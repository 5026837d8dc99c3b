/**
 * `eos build` end to end on a real lock, the real sandboxed executor and a host-seeded world:
 * a library and a program linking it (workspace atoms), built, then all cached, then early cutoff
 * (an edit that does not change the library's output leaves the program cached), then a failure
 * that skips only its dependent. Needs root, bwrap and the host's gcc (skips and says so otherwise).
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  claimLabel,
  encodeLock,
  lockWorkspace,
  openRepo,
  publishAtom,
  signerFromKey,
  verifierFromConfig,
} from '../../atoms/index.ts';
import { commitAll, makeConfig, makeRepo } from '../atoms/fixture.ts';
import { run } from '../../src/cli/build.ts';
import { hostSeedWorld, testCacheDir } from '../executor/helpers.ts';

const canRun = existsSync('/usr/bin/bwrap') && process.getuid?.() === 0 && existsSync('/usr/bin/gcc-12');
if (!canRun) console.warn('eos build end-to-end test skipped: needs root, /usr/bin/bwrap and gcc-12');

const nonce = `${Date.now()}-${process.pid}`; // fresh action ids in the shared test store

function atom(dir: string, label: string, deps: Record<string, string>, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  const depLines = Object.entries(deps).map(([k, v]) => `${k} = "${v}"`);
  writeFileSync(
    join(dir, 'atom.toml'),
    [
      '[atom]',
      `label = "${label}"`,
      'version = "1.0.0"',
      '',
      '[deps]',
      ...depLines,
      '',
      '[build]',
      'recipe = "std.make"',
      '',
    ].join('\n'),
  );
  for (const [n, t] of Object.entries(files)) writeFileSync(join(dir, n), t);
}

const LIB = {
  'greet.h': '#ifndef GREET_H\n#define GREET_H\nconst char *greet(void);\n#endif\n',
  'greet.c': `#include "greet.h"\nconst char *greet(void) { return "hello ${nonce}"; }\n`,
  README: 'not installed\n',
  Makefile: [
    'all: libgreet.so.1',
    'libgreet.so.1: greet.c greet.h',
    '\t$(CC) -O2 -fPIC -shared -Wl,-soname,libgreet.so.1 -o $@ greet.c',
    'install: all',
    '\tinstall -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include',
    '\tinstall -m 644 greet.h $(DESTDIR)$(PREFIX)/include/',
    '\tinstall -m 755 libgreet.so.1 $(DESTDIR)$(PREFIX)/lib/',
    '\tln -sf libgreet.so.1 $(DESTDIR)$(PREFIX)/lib/libgreet.so',
    '',
  ].join('\n'),
};
const PROG = {
  'hello.c': '#include <stdio.h>\n#include <greet.h>\nint main(void) { puts(greet()); return 0; }\n',
  Makefile: [
    'hello: hello.c',
    '\t$(CC) -O2 -o $@ hello.c -lgreet',
    'install: hello',
    '\tinstall -d $(DESTDIR)$(PREFIX)/bin',
    '\tinstall -m 755 hello $(DESTDIR)$(PREFIX)/bin/',
    '',
  ].join('\n'),
};
const BROKEN = { Makefile: 'all:\n\t@echo "cc: error: no input files" >&2; exit 2\ninstall: all\n' };

let storeDir: string;
let seedLock: string;
let ws: string;

function writeLock(extra: Record<string, { path: string; deps: string[] }> = {}): string {
  const workspace: Record<string, { path: string; version: string; deps: string[] }> = {
    libgreet: { path: 'libgreet', version: '1.0.0', deps: [] },
    hello: { path: 'hello', version: '1.0.0', deps: ['libgreet'] },
  };
  for (const [k, v] of Object.entries(extra)) workspace[k] = { ...v, version: '1.0.0' };
  const lock = join(ws, 'eos.lock');
  writeFileSync(lock, encodeLock({ version: 1, prerelease: false, sets: {}, workspace, atoms: {} }));
  return lock;
}

beforeAll(async () => {
  if (!canRun) return;
  const w = await hostSeedWorld();
  storeDir = w.store.root;
  seedLock = join(testCacheDir(), 'seed-host.lock');
  ws = mkdtempSync(join(tmpdir(), 'eos-build-ws-'));
  atom(join(ws, 'libgreet'), 'libgreet', {}, LIB);
  atom(join(ws, 'hello'), 'hello', { libgreet: '^1.0' }, PROG);
}, 600_000);

describe.skipIf(!canRun)('eos build over a lock (real sandboxed builds)', () => {
  const build = (lock: string, more: Record<string, unknown> = {}) =>
    run({ store: storeDir, json: false, lock, seedLock, jobs: '2', ...more });

  it('builds, then everything is cached; early cutoff; a failure skips only its dependent', async () => {
    const lock = writeLock();
    const first = await build(lock);
    expect(first.exitCode).toBe(0);
    expect(first.lines![0]).toBe(`→ building 2 atom(s) into ${storeDir}`);
    expect(first.lines).toEqual(
      expect.arrayContaining([
        '[1/2] libgreet',
        '[2/2] hello',
        expect.stringMatching(/^ok\tlibgreet\tblake3:[0-9a-f]{64}$/),
        expect.stringMatching(/^ok\thello\tblake3:[0-9a-f]{64}$/),
      ]),
    );
    expect(first.lines!.at(-1)).toBe('2 atom(s): 2 ok');

    const second = await build(lock);
    expect(second.lines!.at(-1)).toBe('2 atom(s): 0 ok, 2 cached');
    const dry = await build(lock, { dryRun: true });
    expect(dry.lines!.map((l) => l.replace(/blake3:[0-9a-f]{64}/, 'ID'))).toEqual([
      'dry-run\tlibgreet\tID\tcached',
      'dry-run\thello\tID\tcached',
    ]);

    // Early cutoff: the README is not installed, so libgreet rebuilds to the same output.
    writeFileSync(join(ws, 'libgreet', 'README'), 'edited, still not installed\n');
    const third = await build(lock);
    expect(third.lines).toContain('[1/2] libgreet');
    expect(third.lines!.at(-1)).toBe('2 atom(s): 1 ok, 1 cached');
    expect(third.lines!.find((l) => l.startsWith('cached\t'))).toMatch(/^cached\thello\t/);

    // A broken atom and its dependent, beside the good ones.
    atom(join(ws, 'broken'), 'broken', {}, BROKEN);
    atom(join(ws, 'uses-broken'), 'uses-broken', { broken: '^1.0' }, PROG);
    const lock2 = writeLock({
      broken: { path: 'broken', deps: [] },
      'uses-broken': { path: 'uses-broken', deps: ['broken'] },
    });
    const fourth = await build(lock2);
    expect(fourth.exitCode).toBe(3);
    const fail = fourth.lines!.find((l) => l.startsWith('FAIL\tbroken\t'))!;
    expect(fail).toMatch(/recipe std\.make failed \(exit 2\).*\(log: \/.*\)$/);
    expect(fourth.lines).toContain('skipped\tuses-broken\tdependency broken failed');
    expect(fourth.lines!.at(-1)).toBe('4 atom(s): 0 ok, 2 cached, 1 failed, 1 skipped');
  });

  it('a cycle or a missing recipe is a located error before anything builds (exit 1)', async () => {
    const cyc = mkdtempSync(join(tmpdir(), 'eos-build-cyc-'));
    atom(join(cyc, 'a'), 'a', { b: '^1.0' }, {});
    atom(join(cyc, 'b'), 'b', { a: '^1.0' }, {});
    const lock = join(cyc, 'eos.lock');
    writeFileSync(
      lock,
      encodeLock({
        version: 1,
        prerelease: false,
        sets: {},
        atoms: {},
        workspace: {
          a: { path: 'a', version: '1.0.0', deps: ['b'] },
          b: { path: 'b', version: '1.0.0', deps: ['a'] },
        },
      }),
    );
    await expect(build(lock)).rejects.toThrow(/^\[E7\] dependency cycle: (a -> b -> a|b -> a -> b)$/);

    // b only groups dependencies (no [build]): a cannot depend on it.
    writeFileSync(join(cyc, 'b', 'atom.toml'), '[atom]\nlabel = "b"\nversion = "1.0.0"\n');
    writeFileSync(
      lock,
      encodeLock({
        version: 1,
        prerelease: false,
        sets: {},
        atoms: {},
        workspace: {
          a: { path: 'a', version: '1.0.0', deps: ['b'] },
          b: { path: 'b', version: '1.0.0', deps: [] },
        },
      }),
    );
    await expect(build(lock)).rejects.toThrow('[E7] a depends on b, which has no recipe');
  });

  it('builds a published atom from a local atom set (exported at the locked set commit) and a workspace atom using it', async () => {
    // The set: libgreet published by alice (its source files are the atom's own directory).
    const { config } = await makeConfig(['alice'], ['alice']);
    const setDir = makeRepo({ 'README.md': 'the atom set\n' });
    atom(
      join(setDir, 'libgreet'),
      'libgreet',
      {},
      { ...LIB, 'greet.c': LIB['greet.c'].replace('hello', 'published') },
    );
    commitAll(setDir, 'libgreet 1.0.0');
    const repo = await openRepo(setDir);
    const alice = await signerFromKey(config, 'alice');
    await claimLabel(repo, 'libgreet', alice);
    await publishAtom(repo, join(setDir, 'libgreet'), alice);
    // The workspace: hello (built here) needs libgreet ^1.0 from the set.
    const w = mkdtempSync(join(tmpdir(), 'eos-build-pub-'));
    atom(join(w, 'hello'), 'hello', { libgreet: '^1.0' }, PROG);
    await lockWorkspace({
      root: w,
      sets: { main: `file://${setDir}` },
      verifier: await verifierFromConfig(config),
    });
    const r = await build(join(w, 'eos.lock'));
    expect(r.exitCode).toBe(0);
    expect(r.lines!.filter((l) => /^ok\t(libgreet|hello)\tblake3:/.test(l))).toHaveLength(2);
    expect(r.lines!.at(-1)).toBe('2 atom(s): 2 ok');
  });
});
