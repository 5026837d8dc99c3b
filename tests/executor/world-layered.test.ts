/**
 * Worlds merged from the kept seed view (specs/executor.md §3): every world's view equals the whole
 * composition's merge (tree and shadowed paths), on the fast path (a union of dependencies onto
 * the seed) and on the fallback (a dependency shadowing the seed, two dependencies differing, a
 * file against a directory); and the fast path does not read the seed packages' trees again.
 * Worlds mounted layer by layer (specs/executor.md §2.2): a union world's seed image with its
 * dependencies' layer images over it shows, through the kernel's overlay, exactly what its whole
 * image shows; a world that is not a union is never layered.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Store, type Digest } from '../../src/kernel/index.ts';
import {
  CompositionStore,
  PendingTrees,
  cachedLayerImageOk,
  composefsRootCommand,
  layerImage,
  layerImagePath,
  mergeComposition,
  verifyCaches,
  type ComposefsRoot,
} from '../../composer/index.ts';
import {
  buildLayeredWorld,
  buildWorld,
  dependencyLayer,
  worldComposition,
  worldImage,
  worldLayerImage,
  worldTree,
  type WorldLayer,
} from '../../executor/index.ts';
import { prepareActionWorld } from '../../executor/build.ts';
import type { SeedLock } from '../../executor/seed/seed-lock.ts';

const tmp = mkdtempSync(join(tmpdir(), 'eos-world-layered-'));

async function layer(store: Store, name: string, files: Record<string, string>): Promise<Digest> {
  const d = join(tmp, 'layers', name);
  for (const [p, t] of Object.entries(files)) {
    mkdirSync(join(d, p, '..'), { recursive: true });
    writeFileSync(join(d, p), t);
  }
  return (await store.ingest(d)).digest;
}

/** The whole composition merged in one pass, on a store object of its own (no kept seed view). */
async function reference(dir: string, layers: WorldLayer[]) {
  const store = new Store(dir);
  const pending = new PendingTrees(store);
  const v = await mergeComposition(worldComposition(layers).composition, pending);
  await pending.flush();
  return v;
}

describe('worlds from the kept seed view', () => {
  it('equal the whole merge on the fast path and the fallback, and skip the seed trees when they can', async () => {
    const dir = join(tmp, 'store');
    const store = new Store(dir);
    const libc = await layer(store, 'libc', {
      'usr/lib/libc.so.6': 'libc',
      'usr/share/doc/libc/README': 'libc doc',
      'usr/share/doc/common': 'same',
      'etc/x': 'seed x',
    });
    const ssl = await layer(store, 'ssl', {
      'usr/lib/libssl.so.3': 'debian ssl',
      'usr/share/doc/ssl/README': 'ssl doc',
      'usr/share/doc/common': 'same',
    });
    const fix = await layer(store, 'fixups', { 'etc/x': 'fixed x', 'usr/bin/cc': 'cc' });
    const seed: WorldLayer[] = [
      { name: 'seed.libc6', tree: libc, precedence: 0 },
      { name: 'seed.libssl3', tree: ssl, precedence: 0 },
      { name: 'fixups', tree: fix, precedence: 1 },
    ];
    const a = await layer(store, 'a', { 'usr/share/bench/a': 'a', 'usr/share/doc/common': 'same' });
    const b = await layer(store, 'b', { 'usr/share/bench/b': 'b', 'usr/lib/libb.so': 'b' });
    const b2 = await layer(store, 'b2', { 'usr/share/bench/b': 'another b' });
    const shadow = await layer(store, 'shadow', { 'usr/lib/libssl.so.3': 'our ssl' });
    const clash = await layer(store, 'clash', { 'usr/lib/libc.so.6/x': 'a directory' });

    const cases: WorldLayer[][] = [
      [...seed, dependencyLayer('a', a)],
      [...seed, dependencyLayer('a', a), dependencyLayer('b', b)],
      [...seed, dependencyLayer('b', b), dependencyLayer('b2', b2)], // two deps differ: precedence
      [...seed, dependencyLayer('shadow', shadow), dependencyLayer('a', a)], // shadows the seed
      [...seed], // no dependency
    ];
    for (const [i, layers] of cases.entries()) {
      const w = await buildWorld(store, layers);
      const want = await reference(dir, layers);
      expect({ tree: w.tree, shadowed: w.shadowed }, `case ${i}`).toEqual(want);
    }
    // The seed's own shadowing (fixups over a seed file) is in every world's list.
    expect((await buildWorld(store, cases[0]!)).shadowed).toEqual([
      { path: '/etc/x', winner: 'fixups', shadowed: ['seed.libc6'] },
    ]);
    const fellBack = await buildWorld(store, cases[3]!);
    expect(fellBack.shadowed.map((s) => s.path)).toEqual(['/etc/x', '/usr/lib/libssl.so.3']);
    await expect(buildWorld(store, [...seed, dependencyLayer('clash', clash)])).rejects.toThrow(
      /\[E18\] \/usr\/lib\/libc.so.6: entry dep.clash has a directory and entry seed.libc6 has/,
    );

    // The fast path merges a new dependency onto the kept view: the seed packages' own trees
    // under /usr/share/doc are not read again (a whole merge reads every one of them).
    const seedDocs = async (s: Store, t: Digest) => {
      const usr = (await s.getTree(t)).entries.find((e) => e.name === 'usr')!;
      const share = (await s.getTree((usr as { digest: Digest }).digest)).entries.find(
        (e) => e.name === 'share',
      )!;
      const doc = (await s.getTree((share as { digest: Digest }).digest)).entries.find(
        (e) => e.name === 'doc',
      )!;
      return (doc as { digest: Digest }).digest;
    };
    const docs = [await seedDocs(store, libc), await seedDocs(store, ssl)];
    const c = await layer(store, 'c', { 'usr/share/bench/c': 'c' });
    const trace = store.startReadTrace();
    await buildWorld(store, [...seed, dependencyLayer('c', c)]);
    store.stopReadTrace();
    for (const d of docs) expect(trace.trees.has(d), `seed doc tree ${d} read`).toBe(false);
    // A fresh store object has no kept view: its first world reads them (the check can fail).
    const fresh = new Store(dir);
    const t2 = fresh.startReadTrace();
    await buildWorld(fresh, [...seed, dependencyLayer('c', c)]);
    fresh.stopReadTrace();
    for (const d of docs) expect(t2.trees.has(d)).toBe(true);
  });
});

