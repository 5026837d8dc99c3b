import { describe, expect, it } from 'vitest';
import { encodeCanonical, ManifestError } from '../../src/kernel/index.ts';
import { isLabel, isRange, isVersion, parseManifest } from '../../atoms/index.ts';
import { locateToml } from '../../src/kernel/index.ts';

const Z = 'blake3:' + 'ab'.repeat(32);

const CURL = `# curl, built with autotools
[atom]
label = "curl"
version = "7.88.1"
description = "command line tool for transferring data with URL syntax"

[deps]
zlib = "^1.2"
openssl = { range = "^3.0" }
nghttp2 = { range = ">=1.60.0-0", prerelease = true }

[build]
recipe = "std.autotools"
configure-flags = [
  "--with-openssl",
  "--without-libpsl",
]
make-flags = ["V=1"]
env = { CFLAGS = "-O2" }

[[source]]
kind = "debian-source"
package = "curl"
version = "7.88.1-10"
digest = "${Z}"

[[source]]
kind = "path"
name = "patches"
path = "patches/fix.patch"
digest = "${Z}"
unpack = false
`;

function errorOf(text: string, file = 'atom.toml'): ManifestError {
  try {
    parseManifest(text, file);
  } catch (e) {
    expect(e).toBeInstanceOf(ManifestError);
    return e as ManifestError;
  }
  throw new Error('expected a ManifestError');
}

/** CURL with line `n` (1-based) replaced. */
function withLine(n: number, line: string): string {
  const lines = CURL.split('\n');
  lines[n - 1] = line;
  return lines.join('\n');
}

