// The Python extractor on real import roots: distributions copied from this machine's CPython
// 3.11 site-packages (pip, setuptools, cffi with its extension module) and a hand-made package.
// RECORD checks are compared with Python's own csv + hashlib, imports with Python's own `ast`
// module, file by file and name by name.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCanonical } from '../../src/kernel/index.ts';
import {
  buildPythonManifest,
  interfaceOfElf,
  listPythonTree,
  parseElf,
  parsePythonImports,
  parsePythonManifest,
  pythonManifestDigest,
  readPythonManifest,
  STDLIB_MODULE_NAMES,
  STDLIB_SOURCE,
  type PythonExtension,
  type PythonManifest,
} from '../../extractors/index.ts';
import { pythonInterfaceLines } from '../../src/cli/interface-python.ts';
import { buildSitePackages, DEMO_FILES, hostSitePackages, python } from './python-fixture.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const sitePackages = hostSitePackages();
if (sitePackages === null) console.warn('python3 with a site-packages directory is not available: skipping');
const suite = sitePackages === null ? describe.skip : describe;

/** Python's own view of a RECORD: rows checked with csv + hashlib. */
const RECORD_CHECK_PY = `
import csv, hashlib, base64, os, sys, json
root = sys.argv[1]
out = {}
for dist in sorted(os.listdir(root)):
    rec = os.path.join(root, dist, 'RECORD')
    if not dist.endswith('.dist-info') or not os.path.isfile(rec):
        continue
    verified, missing, mismatched, outside, hexed = 0, [], [], [], []
    with open(rec, newline='') as f:
        for row in csv.reader(f):
            if not row:
                continue
            path, h, size = row[0], row[1], row[2]
            full = os.path.normpath(os.path.join(root, path))
            if not full.startswith(root + os.sep):
                outside.append(path); continue
            rel = os.path.relpath(full, root)
            if not os.path.isfile(full):
                missing.append(rel); continue
            if not h:
                continue
            algo, want = h.split('=', 1)
            data = open(full, 'rb').read()
            digest = hashlib.new(algo, data).digest()
            got = base64.urlsafe_b64encode(digest).rstrip(b'=').decode()
            if got != want and digest.hex() == want.lower():
                hexed.append(rel)
                got = want
            if got != want or (size and int(size) != len(data)):
                mismatched.append(rel)
            else:
                verified += 1
    out[dist] = {'verified': verified, 'missing': sorted(missing), 'mismatched': sorted(mismatched),
                 'outside': sorted(outside), 'hex': sorted(hexed)}
print(json.dumps(out))
`;

/** Checks every RECORD check of a manifest against RECORD_CHECK_PY over the same tree. */
function compareRecordsWithPython(root: string, manifest: PythonManifest): void {
  const py = JSON.parse(python(RECORD_CHECK_PY, [root])) as Record<
    string,
    { verified: number; missing: string[]; mismatched: string[]; outside: string[]; hex: string[] }
  >;
  const withRecord = manifest.provides.distributions.filter((d) => d.record);
  expect(withRecord.map((d) => d.path)).toEqual(Object.keys(py).sort());
  for (const d of withRecord) {
    const p = py[d.path]!;
    expect(d.record!.verified, d.path).toBe(p.verified);
    expect(d.record!.missing, d.path).toEqual(p.missing);
    expect(
      d.record!.mismatches.map((m) => m.path),
      d.path,
    ).toEqual(p.mismatched);
    expect(d.record!.outside, d.path).toEqual(p.outside);
    expect(d.record!.hexDigests, d.path).toEqual(p.hex);
    expect(d.record!.malformed, d.path).toEqual([]);
    expect(d.record!.unrecorded, d.path).toEqual([]);
  }
}

/**
 * Python's own view of every .py file's imports (ast), resolved with importlib.util.resolve_name
 * against the tree's module set, classified with sys.stdlib_module_names.
 */
