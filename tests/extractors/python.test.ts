/**
 * The Python extractor against Python itself on this machine's dist-packages: RECORD checks agree
 * with a verifier written with Python's csv and hashlib modules, imports agree with Python's own
 * `ast` module file by file, and a copied tree with a tampered and a deleted file reports exactly
 * those. Extension modules carry the ELF extractor's requirements.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeCanonical, parseCanonical } from '../../src/index.ts';
import {
  readPythonManifest,
  parsePythonImports,
  parseElf,
  buildPythonManifest,
  pythonManifestDigest,
} from '../../extractors/index.ts';

const DIST = '/usr/lib/python3/dist-packages';
let python: string | null = null;
for (const p of ['/usr/bin/python3', 'python3'])
  try {
    execFileSync(p, ['-c', 'pass']);
    python = p;
    break;
  } catch {
    /* try the next */
  }
const ready = python !== null && existsSync(join(DIST, 'PyYAML-6.0.dist-info'));
if (!ready) console.warn(`python.test.ts: skipped: needs python3 and ${DIST}/PyYAML-6.0.dist-info`);

function py(script: string, args: string[]): unknown {
  return JSON.parse(execFileSync(python!, ['-c', script, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 }));
}

const RECORD_CHECK = `
import csv, hashlib, base64, json, os, sys
root = sys.argv[1]
out = {}
for d in sorted(os.listdir(root)):
    rec = os.path.join(root, d, 'RECORD')
    if not d.endswith('.dist-info') or not os.path.isfile(rec): continue
    verified, mismatched, missing = 0, [], []
    with open(rec, newline='') as f:
        for row in csv.reader(f):
            if not row or len(row) < 2 or not row[1]: continue
            p = os.path.normpath(row[0])
            if p.startswith('..'): continue
            full = os.path.join(root, p)
            if not os.path.isfile(full): missing.append(p); continue
            data = open(full, 'rb').read()
            algo, _, want = row[1].partition('=')
            got = base64.urlsafe_b64encode(hashlib.new(algo, data).digest()).rstrip(b'=').decode()
            if got != want or (row[2] and int(row[2]) != len(data)): mismatched.append(p)
            else: verified += 1
    out[d] = {'verified': verified, 'mismatched': sorted(mismatched), 'missing': sorted(missing)}
print(json.dumps(out))
`;

const AST_IMPORTS = `
import ast, json, os, sys
root = sys.argv[1]
out = {}
for rel in sys.argv[2:]:
    src = open(os.path.join(root, rel), 'rb').read()
    try: tree = ast.parse(src)
    except SyntaxError: continue
    pkg = rel.split('/')[:-1]
    mods = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            for a in n.names: mods.add(a.name)
        elif isinstance(n, ast.ImportFrom):
            name = n.module or ''
            if n.level == 0:
                if name: mods.add(name)
                continue
            full = None
            if n.level - 1 <= len(pkg):
                parts = pkg[:len(pkg) - (n.level - 1)] + (name.split('.') if name else [])
                if parts: full = '.'.join(parts)
            mods.add(full if full is not None else '.' * n.level + name)
    out[rel] = sorted(mods)
print(json.dumps(out))
`;

