/**
 * The runtime composition that `eos build --compose` writes (src/build/runtime-composition.ts): which seed
 * packages it takes, the precedence, located errors, and that its TOML re-composes to the same root;
 * and the seed packages it takes because an output needs them (`runtimeProviders`), over a real
 * store of this machine's perl, libcrypt and C library.
 */
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compositionRoot, parseCompositionToml } from '../../composer/index.ts';
import type { SeedLock } from '../../executor/index.ts';
import {
  composeBuild,
  encodeRuntimeToml,
  runtimeComposition,
  runtimeProviders,
} from '../../src/build/index.ts';
import { Store, parseDigest, type Digest } from '../../src/kernel/index.ts';
import { tempDir } from '../composer/helpers.ts';

const d = (c: string): Digest => parseDigest(`blake3:${c.repeat(64)}`, 'test');
const pkg = (name: string, tree: Digest) => ({
  name,
  version: '1',
  arch: 'amd64',
  debSha256: 'a'.repeat(64),
  deb: d('9'),
  tree,
});
const seed: SeedLock = {
  format: 'eos-seed-lock',
  version: 1,
  mode: 'debian',
  arch: 'amd64',
  roots: ['gcc-12'],
  packages: [pkg('base-files', d('1')), pkg('gcc-12', d('2')), pkg('libc6', d('3')), pkg('libssl3', d('4'))],
  fixups: d('5'),
} as SeedLock;

describe('runtimeComposition', () => {
  it('takes the runtime seed packages, the fixups and every output; outputs win', () => {
    const c = runtimeComposition(seed, { zlib: d('6'), curl: d('7') });
    expect(Object.keys(c.entries).sort()).toEqual([
      'curl',
      'seed.base-files',
      'seed.fixups',
      'seed.libc6',
      'zlib',
    ]);
    expect(c.precedence).toEqual(['curl', 'zlib', 'seed.fixups', 'seed.base-files', 'seed.libc6']);
    expect(c.entries.curl).toEqual({
      at: '/',
      node: { kind: 'tree', digest: d('7') },
      constraint: { kind: 'exact', digest: d('7') },
    });
    // The toolchain (gcc-12) and the seed's own libssl3 are not part of the runtime world.
    expect(JSON.stringify(c)).not.toContain(d('4'));
    expect(JSON.stringify(c)).not.toContain(d('2'));
  });

  it('takes both shells of the build world: dash, and bash with its libtinfo6', () => {
    const shells = {
      ...seed,
      packages: [...seed.packages, pkg('bash', d('a')), pkg('dash', d('b')), pkg('libtinfo6', d('c'))],
    } as SeedLock;
    const c = runtimeComposition(shells, { xz: d('6') });
    expect(c.precedence).toEqual([
      'xz',
      'seed.fixups',
      'seed.base-files',
      'seed.libc6',
      'seed.bash',
      'seed.dash',
      'seed.libtinfo6',
    ]);
  });

  it('its TOML is the authored form of the same composition', () => {
    const c = runtimeComposition(seed, { zlib: d('6') });
    const text = encodeRuntimeToml(c, 'test');
    expect(text).toContain(`# root: ${compositionRoot(c)}`);
    const a = parseCompositionToml(text, 'runtime.toml');
    expect(a.precedence).toEqual(c.precedence);
    expect(
      Object.fromEntries(a.entries.map((e) => [e.name, e.source.kind === 'node' ? e.source.node : null])),
    ).toEqual(Object.fromEntries(Object.entries(c.entries).map(([k, e]) => [k, e.node])));
  });

  it('refuses a seed without libc6 and an atom named like a seed entry (E18)', () => {
    const noLibc = { ...seed, packages: seed.packages.filter((p) => p.name !== 'libc6') } as SeedLock;
    expect(() => runtimeComposition(noLibc, {})).toThrow(
      '[E18] runtime composition: the seed has no libc6 package',
    );
    expect(() => runtimeComposition(seed, { 'seed.fixups': d('6') })).toThrow(
      '[E18] runtime composition: atom seed.fixups has the name of a seed entry',
    );
  });
});