/** Every path of a mounted view with its kind, mode and target, then each file's size and SHA-256. */
const LISTING = `cd "$1" && find . -mindepth 1 -printf '%y %m %P %l\\n' | LC_ALL=C sort && find . -type f -printf '%s %P\\n' | LC_ALL=C sort -k2 && find . -type f -exec sha256sum {} + | LC_ALL=C sort -k2`;

async function listMounted(root: ComposefsRoot): Promise<string> {
  const mnt = mkdtempSync(join(tmpdir(), 'eos-layered-mnt-'));
  const [cmd, args] = await composefsRootCommand(root, {
    mnt,
    mountPoints: [],
    source: 'eos-test',
    command: (view) => ['/bin/sh', '-c', LISTING, 'list', view],
  });
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
}

describe.skipIf(process.getuid?.() !== 0)('worlds mounted layer by layer (kernel overlay; root)', () => {
  it('a union world mounted as seed image + layer images shows exactly its whole image; others are not layered', async () => {
    const dir = join(tmp, 'store-mounted');
    const store = new Store(dir);
    const libc = await layer(store, 'm-libc', {
      'usr/lib/libc.so.6': 'libc',
      'usr/bin/tool': '#!/bin/sh\necho tool\n',
      'usr/share/doc/common': 'same',
      'etc/x': 'seed x',
    });
    const fix = await layer(store, 'm-fixups', { 'etc/x': 'fixed x' });
    const seed: WorldLayer[] = [
      { name: 'seed.libc6', tree: libc, precedence: 0 },
      { name: 'fixups', tree: fix, precedence: 1 },
    ];
    const a = await layer(store, 'm-a', {
      'usr/share/bench/a': 'a',
      'usr/share/doc/common': 'same',
      'opt/a/x': 'ax',
    });
    const b = await layer(store, 'm-b', {
      'usr/share/bench/b': 'b',
      'usr/lib/libb.so': 'b',
      'usr/share/empty/.keep': '',
    });
    const shadow = await layer(store, 'm-shadow', { 'etc/x': 'mine' }); // meets the seed's shadowed path
    const differ = await layer(store, 'm-differ', { 'usr/share/bench/a': 'another a' });

    const union = [...seed, dependencyLayer('a', a), dependencyLayer('b', b)];
    const layered = await buildLayeredWorld(store, union);
    expect(layered).toBeDefined();
    const whole = await buildWorld(store, union);
    // The same world: one composition root, the seed's shadowed paths and no other.
    expect(layered!.world.root).toBe(whole.root);
    expect(layered!.world.shadowed).toEqual(whole.shadowed);
    expect(layered!.deps.map((d) => d.name)).toEqual(['dep.a', 'dep.b']);
    expect(await worldTree(store, layered!.world)).toBe(whole.tree);

    const objectsDir = store.dir('objects');
    const seedImage = await worldImage(store, layered!.seedRoot);
    const layers = await Promise.all(layered!.deps.map((d) => worldLayerImage(store, d.tree)));
    const stacked = await listMounted({ image: seedImage, layers, objectsDir });
    const flat = await listMounted({ image: await worldImage(store, whole.root), objectsDir });
    expect(stacked).toBe(flat);
    expect(stacked).toContain('f 644 etc/x \n');
    expect(stacked).toContain('f 644 usr/bin/tool \n');
    expect(stacked).toContain('usr/share/bench/b');
    // Order of the layers does not matter for a union.
    expect(await listMounted({ image: seedImage, layers: [...layers].reverse(), objectsDir })).toBe(flat);

    // Two dependencies with the same output tree are one layer (overlayfs refuses a lower layer
    // twice, ELOOP): the action's world mounts, and shows the same as its whole image.
    const seedLock = {
      format: 'eos-seed-lock',
      version: 1,
      mode: 'host',
      arch: 'amd64',
      roots: ['libc6'],
      packages: [{ name: 'libc6', tree: libc }],
      fixups: fix,
    } as unknown as SeedLock;
    const twice = await prepareActionWorld(
      store,
      seedLock,
      [
        { name: 'a', tree: a },
        { name: 'a2', tree: a },
      ],
      'composefs',
    );
    expect(twice.composefs!.layers).toEqual([layers[0]]);
    const twiceWhole = await buildWorld(store, [...seed, dependencyLayer('a', a), dependencyLayer('a2', a)]);
    expect(twice.world.root).toBe(twiceWhole.root);
    expect(await listMounted({ ...twice.composefs!, objectsDir })).toBe(
      await listMounted({ image: await worldImage(store, twiceWhole.root), objectsDir }),
    );
    await twice.stored;

    // Not a union: each falls back to the whole world.
    for (const deps of [
      [dependencyLayer('shadow', shadow)],
      [dependencyLayer('a', a), dependencyLayer('differ', differ)],
    ])
      expect(await buildLayeredWorld(store, [...seed, ...deps])).toBeUndefined();
    expect(await buildLayeredWorld(store, [...seed])).toBeUndefined();

    // A layer image's root is not opaque and has no 00–ff stubs; a whole image's has them.
    const top = (image: string) => {
      const m = mkdtempSync(join(tmpdir(), 'eos-layer-erofs-'));
      const r = spawnSync(
        'unshare',
        ['--mount', 'sh', '-c', 'mount -t erofs -o ro,loop "$0" "$1" && ls -A "$1"', image, m],
        {
          encoding: 'utf8',
        },
      );
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.split('\n').filter(Boolean);
    };
    expect(top(layers[0]!)).toEqual(['opt', 'usr']);
    expect(top(seedImage)).toHaveLength(2 + 256);

    // A layer image edited in the cache is reported by store verify, not used, and written again.
    const cs = new CompositionStore(store);
    expect(layerImagePath(cs, a)).toBe(layers[0]);
    expect((await verifyCaches(cs)).problems).toEqual([]);
    copyFileSync(layers[1]!, layers[0]!);
    expect(cachedLayerImageOk(cs, a)).toBe(false);
    const report = await verifyCaches(cs);
    expect(report.problems.map((p) => [p.kind, p.root, p.path])).toEqual([['image', a, layers[0]]]);
    expect((await layerImage(cs, a)).cached).toBe(false);
    expect(cachedLayerImageOk(cs, a)).toBe(true);
    expect((await layerImage(cs, a)).cached).toBe(true);
  });
});
