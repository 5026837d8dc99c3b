/**
 * The closure computer on this machine's real binaries. A composition is built with the composer's
 * API from the host's own files, package by package (one entry per library as Debian ships it:
 * the real file plus its soname link; `base` holds the merged-/usr links and ld.so.conf): curl,
 * dash, bash, the `ldd` script, and an unused entry. The closure of curl must equal what `ldd`
 * reports for it when run inside `eos run` (same loader paths, same real files); removing libz or
 * libssl must give a named unsatisfied requirement; a library built here without a needed version
 * node or symbol must be named; `$ORIGIN` RUNPATH and inherited RPATH are resolved like ld.so does.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Store, type Digest } from '../../src/kernel/index.ts';
import { CompositionStore, makeComposition, type Composition } from '../../composer/index.ts';
import {
  compositionClosureEntries,
  computeClosure,
  describeReason,
  describeUnsatisfied,
  directoryClosureTree,
  storeClosureTree,
  ViewResolver,
  type Closure,
} from '../../extractors/index.ts';
import { eos, tempDir } from '../composer/helpers.ts';

const isRoot = process.getuid?.() === 0;
const haveBwrap = spawnSync('bwrap', ['--version']).status === 0;
const haveGcc = spawnSync('gcc', ['--version']).status === 0;
const CURL = ['/usr/bin/curl', '/usr/bin/ssh', '/usr/bin/git'].find(
  (p) => spawnSync('test', ['-x', p]).status === 0,
)!;
if (!haveGcc) console.warn('closure-host.test.ts: gcc tests skipped: no gcc (scripts/setup.sh installs it)');

const base = tempDir('eos-closure-');
/** Where the gcc-built programs and libraries are laid out (as /opt/demo). */
const DEMO = join(base, 'pkgs', 'demo');
const ws = { store: join(base, 'store'), config: join(base, 'config'), cwd: base };
let store: Store;
let cs: CompositionStore;
/** Entry name → entry of the full composition. */
const entries: Record<string, unknown> = {};
/** Entry names of the libraries `ldd` names for each program. */
const libsOf = new Map<string, string[]>();
let root: Digest;
let view: Digest;

/** `ldd PROGRAM` on the host: [name as ldd prints it (the loader path), soname or path]. */
function lddPaths(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(?:(\S+) => )?(\/\S+) \(0x[0-9a-f]+\)\s*$/.exec(line);
    if (m) out.push(m[2]!);
  }
  return out.sort();
}

/** Makes a directory tree, ingests it and returns a tree entry at `/`. */
async function pkg(
  name: string,
  files: { at: string; src?: string; link?: string; text?: string; mode?: number }[],
): Promise<void> {
  const dir = join(base, 'pkgs', name);
  for (const f of files) {
    const p = join(dir, f.at);
    mkdirSync(dirname(p), { recursive: true });
    if (f.link !== undefined) symlinkSync(f.link, p);
    else if (f.src !== undefined) copyFileSync(f.src, p);
    else writeFileSync(p, f.text ?? '', { mode: f.mode ?? 0o644 });
  }
  entries[name] = { at: '/' };
}

/** Ingests every package directory in one pass and gives each entry its subtree's digest. */
async function ingestPackages(): Promise<void> {
  const r = await store.ingest(join(base, 'pkgs'));
  const top = await store.getTree(r.digest);
  for (const [name, e] of Object.entries(entries) as [string, { at: string }][]) {
    let digest: Digest | undefined;
    let t = top;
    const parts = [name, ...e.at.split('/').filter(Boolean)];
    for (const part of parts) {
      const x = t.entries.find((y) => y.name === part);
      if (!x || x.kind !== 'directory') throw new Error(`no package directory ${parts.join('/')}`);
      digest = x.digest;
      t = await store.getTree(x.digest);
    }
    entries[name] = { at: e.at, node: { kind: 'tree', digest }, constraint: { kind: 'exact', digest } };
  }
}

