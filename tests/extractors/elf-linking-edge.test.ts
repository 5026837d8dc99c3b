/**
 * ELF edge cases found by the differential tests (issue 15, item 14), on files built here with gcc
 * and objcopy: a separate debug-information file contributes nothing to an interface manifest or
 * a closure, and a consumer linked against a versioned library is unsatisfied when the library
 * found is an unversioned build of it; the real loader (glibc's ld.so) is run against that build
 * to show why: it aborts in `check_match`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildInterfaceManifest,
  checkCoverage,
  computeClosure,
  directoryClosureTree,
  interfaceOfElf,
  isLinkable,
  parseElf,
} from '../../extractors/index.ts';
import { tempDir } from '../composer/helpers.ts';

const haveTools =
  spawnSync('gcc', ['--version']).status === 0 && spawnSync('objcopy', ['--version']).status === 0;
if (!haveTools)
  console.warn('elf-linking-edge.test.ts skipped: no gcc/objcopy (scripts/setup.sh installs them)');

const work = tempDir('eos-elf-edge-');
const gcc = (...args: string[]) => execFileSync('gcc', args, { cwd: work, stdio: 'pipe' });

describe.skipIf(!haveTools)('separate debug files (objcopy --only-keep-debug)', () => {
  beforeAll(() => {
    writeFileSync(join(work, 'l.c'), 'int l_value(void) { return 7; }\n');
    writeFileSync(
      join(work, 'm.c'),
      'int l_value(void);\nint main(void) { return l_value() == 7 ? 0 : 1; }\n',
    );
    gcc('-shared', '-fPIC', '-g', '-Wl,-soname,libl.so.1', '-o', 'libl.so.1', 'l.c');
    gcc('-g', '-o', 'm', 'm.c', '-L.', '-l:libl.so.1');
    for (const f of ['libl.so.1', 'm'])
      execFileSync('objcopy', ['--only-keep-debug', f, `${f}.debug`], { cwd: work });
  });

  it('the library and the program contribute; their debug files contribute nothing', () => {
    const read = (f: string) => ({ path: `/usr/lib/${f}`, bytes: readFileSync(join(work, f)) });
    const lib = parseElf(read('libl.so.1').bytes, 'libl.so.1');
    const dbg = parseElf(read('libl.so.1.debug').bytes, 'libl.so.1.debug');
    expect([lib.debugOnly, isLinkable(lib)]).toEqual([false, true]);
    expect([dbg.debugOnly, isLinkable(dbg), dbg.type]).toEqual([true, false, 3]); // still ET_DYN
    expect(interfaceOfElf('/usr/lib/libl.so.1.debug', dbg)).toEqual({
      sharedObject: null,
      executable: null,
      requires: null,
    });
    const m = buildInterfaceManifest([
      read('libl.so.1'),
      read('libl.so.1.debug'),
      read('m'),
      read('m.debug'),
    ]);
    expect(m.provides.sharedObjects.map((o) => [o.path, o.soname])).toEqual([
      ['/usr/lib/libl.so.1', 'libl.so.1'],
    ]);
    expect(m.requires.map((r) => r.path)).toEqual(['/usr/lib/libl.so.1', '/usr/lib/m']);
    const onlyDebug = buildInterfaceManifest([read('libl.so.1.debug'), read('m.debug')]);
    expect([onlyDebug.provides.sharedObjects, onlyDebug.requires]).toEqual([[], []]);
  });
});

describe.skipIf(!haveTools)(
  'an unversioned provider for a consumer linked against a versioned library',
  () => {
    const view = join(work, 'view');
    beforeAll(() => {
      writeFileSync(join(work, 'v.c'), 'int v_value(void) { return 42; }\n');
      writeFileSync(join(work, 'v.map'), 'V_1.0 { global: v_value; local: *; };\n');
      writeFileSync(
        join(work, 'app.c'),
        '#include <stdio.h>\nint v_value(void);\nint main(void) { printf("%d\\n", v_value()); return 0; }\n',
      );
      mkdirSync(join(work, 'versioned'));
      mkdirSync(join(work, 'unversioned'));
      gcc(
        '-shared',
        '-fPIC',
        '-Wl,-soname,libv.so.1',
        '-Wl,--version-script=v.map',
        '-o',
        'versioned/libv.so.1',
        'v.c',
      );
      gcc('-shared', '-fPIC', '-Wl,-soname,libv.so.1', '-o', 'unversioned/libv.so.1', 'v.c');
      gcc('-o', 'app', 'app.c', 'versioned/libv.so.1', '-Wl,-rpath,$ORIGIN/../lib');
      // A view: the consumer, the unversioned build under its soname, the loader and libc.
      for (const d of ['opt/demo/bin', 'opt/demo/lib', 'lib64', 'lib/x86_64-linux-gnu'])
        mkdirSync(join(view, d), { recursive: true });
      copyFileSync(join(work, 'app'), join(view, 'opt/demo/bin/app'));
      copyFileSync(join(work, 'unversioned/libv.so.1'), join(view, 'opt/demo/lib/libv.so.1'));
      copyFileSync(realpathSync('/lib64/ld-linux-x86-64.so.2'), join(view, 'lib64/ld-linux-x86-64.so.2'));
      copyFileSync(
        realpathSync('/lib/x86_64-linux-gnu/libc.so.6'),
        join(view, 'lib/x86_64-linux-gnu/libc.so.6'),
      );
    });

    it('the real loader runs it against the versioned build and aborts against the unversioned one', () => {
      const ok = spawnSync(join(work, 'app'), {
        encoding: 'utf8',
        env: { LD_LIBRARY_PATH: join(work, 'versioned') },
      });
      expect([ok.status, ok.stdout]).toEqual([0, '42\n']);
      const bad = spawnSync(join(work, 'app'), {
        encoding: 'utf8',
        env: { LD_LIBRARY_PATH: join(work, 'unversioned') },
      });
      expect(bad.status).not.toBe(0);
      expect(bad.stderr).toMatch(
        /Inconsistency detected by ld\.so: dl-lookup\.c: \d+: check_match: Assertion/,
      );
    });

    it('the closure names the version the unversioned provider lacks, as interface check does', async () => {
      const c = await computeClosure({
        tree: directoryClosureTree(view),
        roots: { paths: ['/opt/demo/bin/app'] },
      });
      expect(c.unsatisfied).toEqual([
        {
          kind: 'missing-version',
          by: '/opt/demo/bin/app',
          soname: 'libv.so.1',
          provider: '/opt/demo/lib/libv.so.1',
          version: 'V_1.0',
        },
      ]);
      const file = (dir: string, f: string, at = `/lib/${f}`) => ({
        path: at,
        bytes: readFileSync(join(work, dir, f)),
      });
      const consumer = buildInterfaceManifest([file('.', 'app', '/bin/app')]);
      const { proof } = checkCoverage(
        [consumer],
        buildInterfaceManifest([file('versioned', 'libv.so.1')]),
        buildInterfaceManifest([file('unversioned', 'libv.so.1')]),
      );
      expect(proof.verdict).toBe('not-covered');
      expect(proof.missing['libv.so.1']!.versions).toEqual(['V_1.0']);
    });
  },
);
