/**
 * The closure computer's pure parts over an in-memory tree: path resolution inside the view (links
 * never escape it), ld.so.conf parsing with includes, the search order, wrong-class candidates
 * skipped, version and symbol checks, on the byte-built ELF files of tests/extractors/elf-builder.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  closureDigest,
  computeClosure,
  describeUnsatisfied,
  globMatch,
  parseLdSoConfText,
  readLdSoConf,
  ViewResolver,
  type ClosureDirEntry,
  type ClosureTree,
} from '../../extractors/index.ts';
import { buildElf, demoLibrary, demoLibraryWithoutOld, demoProgram } from './elf-builder.ts';

type Spec = Record<string, Uint8Array | string | { link: string }>;

/** A ClosureTree over `{path: bytes | text | {link}}`; directories are implied by the paths. */
function memoryTree(spec: Spec): ClosureTree {
  const dirs = new Map<string, Map<string, ClosureDirEntry>>([['/', new Map()]]);
  const files = new Map<string, Uint8Array>();
  const links = new Map<string, string>();
  for (const [p, v] of Object.entries(spec)) {
    const parts = p.split('/').filter(Boolean);
    let cur = '/';
    for (let i = 0; i < parts.length; i++) {
      const name = parts[i]!;
      const child = cur === '/' ? `/${name}` : `${cur}/${name}`;
      const last = i === parts.length - 1;
      if (!last) {
        if (!dirs.has(child)) dirs.set(child, new Map());
        dirs.get(cur)!.set(name, { name, kind: 'directory' });
      } else if (typeof v === 'object' && 'link' in v) {
        dirs.get(cur)!.set(name, { name, kind: 'symlink' });
        links.set(child, v.link);
      } else {
        dirs.get(cur)!.set(name, { name, kind: 'file' });
        files.set(child, typeof v === 'string' ? new TextEncoder().encode(v) : v);
      }
      cur = child;
    }
  }
  return {
    listDir: async (p) => (dirs.has(p) ? [...dirs.get(p)!.values()] : null),
    readFile: async (p) => {
      const b = files.get(p);
      if (!b) throw new Error(`no file ${p}`);
      return b;
    },
    readLink: async (p) => links.get(p)!,
  };
}

describe('ViewResolver', () => {
  const tree = memoryTree({
    '/usr/lib/libx.so.1.0': 'x',
    '/usr/lib/libx.so.1': { link: 'libx.so.1.0' },
    '/lib': { link: 'usr/lib' },
    '/lib64': { link: '/usr/../../../usr/lib' },
    '/usr/lib/escape': { link: '../../../../../../etc/passwd' },
    '/etc/passwd': 'view passwd',
    '/loop/a': { link: 'b' },
    '/loop/b': { link: 'a' },
  });
  const v = new ViewResolver(tree);

  it('follows relative and absolute links and records them', async () => {
    const r = await v.resolve('/lib/libx.so.1');
    expect(r).toMatchObject({ path: '/usr/lib/libx.so.1.0', kind: 'file' });
    expect(r!.links).toEqual([
      { path: '/lib', target: 'usr/lib' },
      { path: '/usr/lib/libx.so.1', target: 'libx.so.1.0' },
    ]);
    expect((await v.resolve('/lib64/libx.so.1'))!.path).toBe('/usr/lib/libx.so.1.0');
  });

  it('never escapes the view: .. stops at its root', async () => {
    const r = await v.resolve('/usr/lib/escape');
    expect(r!.path).toBe('/etc/passwd');
    expect(new TextDecoder().decode(await tree.readFile(r!.path))).toBe('view passwd');
    expect((await v.resolve('/../../etc/passwd'))!.path).toBe('/etc/passwd');
  });

  it('gives null for missing paths, loops, and files used as directories', async () => {
    expect(await v.resolve('/usr/lib/nope')).toBeNull();
    expect(await v.resolve('/loop/a')).toBeNull();
    expect(await v.resolve('/etc/passwd/x')).toBeNull();
  });
});

