/**
 * What a swap reads (issue 12: its cost must follow the consumers, not the rest of the
 * composition). A runtime composition stored by `eos build --compose`'s step (`composeBuild`) with
 * the host's C library, a gcc-built `libfoo.so.1`, three programs linked against it and many
 * unrelated entries (programs that need only libc, and non-ELF files). Counted with the store's
 * own read trace (`Store.startReadTrace`): the soname index stored at compose time is used (no
 * unrelated entry's bytes are read, even with the interface-manifest cache gone); once the rest
 * view is kept, a swap and the reader's re-check open no tree or blob of an unrelated entry; and
 * every view built around the swapped entry is the whole composition's merged view.
 */
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Store, digestHex, type Digest } from '../../src/kernel/index.ts';
import {
  CompositionStore,
  checkSwaps,
  mergeComposition,
  storeAccess,
  swapEntry,
  type EntryNode,
} from '../../composer/index.ts';
import type { SeedLock } from '../../executor/index.ts';
import { composeBuild } from '../../src/build/index.ts';
import { tempDir } from './helpers.ts';

const base = tempDir('eos-swap-cost-');
const LIB = 'usr/lib/x86_64-linux-gnu';
const UNRELATED = 24;
const DOCS = 6;
let store: Store;
let cs: CompositionStore;
let root: Digest;
const nodes: Record<string, Digest> = {};
/** Every tree and blob digest inside the unrelated entries' trees. */
const unrelated = { trees: new Set<Digest>(), blobs: new Set<Digest>() };

function gcc(...args: string[]): void {
  execFileSync('gcc', args);
}

/** Adds every object digest under a stored tree to `into`. */
async function objectsUnder(d: Digest, into: typeof unrelated): Promise<void> {
  into.trees.add(d);
  for (const e of (await store.getTree(d)).entries) {
    if (e.kind === 'directory') await objectsUnder(e.digest, into);
    else if (e.kind === 'file') into.blobs.add(e.digest);
  }
}

beforeAll(async () => {
  const src = join(base, 'src');
  mkdirSync(src, { recursive: true });
  const code =
    'int foo_table[4] = {1, 2, 3, 4};\nint foo_a(int x){return x+1;}\nint foo_b(int x){return x+2;}\n';
  writeFileSync(join(src, 'foo.map'), 'FOO_1.0 { global: foo_a; foo_b; foo_table; local: *; };\n');
  const pkgs = join(base, 'pkgs');
  for (const [v, extra] of [
    ['foo', ''],
    ['foo2', 'int foo_c(int x){return x+3;}\n'],
    ['foo3', 'int foo_c(int x){return x+3;}\nint foo_d(int x){return x+4;}\n'],
  ] as const) {
    writeFileSync(join(src, 'foo.c'), code + extra);
    mkdirSync(join(pkgs, v, LIB), { recursive: true });
    gcc(
      '-shared',
      '-fPIC',
      '-O1',
      '-o',
      join(pkgs, v, LIB, 'libfoo.so.1'),
      join(src, 'foo.c'),
      '-Wl,-soname,libfoo.so.1',
      `-Wl,--version-script=${join(src, 'foo.map')}`,
    );
  }
  writeFileSync(
    join(src, 'app.c'),
    '#include <stdio.h>\nextern int foo_table[4];int foo_a(int);int foo_b(int);\nint main(void){printf("%d\\n", foo_a(1)+foo_b(1)+foo_table[3]);return 0;}\n',
  );
  gcc('-O1', '-o', join(src, 'app'), join(src, 'app.c'), `-L${join(pkgs, 'foo', LIB)}`, '-l:libfoo.so.1');
  writeFileSync(join(src, 'plain.c'), '#include <stdio.h>\nint main(void){puts("plain");return 0;}\n');
  gcc('-O1', '-o', join(src, 'plain'), join(src, 'plain.c'));

  const libc = join(pkgs, 'libc');
  mkdirSync(join(libc, LIB), { recursive: true });
  mkdirSync(join(libc, 'usr/lib64'), { recursive: true });
  for (const f of ['libc.so.6', 'ld-linux-x86-64.so.2'])
    copyFileSync(join('/lib/x86_64-linux-gnu', f), join(libc, LIB, f));
  symlinkSync('/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', join(libc, 'usr/lib64/ld-linux-x86-64.so.2'));
  const fixups = join(pkgs, 'fixups');
  mkdirSync(fixups);
  for (const [at, to] of [
    ['bin', 'usr/bin'],
    ['lib', 'usr/lib'],
    ['lib64', 'usr/lib64'],
  ] as const)
    symlinkSync(to, join(fixups, at));
  const app = readFileSync(join(src, 'app'));
  const plain = readFileSync(join(src, 'plain'));
  const put = (name: string, rel: string, bytes: Buffer | string, mode = 0o755): void => {
    mkdirSync(join(pkgs, name, rel, '..'), { recursive: true });
    writeFileSync(join(pkgs, name, rel), bytes, { mode });
  };
  for (let i = 0; i < 3; i++)
    put(`dep${i}`, `usr/bin/dep${i}`, Buffer.concat([app, Buffer.from(`\0dep${i}`)]));
  for (let i = 0; i < UNRELATED; i++)
    put(`other${i}`, `usr/bin/other${i}`, Buffer.concat([plain, Buffer.from(`\0other${i}`)]));
  for (let i = 0; i < DOCS; i++) put(`doc${i}`, `usr/share/doc/doc${i}/README`, `notes ${i}\n`, 0o644);

  store = new Store(join(base, 'store'));
  cs = new CompositionStore(store);
  const names = [
    'libc',
    'fixups',
    'foo',
    'foo2',
    'foo3',
    ...[0, 1, 2].map((i) => `dep${i}`),
    ...Array.from({ length: UNRELATED }, (_, i) => `other${i}`),
    ...Array.from({ length: DOCS }, (_, i) => `doc${i}`),
  ];
  for (const n of names) nodes[n] = (await store.ingest(join(pkgs, n))).digest;
  const seed = {
    packages: [{ name: 'libc6', version: '1', arch: 'amd64', tree: nodes.libc }],
    fixups: nodes.fixups,
  } as unknown as SeedLock;
  const outputs = Object.fromEntries(
    names.filter((n) => !['libc', 'fixups', 'foo2', 'foo3'].includes(n)).map((n) => [n, nodes[n]!]),
  );
  root = (await composeBuild({ store, seed, outputs })).root;
  for (const n of names)
    if (n.startsWith('other') || n.startsWith('doc')) await objectsUnder(nodes[n]!, unrelated);
}, 300_000);