/** Adds one entry per library `ldd` names for `program` (the real file and the ldd name as a link). */
async function addLibraries(program: string): Promise<void> {
  const names: string[] = [];
  for (const p of lddPaths(execFileSync('ldd', [program], { encoding: 'utf8' }))) {
    const real = realpathSync(p);
    const entry = basename(p).toLowerCase();
    names.push(entry);
    if (entries[entry]) continue;
    const files: { at: string; src?: string; link?: string }[] = [{ at: real, src: real }];
    if (basename(p) !== basename(real) && !p.startsWith('/lib64/'))
      files.push({ at: join(dirname(real), basename(p)), link: basename(real) });
    await pkg(entry, files);
  }
  libsOf.set(program, names.sort());
}

function compose(without: string[] = []): Composition {
  const es = Object.fromEntries(Object.entries(entries).filter(([n]) => !without.includes(n)));
  return makeComposition({ version: 1, entries: es, precedence: [] });
}

const saved = new Map<string, { root: Digest; tree: Digest }>();

/** Saves a composition once (by root) and computes a closure in its merged view. */
async function closureOf(c: Composition, roots: { paths?: string[]; entries?: string[] }): Promise<Closure> {
  const key = Object.keys(c.entries).join(',');
  let s = saved.get(key);
  if (!s) {
    const r = await cs.save(c);
    s = { root: r.root, tree: r.view.tree };
    saved.set(key, s);
  }
  return computeClosure({
    tree: storeClosureTree(store, s.tree),
    entries: compositionClosureEntries(store, c, s.tree),
    roots,
    subject: { composition: s.root, tree: s.tree },
  });
}

/** The test-built programs and libraries (gcc), laid out under `dir` as /opt/demo/{bin,lib}. */
function buildDemo(dir: string): void {
  const src = join(base, 'src');
  mkdirSync(src, { recursive: true });
  mkdirSync(join(dir, 'opt/demo/bin'), { recursive: true });
  mkdirSync(join(dir, 'opt/demo/lib'), { recursive: true });
  const lib = (out: string, soname: string, code: string, script: string, extra: string[] = []) => {
    writeFileSync(join(src, `${basename(out)}.c`), code);
    writeFileSync(join(src, `${basename(out)}.map`), script);
    execFileSync('gcc', [
      '-shared',
      '-fPIC',
      '-O1',
      '-o',
      out,
      join(src, `${basename(out)}.c`),
      `-Wl,-soname,${soname}`,
      `-Wl,--version-script=${join(src, `${basename(out)}.map`)}`,
      ...extra,
    ]);
  };
  const fooV1 =
    'int foo_a(int x){return x+1;}\nint foo_b(int x){return x+2;}\nint foo_c(int x){return x+3;}\n';
  lib(
    join(dir, 'opt/demo/lib/libfoo.so.1'),
    'libfoo.so.1',
    fooV1,
    'FOO_1.0 { global: foo_a; foo_b; local: *; };\nFOO_2.0 { global: foo_c; } FOO_1.0;\n',
  );
  // v2: FOO_1.0 without foo_b; v4: no FOO_2.0 node (foo_c moved into FOO_1.0)
  lib(
    join(src, 'libfoo-v2.so'),
    'libfoo.so.1',
    'int foo_a(int x){return x+1;}\nint foo_c(int x){return x+3;}\n',
    'FOO_1.0 { global: foo_a; local: *; };\nFOO_2.0 { global: foo_c; } FOO_1.0;\n',
  );
  lib(
    join(src, 'libfoo-v4.so'),
    'libfoo.so.1',
    fooV1,
    'FOO_1.0 { global: foo_a; foo_b; foo_c; local: *; };\n',
  );
  lib(
    join(dir, 'opt/demo/lib/libbar.so.1'),
    'libbar.so.1',
    'int foo_a(int);\nint bar(int x){return foo_a(x)*2;}\n',
    'BAR_1.0 { global: bar; local: *; };\n',
    [`-L${join(dir, 'opt/demo/lib')}`, '-l:libfoo.so.1'],
  );
  writeFileSync(
    join(src, 'app.c'),
    '#include <stdio.h>\nint foo_a(int);int foo_b(int);int foo_c(int);\nint main(void){printf("%d\\n", foo_a(1)+foo_b(1)+foo_c(1));return 0;}\n',
  );
  writeFileSync(
    join(src, 'app2.c'),
    '#include <stdio.h>\nint bar(int);\nint main(void){printf("%d\\n", bar(1));return 0;}\n',
  );
  const L = [`-L${join(dir, 'opt/demo/lib')}`];
  execFileSync('gcc', [
    '-O1',
    '-o',
    join(dir, 'opt/demo/bin/app'),
    join(src, 'app.c'),
    ...L,
    '-l:libfoo.so.1',
    '-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib',
  ]);
  // app-rpath: DT_RPATH, inherited by libbar when it looks for libfoo; app-runpath: DT_RUNPATH, not inherited
  for (const [name, tags] of [
    ['app-rpath', '--disable-new-dtags'],
    ['app-runpath', '--enable-new-dtags'],
  ] as const)
    execFileSync('gcc', [
      '-O1',
      '-o',
      join(dir, `opt/demo/bin/${name}`),
      join(src, 'app2.c'),
      ...L,
      '-l:libbar.so.1',
      `-Wl,-rpath-link,${join(dir, 'opt/demo/lib')}`,
      `-Wl,${tags},-rpath,$ORIGIN/../lib`,
    ]);
}

