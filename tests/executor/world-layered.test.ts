/**
 * Worlds merged from the kept seed view (specs/executor.md §3): every world's view equals the whole
 * composition's merge (tree and shadowed paths), on the fast path (a union of dependencies onto
 * the seed) and on the fallback (a dependency shadowing the seed, two dependencies differing, a
 * file against a directory); and the fast path does not read the seed packages' trees again.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Store, type Digest } from '../../src/kernel/index.ts';
import { mergeComposition, PendingTrees } from '../../composer/index.ts';
import { buildWorld, dependencyLayer, worldComposition, type WorldLayer } from '../../executor/index.ts';

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