const AST_IMPORTS_PY = `
import ast, importlib.util, json, os, sys
root = sys.argv[1]
files = []
for d, dirs, names in os.walk(root):
    for n in names:
        files.append(os.path.relpath(os.path.join(d, n), root).replace(os.sep, '/'))
files.sort()
def module_of(p):
    parts = p.split('/')
    f = parts.pop()
    if not all(x.isidentifier() for x in parts):
        return None
    if f.endswith('.py'):
        name, kind = f[:-3], 'source'
        if not name.isidentifier():
            return None
    elif f.endswith('.so'):
        stem = f[:-3].split('.')
        if len(stem) > 2 or not stem[0].isidentifier() or (len(stem) == 2 and stem[1] == ''):
            return None
        name, kind = stem[0], 'extension'
    else:
        return None
    if name == '__init__':
        return ('.'.join(parts), True, kind) if parts else None
    return ('.'.join(parts + [name]), False, kind)
mods = set()
for p in files:
    m = module_of(p)
    if m:
        bits = m[0].split('.')
        for i in range(1, len(bits) + 1):
            mods.add('.'.join(bits[:i]))
tops = {m.split('.')[0] for m in mods}
def scope(n):
    t = n.split('.')[0]
    return 'stdlib' if t in sys.stdlib_module_names else 'tree' if t in tops else 'external'
COND = (ast.Try, ast.If, ast.Match) + ((ast.TryStar,) if hasattr(ast, 'TryStar') else ())
out = {}
for p in files:
    if not p.endswith('.py'):
        continue
    src = open(os.path.join(root, p), 'rb').read()
    try:
        tree = ast.parse(src, p)
    except (SyntaxError, ValueError) as e:
        out[p] = {'error': str(e)}
        continue
    m = module_of(p)
    stmts, resolved, unresolved = [], {}, []
    def add(n, opt):
        resolved[n] = resolved.get(n, True) and opt
    def visit(node, opt):
        for child in ast.iter_child_nodes(node):
            o = opt or isinstance(node, COND)
            if isinstance(child, ast.Import):
                for a in child.names:
                    stmts.append([child.lineno, 'import', None, 0, a.name, a.asname, o])
                    add(a.name, o)
            elif isinstance(child, ast.ImportFrom):
                for a in child.names:
                    stmts.append([child.lineno, 'from', child.module, child.level, a.name, a.asname, o])
                base = child.module
                if child.level:
                    pkg = None if m is None else (m[0] if m[1] else m[0].rpartition('.')[0])
                    try:
                        base = importlib.util.resolve_name('.' * child.level + (child.module or ''), pkg)
                    except (ImportError, ValueError):
                        unresolved.append([child.lineno, child.level, child.module])
                        continue
                add(base, o)
                for a in child.names:
                    if a.name != '*' and base + '.' + a.name in mods:
                        add(base + '.' + a.name, o)
            visit(child, o)
    visit(tree, False)
    out[p] = {
        'statements': sorted(stmts, key=json.dumps),
        'imports': sorted([[n, scope(n), o] for n, o in resolved.items()]),
        'unresolved': sorted(unresolved, key=json.dumps),
        'module': m[0] if m and m[2] == 'source' else None,
    }
print(json.dumps(out))
`;

/** Files whose statements are compared one by one with ast (every file is compared by module set). */
const STATEMENT_SAMPLE = ['pip/_internal/', 'demo/', 'loose.py', '_distutils_hack/'];