beforeAll(async () => {
  const started = Date.now();
  mkdirSync(ws.config, { recursive: true });
  store = new Store(ws.store);
  cs = new CompositionStore(store);
  await pkg('base', [
    { at: 'bin', link: 'usr/bin' },
    { at: 'lib', link: 'usr/lib' },
    { at: 'lib64', link: 'usr/lib64' },
    { at: 'usr/lib64/ld-linux-x86-64.so.2', link: '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2' },
    { at: 'etc/ld.so.conf', src: '/etc/ld.so.conf' },
    ...readdirSync('/etc/ld.so.conf.d').map((f) => ({
      at: `etc/ld.so.conf.d/${f}`,
      src: `/etc/ld.so.conf.d/${f}`,
    })),
  ]);
  for (const p of [CURL, '/usr/bin/dash', '/usr/bin/bash']) {
    await pkg(basename(p), [{ at: p, src: p }]);
    await addLibraries(p);
  }
  await pkg('ldd', [{ at: '/usr/bin/ldd', src: '/usr/bin/ldd' }]);
  await pkg('unused', [{ at: 'usr/share/doc/unused/README', text: 'not needed\n' }]);
  // A module with a shebang but no x bit (CPython installs base64.py 644) and an executable script.
  await pkg('scripts', [
    { at: 'usr/lib/py/mod.py', text: '#!/usr/bin/env python3\nprint(1)\n', mode: 0o644 },
    { at: 'usr/bin/tool', text: '#!/usr/bin/perl\nprint 1;\n', mode: 0o755 },
  ]);
  // `#!/usr/bin/env NAME`: env and then NAME on a default PATH.
  await pkg('env', [{ at: '/usr/bin/env', src: '/usr/bin/env' }]);
  await addLibraries('/usr/bin/env');
  await pkg('envscripts', [
    { at: 'usr/bin/via-env-bash', text: '#!/usr/bin/env -S LC_ALL=C bash -e\necho\n', mode: 0o755 },
    { at: 'usr/bin/via-env-perl', text: '#!/usr/bin/env perl\nprint 1;\n', mode: 0o755 },
  ]);
  if (haveGcc) {
    buildDemo(DEMO);
    entries['demo'] = { at: '/opt/demo' };
  }
  await ingestPackages();
  console.log(`closure-host: packages ingested in ${Date.now() - started} ms`);
  const t0 = Date.now();
  const full = await cs.save(compose());
  root = full.root;
  view = full.view.tree;
  saved.set(Object.keys(compose().entries).join(','), { root, tree: view });
  console.log(`closure-host: composition of ${Object.keys(entries).length} entries in ${Date.now() - t0} ms`);
}, 60_000);