const tree = (n: string): EntryNode => ({ kind: 'tree', digest: nodes[n]! });

/** The merged view of a stored root computed afresh over the whole composition. */
async function wholeView(r: Digest): Promise<Digest> {
  return (await mergeComposition(await cs.load(r), storeAccess(store))).tree;
}

describe('what a swap reads', () => {
  it('eos build --compose stores the soname index; the swap finds it and reads no unrelated entry', async () => {
    const hex = digestHex(root);
    const pointer = join(store.root, 'cache', 'soname-index', hex.slice(0, 2), hex.slice(2));
    expect(existsSync(pointer)).toBe(true);
    const ix = JSON.parse(
      new TextDecoder().decode(await store.readBlob(readFileSync(pointer, 'utf8').trim() as Digest)),
    );
    expect(ix.composition).toBe(root);
    expect(ix.entries.foo.provides).toEqual(['libfoo.so.1']);
    expect(Object.keys(ix.entries)).toHaveLength(3 + 1 + UNRELATED + DOCS + 2);
    // No cached manifests: a swap that built the index itself would read every entry's files.
    rmSync(join(store.root, 'cache', 'interface'), { recursive: true, force: true });
    const trace = store.startReadTrace();
    let r;
    try {
      r = await swapEntry(cs, root, 'foo', tree('foo2'));
    } finally {
      store.stopReadTrace();
    }
    expect(r.proof!.verdict).toBe('covered');
    expect(r.proof!.checked.consumers).toBe(3);
    expect([...trace.blobs].filter((d) => unrelated.blobs.has(d))).toEqual([]);
    // The consumers' bytes were read (the proof is not vacuous).
    const depBlobs = { trees: new Set<Digest>(), blobs: new Set<Digest>() };
    await objectsUnder(nodes.dep0!, depBlobs);
    expect([...depBlobs.blobs].every((d) => trace.blobs.has(d))).toBe(true);
    expect((await cs.view(r.root)).tree).toBe(await wholeView(r.root));
  });

  it('with the rest view kept, a swap and its re-check open no tree or blob of an unrelated entry', async () => {
    const r1 = await swapEntry(cs, root, 'foo', tree('foo2'));
    const trace = store.startReadTrace();
    let r2;
    let checks;
    try {
      r2 = await swapEntry(cs, r1.root, 'foo', tree('foo3'));
      checks = await checkSwaps(cs, r2.root);
    } finally {
      store.stopReadTrace();
    }
    expect(r2.constraint).toBe('satisfies');
    expect(checks.map((c) => [c.entry, c.verdict, c.consumers])).toEqual([['foo', 'covered', 3]]);
    expect([...trace.trees].filter((d) => unrelated.trees.has(d))).toEqual([]);
    expect([...trace.blobs].filter((d) => unrelated.blobs.has(d))).toEqual([]);
    expect(trace.trees.size).toBeGreaterThan(0);
    // The view built around foo is the whole composition's merged view.
    expect((await cs.view(r2.root)).tree).toBe(await wholeView(r2.root));
    // The pin keeps every entry's node (taken over from the old pin, not re-read).
    const pin = readFileSync(join(store.dir('roots'), `composition-${digestHex(r2.root)}`), 'utf8').trim();
    const pinned = (await store.getTree(pin as Digest)).entries.map((e) => e.name);
    expect(pinned).toContain(`node.other${UNRELATED - 1}`);
    expect(pinned).toContain('proof.foo');
  });

  it('a swap without the rest view kept (or with it damaged) gives the same composition', async () => {
    const kept = await swapEntry(cs, root, 'foo', tree('foo3'));
    rmSync(join(store.root, 'cache', 'rest-view'), { recursive: true, force: true });
    const again = await swapEntry(cs, root, 'foo', tree('foo3'));
    expect(again.root).toBe(kept.root);
    expect(again.proofDigest).toBe(kept.proofDigest);
    expect(again.view.tree).toBe(kept.view.tree);
  });
});