describe('ld.so.conf', () => {
  it('parses comments, includes (relative to the file), hwcap lines, =TYPE and trailing slashes', () => {
    const t = parseLdSoConfText(
      '# comment\ninclude ld.so.conf.d/*.conf /opt/x.conf\n/usr/local/lib/ # trailing\nhwcap 1 foo\n/opt/old=libc6\nrelative/dir\n',
      '/etc/ld.so.conf',
    );
    expect(t.items).toEqual([
      { include: '/etc/ld.so.conf.d/*.conf' },
      { include: '/opt/x.conf' },
      { dir: '/usr/local/lib' },
      { dir: '/opt/old' },
    ]);
  });

  it('globs match like the shell: *, ?, [..], no leading dot', () => {
    expect(globMatch('*.conf', 'libc.conf')).toBe(true);
    expect(globMatch('*.conf', '.hidden.conf')).toBe(false);
    expect(globMatch('x?-[a-c]*.conf', 'x1-b-z.conf')).toBe(true);
    expect(globMatch('[!a]*', 'abc')).toBe(false);
    expect(globMatch('*.conf', 'libc.conf.bak')).toBe(false);
  });

  it('reads includes in byte order through links, once per level, with a depth bound', async () => {
    const v = new ViewResolver(
      memoryTree({
        '/etc/ld.so.conf': 'include /etc/ld.so.conf.d/*.conf\n/last\n',
        '/etc/ld.so.conf.d/b.conf': '/b\n',
        '/etc/ld.so.conf.d/a.conf': '/a1\n/a2\n',
        '/etc/ld.so.conf.d/c.conf': { link: '../other/c' },
        '/etc/other/c': '/c\ninclude ../ld.so.conf.d/self.conf\n',
        '/etc/ld.so.conf.d/self.conf': 'include self.conf\n/self\n',
      }),
    );
    const conf = await readLdSoConf(v);
    expect(conf.dirs.slice(0, 4)).toEqual(['/a1', '/a2', '/b', '/c']);
    expect(conf.dirs[conf.dirs.length - 1]).toBe('/last');
    expect(conf.files[0]).toBe('/etc/ld.so.conf');
    // self.conf includes itself: bounded, never a hang
    expect(conf.dirs.filter((d) => d === '/self').length).toBeGreaterThan(1);
    expect(conf.dirs.filter((d) => d === '/self').length).toBeLessThan(40);
  });
});