describe(`closure of ${CURL} in a composition of host files`, () => {
  let c: Closure;
  beforeAll(async () => {
    const t0 = Date.now();
    c = await closureOf(compose(), { paths: [CURL] });
    console.log(`closure-host: closure of ${CURL} (${c.members.length} members) in ${Date.now() - t0} ms`);
  });

  it('is complete, and its entries are exactly the program, its libraries and base', () => {
    expect(c.unsatisfied).toEqual([]);
    expect(c.entries).toEqual([...new Set(['base', basename(CURL), ...libsOf.get(CURL)!])].sort());
    expect(c.entries).not.toContain('unused');
    expect(c.entries).not.toContain('bash');
    expect(c.kind).toBe('eos.closure');
    expect(c.subject).toEqual({ composition: root, tree: view });
  });

  it.skipIf(!isRoot || !haveBwrap)(
    'equals what ldd reports inside eos run (loader paths and real files)',
    async () => {
      const r = eos(ws, ['run', root, '--', '/usr/bin/ldd', CURL]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const inside = lddPaths(r.stdout);
      expect(inside.length).toBeGreaterThan(3);
      const names = c.members.filter((m) => m.path !== CURL).flatMap((m) => m.names);
      expect(names.sort()).toEqual(inside);
      // the same real files, resolved through the view
      const v = new ViewResolver(storeClosureTree(store, view));
      const reals = await Promise.all(inside.map(async (p) => (await v.resolve(p))!.path));
      expect([...new Set(reals)].sort()).toEqual(c.members.map((m) => m.path).filter((p) => p !== CURL));
      // and the host's own ldd (which reads the host's ld.so.cache) names the same paths
      expect(lddPaths(execFileSync('ldd', [CURL], { encoding: 'utf8' }))).toEqual(inside);
    },
  );

  it('justifies every member', () => {
    const text = (p: string) => {
      const m = c.members.find((x) => x.path.endsWith(p))!;
      return m.reasons.map((r) => describeReason(c, m, r));
    };
    expect(c.members.every((m) => m.reasons.length > 0)).toBe(true);
    expect(text('/ld-linux-x86-64.so.2')[0]).toBe(`ld-linux-x86-64.so.2 ← ${CURL} interpreter`);
    if (CURL === '/usr/bin/curl') {
      const ssl = c.members.find((m) => m.soname === 'libssl.so.3')!;
      const need = ssl.reasons.find((r) => r.kind === 'needed' && r.by.includes('libcurl'));
      expect(need && need.kind === 'needed' && need.symbols).toContain('SSL_read@OPENSSL_3.0.0');
      expect(text('/libssl.so.3')[0]).toMatch(
        /^libssl\.so\.3 ← libcurl\.so\.4 needs \S+@OPENSSL_3\.0\.0 \(\+\d+ more\)$/,
      );
    }
    expect(c.links.map((l) => l.path)).toContain('/lib64');
    expect(c.links.find((l) => l.path === '/usr/lib64/ld-linux-x86-64.so.2')!.entries).toEqual(['base']);
  });

  it('is the same when the root is given as its entry, and deterministic', async () => {
    const byEntry = await closureOf(compose(), { entries: [basename(CURL)] });
    expect(byEntry.members.map((m) => m.path)).toEqual(c.members.map((m) => m.path));
    expect(byEntry.entries).toEqual(c.entries);
    const again = await closureOf(compose(), { paths: [CURL] });
    expect(JSON.stringify(again)).toBe(JSON.stringify(c));
  });
});

describe("a root entry's scripts", () => {
  it("are its executable #! files only: a 644 module's shebang names no interpreter", async () => {
    const c = await closureOf(compose(), { entries: ['scripts'] });
    expect(c.members.map((m) => m.path)).toEqual(['/usr/bin/tool']);
    expect(c.unsatisfied).toEqual([
      { kind: 'missing-interpreter', by: '/usr/bin/tool', interpreter: '/usr/bin/perl' },
    ]);
    // Given as a path, the module is a root whatever its mode (the caller says it runs it).
    const byPath = await closureOf(compose(), { paths: ['/usr/lib/py/mod.py'] });
    expect(byPath.unsatisfied).toEqual([
      {
        kind: 'missing-interpreter',
        by: '/usr/lib/py/mod.py',
        interpreter: 'python3',
        searched: ['/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin'],
      },
    ]);
  });
});

describe('#!/usr/bin/env NAME', () => {
  it('needs env and NAME on a default PATH; a NAME found nowhere is named with the directories searched', async () => {
    const c = await closureOf(compose(), { entries: ['envscripts'] });
    const bash = c.members.find((m) => m.path === '/usr/bin/bash')!;
    expect(bash.reasons).toContainEqual({ kind: 'script', of: '/usr/bin/via-env-bash' });
    expect(c.members.find((m) => m.path === '/usr/bin/env')!.reasons).toContainEqual({
      kind: 'script',
      of: '/usr/bin/via-env-perl',
    });
    expect(c.unsatisfied).toEqual([
      {
        kind: 'missing-interpreter',
        by: '/usr/bin/via-env-perl',
        interpreter: 'perl',
        searched: ['/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin'],
      },
    ]);
    expect(describeUnsatisfied(c.unsatisfied[0]!)).toBe(
      '/usr/bin/via-env-perl: env command perl not found (searched /usr/local/bin, /usr/bin, /bin, /usr/sbin, /sbin)',
    );
  });
});

describe('eos closure', () => {
  it('prints members with reasons for dash, exit 0; --json is the document', () => {
    const r = eos(ws, ['closure', root, '--roots', '/bin/dash']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toContain(
      'member\t/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2\tld-linux-x86-64.so.2\tld-linux-x86-64.so.2 ← /usr/bin/dash interpreter\t+1 more',
    );
    expect(lines).toContain('member\t/usr/bin/dash\tdash\t/usr/bin/dash ← root /bin/dash');
    expect(lines.filter((l) => l.startsWith('member\t')).length).toBe(3);
    expect(lines).toContain('link\t/bin\tusr/bin\tbase');
    expect(lines.filter((l) => l.startsWith('entry\t')).map((l) => l.split('\t')[1])).toEqual([
      'base',
      'dash',
      'ld-linux-x86-64.so.2',
      'libc.so.6',
    ]);
    expect(lines[lines.length - 1]).toMatch(/^closure\tblake3:[0-9a-f]{64}$/);
    const j = eos(ws, ['--json', 'closure', root, '--roots', '/bin/dash']);
    const doc = JSON.parse(j.stdout) as Closure;
    expect(doc.kind).toBe('eos.closure');
    expect(doc.version).toBe(1);
    expect(doc.members.map((m) => m.path)).toEqual([
      '/usr/bin/dash',
      '/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2',
      '/usr/lib/x86_64-linux-gnu/libc.so.6',
    ]);
  });

  it('follows the ldd script to bash; takes a plain tree digest too', () => {
    const r = eos(ws, ['closure', view, '--roots', '/usr/bin/ldd']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('member\t/usr/bin/bash\t-\t/usr/bin/bash ← /usr/bin/ldd script interpreter');
    expect(r.stdout).toContain('libtinfo.so.6 ← /usr/bin/bash needs');
  });

  it('rejects bad input with one located error', () => {
    expect(eos(ws, ['closure', root]).stderr).toMatch(
      /^eos: \[E1\] eos closure: --roots names no path or entry/,
    );
    const missing = eos(ws, ['closure', root, '--roots', '/usr/bin/nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^eos: \[E4\] closure root \/usr\/bin\/nope is not a file in the view/);
    expect(eos(ws, ['closure', root, '--roots', 'nosuchentry']).stderr).toMatch(
      /^eos: \[E4\] closure root entry nosuchentry/,
    );
  });
});

describe('removing a needed library', () => {
  it.skipIf(CURL !== '/usr/bin/curl')(
    'without libz: libz.so.1 is a named unsatisfied requirement (exit 3)',
    async () => {
      const c = compose(['libz.so.1']);
      const s = await cs.save(c);
      const r = eos(ws, ['closure', s.root, '--roots', CURL]);
      expect(r.code).toBe(3);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toContain(
        'unsatisfied\tmissing-soname\tlibz.so.1 needed by /usr/bin/curl: not found (searched /lib/x86_64-linux-gnu (ld.so.conf), /usr/lib/x86_64-linux-gnu (default), /lib (default), /usr/lib (default))',
      );
      expect(
        lines.some((l) =>
          /^unsatisfied\tmissing-soname\tlibz\.so\.1 needed by \/usr\/lib\/x86_64-linux-gnu\/libcurl\.so/.test(
            l,
          ),
        ),
      ).toBe(true);
      expect(lines.filter((l) => l.startsWith('unsatisfied')).every((l) => l.includes('libz.so.1'))).toBe(
        true,
      );
      if (isRoot && haveBwrap) {
        const ldd = eos(ws, ['run', s.root, '--', '/usr/bin/ldd', CURL]);
        expect(ldd.stdout).toContain('libz.so.1 => not found');
      }
    },
  );

  it.skipIf(CURL !== '/usr/bin/curl')('without libssl: libssl.so.3 needed by libcurl is named', async () => {
    const c = await closureOf(compose(['libssl.so.3']), { paths: [CURL] });
    expect(c.unsatisfied.map((u) => [u.kind, 'soname' in u ? u.soname : null, basename(u.by)])).toEqual([
      ['missing-soname', 'libssl.so.3', 'libcurl.so.4.8.0'],
    ]);
    expect(c.members.map((m) => m.soname)).not.toContain('libssl.so.3');
  });
});

describe.skipIf(!haveGcc)('libraries built here (gcc, version scripts, $ORIGIN)', () => {
  it.skipIf(!isRoot || !haveBwrap)('resolves $ORIGIN/../lib RUNPATH like ldd inside eos run', async () => {
    const c = await closureOf(compose(), { paths: ['/opt/demo/bin/app'] });
    expect(c.unsatisfied).toEqual([]);
    const foo = c.members.find((m) => m.soname === 'libfoo.so.1')!;
    expect(foo.path).toBe('/opt/demo/lib/libfoo.so.1');
    expect(foo.names).toEqual(['/opt/demo/bin/../lib/libfoo.so.1']);
    expect(foo.entries).toEqual(['demo']);
    const r = eos(ws, ['run', root, '--', '/usr/bin/ldd', '/opt/demo/bin/app']);
    expect(r.code).toBe(0);
    expect(lddPaths(r.stdout)).toEqual(
      c.members
        .filter((m) => m.path !== '/opt/demo/bin/app')
        .flatMap((m) => m.names)
        .sort(),
    );
  });

  it('DT_RPATH is inherited by the libraries it loads, DT_RUNPATH is not (as host ldd shows)', async () => {
    const withRpath = await closureOf(compose(), { paths: ['/opt/demo/bin/app-rpath'] });
    expect(withRpath.unsatisfied).toEqual([]);
    const foo = withRpath.members.find((m) => m.soname === 'libfoo.so.1')!;
    expect(foo.reasons).toMatchObject([
      { kind: 'needed', by: '/opt/demo/lib/libbar.so.1', soname: 'libfoo.so.1' },
    ]);
    const withRunpath = await closureOf(compose(), { paths: ['/opt/demo/bin/app-runpath'] });
    expect(withRunpath.unsatisfied).toMatchObject([
      { kind: 'missing-soname', soname: 'libfoo.so.1', by: '/opt/demo/lib/libbar.so.1' },
    ]);
    const searched =
      withRunpath.unsatisfied[0]!.kind === 'missing-soname' ? withRunpath.unsatisfied[0]!.searched : [];
    expect(searched[0]).toBe('/lib/x86_64-linux-gnu (ld.so.conf)');
    const demo = join(DEMO, 'opt/demo/bin');
    expect(execFileSync('ldd', [join(demo, 'app-rpath')], { encoding: 'utf8' })).toMatch(
      /libfoo\.so\.1 => \S+\/lib\/libfoo\.so\.1/,
    );
    expect(execFileSync('ldd', [join(demo, 'app-runpath')], { encoding: 'utf8' })).toContain(
      'libfoo.so.1 => not found',
    );
  });

  it('names a missing version node and a missing symbol, as the loader fails on them', async () => {
    const dir = join(base, 'versions');
    const src = join(base, 'src');
    for (const variant of ['libfoo-v4.so', 'libfoo-v2.so']) {
      const rootDir = join(dir, variant);
      mkdirSync(join(rootDir, 'opt/demo/bin'), { recursive: true });
      mkdirSync(join(rootDir, 'opt/demo/lib'), { recursive: true });
      mkdirSync(join(rootDir, 'lib64'), { recursive: true });
      mkdirSync(join(rootDir, 'lib/x86_64-linux-gnu'), { recursive: true });
      copyFileSync(join(DEMO, 'opt/demo/bin/app'), join(rootDir, 'opt/demo/bin/app'));
      copyFileSync(join(src, variant), join(rootDir, 'opt/demo/lib/libfoo.so.1'));
      copyFileSync(realpathSync('/lib64/ld-linux-x86-64.so.2'), join(rootDir, 'lib64/ld-linux-x86-64.so.2'));
      copyFileSync(
        realpathSync('/lib/x86_64-linux-gnu/libc.so.6'),
        join(rootDir, 'lib/x86_64-linux-gnu/libc.so.6'),
      );
    }
    const v4 = await computeClosure({
      tree: directoryClosureTree(join(dir, 'libfoo-v4.so')),
      roots: { paths: ['/opt/demo/bin/app'] },
    });
    expect(v4.unsatisfied).toEqual([
      {
        kind: 'missing-version',
        by: '/opt/demo/bin/app',
        soname: 'libfoo.so.1',
        provider: '/opt/demo/lib/libfoo.so.1',
        version: 'FOO_2.0',
      },
    ]);
    const v2 = await computeClosure({
      tree: directoryClosureTree(join(dir, 'libfoo-v2.so')),
      roots: { paths: ['/opt/demo/bin/app'] },
    });
    expect(v2.unsatisfied).toEqual([
      {
        kind: 'missing-symbol',
        by: '/opt/demo/bin/app',
        soname: 'libfoo.so.1',
        provider: '/opt/demo/lib/libfoo.so.1',
        symbol: 'foo_b@FOO_1.0',
      },
    ]);
    // the real loader agrees: the version is fatal at start-up, the symbol at binding (BIND_NOW)
    const run4 = spawnSync(join(dir, 'libfoo-v4.so/opt/demo/bin/app'), { encoding: 'utf8' });
    expect(run4.stderr).toContain("version `FOO_2.0' not found");
    const run2 = spawnSync(join(dir, 'libfoo-v2.so/opt/demo/bin/app'), {
      encoding: 'utf8',
      env: { ...process.env, LD_BIND_NOW: '1' },
    });
    expect(run2.stderr).toContain('undefined symbol: foo_b');
  });
});
