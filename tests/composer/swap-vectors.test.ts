/**
 * The vectors of specs/interface.md §11.6 and specs/composition.md §7.2: swap proofs over byte-built
 * ELF files (tests/extractors/elf-builder.ts, no compiler), so every digest is reproducible
 * anywhere. The composition binds a stand-in libc and loader (`base`), `libdemo.so.1` as a file
 * node and the demo program as another; `libdemo.so.1` is swapped for the same library without
 * section headers (same interface: covered) and for the library without `demo_old` (not covered).
 */
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Store, digestBytes, encodeCanonical, type Digest } from '../../src/kernel/index.ts';
import {
  CompositionStore,
  compositionRoot,
  encodeComposition,
  makeComposition,
  swapEntry,
  checkSwaps,
  candidateEntries,
  sonameIndex,
  type Composition,
} from '../../composer/index.ts';
import { buildElf, demoLibrary, demoLibraryWithoutOld, demoProgram } from '../extractors/elf-builder.ts';
import { tempDir } from './helpers.ts';

const repo = join(import.meta.dirname, '..', '..');
const spec = (file: string, label: string): string => {
  const text = readFileSync(join(repo, 'specs', file), 'utf8');
  const m = new RegExp(`${label}: \`(blake3:[0-9a-f]{64})\``).exec(text);
  if (!m) throw new Error(`specs/${file} states no "${label}"`);
  return m[1]!;
};

let cs: CompositionStore;
let root: Digest;
const blobs: Record<string, Digest> = {};

beforeAll(async () => {
  const dir = tempDir('eos-swap-vectors-');
  const store = new Store(join(dir, 'store'));
  cs = new CompositionStore(store);
  const b = join(dir, 'base');
  mkdirSync(join(b, 'usr/lib'), { recursive: true });
  symlinkSync('usr/lib', join(b, 'lib'));
  symlinkSync('usr/lib', join(b, 'lib64'));
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
  writeFileSync(join(b, 'usr/lib/libc.so.6'), libc, { mode: 0o644 });
  writeFileSync(
    join(b, 'usr/lib/ld-linux-x86-64.so.2'),
    buildElf({ bits: 64, endian: 'little', soname: 'ld-linux-x86-64.so.2', symbols: [] }),
    { mode: 0o644 },
  );
  const baseTree = (await store.ingest(b)).digest;
  for (const [k, bytes] of Object.entries({
    lib: demoLibrary(64, 'little'),
    libNoSections: demoLibrary(64, 'little', false),
    libWithoutOld: demoLibraryWithoutOld(64, 'little'),
    program: demoProgram(64, 'little'),
  }))
    blobs[k] = await store.putBlob(bytes);
  const entry = (at: string, node: object, digest: Digest) => ({
    at,
    node,
    constraint: { kind: 'exact', digest },
  });
  const c = makeComposition({
    version: 1,
    entries: {
      base: entry('/', { kind: 'tree', digest: baseTree }, baseTree),
      demo: entry(
        '/usr/lib/libdemo.so.1',
        { kind: 'file', digest: blobs.lib, executable: false },
        blobs.lib!,
      ),
      app: entry('/bin/demo', { kind: 'file', digest: blobs.program, executable: true }, blobs.program!),
    },
    precedence: [],
  });
  root = (await cs.save(c)).root;
});

describe('swap proof vectors (specs/interface.md §11.6)', () => {
  it('the base composition has the stated root', () => {
    expect(root).toBe(spec('interface.md', 'swap vector base root'));
  });

  it('the library without section headers covers: satisfies, with the stated proof and root', async () => {
    const r = await swapEntry(cs, root, 'demo', {
      kind: 'file',
      digest: blobs.libNoSections!,
      executable: false,
    });
    expect(r.proof!.verdict).toBe('covered');
    expect(r.proof!.checked).toEqual({ consumers: 1, symbols: 2 });
    expect(r.proof!.consumers.map((c) => [c.path, c.needs.map((n) => [n.soname, n.symbols])])).toEqual([
      ['/bin/demo', [['libdemo.so.1', ['demo_new@DEMO_2.0', 'demo_old@DEMO_1.0']]]],
    ]);
    expect(r.proofDigest).toBe(spec('interface.md', 'swap vector covered proof'));
    expect(r.root).toBe(spec('interface.md', 'swap vector covered root'));
    expect(digestBytes(encodeCanonical(r.proof))).toBe(r.proofDigest);
    expect(await checkSwaps(cs, r.root)).toHaveLength(1);
  });

  it('the library without demo_old does not cover; forced, it is an override with the stated proof', async () => {
    await expect(
      swapEntry(cs, root, 'demo', { kind: 'file', digest: blobs.libWithoutOld!, executable: false }),
    ).rejects.toThrow(
      /^\[E32\] demo: blake3:[0-9a-f]{64} does not cover 1 consumer\(s\): \/bin\/demo needs demo_old@DEMO_1\.0 from libdemo\.so\.1 \(absent\)$/,
    );
    const r = await swapEntry(
      cs,
      root,
      'demo',
      { kind: 'file', digest: blobs.libWithoutOld!, executable: false },
      { force: { reason: 'vector' } },
    );
    expect(r.proof!.verdict).toBe('not-covered');
    expect(r.proof!.consumers[0]!.needs[0]!.missing).toEqual([{ item: 'demo_old@DEMO_1.0', why: 'absent' }]);
    expect(r.proofDigest).toBe(spec('interface.md', 'swap vector not-covered proof'));
  });
});

