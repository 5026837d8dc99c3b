/**
 * std.cmake and std.meson on tiny real projects (issue 17): a shared library and a program
 * linking it, each project built by upstream-style CMakeLists.txt / meson.build in a host-seeded
 * world whose roots are the standard toolchain plus cmake, meson, ninja-build and python3 (offline:
 * the host's dpkg database; scripts/setup.sh installs them). Each is built twice to the same output
 * tree; the installed program has plain-soname DT_NEEDED and no RPATH/RUNPATH (CMake's build-tree
 * RUNPATH is removed at install; Meson's too), and it runs in a world of the seed and its output.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/kernel/index.ts';
import {
  DEFAULT_SEED_PACKAGES,
  buildAtom,
  buildWorld,
  dependencyLayer,
  ensureSeed,
  materializeWorld,
  runSandbox,
  seedLayers,
  type SeedLock,
} from '../../executor/index.ts';
import { testCacheDir, testStore } from './helpers.ts';

const canRun =
  existsSync('/usr/bin/bwrap') &&
  process.getuid?.() === 0 &&
  existsSync('/usr/bin/gcc-12') &&
  existsSync('/usr/bin/cmake') &&
  existsSync('/usr/bin/meson') &&
  existsSync('/usr/bin/ninja');
if (!canRun) console.warn('std.cmake/std.meson tests skipped: need root, bwrap, gcc-12, cmake, meson, ninja');

const C_FILES = {
  'greet.h': '#ifndef GREET_H\n#define GREET_H\nconst char *greet(void);\n#endif\n',
  'greet.c': '#include "greet.h"\nconst char *greet(void) { return "hello from GREETER"; }\n',
  'hello.c': '#include <stdio.h>\n#include "greet.h"\nint main(void) { puts(greet()); return 0; }\n',
};

const CMAKE = {
  ...C_FILES,
  'greet.c': C_FILES['greet.c'].replace('GREETER', 'cmake'),
  'CMakeLists.txt': [
    'cmake_minimum_required(VERSION 3.13)',
    'project(greet VERSION 1.2.0 LANGUAGES C)',
    'include(GNUInstallDirs)',
    'add_library(greet SHARED greet.c)',
    'set_target_properties(greet PROPERTIES VERSION 1.2.0 SOVERSION 1 PUBLIC_HEADER greet.h)',
    'add_executable(hello hello.c)',
    'target_link_libraries(hello greet)',
    'install(TARGETS greet hello',
    '  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}',
    '  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}',
    '  PUBLIC_HEADER DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})',
    '',
  ].join('\n'),
};

const MESON = {
  ...C_FILES,
  'greet.c': C_FILES['greet.c'].replace('GREETER', 'meson'),
  'meson.build': [
    "project('greet', 'c', version : '1.2.0')",
    "greet = shared_library('greet', 'greet.c', version : '1.2.0', soversion : '1', install : true)",
    "install_headers('greet.h')",
    "executable('hello', 'hello.c', link_with : greet, install : true)",
    '',
  ].join('\n'),
};

let store: Store;
let seed: SeedLock;
let scratch: string;

beforeAll(async () => {
  if (!canRun) return;
  store = testStore();
  const r = await ensureSeed({
    store,
    mode: 'host',
    lockPath: join(testCacheDir(), 'seed-host-cmake-meson.lock'),
    roots: [...DEFAULT_SEED_PACKAGES, 'cmake', 'meson', 'ninja-build', 'python3'],
  });
  seed = r.lock;
  scratch = mkdtempSync(join(tmpdir(), 'eos-cmake-meson-'));
}, 600_000);

function writeFixture(files: Record<string, string>): string {
  const d = mkdtempSync(join(scratch, 'src-'));
  for (const [n, t] of Object.entries(files)) writeFileSync(join(d, n), t);
  return d;
}

async function treeDigestOf(dir: string) {
  return (await new Store(mkdtempSync(join(scratch, 'probe-'))).ingest(dir, { fsync: false })).digest;
}

describe.skipIf(!canRun)('std.cmake and std.meson (host seed + cmake, meson, ninja; offline)', () => {
  for (const [recipe, files, word] of [
    ['std.cmake', CMAKE, 'cmake'],
    ['std.meson', MESON, 'meson'],
  ] as const) {
    it(`${recipe}: a library and a program, twice to the same tree, no RUNPATH, and it runs`, async () => {
      const dir = writeFixture(files);
      const src = { kind: 'path' as const, path: dir, digest: await treeDigestOf(dir) };
      const build = () =>
        buildAtom({ store, seed, label: `greet-${word}`, version: '1.2.0', recipe, sources: [src], jobs: 2 });
      const a = await build();
      const b = await build();
      expect(b.output).toBe(a.output);
      expect(a.warnings).toEqual([]);

      const out = mkdtempSync(join(scratch, 'out-'));
      await store.materialize(a.output, join(out, 'o'));
      const lib = join(out, 'o/usr/lib/x86_64-linux-gnu/libgreet.so.1.2.0');
      expect(existsSync(lib)).toBe(true);
      expect(existsSync(join(out, 'o/usr/include/greet.h'))).toBe(true);
      expect(execFileSync('readelf', ['-d', '-W', lib]).toString()).toMatch(
        /\(SONAME\)\s+Library soname: \[libgreet\.so\.1\]/,
      );
      const dyn = execFileSync('readelf', ['-d', '-W', join(out, 'o/usr/bin/hello')]).toString();
      expect(dyn).toMatch(/\(NEEDED\)\s+Shared library: \[libgreet\.so\.1\]/);
      expect(dyn).not.toMatch(/RPATH|RUNPATH/);

      const world = await buildWorld(store, [
        ...seedLayers(seed),
        dependencyLayer(`greet-${word}`, a.output),
      ]);
      const worldDir = await materializeWorld(store, world.root);
      const bd = join(out, 'b');
      const od = join(out, 'run-out');
      mkdirSync(bd);
      mkdirSync(od);
      const r = await runSandbox({
        worldDir,
        buildDir: bd,
        outputDir: od,
        argv: ['/usr/bin/hello'],
        sourceDateEpoch: 1,
        jobs: 1,
        timeoutMs: 10_000,
        logPath: join(out, 'run.log'),
      });
      expect(r.exitCode).toBe(0);
      expect(readFileSync(join(out, 'run.log'), 'utf8')).toBe(`hello from ${word}\n`);
    }, 600_000);
  }
});
