/**
 * Checking the composer's caches (I/O), for `eos store verify`: every cached image, view and
 * hard-link world must be the one this store made for its root (images and views: their BLAKE3
 * matches the binding in the verified-object record; worlds: `checkWorld` against the root's
 * view). With `repair`, a bad cache is removed (it is rebuilt on next use).
 *
 * @see specs/composition.md §12–§13, specs/store.md §12
 */
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { digestFrom, type Digest } from '../src/kernel/index.ts';
import { CompositionStore, checkWorld } from './compose-store.ts';
import { cachedImageOk, cachedLayerImageOk } from './image-store.ts';

/** One cache that is not what its name says. */
export interface CacheProblem {
  kind: 'image' | 'view' | 'world';
  /** The composition root, or for a layer image (`images/layer-<hex>.cfs`) the tree. */
  root: Digest;
  path: string;
  reason: string;
  /** True when repair removed it. */
  removed: boolean;
}

/** What {@link verifyCaches} checked and found. */
export interface CacheReport {
  images: number;
  views: number;
  worlds: number;
  problems: CacheProblem[];
}

function list(dir: string, re: RegExp): { hex: string; name: string }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const m = re.exec(name);
      return m ? [{ hex: m[1]!, name }] : [];
    });
}

/**
 * Checks every cached image (`images/<hex>.cfs`, and layer images `images/layer-<hex>.cfs`), view (`compositions/<hex>.view.json`) and world
 * (`worlds/<hex>/`) of a store; with `repair`, removes the bad ones.
 * @see specs/store.md §8
 */
export async function verifyCaches(
  cs: CompositionStore,
  opts: { repair?: boolean } = {},
): Promise<CacheReport> {
  const report: CacheReport = { images: 0, views: 0, worlds: 0, problems: [] };
  const bad = (kind: CacheProblem['kind'], hex: string, path: string, reason: string): void => {
    report.problems.push({ kind, root: digestFrom(hex), path, reason, removed: false });
  };
  for (const { hex, name } of list(cs.dir('compositions'), /^([0-9a-f]{64})\.view\.json$/)) {
    report.views++;
    // Bytes must match the binding; a bound view whose tree gc removed (its composition was
    // never pinned) is only stale: it is recomputed on use.
    if (!cs.viewBound(digestFrom(hex)))
      bad(
        'view',
        hex,
        cs.dir('compositions', name),
        'not the view this store cached for the root (edited or unbound)',
      );
  }
  // A root's image (`<hex>.cfs`, bound `image:`) and a tree's layer image (`layer-<hex>.cfs`, `layer:`).
  const images = [
    { re: /^([0-9a-f]{64})\.cfs$/, ok: cachedImageOk, of: 'image this store wrote for the root' },
    {
      re: /^layer-([0-9a-f]{64})\.cfs$/,
      ok: cachedLayerImageOk,
      of: 'layer image this store wrote for the tree',
    },
  ];
  for (const { re, ok, of } of images)
    for (const { hex, name } of list(cs.dir('images'), re)) {
      report.images++;
      if (!ok(cs, digestFrom(hex)))
        bad('image', hex, cs.dir('images', name), `not the ${of} (edited or unbound)`);
    }
  for (const { hex, name } of list(cs.dir('worlds'), /^([0-9a-f]{64})$/)) {
    report.worlds++;
    const dir = cs.dir('worlds', name);
    let reason: string | undefined;
    try {
      const root = digestFrom(hex);
      const v = (await cs.cachedView(root)) ?? (await cs.view(root));
      reason = await checkWorld(cs.store, dir, v.tree);
    } catch (e) {
      reason = `its composition cannot be read: ${(e as Error).message}`;
    }
    if (reason) bad('world', hex, dir, `not the world of the root: ${reason}`);
  }
  if (opts.repair)
    for (const p of report.problems) {
      // Move a world aside first so no half-removed world is ever left under its own name.
      const aside = `${p.path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
      renameSync(p.path, aside);
      rmSync(aside, { recursive: true, force: true });
      p.removed = true;
    }
  return report;
}