suite('Python extractor on a real site-packages tree', () => {
  let root: string;
  let manifest: PythonManifest;
  const tmp: string[] = [];

  beforeAll(() => {
    root = buildSitePackages(sitePackages!);
    tmp.push(root);
    manifest = readPythonManifest(root);
  });
  afterAll(() => {
    for (const t of tmp) rmSync(t, { recursive: true, force: true });
  });

  let small: string | undefined;
  /** cffi (with its extension module) and the demo package only, for the slower checks. */
  const smallTree = () => {
    if (small === undefined) {
      small = buildSitePackages(sitePackages!, {
        copied: ['cffi', '_cffi_backend.cpython-311-x86_64-linux-gnu.so'],
      });
      tmp.push(small);
    }
    return small;
  };
  const dist = (prefix: string) => manifest.provides.distributions.find((d) => d.path.startsWith(prefix))!;

  it('reads each distribution: name, version, top_level.txt, modules from RECORD', () => {
    const names = manifest.provides.distributions.map((d) => [d.path, d.name, d.version, d.format]);
    const fromPython = JSON.parse(
      python(
        `import sys, json, importlib.metadata as md
out = []
for d in md.distributions(path=[sys.argv[1]]):
    out.append([d._path.name, d.metadata['Name'], d.metadata['Version'], 'dist-info'])
print(json.dumps(sorted(out)))`,
        [root],
      ),
    ) as unknown[];
    expect(names).toEqual(fromPython);
    expect(dist('pip-').topLevel).toEqual(['pip']);
    expect(dist('pip-').modules).toEqual(['pip']);
    expect(dist('cffi-').modules).toEqual(['_cffi_backend', 'cffi']);
    expect(dist('demo-')).toMatchObject({ name: 'demo', version: '1.0', topLevel: ['demo', 'loose'] });
    expect(dist('demo-').modules).toEqual(['bad_ext', 'demo', 'fake_ext', 'loose']);
    expect(manifest.provides.modules).toEqual([
      '_cffi_backend',
      '_distutils_hack',
      'bad_ext',
      'cffi',
      'demo',
      'fake_ext',
      'loose',
      'pip',
      'pkg_resources',
      'setuptools',
    ]);
  });

  it('checks every RECORD exactly as Python csv + hashlib do (real files: setuptools and demo pass)', () => {
    compareRecordsWithPython(root, manifest);
    expect(dist('setuptools-').record!.ok).toBe(true);
    expect(dist('setuptools-').record!.verified).toBeGreaterThan(150);
    expect(dist('demo-').record).toMatchObject({
      ok: true,
      verified: Object.keys(DEMO_FILES).length + 2,
      unhashed: 1,
    });
    expect(dist('pip-').record!.outside).toEqual(['../../../bin/pip3', '../../../bin/pip3.11']);
  });

  it('reports a tampered copy: one changed byte, a removed file, an added file, a bad row', () => {
    const t = buildSitePackages(sitePackages!, {
      demo: false,
      copied: ['setuptools', 'pkg_resources', '_distutils_hack', 'distutils-precedence.pth'],
    });
    tmp.push(t);
    const target = 'setuptools/version.py';
    const bytes = readFileSync(join(t, target));
    bytes[bytes.length - 2] = bytes[bytes.length - 2]! ^ 0x01;
    writeFileSync(join(t, target), bytes);
    unlinkSync(join(t, 'setuptools/monkey.py'));
    writeFileSync(join(t, 'setuptools/added.py'), 'import os\n');
    const distInfo = listPythonTree(t).find((p) => p.endsWith('.dist-info/RECORD'))!;
    const badLine = readFileSync(join(t, distInfo), 'utf8').split('\n').length;
    appendFileSync(join(t, distInfo), 'setuptools/x.py,sha256,notanumber\n');
    const m = readPythonManifest(t);
    const r = m.provides.distributions[0]!.record!;
    const actual = python(
      `import hashlib, base64, sys
print('sha256=' + base64.urlsafe_b64encode(hashlib.sha256(open(sys.argv[1], 'rb').read()).digest()).rstrip(b'=').decode())`,
      [join(t, target)],
    ).trim();
    expect(r.ok).toBe(false);
    const recorded = python(
      `import csv, sys
print(next(r[1] for r in csv.reader(open(sys.argv[1], newline='')) if r and r[0] == sys.argv[2]))`,
      [join(t, distInfo), target],
    ).trim();
    expect(r.mismatches).toEqual([
      {
        path: target,
        expected: { hash: recorded, sizeBytes: bytes.length },
        actual: { hash: actual, sizeBytes: bytes.length },
      },
    ]);
    expect(r.mismatches[0]!.expected.hash).not.toBe(actual);
    expect(r.missing).toEqual(['setuptools/monkey.py']);
    expect(r.unrecorded).toEqual(['setuptools/added.py']);
    expect(r.malformed).toEqual([{ line: badLine, message: 'hash "sha256" is not algorithm=digest' }]);
  });

  it('finds the same import statements and modules as Python’s ast, file by file', () => {
    const py = JSON.parse(python(AST_IMPORTS_PY, [root])) as Record<
      string,
      | { error: string }
      | {
          statements: unknown[][];
          imports: [string, string, boolean][];
          unresolved: unknown[][];
          module: string | null;
        }
    >;
    const files = new Map(manifest.requires.files.map((f) => [f.path, f]));
    expect([...files.keys()].sort()).toEqual(Object.keys(py).sort());
    let compared = 0;
    let statementsCompared = 0;
    let diagnostics = 0;
    const sortJson = (xs: unknown[][]) =>
      [...xs].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
    for (const [path, expected] of Object.entries(py)) {
      const f = files.get(path)!;
      if ('error' in expected) {
        expect(f.error, `${path}: Python rejects it (${expected.error})`).not.toBeNull();
        continue;
      }
      if (f.error !== null) diagnostics++;
      expect(
        f.imports.map((i) => [i.name, i.scope, i.optional]),
        path,
      ).toEqual(expected.imports);
      expect(
        f.unresolved.map((u) => [u.line, u.level, u.module]),
        path,
      ).toEqual(sortJson(expected.unresolved));
      expect(f.module, path).toBe(expected.module);
      compared++;
      // Statement by statement (line, form, module, level, name, alias, optional) on a sample.
      if (!STATEMENT_SAMPLE.some((prefix) => path.startsWith(prefix))) continue;
      const parsed = parsePythonImports(readFileSync(join(root, path)));
      const statements = parsed.imports.flatMap((s) =>
        s.names.map((n) => [s.line, s.kind, s.module, s.level, n.name, n.asname, s.optional]),
      );
      expect(sortJson(statements), path).toEqual(sortJson(expected.statements));
      statementsCompared++;
    }
    expect(compared).toBeGreaterThan(650);
    expect(statementsCompared).toBeGreaterThan(150);
    // The grammar's known gaps (specs/interface-python.md §6.5) give diagnostics on a few valid files.
    expect(diagnostics).toBeLessThan(compared / 10);
  });

  it('resolves relative imports and marks conditional ones optional', () => {
    const f = (p: string) => manifest.requires.files.find((x) => x.path === p)!;
    const names = (p: string) => f(p).imports.map((i) => i.name);
    expect(names('demo/sub/mod.py')).toEqual([
      'csv',
      'demo',
      'demo.core',
      'demo.sub',
      'demo.sub.sibling',
      'demo.util',
    ]);
    expect(f('demo/sub/mod.py').unresolved).toEqual([{ line: 5, level: 3, module: null }]);
    expect(f('demo/sub/mod.py').imports.find((i) => i.name === 'csv')).toEqual({
      name: 'csv',
      scope: 'stdlib',
      optional: true,
    });
    expect(f('demo/util.py').unresolved).toEqual([{ line: 1, level: 2, module: null }]);
    expect(names('demo/util.py')).toEqual(['demo', 'demo.core']);
    expect(f('loose.py').unresolved).toEqual([{ line: 1, level: 1, module: null }]);
    expect(f('demo/core.py').imports).toEqual([
      { name: '__future__', scope: 'stdlib', optional: false },
      { name: 'demo', scope: 'tree', optional: false },
      { name: 'demo.util', scope: 'tree', optional: false },
      { name: 'posix', scope: 'stdlib', optional: true },
      { name: 'requests.adapters', scope: 'external', optional: false },
      { name: 'sys', scope: 'stdlib', optional: false },
      { name: 'urllib.parse', scope: 'stdlib', optional: false },
      { name: 'winreg', scope: 'stdlib', optional: true },
      { name: 'yaml', scope: 'external', optional: false },
    ]);
    expect(f('demo/latin1.py')).toMatchObject({ error: null, imports: [{ name: 're' }] });
  });

  it('locates a syntax error or a bad encoding in its file and reads the rest of the tree', () => {
    const broken = manifest.requires.files.find((x) => x.path === 'demo/broken.py')!;
    expect(broken.error).toMatchObject({ kind: 'syntax', line: 2 });
    expect(broken.error!.column).toBeGreaterThanOrEqual(6);
    // Recovery keeps the well-formed statements around the error.
    expect(broken.imports.map((i) => i.name)).toEqual(['os', 'shutil']);
    const bad = manifest.requires.files.find((x) => x.path === 'demo/badutf8.py')!;
    expect(bad).toMatchObject({
      error: { kind: 'encoding', message: 'source is not valid utf-8' },
      imports: [],
    });
    expect(manifest.requires.files.length).toBeGreaterThan(690);
  });

  it('reads extension modules with the ELF extractor: needed sonames as readelf -d shows them', () => {
    const exts = manifest.requires.extensions;
    expect(exts.map((e) => [e.path, e.module])).toEqual([
      ['_cffi_backend.cpython-311-x86_64-linux-gnu.so', '_cffi_backend'],
      ['bad_ext.abi3.so', 'bad_ext'],
      ['fake_ext.cpython-311-x86_64-linux-gnu.so', 'fake_ext'],
    ]);
    const [cffi, bad, fake] = exts as [PythonExtension, PythonExtension, PythonExtension];
    const bytes = readFileSync(join(root, cffi.path));
    expect(cffi.error).toBeNull();
    expect(cffi.requires).toEqual(interfaceOfElf(cffi.path, parseElf(bytes, cffi.path)).requires);
    const needed = execFileSync('readelf', ['-dW', join(root, cffi.path)], { encoding: 'utf8' })
      .split('\n')
      .flatMap((l) => /\(NEEDED\)\s+Shared library: \[(.*)\]/.exec(l)?.[1] ?? []);
    expect(needed.length).toBeGreaterThan(0);
    expect(cffi.requires!.needed).toEqual(needed);
    expect(cffi.requires!.symbols['libc.so.6']!.length).toBeGreaterThan(10);
    expect(bad).toMatchObject({
      requires: null,
      error: expect.stringMatching(/^\[E15\] bad_ext\.abi3\.so: /),
    });
    expect(fake).toEqual({
      path: 'fake_ext.cpython-311-x86_64-linux-gnu.so',
      module: 'fake_ext',
      requires: null,
      error:
        '[E15] fake_ext.cpython-311-x86_64-linux-gnu.so: extension module is not an ELF file (no 7f 45 4c 46 magic)',
    });
  });

  it('is canonical: same digest from any path order, round-trips through parsePythonManifest', () => {
    const small = smallTree();
    const paths = listPythonTree(small);
    const read = (p: string) => readFileSync(join(small, p));
    const forward = buildPythonManifest({ paths, read });
    const reversed = buildPythonManifest({ paths: [...paths].reverse(), read });
    expect(pythonManifestDigest(reversed)).toBe(pythonManifestDigest(forward));
    expect(forward.requires.files.length).toBeGreaterThan(20);
    const bytes = encodeCanonical(manifest);
    expect(parsePythonManifest(bytes)).toEqual(manifest);
    expect(manifest.stdlib).toMatchObject({ implementation: 'cpython', version: STDLIB_SOURCE.version });
    expect(() => parsePythonManifest(encodeCanonical({ ...manifest, version: 2 }))).toThrow(/\[E3\]/);
  });

  it('checks in the stdlib list of the interpreter it names', () => {
    const out = JSON.parse(
      python(
        'import sys, json, platform; print(json.dumps([platform.python_version(), sorted(sys.stdlib_module_names)]))',
      ),
    ) as [string, string[]];
    if (out[0] !== STDLIB_SOURCE.version)
      console.warn(`host python ${out[0]} is not ${STDLIB_SOURCE.version}`);
    else expect([...STDLIB_MODULE_NAMES]).toEqual(out[1]);
  });

  it('eos interface --python prints the manifest and its digest; errors are located', () => {
    const small = smallTree();
    const expected = readPythonManifest(small);
    const broken = expected.requires.files.find((x) => x.path === 'demo/broken.py')!.error!;
    const eos = join(repoRoot, 'bin', 'eos.mjs');
    const json = execFileSync(eos, ['--json', 'interface', '--python', small], { encoding: 'utf8' });
    expect(JSON.parse(json)).toEqual(expected);
    const plain = execFileSync(eos, ['interface', '--python', small], { encoding: 'utf8' });
    const lines = plain.trimEnd().split('\n');
    expect(lines.at(-1)).toBe(`manifest\t${pythonManifestDigest(expected)}`);
    expect(lines).toContain(`error\tdemo/broken.py\t2:${broken.column}\tsyntax: ${broken.message}`);
    expect(lines).toContain('unresolved\tdemo/sub/mod.py\t5\t...');
    expect(lines.find((l) => l.startsWith('dist\tcffi-'))).toMatch(
      /\trecord=ok \(\d+ verified, 0 mismatched/,
    );
    expect(lines.find((l) => l.startsWith('requires\t'))).toMatch(/\texternal=[^\t]*requests[^\t]*,yaml\t/);
    expect(lines).toContain(
      'ext\t_cffi_backend.cpython-311-x86_64-linux-gnu.so\t_cffi_backend\tneeded=' +
        expected.requires.extensions[0]!.requires!.needed.join(','),
    );
    // Without --python, an import root gets its ELF lines, then its Python lines. (The ELF
    // manifest fails a tree with a malformed ELF file, specs/interface.md §3.2: cffi alone here.)
    const cffiOnly = buildSitePackages(sitePackages!, {
      demo: false,
      copied: ['cffi', '_cffi_backend.cpython-311-x86_64-linux-gnu.so'],
    });
    tmp.push(cffiOnly);
    const both = execFileSync(eos, ['interface', cffiOnly], { encoding: 'utf8' }).trimEnd().split('\n');
    const elfEnd = both.findIndex((l) => l.startsWith('manifest\t'));
    expect(both.slice(0, elfEnd).some((l) => l.startsWith('needs\t_cffi_backend.'))).toBe(true);
    expect(both.slice(elfEnd + 1)).toEqual(pythonInterfaceLines(readPythonManifest(cffiOnly)));
    const missing = spawnSync(eos, ['interface', '--python', join(small, 'nope')], { encoding: 'utf8' });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/\[E4\] .*nope: no such file or directory/);
  });
});

