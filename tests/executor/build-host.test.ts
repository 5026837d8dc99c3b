/**
 * Offline builds in a host-seeded world: a small C library (std.make) and a program linking it
 * (a second atom with the library's output tree as its dependency), each built twice to the same
 * output tree; then the program runs in a world of the seed plus both outputs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Store,
  emptyTrustPolicy,
  generateKey,
  trustKey,
  verifySignatureWithConfig,
  writeTrustPolicy,
} from '../../src/kernel/index.ts';
import {
  buildAtom,
  buildWorld,
  dependencyLayer,
  materializeWorld,
  runSandbox,
  seedLayers,
  type BuildResult,
  type SeedLock,
} from '../../executor/index.ts';
import { hostSeedWorld } from './helpers.ts';

const canRun = existsSync('/usr/bin/bwrap') && process.getuid?.() === 0 && existsSync('/usr/bin/gcc-12');

const LIB = {
  'greet.h': '#ifndef GREET_H\n#define GREET_H\nconst char *greet(void);\n#endif\n',
  'greet.c': '#include "greet.h"\nconst char *greet(void) { return "hello from libgreet"; }\n',
  Makefile: [
    'LIBDIR ?= $(PREFIX)/lib',
    'all: libgreet.so.1 libgreet.a',
    'libgreet.so.1: greet.c greet.h',
    '\t$(CC) -O2 -fPIC -shared -Wl,-soname,libgreet.so.1 -o $@ greet.c',
    'greet.o: greet.c greet.h',
    '\t$(CC) -O2 -fPIC -c greet.c',
    'libgreet.a: greet.o',
    '\tar rcs $@ greet.o',
    'install: all',
    '\tinstall -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PREFIX)/include',
    '\tinstall -m 644 greet.h $(DESTDIR)$(PREFIX)/include/',
    '\tinstall -m 755 libgreet.so.1 $(DESTDIR)$(LIBDIR)/',
    '\tln -sf libgreet.so.1 $(DESTDIR)$(LIBDIR)/libgreet.so',
    '\tinstall -m 644 libgreet.a $(DESTDIR)$(LIBDIR)/',
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

let store: Store;
let seed: SeedLock;
let scratch: string;

function writeFixture(files: Record<string, string>): string {
  const d = mkdtempSync(join(scratch, 'src-'));
  for (const [n, t] of Object.entries(files)) writeFileSync(join(d, n), t);
  return d;
}

/** The tree digest a directory would have, from a throwaway store. */
async function treeDigestOf(dir: string) {
  return (await new Store(mkdtempSync(join(scratch, 'probe-'))).ingest(dir, { fsync: false })).digest;
}

beforeAll(async () => {
  if (!canRun) return;
  const w = await hostSeedWorld();
  store = w.store;
  seed = w.seed.lock;
  scratch = mkdtempSync(join(tmpdir(), 'eos-build-host-'));
});

describe.skipIf(!canRun)('std.make builds in a host-seeded world (offline; needs root and bwrap)', () => {
  it('builds a library and a program linking it, twice, to the same trees; the program runs', async () => {
    const libDir = writeFixture(LIB);
    const libSrc = { kind: 'path' as const, path: libDir, digest: await treeDigestOf(libDir) };
    const build = (over: Partial<Parameters<typeof buildAtom>[0]>): Promise<BuildResult> =>
      buildAtom({
        store,
        seed,
        label: 'libgreet',
        version: '1.0.0',
        recipe: 'std.make',
        sources: [libSrc],
        jobs: 2,
        ...over,
      });

    const config = mkdtempSync(join(scratch, 'config-'));
    const key = await generateKey(config, 'builder');
    await writeTrustPolicy(config, trustKey(emptyTrustPolicy(), key.id, ['builds']));
    // Once in the composefs-mounted world, once in the hard-link world: the same output.
    const lib1 = await build({ worldMount: 'composefs' });
    const lib2 = await build({ worldMount: 'hardlink', signKey: { config, name: 'builder' } });
    expect([lib1.worldMount, lib2.worldMount]).toEqual(['composefs', 'hardlink']);
    expect(lib2.output).toBe(lib1.output);
    expect(lib2.signature).toBeDefined();
    const ok = await verifySignatureWithConfig(config, lib2.signature, lib2.recordDigest, 'builds');
    expect(ok).toBeTruthy();
    expect(lib1.warnings).toEqual([]);
    expect(lib1.record.details.seed.mode).toBe('host');

    const progDir = writeFixture(PROG);
    const progSrc = { kind: 'path' as const, path: progDir, digest: await treeDigestOf(progDir) };
    const deps = [{ name: 'libgreet', tree: lib1.output }];
    const prog1 = await build({ label: 'hello', sources: [progSrc], deps });
    const prog2 = await build({ label: 'hello', sources: [progSrc], deps });
    expect(prog2.output).toBe(prog1.output);
    expect(prog1.warnings).toEqual([]);
    expect(prog1.record.details.dependencies).toEqual(deps);

    // Inspect the program: plain soname, no RPATH/RUNPATH.
    const out = mkdtempSync(join(scratch, 'out-'));
    await store.materialize(prog1.output, join(out, 'p'));
    const dyn = execFileSync('readelf', ['-d', '-W', join(out, 'p/usr/bin/hello')]).toString();
    expect(dyn).toMatch(/\(NEEDED\)\s+Shared library: \[libgreet\.so\.1\]/);
    expect(dyn).not.toMatch(/RPATH|RUNPATH/);

    // Run it in the seed + both outputs.
    const world = await buildWorld(store, [
      ...seedLayers(seed),
      dependencyLayer('libgreet', lib1.output),
      dependencyLayer('hello', prog1.output),
    ]);
    const worldDir = await materializeWorld(store, world.root);
    const b = join(out, 'b');
    const o = join(out, 'o');
    mkdirSync(b);
    mkdirSync(o);
    const r = await runSandbox({
      worldDir,
      buildDir: b,
      outputDir: o,
      argv: ['/usr/bin/hello'],
      sourceDateEpoch: 1,
      jobs: 1,
      timeoutMs: 10_000,
      logPath: join(out, 'run.log'),
    });
    expect(r.exitCode).toBe(0);
    expect(readFileSync(join(out, 'run.log'), 'utf8')).toBe('hello from libgreet\n');
  });

  it('a failing recipe is E22 with the log stored', async () => {
    const d = writeFixture({ Makefile: 'all:\n\t@echo about to fail; exit 7\n' });
    const err = await buildAtom({
      store,
      seed,
      label: 'broken',
      version: '0.1.0',
      recipe: 'std.make',
      sources: [{ kind: 'path', path: d, digest: await treeDigestOf(d) }],
    }).then(
      () => {
        throw new Error('expected a failure');
      },
      (e: unknown) => e as Error & { code: string; data: { logPath: string } },
    );
    expect(err.code).toBe('E22');
    expect(err.message).toContain('broken 0.1.0');
    expect(readFileSync(err.data.logPath, 'utf8')).toContain('about to fail');
  });
});