describe('computeClosure over byte-built ELF files', () => {
  const lib64 = demoLibrary(64, 'little');
  const lib32 = demoLibrary(32, 'little');
  const prog = demoProgram(64, 'little');
  // Stand-ins for libc (GLIBC_2.2.5 with puts, printf, __cxa_finalize) and the loader.
  const libc = buildElf({
    bits: 64,
    endian: 'little',
    soname: 'libc.so.6',
    symbols: ['puts', 'printf', '__cxa_finalize'].map((name) => ({
      name,
      bind: 1,
      type: 2,
      shndx: 7,
      versym: 2,
    })),
    verdefs: [
      { index: 1, flags: 1, names: ['libc.so.6'] },
      { index: 2, flags: 0, names: ['GLIBC_2.2.5'] },
    ],
  });
  const ldso = buildElf({ bits: 64, endian: 'little', soname: 'ld-linux-x86-64.so.2', symbols: [] });
  const base: Spec = {
    '/bin/demo': prog,
    '/lib64/ld-linux-x86-64.so.2': ldso,
    '/usr/lib/x86_64-linux-gnu/libc.so.6': libc,
  };

  it('finds the 64-bit library after skipping a 32-bit one in an earlier directory', async () => {
    const tree = memoryTree({
      ...base,
      '/etc/ld.so.conf': '/usr/local/lib\n',
      '/usr/local/lib/libdemo.so.1': lib32,
      '/usr/lib/libdemo.so.1': lib64,
    });
    const c = await computeClosure({ tree, roots: { paths: ['/bin/demo'] } });
    expect(c.unsatisfied).toEqual([]);
    const paths = c.members.map((m) => m.path);
    expect(paths).toEqual([
      '/bin/demo',
      '/lib64/ld-linux-x86-64.so.2',
      '/usr/lib/libdemo.so.1',
      '/usr/lib/x86_64-linux-gnu/libc.so.6',
    ]);
    const demo = c.members.find((m) => m.path === '/usr/lib/libdemo.so.1')!;
    expect(demo.reasons).toEqual([
      {
        kind: 'needed',
        by: '/bin/demo',
        soname: 'libdemo.so.1',
        versions: ['DEMO_1.0', 'DEMO_2.0'],
        symbols: ['demo_new@DEMO_2.0', 'demo_old@DEMO_1.0'],
      },
    ]);
    expect(c.search.confDirs).toEqual(['/usr/local/lib']);
    expect(c.search.defaultDirs).toEqual([
      '/lib/x86_64-linux-gnu',
      '/usr/lib/x86_64-linux-gnu',
      '/lib',
      '/usr/lib',
    ]);
    // deterministic: the same input gives the same digest
    expect(closureDigest(await computeClosure({ tree, roots: { paths: ['/bin/demo'] } }))).toBe(
      closureDigest(c),
    );
  });

  it('reports a soname found only with the wrong class as missing, naming the skipped candidate', async () => {
    const tree = memoryTree({ ...base, '/usr/lib/libdemo.so.1': lib32 });
    const c = await computeClosure({ tree, roots: { paths: ['/bin/demo'] } });
    const miss = c.unsatisfied.find((u) => u.kind === 'missing-soname');
    expect(miss).toMatchObject({ soname: 'libdemo.so.1', by: '/bin/demo' });
    expect(miss!.kind === 'missing-soname' && miss!.skipped).toEqual([
      '/usr/lib/libdemo.so.1: ELF class 32-bit',
    ]);
    expect(miss!.kind === 'missing-soname' && miss!.searched).toEqual([
      '/lib/x86_64-linux-gnu (default)',
      '/usr/lib/x86_64-linux-gnu (default)',
      '/lib (default)',
      '/usr/lib (default)',
    ]);
    expect(describeUnsatisfied(miss!)).toContain('libdemo.so.1 needed by /bin/demo: not found');
  });

  it('names a symbol the provider no longer exports', async () => {
    const tree = memoryTree({ ...base, '/usr/lib/libdemo.so.1': demoLibraryWithoutOld(64, 'little') });
    const c = await computeClosure({ tree, roots: { paths: ['/bin/demo'] } });
    expect(c.unsatisfied.filter((u) => 'soname' in u && u.soname === 'libdemo.so.1')).toEqual([
      {
        kind: 'missing-symbol',
        by: '/bin/demo',
        soname: 'libdemo.so.1',
        provider: '/usr/lib/libdemo.so.1',
        symbol: 'demo_old@DEMO_1.0',
      },
    ]);
  });

  it('binds a versioned symbol to any object in scope defining it at that version (glibc stubs)', async () => {
    const stub = buildElf({
      bits: 64,
      endian: 'little',
      soname: 'libdemo.so.1',
      symbols: [],
      verdefs: [
        { index: 1, flags: 1, names: ['libdemo.so.1'] },
        { index: 2, flags: 0, names: ['DEMO_1.0'] },
        { index: 3, flags: 0, names: ['DEMO_2.0', 'DEMO_1.0'] },
      ],
    });
    const fullLibc = buildElf({
      bits: 64,
      endian: 'little',
      soname: 'libc.so.6',
      symbols: [
        ...['puts', 'printf', '__cxa_finalize'].map((name) => ({
          name,
          bind: 1,
          type: 2,
          shndx: 7,
          versym: 2,
        })),
        { name: 'demo_new', bind: 1, type: 2, shndx: 7, versym: 4 },
        { name: 'demo_old', bind: 1, type: 2, shndx: 7, versym: 0x8003 },
      ],
      verdefs: [
        { index: 1, flags: 1, names: ['libc.so.6'] },
        { index: 2, flags: 0, names: ['GLIBC_2.2.5'] },
        { index: 3, flags: 0, names: ['DEMO_1.0'] },
        { index: 4, flags: 0, names: ['DEMO_2.0'] },
      ],
    });
    const tree = memoryTree({
      ...base,
      '/usr/lib/x86_64-linux-gnu/libc.so.6': fullLibc,
      '/usr/lib/libdemo.so.1': stub,
    });
    const c = await computeClosure({ tree, roots: { paths: ['/bin/demo'] } });
    expect(c.unsatisfied).toEqual([]);
    // without the definitions in libc, the stub's missing symbols are named
    const bare = await computeClosure({
      tree: memoryTree({ ...base, '/usr/lib/libdemo.so.1': stub }),
      roots: { paths: ['/bin/demo'] },
    });
    expect(bare.unsatisfied.map((u) => (u.kind === 'missing-symbol' ? u.symbol : u.kind))).toEqual([
      'demo_new@DEMO_2.0',
      'demo_old@DEMO_1.0',
    ]);
  });

  it('a non-ELF candidate stops the search (ld.so: invalid ELF header); a missing interpreter is named', async () => {
    const tree = memoryTree({
      '/bin/demo': prog,
      '/lib/x86_64-linux-gnu/libdemo.so.1': 'INPUT ( -lfoo )',
      '/usr/lib/libdemo.so.1': lib64,
    });
    const c = await computeClosure({ tree, roots: { paths: ['/bin/demo'] } });
    expect(c.unsatisfied).toContainEqual({
      kind: 'bad-candidate',
      by: '/bin/demo',
      soname: 'libdemo.so.1',
      path: '/lib/x86_64-linux-gnu/libdemo.so.1',
      why: 'invalid ELF header',
    });
    expect(c.unsatisfied).toContainEqual({
      kind: 'missing-interpreter',
      by: '/bin/demo',
      interpreter: '/lib64/ld-linux-x86-64.so.2',
    });
  });

  it('follows a #! script to its interpreter; a missing root is E4', async () => {
    const tree = memoryTree({
      ...base,
      '/usr/lib/libdemo.so.1': lib64,
      '/bin/tool': '#!/bin/demo -x\necho\n',
    });
    const c = await computeClosure({ tree, roots: { paths: ['/bin/tool'] } });
    expect(c.members.find((m) => m.path === '/bin/tool')!.kind).toBe('script');
    expect(c.members.find((m) => m.path === '/bin/demo')!.reasons).toEqual([
      { kind: 'script', of: '/bin/tool' },
    ]);
    await expect(computeClosure({ tree, roots: { paths: ['/bin/nope'] } })).rejects.toThrow(
      /\[E4\] closure root \/bin\/nope/,
    );
  });
});