const debian = '/usr/lib/python3/dist-packages';
const debianSuite =
  existsSync(join(debian, 'six.py')) && existsSync(join(debian, 'distro-1.8.0.dist-info'))
    ? describe
    : describe.skip;
if (!existsSync(join(debian, 'six.py')))
  console.warn(`${debian} lacks six/distro: skipping the Debian tree checks`);

debianSuite("Python extractor on Debian's dist-packages (egg-info, hexadecimal RECORD digests)", () => {
  let root: string;
  let manifest: PythonManifest;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'eos-python-debian-'));
    for (const n of readdirSync(debian))
      if (/^(six|distro|blinker)([-.]|$)/.test(n))
        cpSync(join(debian, n), join(root, n), { recursive: true });
    manifest = readPythonManifest(root);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('reads egg-info and dist-info names and versions as importlib.metadata does', () => {
    const fromPython = JSON.parse(
      python(
        `import sys, json, importlib.metadata as md
print(json.dumps(sorted([d._path.name, d.metadata['Name'], d.metadata['Version']] for d in md.distributions(path=[sys.argv[1]]))))`,
        [root],
      ),
    ) as unknown[];
    expect(manifest.provides.distributions.map((d) => [d.path, d.name, d.version])).toEqual(fromPython);
    expect(manifest.provides.distributions.find((d) => d.path === 'six-1.16.0.egg-info')).toMatchObject({
      format: 'egg-info',
      topLevel: ['six'],
      record: null,
      problems: [],
    });
  });

  it('verifies hexadecimal digests as Python does and lists them; reports the script Debian moved', () => {
    compareRecordsWithPython(root, manifest);
    const distro = manifest.provides.distributions.find((d) => d.path === 'distro-1.8.0.dist-info')!.record!;
    expect(distro.hexDigests.length).toBe(distro.verified);
    expect(distro.verified).toBeGreaterThan(5);
    expect(distro.missing).toEqual(['scripts-3.10/distro']);
    expect(distro.mismatches).toEqual([]);
  });
});