describe('atom.toml', () => {
  it('parses a full manifest into a normalized value', () => {
    const m = parseManifest(CURL);
    expect(m.atom).toEqual({
      label: 'curl',
      version: '7.88.1',
      description: 'command line tool for transferring data with URL syntax',
    });
    expect(Object.keys(m.deps)).toEqual(['nghttp2', 'openssl', 'zlib']);
    expect(m.deps.zlib).toEqual({ range: '^1.2', prerelease: false });
    expect(m.deps.nghttp2).toEqual({ range: '>=1.60.0-0', prerelease: true });
    expect(m.build).toEqual({
      recipe: 'std.autotools',
      args: {
        'configure-flags': ['--with-openssl', '--without-libpsl'],
        env: { CFLAGS: '-O2' },
        'make-flags': ['V=1'],
      },
    });
    expect(m.source).toEqual([
      { kind: 'debian-source', package: 'curl', version: '7.88.1-10', digest: Z },
      { kind: 'path', name: 'patches', path: 'patches/fix.patch', digest: Z, unpack: false },
    ]);
  });

  it('a minimal manifest: only [atom]', () => {
    const m = parseManifest('[atom]\nlabel = "app"\nversion = "0.1.0"\n');
    expect(m).toEqual({ atom: { label: 'app', version: '0.1.0' }, deps: {}, source: [] });
  });

  it('names the line and path of a bad range (the issue example)', () => {
    const e = errorOf(withLine(9, 'openssl = "3.x.y"'));
    expect(e.message).toBe('[E16] atom.toml:9: deps.openssl: "3.x.y" is not a version range');
    const e2 = errorOf(withLine(9, 'openssl = { range = "3.x.y" }'));
    expect(e2.message).toBe('[E16] atom.toml:9: deps.openssl.range: "3.x.y" is not a version range');
  });

  it('unknown fields are errors at their line, in every table', () => {
    expect(errorOf(withLine(5, 'licence = "MIT"')).message).toBe(
      '[E16] atom.toml:5: atom.licence: unknown field',
    );
    expect(errorOf(CURL + '\n[extra]\nx = 1\n').message).toBe('[E16] atom.toml:34: extra: unknown field');
    expect(errorOf(withLine(32, 'unpak = false')).message).toBe(
      '[E16] atom.toml:32: source[1].unpak: unknown field',
    );
    expect(errorOf(withLine(18, 'make-flag = ["V=1"]')).message).toBe(
      '[E16] atom.toml:18: build.make-flag: unknown field',
    );
    expect(errorOf(withLine(9, 'openssl = { range = "^3", pre = true }')).message).toBe(
      '[E16] atom.toml:9: deps.openssl.pre: unknown field',
    );
  });

  it('wrong types are located, down to array elements', () => {
    expect(errorOf(withLine(16, '  42,')).message).toBe(
      '[E16] atom.toml:16: build.configure-flags[1]: expected string, got number 42',
    );
    expect(errorOf(withLine(4, 'version = 7')).message).toBe(
      '[E16] atom.toml:4: atom.version: expected string, got number 7',
    );
    expect(errorOf(withLine(25, `digest = "blake3:00"`)).message).toBe(
      '[E16] atom.toml:25: source[0].digest: "blake3:00" is not a digest (blake3:<64 lowercase hex>)',
    );
  });

  it('missing fields name the table', () => {
    const e = errorOf('[atom]\nlabel = "x"\n');
    expect(e.message).toBe('[E16] atom.toml:1: atom.version: required field is missing');
    expect(errorOf('[deps]\nzlib = "1"\n').message).toBe('[E16] atom.toml: atom: required field is missing');
    expect(errorOf(withLine(22, 'kind = "tarball"')).message).toBe(
      '[E16] atom.toml:22: source[0].kind: "tarball" is not one of debian-source, deb, git, path',
    );
  });

  it('labels, versions, recipes', () => {
    expect(errorOf(withLine(3, 'label = "Curl"')).message).toMatch(
      /^\[E16\] atom.toml:3: atom.label: "Curl" is not a label/,
    );
    expect(errorOf(withLine(4, 'version = "v1.2.3"')).message).toMatch(
      /:4: atom.version: "v1.2.3" is not a version/,
    );
    expect(errorOf(withLine(4, 'version = "1.2.3+build5"')).message).toMatch(/is not a version/);
    expect(errorOf(withLine(8, '"Zlib" = "^1"')).message).toMatch(/:8: deps.Zlib: "Zlib" is not a label/);
    expect(errorOf(withLine(13, 'recipe = "std.scons"')).message).toMatch(
      /:13: build.recipe: "std.scons" is not a standard recipe \(std.autotools, std.make/,
    );
    const shell = parseManifest(
      '[atom]\nlabel="a"\nversion="1.0.0"\n[build]\nrecipe="std.shell"\nscript="make"\n',
    );
    expect(shell.build).toEqual({ recipe: 'std.shell', args: { script: 'make' } });
    const open = parseManifest(
      '[atom]\nlabel="a"\nversion="1.0.0"\n[build]\nrecipe="acme.go"\ntags=["x"]\ncgo=false\n',
    );
    expect(open.build).toEqual({ recipe: 'acme.go', args: { cgo: false, tags: ['x'] } });
    expect(errorOf('[atom]\nlabel="a"\nversion="1.0.0"\n[build]\nrecipe="std.shell"\n').message).toBe(
      '[E16] atom.toml:4: build.script: required field is missing',
    );
  });

  it('TOML syntax errors carry line and column', () => {
    expect(errorOf('[atom]\nlabel = "a\n', 'zlib/atom.toml').message).toMatch(
      /^\[E16\] zlib\/atom.toml:2:\d+: /,
    );
    expect(errorOf('[atom]\nlabel = "a"\nlabel = "b"\n').message).toMatch(
      /^\[E16\] atom.toml:3:1: .*redefine/,
    );
  });

  it('reports the first problem by line and counts the rest', () => {
    const e = errorOf(withLine(4, 'version = 7').replace('"^1.2"', '"nope"'));
    expect(e.message).toBe('[E16] atom.toml:4: atom.version: expected string, got number 7 (and 1 more)');
    expect((e.data.issues as unknown[]).length).toBe(2);
  });

  it('helpers', () => {
    expect(isLabel('libstdc++')).toBe(true);
    expect(isLabel('a..b')).toBe(false);
    expect(isLabel('x.lock')).toBe(false);
    expect(isVersion('1.2.3-rc.1')).toBe(true);
    expect(isVersion('01.2.3')).toBe(false);
    expect(isRange('^1 || >=3.0.0 <3.1')).toBe(true);
    expect(isRange('')).toBe(false);
  });
});

describe('TOML locations', () => {
  it('finds headers, dotted keys, quoted keys, inline tables and array tables', () => {
    const text = [
      'a = 1', // 1
      'b.c = "x # not a comment"', // 2
      '"quoted.key" = 2', // 3
      "s = '''", // 4
      'x = 1', // 5 (inside a string)
      "'''", // 6
      '[t]  # comment', // 7
      'arr = [', // 8
      '  { k = 1 },', // 9
      '  { k = [1,', // 10
      '    2] },', // 11
      ']', // 12
      '[[p]]', // 13
      'n = 1', // 14
      '[[p]]', // 15
      'n = 2', // 16
      '[p.sub]', // 17
      'm = 3', // 18
    ].join('\n');
    const loc = locateToml(text);
    expect(loc.lineOf(['a'])).toBe(1);
    expect(loc.lineOf(['b', 'c'])).toBe(2);
    expect(loc.lineOf(['quoted.key'])).toBe(3);
    expect(loc.lineOf(['x'])).toBe(undefined);
    expect(loc.lineOf(['t'])).toBe(7);
    expect(loc.lineOf(['t', 'arr'])).toBe(8);
    expect(loc.lineOf(['t', 'arr', 0, 'k'])).toBe(9);
    expect(loc.lineOf(['t', 'arr', 1, 'k', 1])).toBe(11);
    expect(loc.lineOf(['p', 0, 'n'])).toBe(14);
    expect(loc.lineOf(['p', 1, 'n'])).toBe(16);
    expect(loc.lineOf(['p', 1, 'sub', 'm'])).toBe(18);
    expect(loc.lineOf(['p', 1, 'missing'])).toBe(15);
    expect(loc.lineOf(['nothing'])).toBe(undefined);
  });
});

describe('[build.env] and std.meson (issue 17)', () => {
  it('gives an env table as a plain object, keys sorted, that canonical JSON (the action key) accepts', () => {
    const m = parseManifest(
      '[atom]\nlabel = "jq"\nversion = "1.6.0"\n\n[build]\nrecipe = "std.shell"\nscript = "make"\n\n' +
        '[build.env]\nZ = "1"\nACLOCAL = "aclocal-1.16"\n',
    );
    const env = m.build!.args.env as Record<string, string>;
    expect(Object.getPrototypeOf(env)).toBe(Object.prototype);
    expect(Object.keys(env)).toEqual(['ACLOCAL', 'Z']);
    expect(() => encodeCanonical(m.build!.args)).not.toThrow();
  });

  it('accepts std.meson with meson-flags and refuses an unknown argument', () => {
    const head = '[atom]\nlabel = "fribidi"\nversion = "1.0.8"\n\n[build]\nrecipe = "std.meson"\n';
    expect(parseManifest(head + 'meson-flags = ["-Ddocs=false"]\n').build!.args['meson-flags']).toEqual([
      '-Ddocs=false',
    ]);
    expect(() => parseManifest(head + 'cmake-flags = ["-DX=1"]\n')).toThrow(ManifestError);
  });
});