describe('the closure vector of specs/interface.md §10.10', () => {
  it('has the digest the spec states', async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const libc = buildElf({
      bits: 64,
      endian: 'little',
      soname: 'libc.so.6',
      symbols: ['puts', 'printf', '__cxa_finalize'].map((name) => ({
        name,
        bind: 1,
        type: 2,
        shndx: 7,
        versym: 2,
      })),
      verdefs: [
        { index: 1, flags: 1, names: ['libc.so.6'] },
        { index: 2, flags: 0, names: ['GLIBC_2.2.5'] },
      ],
    });
    const tree = memoryTree({
      '/bin/demo': demoProgram(64, 'little'),
      '/lib': { link: 'usr/lib' },
      '/lib64': { link: 'usr/lib' },
      '/usr/lib/ld-linux-x86-64.so.2': buildElf({
        bits: 64,
        endian: 'little',
        soname: 'ld-linux-x86-64.so.2',
        symbols: [],
      }),
      '/usr/lib/libc.so.6': libc,
      '/usr/lib/libdemo.so.1': demoLibraryWithoutOld(64, 'little'),
      '/usr/local/lib/libdemo.so.1': demoLibrary(32, 'little'),
      '/etc/ld.so.conf': 'include ld.so.conf.d/*.conf\n',
      '/etc/ld.so.conf.d/local.conf': '/usr/local/lib\n',
    });
    const c = await computeClosure({ tree, roots: { paths: ['/bin/demo'] } });
    expect(c.members.map((m) => m.path)).toEqual([
      '/bin/demo',
      '/usr/lib/ld-linux-x86-64.so.2',
      '/usr/lib/libc.so.6',
      '/usr/lib/libdemo.so.1',
    ]);
    expect(c.unsatisfied).toEqual([
      {
        kind: 'missing-symbol',
        by: '/bin/demo',
        soname: 'libdemo.so.1',
        provider: '/usr/lib/libdemo.so.1',
        symbol: 'demo_old@DEMO_1.0',
      },
    ]);
    const spec = readFileSync(join(import.meta.dirname, '..', '..', 'specs', 'interface.md'), 'utf8');
    const stated = /closure vector digest: `(blake3:[0-9a-f]{64})`/.exec(spec)?.[1];
    expect(closureDigest(c)).toBe(stated);
  });
});
