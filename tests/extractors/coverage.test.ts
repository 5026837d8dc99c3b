/**
 * The coverage check on real libraries built by the host compiler with version scripts: a consumer
 * linked against v1; v2 drops an exported symbol (not covered, naming it), a rebuild of v1 keeps the
 * interface (covered), v3 only adds (covered), v4 drops a version node. The dynamic loader is run
 * too, so the verdict is checked against what actually loads.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCanonical, encodeCanonical } from '../../src/kernel/index.ts';
import { checkCoverage, readInterfaceManifest, parseElf } from '../../extractors/index.ts';
import { readelf } from './readelf.ts';
import { readFileSync } from 'node:fs';

const repo = join(import.meta.dirname, '..', '..');
let hasGcc = true;
try {
  execFileSync('gcc', ['--version']);
} catch {
  hasGcc = false;
  console.warn('coverage.test.ts: skipped: no gcc on this machine (scripts/setup.sh installs it)');
}

const dir = mkdtempSync(join(tmpdir(), 'eos-coverage-'));

interface LibSpec {
  fns: string[];
  script: string;
}
const LIBS: Record<string, LibSpec> = {
  v1: {
    fns: ['foo_a', 'foo_b', 'foo_c'],
    script: 'FOO_1.0 { global: foo_a; foo_b; local: *; };\nFOO_2.0 { global: foo_c; } FOO_1.0;\n',
  },
  v1again: {
    fns: ['foo_a', 'foo_b', 'foo_c'],
    script: 'FOO_1.0 { global: foo_a; foo_b; local: *; };\nFOO_2.0 { global: foo_c; } FOO_1.0;\n',
  },
  v2: {
    fns: ['foo_a', 'foo_c'],
    script: 'FOO_1.0 { global: foo_a; local: *; };\nFOO_2.0 { global: foo_c; } FOO_1.0;\n',
  },
  v3: {
    fns: ['foo_a', 'foo_b', 'foo_c', 'foo_d'],
    script:
      'FOO_1.0 { global: foo_a; foo_b; local: *; };\nFOO_2.0 { global: foo_c; } FOO_1.0;\nFOO_3.0 { global: foo_d; } FOO_2.0;\n',
  },
  v4: {
    fns: ['foo_a', 'foo_b', 'foo_c'],
    script: 'FOO_1.0 { global: foo_a; foo_b; foo_c; local: *; };\n',
  },
};

function buildLib(name: string, spec: LibSpec): string {
  const lib = join(dir, name, 'lib');
  mkdirSync(lib, { recursive: true });
  const src = join(dir, `${name}.c`);
  writeFileSync(src, spec.fns.map((f, i) => `int ${f}(int x) { return x + ${i + 1}; }\n`).join(''));
  writeFileSync(join(dir, `${name}.map`), spec.script);
  execFileSync('gcc', [
    '-shared',
    '-fPIC',
    '-O1',
    '-o',
    join(lib, 'libfoo.so.1'),
    src,
    '-Wl,-soname,libfoo.so.1',
    `-Wl,--version-script=${join(dir, `${name}.map`)}`,
  ]);
  return join(dir, name);
}

let trees: Record<string, string> = {};
let app = '';

beforeAll(() => {
  if (!hasGcc) return;
  trees = Object.fromEntries(Object.entries(LIBS).map(([n, s]) => [n, buildLib(n, s)]));
  symlinkSync('libfoo.so.1', join(trees.v1!, 'lib', 'libfoo.so'));
  app = join(dir, 'app');
  mkdirSync(join(app, 'bin'), { recursive: true });
  writeFileSync(
    join(dir, 'main.c'),
    '#include <stdio.h>\nint foo_a(int); int foo_b(int); int foo_c(int);\n' +
      'int main(void) { printf("%d\\n", foo_a(1) + foo_b(2) + foo_c(3)); return 0; }\n',
  );
  execFileSync('gcc', [
    '-o',
    join(app, 'bin', 'app'),
    join(dir, 'main.c'),
    `-L${join(trees.v1!, 'lib')}`,
    '-lfoo',
    '-Wl,-rpath,$ORIGIN/../lib',
  ]);
});

/** Runs the app with the given library tree first on the search path: did it load and run? */
function runsWith(tree: string): boolean {
  const r = spawnSync(join(app, 'bin', 'app'), [], {
    env: { LD_LIBRARY_PATH: join(tree, 'lib') },
    encoding: 'utf8',
  });
  return r.status === 0 && r.stdout.trim() === String(2 + 4 + 6);
}