describe('the soname index (specs/interface.md §11.7)', () => {
  it('the base composition’s index has the stated lines and digest, and is stored once', async () => {
    const c = await cs.load(root);
    const ix = await sonameIndex(cs.store, c);
    expect(
      Object.fromEntries(Object.entries(ix.entries).map(([n, l]) => [n, [l.provides, l.needs, l.dlopen]])),
    ).toEqual({
      app: [[], ['libc.so.6', 'libdemo.so.1'], false],
      base: [['ld-linux-x86-64.so.2', 'libc.so.6'], [], false],
      demo: [['libdemo.so.1'], ['libc.so.6'], false],
    });
    const d = digestBytes(encodeCanonical(ix));
    expect(d).toBe(spec('interface.md', 'soname index vector'));
    expect(await cs.store.hasBlob(d)).toBe(true);
    expect(candidateEntries(ix, 'demo', new Set(['libdemo.so.1']))).toEqual(['app']);
    expect(candidateEntries(ix, 'base', new Set(['libc.so.6', 'ld-linux-x86-64.so.2']))).toEqual([
      'app',
      'demo',
    ]);
  });

  it('a swap stores the new composition’s index, derived from the base’s: the same as one built afresh', async () => {
    const r = await swapEntry(cs, root, 'demo', {
      kind: 'file',
      digest: blobs.libNoSections!,
      executable: false,
    });
    const hex = r.root.slice('blake3:'.length);
    const pointer = join(cs.store.root, 'cache', 'soname-index', hex.slice(0, 2), hex.slice(2));
    const derived = readFileSync(pointer, 'utf8').trim();
    rmSync(pointer);
    const fresh = await sonameIndex(cs.store, r.composition);
    expect(digestBytes(encodeCanonical(fresh))).toBe(derived);
    // a pointer naming another composition's index is not believed: rebuilt
    const baseHex = root.slice('blake3:'.length);
    writeFileSync(
      pointer,
      readFileSync(join(cs.store.root, 'cache', 'soname-index', baseHex.slice(0, 2), baseHex.slice(2))),
    );
    expect((await sonameIndex(cs.store, r.composition)).composition).toBe(r.root);
    expect(readFileSync(pointer, 'utf8').trim()).toBe(derived);
  });
});

describe('a second swap re-proves the first', () => {
  it('swapping the consumer after its library updates the library entry’s proof; both re-check', async () => {
    const first = await swapEntry(cs, root, 'demo', {
      kind: 'file',
      digest: blobs.libNoSections!,
      executable: false,
    });
    const store = cs.store;
    const program2 = await store.putBlob(
      new Uint8Array([...demoProgram(64, 'little'), ...new TextEncoder().encode('\0rebuilt')]),
    );
    const second = await swapEntry(cs, first.root, 'app', {
      kind: 'file',
      digest: program2,
      executable: true,
    });
    expect(second.proof!.verdict).toBe('covered');
    const demo = second.composition.entries['demo']!.constraint;
    expect(demo).toMatchObject({ kind: 'satisfies', pinned: blobs.lib });
    // the consumer's bytes are part of the library's proof, so it was recomputed
    expect((demo as { proof: Digest }).proof).not.toBe(first.proofDigest);
    expect((await checkSwaps(cs, second.root)).map((x) => [x.entry, x.kind])).toEqual([
      ['app', 'satisfies'],
      ['demo', 'satisfies'],
    ]);
  });
});

describe('composition version 2 (specs/composition.md §7.2)', () => {
  const B = digestBytes('eos composition vector: base tree');
  const F = digestBytes('eos composition vector: dash');
  const F2 = digestBytes('eos composition vector: dash 2');
  const P = digestBytes('eos composition vector: proof');
  const v2 = (version: number, constraint: object): unknown => ({
    version,
    entries: {
      base: { at: '/', node: { kind: 'tree', digest: B }, constraint: { kind: 'exact', digest: B } },
      dash: { at: '/usr/bin/dash', node: { kind: 'file', digest: F2, executable: true }, constraint },
    },
    precedence: ['dash', 'base'],
  });

  it('a satisfies constraint encodes as stated and has the stated root', () => {
    const c: Composition = makeComposition(v2(2, { kind: 'satisfies', pinned: F, proof: P }));
    const text = readFileSync(join(repo, 'specs', 'composition.md'), 'utf8');
    expect(text).toContain('\n' + new TextDecoder().decode(encodeComposition(c)) + '\n');
    expect(compositionRoot(c)).toBe(spec('composition.md', 'version 2 vector root'));
  });

  it('version 1 rejects satisfies; version 2 requires one; pinned may not be the node; override needs a reason', () => {
    expect(() => makeComposition(v2(1, { kind: 'satisfies', pinned: F, proof: P }))).toThrow(
      /^\[E18\] composition\.entries\.dash\.constraint\.kind: "satisfies" is not a constraint kind version 1 knows/,
    );
    expect(() => makeComposition(v2(2, { kind: 'exact', digest: F2 }))).toThrow(
      /version: 2 is only for a composition with a satisfies or override/,
    );
    expect(() => makeComposition(v2(2, { kind: 'satisfies', pinned: F2, proof: P }))).toThrow(
      /pins the node itself/,
    );
    expect(() => makeComposition(v2(2, { kind: 'override', pinned: F, proof: P, reason: '' }))).toThrow(
      /reason: expected a non-empty string/,
    );
    expect(() => makeComposition(v2(2, { kind: 'override', pinned: F, proof: P }))).toThrow(
      /missing field "reason"/,
    );
    expect(
      makeComposition(
        v2(2, { kind: 'override', pinned: F, proof: P, reason: 'CVE fix, ABI checked by hand' }),
      ).version,
    ).toBe(2);
  });
});