describe.skipIf(!ready)('Python extractor on this machine', () => {
  const manifest = ready ? readPythonManifest(DIST) : null;

  it('RECORD checks agree with a csv+hashlib verifier run by Python', () => {
    const want = py(RECORD_CHECK, [DIST]) as Record<
      string,
      { verified: number; mismatched: string[]; missing: string[] }
    >;
    const got = Object.fromEntries(
      manifest!.distributions
        .filter((d) => d.record)
        .map((d) => [
          d.path,
          { verified: d.record!.verified, mismatched: d.record!.mismatched, missing: d.record!.missing },
        ]),
    );
    expect(Object.keys(got).length).toBeGreaterThanOrEqual(5);
    expect(got).toEqual(want);
  });

  it("imports agree with Python's ast module, file by file", () => {
    const files = manifest!.files;
    expect(files.length).toBeGreaterThan(500);
    const want = py(AST_IMPORTS, [DIST, ...files.map((f) => f.path)]) as Record<string, string[]>;
    let compared = 0;
    for (const f of files) {
      if (!(f.path in want)) continue; // a file Python itself cannot parse
      expect(f.imports, f.path).toEqual(want[f.path]);
      compared++;
    }
    expect(compared).toBeGreaterThan(500);
  });

  it('distributions: name, version, top-level modules; extension modules carry ELF requirements', () => {
    const yaml = manifest!.distributions.find((d) => d.path === 'PyYAML-6.0.dist-info')!;
    expect(yaml).toMatchObject({
      format: 'dist-info',
      name: 'PyYAML',
      version: '6.0',
      topLevel: ['_yaml', 'yaml'],
    });
    expect(manifest!.modules).toContain('yaml');
    const ext = manifest!.extensions.find((e) => e.module === 'yaml._yaml')!;
    expect(ext.path).toMatch(/^yaml\/_yaml\..*\.so$/);
    expect(ext.requires.needed).toEqual([...parseElf(readFileSync(join(DIST, ext.path)), ext.path).needed]);
    expect(ext.requires.needed.some((n) => n.startsWith('libyaml'))).toBe(true);
    expect(parseCanonical(encodeCanonical(manifest))).toEqual(manifest);
  });

  it('a copied tree with a tampered and a deleted file reports exactly those', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eos-py-'));
    cpSync(join(DIST, 'PyYAML-6.0.dist-info'), join(dir, 'PyYAML-6.0.dist-info'), { recursive: true });
    cpSync(join(DIST, 'yaml'), join(dir, 'yaml'), { recursive: true, dereference: true });
    cpSync(join(DIST, '_yaml'), join(dir, '_yaml'), { recursive: true, dereference: true });
    rmSync(join(dir, 'yaml', '__pycache__'), { recursive: true, force: true });
    const before = readPythonManifest(dir).distributions[0]!.record!;
    writeFileSync(
      join(dir, 'yaml', 'nodes.py'),
      readFileSync(join(dir, 'yaml', 'nodes.py'), 'utf8') + '\n# changed\n',
    );
    rmSync(join(dir, 'yaml', 'tokens.py'));
    const after = readPythonManifest(dir).distributions[0]!.record!;
    expect(after.mismatched).toEqual([...before.mismatched, 'yaml/nodes.py'].sort());
    expect(after.missing).toEqual(['yaml/tokens.py']);
    expect(after.verified).toBe(before.verified - 2);
  });
});

describe('Python import parser', () => {
  it('finds imports in every statement position, not in strings or comments; resolves relative ones', () => {
    const src = [
      'import os, sys as s',
      'from . import x',
      'from ..a.b import (c, d)',
      'import a.b.c, e as f',
      'def g():',
      '    import inner',
      '    try:',
      '        import ujson as json',
      '    except ImportError:',
      '        pass',
      'print("import fake")',
      '# import comment',
      'x = """',
      'import notreal',
      '"""',
      'from ... import deep',
      '',
    ].join('\n');
    expect(parsePythonImports(src, 'pkg/sub/sub2/mod.py')).toEqual([
      'a.b.c',
      'e',
      'inner',
      'os',
      'pkg',
      'pkg.sub.a.b',
      'pkg.sub.sub2',
      'sys',
      'ujson',
    ]);
  });
});

describe('specs/interface.md §9.6 vector', () => {
  it("the page's tree has the page's digest", () => {
    const spec = readFileSync(join(import.meta.dirname, '..', '..', 'specs', 'interface.md'), 'utf8');
    const section = spec.split('9.6. **Test vector.**')[1]!;
    const block = section.split('```')[1]!;
    const files: Record<string, Uint8Array> = {};
    for (const line of block.split('\n').filter((l) => l.trim() !== '')) {
      const m = /^("[^"]+"):\s+(".*")$/.exec(line)!;
      files[JSON.parse(m[1]!) as string] = new TextEncoder().encode(JSON.parse(m[2]!) as string);
    }
    expect(Object.keys(files)).toHaveLength(4);
    const m = buildPythonManifest({ paths: Object.keys(files).sort(), read: (p) => files[p]! });
    const digest = /has the Python manifest digest\s+`(blake3:[0-9a-f]{64})`/.exec(section)![1];
    expect(pythonManifestDigest(m)).toBe(digest);
    expect(m.distributions[0]!.record).toEqual({
      rows: 5,
      verified: 3,
      unhashed: 1,
      outside: 0,
      missing: ['demo/gone.py'],
      mismatched: [],
      malformed: [],
    });
    expect(m.files.map((f) => f.imports)).toEqual([
      ['demo', 'json', 'os'],
      ['..', 'demo.core'],
    ]);
  });
});
