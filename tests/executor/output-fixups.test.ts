/**
 * The executor's output fixups (executor/output-fixups.ts, specs/executor.md §7): real shared
 * objects linked by the host's gcc with the RUNPATH/RPATH GNU readline's shobj-conf gives them
 * lose it when it names only the loader's default directories, keep it otherwise, stay loadable,
 * keep their mode and their hard links. Needs gcc and readelf (skips and says so otherwise).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, linkSync, mkdtempSync, readFileSync, statSync, chmodSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultLibraryDirs, fixupOutput, stripDefaultRunpath } from '../../executor/output-fixups.ts';

const canRun = existsSync('/usr/bin/gcc') && existsSync('/usr/bin/readelf');
if (!canRun) console.warn('output fixups test skipped: needs gcc and readelf');
const T = 'x86_64-linux-gnu';

function dynamic(p: string): string {
  return execFileSync('readelf', ['-d', '-W', p], { encoding: 'utf8' });
}

describe.skipIf(!canRun)('output fixups: default-directory RPATH/RUNPATH', () => {
  it('removes a RUNPATH or RPATH of default directories only, keeps $ORIGIN, the mode and the links', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eos-fixups-'));
    const out = join(dir, 'out');
    execFileSync('mkdir', ['-p', join(out, 'usr/lib', T), join(out, 'usr/bin')]);
    writeFileSync(join(dir, 'a.c'), 'int f(void) { return 41; }\n');
    writeFileSync(join(dir, 'm.c'), 'int f(void);\nint main(void) { return f() == 41 ? 0 : 1; }\n');
    const lib = join(out, 'usr/lib', T, 'liba.so.1');
    const gcc = (...a: string[]) => execFileSync('gcc', a, { cwd: dir });
    gcc('-shared', '-fPIC', '-o', lib, 'a.c', '-Wl,-soname,liba.so.1', `-Wl,-rpath,/usr/lib/${T}`);
    const old = join(out, 'usr/lib', T, 'libold.so');
    gcc('-shared', '-fPIC', '-o', old, 'a.c', '-Wl,--disable-new-dtags', '-Wl,-rpath,/usr/lib/:/lib');
    chmodSync(old, 0o444);
    const origin = join(out, 'usr/lib', T, 'liborigin.so');
    gcc('-shared', '-fPIC', '-o', origin, 'a.c', '-Wl,-rpath,$ORIGIN');
    const mixed = join(out, 'usr/lib', T, 'libmixed.so');
    gcc('-shared', '-fPIC', '-o', mixed, 'a.c', `-Wl,-rpath,/usr/lib/${T}:/opt/x`);
    const bin = join(out, 'usr/bin', 'm');
    gcc('-o', bin, 'm.c', lib, `-Wl,-rpath,/usr/lib/${T}`);
    linkSync(lib, join(out, 'usr/lib', T, 'liba-link.so'));
    const before = readFileSync(origin);

    const notes = await fixupOutput(out, T);
    expect(notes).toEqual([
      { path: '/usr/bin/m', entry: 'RUNPATH', value: `/usr/lib/${T}` },
      { path: `/usr/lib/${T}/liba-link.so`, entry: 'RUNPATH', value: `/usr/lib/${T}` },
      { path: `/usr/lib/${T}/libold.so`, entry: 'RPATH', value: '/usr/lib/:/lib' },
    ]);
    for (const p of [lib, old, bin]) expect(dynamic(p)).not.toMatch(/\((RPATH|RUNPATH)\)/);
    expect(dynamic(lib)).toMatch(/\(SONAME\)\s+Library soname: \[liba\.so\.1\]/);
    expect(dynamic(bin)).toMatch(/\(NEEDED\)\s+Shared library: \[liba\.so\.1\]/);
    expect(dynamic(mixed)).toMatch(
      /\(RUNPATH\)\s+Library runpath: \[\/usr\/lib\/x86_64-linux-gnu:\/opt\/x\]/,
    );
    expect(readFileSync(origin).equals(before)).toBe(true);
    expect(statSync(old).mode & 0o7777).toBe(0o444);
    expect(statSync(lib).nlink).toBe(2);
    // The fixed program still loads its fixed library (found by LD_LIBRARY_PATH, no RUNPATH left).
    execFileSync(bin, [], { env: { LD_LIBRARY_PATH: join(out, 'usr/lib', T) } });
    // A second pass changes nothing.
    expect(await fixupOutput(out, T)).toEqual([]);
  });

  it('removes a RUNPATH into the sandbox build directory (libtool without relink), keeps /buildx and $ORIGIN mixes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eos-fixups-'));
    const out = join(dir, 'out');
    execFileSync('mkdir', ['-p', join(out, 'usr/lib', T), join(out, 'usr/bin')]);
    writeFileSync(join(dir, 'a.c'), 'int f(void) { return 41; }\n');
    const gcc = (...a: string[]) => execFileSync('gcc', a, { cwd: dir });
    const jq = join(out, 'usr/bin', 'jq');
    gcc('-shared', '-fPIC', '-o', jq, 'a.c', `-Wl,-rpath,/build/src/.libs:/usr/lib/${T}`);
    const both = join(out, 'usr/lib', T, 'libboth.so');
    gcc('-shared', '-fPIC', '-o', both, 'a.c', '-Wl,--disable-new-dtags', '-Wl,-rpath,/build:/lib');
    const near = join(out, 'usr/lib', T, 'libnear.so');
    gcc('-shared', '-fPIC', '-o', near, 'a.c', '-Wl,-rpath,/buildx/lib');
    const origin = join(out, 'usr/lib', T, 'liborigin.so');
    gcc('-shared', '-fPIC', '-o', origin, 'a.c', '-Wl,-rpath,/build/src/.libs:$ORIGIN');

    expect(await fixupOutput(out, T)).toEqual([
      { path: '/usr/bin/jq', entry: 'RUNPATH', value: `/build/src/.libs:/usr/lib/${T}` },
      { path: `/usr/lib/${T}/libboth.so`, entry: 'RPATH', value: '/build:/lib' },
    ]);
    for (const p of [jq, both]) expect(dynamic(p)).not.toMatch(/\((RPATH|RUNPATH)\)/);
    expect(dynamic(near)).toMatch(/\(RUNPATH\)\s+Library runpath: \[\/buildx\/lib\]/);
    expect(dynamic(origin)).toMatch(/\(RUNPATH\)\s+Library runpath: \[\/build\/src\/\.libs:\$ORIGIN\]/);
    // Without the build directory (the plain default rule) the build-tree RUNPATH stays.
    gcc('-shared', '-fPIC', '-o', join(dir, 'jq2'), 'a.c', '-Wl,-rpath,/build/src/.libs');
    const b = readFileSync(join(dir, 'jq2'));
    expect(stripDefaultRunpath(Buffer.from(b), defaultLibraryDirs(T))).toEqual([]);
    expect(stripDefaultRunpath(Buffer.from(b), defaultLibraryDirs(T), '/build')).toEqual([
      { entry: 'RUNPATH', value: '/build/src/.libs' },
    ]);
  });

  it('leaves bytes that are not a dynamic ELF file alone', () => {
    const defaults = defaultLibraryDirs(T);
    for (const b of [Buffer.from('#!/bin/sh\n'), Buffer.alloc(64), Buffer.from('\x7fELF\x02\x01\x01')]) {
      const copy = Buffer.from(b);
      expect(stripDefaultRunpath(copy, defaults)).toEqual([]);
      expect(copy.equals(b)).toBe(true);
    }
  });
});