describe('runtimeProviders: the seed packages the outputs need', () => {
  const T = '/usr/lib/x86_64-linux-gnu';
  it('takes perl-base for an executable #!/usr/bin/perl, then libcrypt1 for perl; not coreutils for a 644 module', async () => {
    const base = tempDir('eos-runtime-providers-');
    const store = new Store(join(base, 'store'));
    type F = { at: string; src?: string; link?: string; text?: string; mode?: number };
    const tree = async (name: string, files: F[]): Promise<Digest> => {
      const dir = join(base, 'pkgs', name);
      mkdirSync(dir, { recursive: true });
      for (const f of files) {
        const p = join(dir, f.at);
        mkdirSync(dirname(p), { recursive: true });
        if (f.link !== undefined) symlinkSync(f.link, p);
        else if (f.src !== undefined) copyFileSync(f.src, p);
        else writeFileSync(p, f.text ?? '', { mode: f.mode ?? 0o644 });
      }
      return (await store.ingest(dir)).digest;
    };
    const libc = await tree('libc6', [
      { at: `${T}/libc.so.6`, src: `${T}/libc.so.6` },
      { at: `${T}/libm.so.6`, src: `${T}/libm.so.6` },
      { at: `${T}/ld-linux-x86-64.so.2`, src: `${T}/ld-linux-x86-64.so.2` },
      { at: 'usr/lib64/ld-linux-x86-64.so.2', link: '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2' },
    ]);
    // The loader looks in /lib/<triplet> first: found there through the fixups' /lib → usr/lib link.
    const crypt = await tree('libcrypt1', [{ at: `${T}/libcrypt.so.1`, src: `${T}/libcrypt.so.1` }]);
    const perl = await tree('perl-base', [{ at: 'usr/bin/perl', src: '/usr/bin/perl' }]);
    const env = await tree('coreutils', [{ at: 'usr/bin/env', src: '/usr/bin/env' }]);
    const fixups = await tree('fixups', [
      { at: 'bin', link: 'usr/bin' },
      { at: 'lib', link: 'usr/lib' },
      { at: 'lib64', link: 'usr/lib64' },
    ]);
    const out = await tree('app', [
      { at: 'usr/bin/tool', text: '#!/usr/bin/perl\nprint "ok\\n";\n', mode: 0o755 },
      { at: 'usr/lib/app/mod.py', text: '#!/usr/bin/env python3\n', mode: 0o644 },
    ]);
    const lock = {
      ...seed,
      packages: [pkg('coreutils', env), pkg('libc6', libc), pkg('libcrypt1', crypt), pkg('perl-base', perl)],
      fixups,
    } as SeedLock;
    const roots = async () => (await store.listRoots()).filter((r) => r.name.startsWith('composition-'));
    const before = (await roots()).length;

    const r = await runtimeProviders(store, lock, { app: out });
    expect(r.extra).toEqual(['libcrypt1', 'perl-base']);
    expect(r.providers).toEqual([
      { package: 'libcrypt1', provides: '/lib/x86_64-linux-gnu/libcrypt.so.1', for: '/usr/bin/perl' },
      { package: 'perl-base', provides: '/usr/bin/perl', for: '/usr/bin/tool' },
    ]);
    // Three rounds were saved; only the last one's pin is kept.
    expect((await roots()).length).toBe(before + 1);

    const file = join(base, 'runtime.toml');
    const c = await composeBuild({ store, seed: lock, outputs: { app: out }, file });
    expect(c.providers).toEqual(r.providers);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('# seed.perl-base: /usr/bin/perl for /usr/bin/tool\n');
    const a = parseCompositionToml(text, 'runtime.toml');
    expect(a.precedence).toEqual(['app', 'seed.fixups', 'seed.libc6', 'seed.libcrypt1', 'seed.perl-base']);
    expect(compositionRoot(runtimeComposition(lock, { app: out }, r.extra))).toBe(c.root);
    // Nothing needed, nothing taken.
    const plain = await tree('plain', [{ at: 'usr/share/doc/plain/README', text: 'text\n' }]);
    expect(await runtimeProviders(store, lock, { plain })).toEqual({ extra: [], providers: [] });
  });
});