describe.skipIf(!hasGcc)('coverage check with libraries built by gcc', () => {
  it('the built files decode as readelf reads them (runpath, versions)', () => {
    for (const f of [join(app, 'bin', 'app'), join(trees.v1!, 'lib', 'libfoo.so.1')]) {
      const e = parseElf(readFileSync(f), f);
      const r = readelf(f);
      expect(e.runpath).toBe(r.runpath);
      expect(e.needed).toEqual(r.needed);
      expect(e.versionDefinitions).toEqual(r.verdefs);
      expect(e.versionNeeds).toEqual(r.verneeds);
    }
  });

  it('the manifests record what was built', () => {
    const lib = readInterfaceManifest(trees.v1!);
    expect(lib.provides.sharedObjects).toHaveLength(1);
    const so = lib.provides.sharedObjects[0]!;
    expect(so.path).toBe('lib/libfoo.so.1');
    expect(so.soname).toBe('libfoo.so.1');
    expect(so.versions).toEqual(['FOO_1.0', 'FOO_2.0']);
    expect(so.symbols).toEqual([
      'FOO_1.0@@FOO_1.0',
      'FOO_2.0@@FOO_2.0',
      'foo_a@@FOO_1.0',
      'foo_b@@FOO_1.0',
      'foo_c@@FOO_2.0',
    ]);
    const m = readInterfaceManifest(app);
    expect(m.provides.executables).toEqual(['bin/app']);
    const r = m.requires[0]!;
    expect(r.path).toBe('bin/app');
    expect(r.needed).toEqual(['libfoo.so.1', 'libc.so.6']);
    expect(r.runpath).toBe('$ORIGIN/../lib');
    expect(r.interpreter).toBe('/lib64/ld-linux-x86-64.so.2');
    expect(r.versions['libfoo.so.1']).toEqual(['FOO_1.0', 'FOO_2.0']);
    expect(r.symbols['libfoo.so.1']).toEqual(['foo_a@FOO_1.0', 'foo_b@FOO_1.0', 'foo_c@FOO_2.0']);
    // canonical round trip
    expect(parseCanonical(encodeCanonical(m))).toEqual(m);
  });

  it('v2 drops foo_b: not covered, naming foo_b@FOO_1.0; the loader agrees', () => {
    const { proof } = checkCoverage(
      [readInterfaceManifest(app)],
      readInterfaceManifest(trees.v1!),
      readInterfaceManifest(trees.v2!),
    );
    expect(proof.verdict).toBe('not-covered');
    expect(proof.missing).toEqual({ 'libfoo.so.1': { versions: [], symbols: ['foo_b@FOO_1.0'] } });
    expect(runsWith(trees.v1!)).toBe(true);
    expect(runsWith(trees.v2!)).toBe(false);
  });

  it('a rebuild of v1 has the same interface: covered', () => {
    const old = readInterfaceManifest(trees.v1!);
    const again = readInterfaceManifest(trees.v1again!);
    expect(again.provides.sharedObjects[0]!.interface).toBe(old.provides.sharedObjects[0]!.interface);
    const { proof } = checkCoverage([readInterfaceManifest(app)], old, again);
    expect(proof.verdict).toBe('covered');
    expect(proof.missing).toEqual({});
    expect(proof.old.interfaces).toEqual(proof.new.interfaces);
    expect(runsWith(trees.v1again!)).toBe(true);
  });

  it('v3 only adds foo_d@FOO_3.0: covered, different interface digest', () => {
    const { proof } = checkCoverage(
      [readInterfaceManifest(app)],
      readInterfaceManifest(trees.v1!),
      readInterfaceManifest(trees.v3!),
    );
    expect(proof.verdict).toBe('covered');
    expect(proof.old.interfaces['libfoo.so.1']).not.toEqual(proof.new.interfaces['libfoo.so.1']);
    expect(runsWith(trees.v3!)).toBe(true);
  });

  it('v4 drops the version node FOO_2.0: not covered (version and symbol); the loader agrees', () => {
    const { proof } = checkCoverage(
      [readInterfaceManifest(app)],
      readInterfaceManifest(trees.v1!),
      readInterfaceManifest(trees.v4!),
    );
    expect(proof.verdict).toBe('not-covered');
    expect(proof.missing).toEqual({ 'libfoo.so.1': { versions: ['FOO_2.0'], symbols: ['foo_c@FOO_2.0'] } });
    expect(runsWith(trees.v4!)).toBe(false);
  });

  it("the proof is canonical and digested, and names the consumers' requirement set", () => {
    const consumers = [readInterfaceManifest(app)];
    const a = checkCoverage(consumers, readInterfaceManifest(trees.v1!), readInterfaceManifest(trees.v2!));
    const b = checkCoverage(consumers, readInterfaceManifest(trees.v1!), readInterfaceManifest(trees.v2!));
    expect(a.digest).toBe(b.digest);
    expect(a.requirements.requirements).toEqual({
      'libfoo.so.1': {
        versions: ['FOO_1.0', 'FOO_2.0'],
        symbols: ['foo_a@FOO_1.0', 'foo_b@FOO_1.0', 'foo_c@FOO_2.0'],
        weakSymbols: [],
      },
    });
    expect(a.proof.kind).toBe('eos.coverage-proof');
    expect(a.proof.version).toBe(1);
    expect(parseCanonical(encodeCanonical(a.proof))).toEqual(a.proof);
  });

  it('eos interface check: exit 3 with the missing symbol, exit 0 when covered', () => {
    const eos = join(repo, 'bin', 'eos.mjs');
    const bad = spawnSync(
      eos,
      ['interface', 'check', '--old', trees.v1!, '--new', trees.v2!, '--consumers', app],
      {
        encoding: 'utf8',
      },
    );
    expect(bad.status).toBe(3);
    expect(bad.stdout).toMatch(/^not covered\nmissing\tlibfoo\.so\.1\tfoo_b@FOO_1\.0\n/);
    const good = spawnSync(
      eos,
      ['interface', 'check', '--old', trees.v1!, '--new', trees.v1again!, '--consumers', app],
      {
        encoding: 'utf8',
      },
    );
    expect(good.status).toBe(0);
    expect(good.stdout).toMatch(/^covered\n/);
    const json = spawnSync(
      eos,
      ['--json', 'interface', 'check', '--old', trees.v1!, '--new', trees.v2!, '--consumers', app],
      {
        encoding: 'utf8',
      },
    );
    expect(json.status).toBe(3);
    expect(JSON.parse(json.stdout).missing['libfoo.so.1'].symbols).toEqual(['foo_b@FOO_1.0']);
    const summary = spawnSync(eos, ['interface', join(trees.v1!, 'lib', 'libfoo.so.1')], {
      encoding: 'utf8',
    });
    expect(summary.status).toBe(0);
    expect(summary.stdout).toMatch(
      /^so\tlibfoo\.so\.1\tlibfoo\.so\.1\t5 symbols\tversions=FOO_1\.0,FOO_2\.0\tblake3:/,
    );
  });
});
