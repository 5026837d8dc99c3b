/**
 * The test vectors of specs/interface.md §7: rebuilds the hand-made ELF files, their manifests,
 * interface digests and coverage proofs, and checks every digest against the spec page (so the page
 * and the code cannot drift apart), plus the manifest's canonical round trip and validation.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestBytes, encodeCanonical, EncodingError, ElfFormatError } from '../../src/kernel/index.ts';
import {
  buildInterfaceManifest,
  checkCoverage,
  manifestDigest,
  parseInterfaceManifest,
} from '../../extractors/index.ts';
import { demoLibrary, demoLibraryWithoutOld, demoProgram } from './elf-builder.ts';

const spec = readFileSync(join(import.meta.dirname, '..', '..', 'specs', 'interface.md'), 'utf8');
const row = (name: string): string[] => {
  const line = spec.split('\n').find((l) => l.startsWith(`| ${name} |`));
  if (!line) throw new Error(`specs/interface.md §7 has no row ${name}`);
  return [...line.matchAll(/`(blake3:[0-9a-f]{64})`/g)].map((m) => m[1]!);
};

const text = (s: string) => new TextEncoder().encode(s);

describe('specs/interface.md §7 vectors', () => {
  const variants = [
    [64, 'little', 0],
    [32, 'big', 1],
  ] as const;
  for (const [bits, endian, col] of variants) {
    it(`${bits}-bit ${endian}-endian`, () => {
      const lib = demoLibrary(bits, endian);
      const prog = demoProgram(bits, endian);
      const lib2 = demoLibraryWithoutOld(bits, endian);
      expect(digestBytes(lib)).toBe(row('library bytes')[col]);
      expect(digestBytes(prog)).toBe(row('program bytes')[col]);
      expect(digestBytes(lib2)).toBe(row('library without demo_old')[col]);
      const tree = buildInterfaceManifest([
        { path: 'lib/libdemo.so.1', bytes: lib },
        { path: 'bin/demo', bytes: prog },
        { path: 'README', bytes: text('not ELF') },
      ]);
      expect(manifestDigest(tree)).toBe(row('tree manifest')[col]);
      expect(tree.provides.sharedObjects[0]!.interface).toBe(row('libdemo.so.1 interface')[col]);
      const old = buildInterfaceManifest([{ path: 'lib/libdemo.so.1', bytes: lib }]);
      const nw = buildInterfaceManifest([{ path: 'lib/libdemo.so.1', bytes: lib2 }]);
      const consumers = [buildInterfaceManifest([{ path: 'bin/demo', bytes: prog }])];
      const bad = checkCoverage(consumers, old, nw);
      expect(bad.proof.verdict).toBe('not-covered');
      expect(bad.proof.missing).toEqual({ 'libdemo.so.1': { versions: [], symbols: ['demo_old@DEMO_1.0'] } });
      expect(bad.digest).toBe(row('proof old → new (not covered: `demo_old@DEMO_1.0`)')[col]);
      expect(bad.proof.requirements).toBe(row('requirement set')[col]);
      const good = checkCoverage(consumers, old, old);
      expect(good.proof.verdict).toBe('covered');
      expect(good.digest).toBe(row('proof old → old (covered)')[col]);
    });
  }

  it('the base64 file on the page is the 32-bit big-endian library', () => {
    const b64 = /^(f0VMR[A-Za-z0-9+/=]+)$/m.exec(spec)![1]!;
    expect(new Uint8Array(Buffer.from(b64, 'base64'))).toEqual(demoLibrary(32, 'big'));
  });

  it('the canonical manifest on the page is the 64-bit tree manifest', () => {
    const block = spec.split('The canonical manifest of the 64-bit tree')[1]!.split('```')[1]!;
    const onPage = block.replace(/\n/g, '');
    const tree = buildInterfaceManifest([
      { path: 'lib/libdemo.so.1', bytes: demoLibrary(64, 'little') },
      { path: 'bin/demo', bytes: demoProgram(64, 'little') },
    ]);
    expect(new TextDecoder().decode(encodeCanonical(tree))).toBe(onPage);
  });
});

describe('manifest validation', () => {
  const m = buildInterfaceManifest([{ path: 'lib/libdemo.so.1', bytes: demoLibrary(64, 'little') }]);
  it('round-trips through its canonical bytes', () => {
    expect(parseInterfaceManifest(encodeCanonical(m))).toEqual(m);
  });
  it('rejects an unknown version, a wrong kind, extra fields and non-canonical bytes (E3)', () => {
    expect(() => parseInterfaceManifest(encodeCanonical({ ...m, version: 2 }))).toThrow(EncodingError);
    expect(() => parseInterfaceManifest(encodeCanonical({ ...m, kind: 'x' }))).toThrow(EncodingError);
    expect(() => parseInterfaceManifest(encodeCanonical({ ...m, extra: 1 }))).toThrow(EncodingError);
    expect(() => parseInterfaceManifest(text(JSON.stringify(m, null, 1)))).toThrow(/canonical/);
  });
  it('a malformed ELF file in a tree fails with E15 naming its path', () => {
    const bytes = demoLibrary(64, 'little').subarray(0, 300);
    expect(() => buildInterfaceManifest([{ path: 'lib/broken.so', bytes }])).toThrow(ElfFormatError);
    expect(() => buildInterfaceManifest([{ path: 'lib/broken.so', bytes }])).toThrow(
      /^\[E15\] lib\/broken\.so: /,
    );
  });
  it('the manifest does not depend on the order files are given in', () => {
    const files = [
      { path: 'lib/libdemo.so.1', bytes: demoLibrary(64, 'little') },
      { path: 'bin/demo', bytes: demoProgram(64, 'little') },
    ];
    expect(manifestDigest(buildInterfaceManifest(files))).toBe(
      manifestDigest(buildInterfaceManifest([...files].reverse())),
    );
  });
});
