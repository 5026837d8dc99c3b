/**
 * The runtime composition that `eos build --compose` writes (src/build/runtime-composition.ts): which seed
 * packages it takes, the precedence, located errors, and that its TOML re-composes to the same root.
 */
import { describe, expect, it } from 'vitest';
import { compositionRoot, parseCompositionToml } from '../../composer/index.ts';
import type { SeedLock } from '../../executor/index.ts';
import { encodeRuntimeToml, runtimeComposition } from '../../src/build/index.ts';
import { parseDigest, type Digest } from '../../src/kernel/index.ts';

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
