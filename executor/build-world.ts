/**
 * Build worlds: an action's world is a composition (composer/): one entry per layer (each seed
 * package's tree, the seed's fixups, each dependency's output tree), every one bound at `/`, with
 * an explicit precedence list. The composer's merge rules apply (specs/composition.md §6):
 * directories merge, identical nodes dedupe, different files or symlinks at one path are decided
 * by the precedence list and recorded as shadowed, a file against a directory is a conflict (E18).
 * The world's identity is the composition root; the merged view is hard-link materialized once per
 * root (the composer's `CompositionStore.world`) and bound read-only at `/` by the sandbox.
 *
 * Precedence: dependency outputs first (in the order given), then the fixups, then the seed's
 * packages (by name), so a dependency's files shadow the toolchain's and every shadowed path is
 * listed in the build record.
 *
 * @see specs/executor.md §2–§3
 */
import {
  CompositionStore,
  PendingTrees,
  compositionImage,
  compositionRoot,
  isUnionOnto,
  layerImage,
  storeAccess,
  makeComposition,
  mergeOnto,
  mountingPermitted,
  type Composition,
  type MergedView,
  type ShadowedPath,
} from '../composer/index.ts';
import type { Digest, Store } from '../src/kernel/index.ts';
import type { SeedLock } from './seed/seed-lock.ts';

export type { ShadowedPath };

/** One layer of a world: a tree bound at `/`. */
export interface WorldLayer {
  /** The composition entry name (`seed.gcc-12`, `fixups`, `dep.zlib`): lowercase, digits, `. _ + -`. */
  name: string;
  /** The tree bound at `/`. */
  tree: Digest;
  /** Higher wins; equal precedence keeps the order given. */
  precedence: number;
}

/** The merged world. */
export interface World {
  /** The composition root (the world's identity, recorded in the build record). */
  root: Digest;
  /**
   * The merged view's tree digest; absent for a world made by {@link buildLayeredWorld} (mounted
   * layer by layer: its view is merged on first use, `CompositionStore.view`).
   */
  tree?: Digest;
  composition: Composition;
  /** The layers in precedence order, highest first. */
  layers: WorldLayer[];
  /** Paths where precedence chose a winner, sorted by path. */
  shadowed: ShadowedPath[];
}

/** Precedences of the standard layers. */
export const PRECEDENCE = { seed: 0, fixups: 1, dependency: 2 } as const;

/** The seed's layers: each package tree, then the fixups. */
export function seedLayers(lock: SeedLock): WorldLayer[] {
  return [
    ...lock.packages.map((p) => ({ name: `seed.${p.name}`, tree: p.tree, precedence: PRECEDENCE.seed })),
    { name: 'fixups', tree: lock.fixups, precedence: PRECEDENCE.fixups },
  ];
}

/** The layer of a dependency's output tree. */
export function dependencyLayer(name: string, tree: Digest): WorldLayer {
  return { name: `dep.${name}`, tree, precedence: PRECEDENCE.dependency };
}

/**
 * The world's composition (pure): every layer a tree entry at `/` with an exact constraint, the
 * precedence list highest first (stable for equal precedence).
 * @throws CompositionError E18 for a bad or repeated entry name
 */
export function worldComposition(layers: WorldLayer[]): { composition: Composition; ordered: WorldLayer[] } {
  const ordered = layers
    .map((l, i) => ({ l, i }))
    .sort((a, b) => b.l.precedence - a.l.precedence || a.i - b.i)
    .map((x) => x.l);
  const entries: Record<string, unknown> = {};
  for (const l of ordered)
    entries[l.name] = {
      at: '/',
      node: { kind: 'tree', digest: l.tree },
      constraint: { kind: 'exact', digest: l.tree },
    };
  const composition = makeComposition(
    { version: 1, entries, precedence: ordered.map((l) => l.name) },
    'world',
  );
  return { composition, ordered };
}

/**
 * Stores the world's composition and its merged view.
 * @throws CompositionError E18 naming the path and both entries on a conflict (file against
 *   directory); NotFoundError E4 when a layer's tree is not stored
 */
export async function buildWorld(store: Store, layers: WorldLayer[]): Promise<World> {
  const { composition, ordered } = worldComposition(layers);
  const pending = new PendingTrees(store);
  const known = await layeredView(store, layers, pending);
  const { root, view } = await new CompositionStore(store).save(
    composition,
    known ? { view: known, pending } : undefined,
  );
  return { root, tree: view.tree, composition, layers: ordered, shadowed: view.shadowed };
}

/** A world whose dependency layers are a union over its seed's (specs/executor.md §2.2). */
export interface LayeredWorld {
  world: World;
  /** The stored composition of the seed's layers alone (its image is the world's bottom layer). */
  seedRoot: Digest;
  /** The dependency layers, highest first (each mounted from its own layer image). */
  deps: WorldLayer[];
  /**
   * The world's composition stored and pinned (`CompositionStore.saveUnmerged`), begun by
   * {@link buildLayeredWorld} and not awaited there, so that the caller's images are made
   * meanwhile; it must be awaited before anything names `world.root` (a build record).
   */
  stored: Promise<void>;
}

/**
 * Stores a world that can be mounted layer by layer: when its dependency layers form a union over
 * its seed's merged view (`isUnionOnto`: no path where precedence or a conflict decides), its
 * composition is stored and pinned without a view of its own (`CompositionStore.saveUnmerged`),
 * its shadowed paths are the seed's, and its `/` is the seed's image with each dependency's layer
 * image over it. The seed's composition is stored (with its view) once per store object.
 * @returns undefined when there are no dependency or seed layers, or they are not a union: the
 *   caller stores the whole world ({@link buildWorld})
 * @throws NotFoundError E4 when a layer's tree is not stored; CompositionError E18 for a bad or
 *   repeated entry name, or a conflict among the seed's layers
 * @see specs/executor.md §2.2
 */
export async function buildLayeredWorld(
  store: Store,
  layers: WorldLayer[],
): Promise<LayeredWorld | undefined> {
  const base = layers.filter((l) => l.precedence < PRECEDENCE.dependency);
  const deps = layers.filter((l) => l.precedence >= PRECEDENCE.dependency);
  if (!deps.length || !base.length) return undefined;
  const seed = await seedWorld(store, base);
  if (
    !(await isUnionOnto(
      seed.view,
      deps.map((d) => d.tree),
      storeAccess(store),
    ))
  )
    return undefined;
  const { composition, ordered } = worldComposition(layers);
  const root = compositionRoot(composition);
  const stored = new CompositionStore(store).saveUnmerged(composition, seed.root).then(() => undefined);
  stored.catch(() => undefined); // the caller awaits it
  return {
    world: { root, composition, layers: ordered, shadowed: seed.view.shadowed },
    seedRoot: seed.root,
    deps: ordered.filter((l) => l.precedence >= PRECEDENCE.dependency),
    stored,
  };
}

/**
 * `make(store, a)` once per store object and key of `a` (the promise is kept; a rejected one is
 * forgotten, so the next call makes it again).
 */
function keptPerStore<A, V>(
  keyOf: (a: A) => string,
  make: (store: Store, a: A) => Promise<V>,
): (store: Store, a: A) => Promise<V> {
  const kept = new WeakMap<Store, Map<string, Promise<V>>>();
  return (store, a) => {
    let byKey = kept.get(store);
    if (!byKey) kept.set(store, (byKey = new Map()));
    const key = keyOf(a);
    const known = byKey.get(key);
    if (known) return known;
    const made = make(store, a);
    byKey.set(key, made);
    made.catch(() => {
      if (byKey.get(key) === made) byKey.delete(key);
    });
    return made;
  };
}

/** The stored composition of a seed's layers alone (root and view), once per store object. */
const seedWorld = keptPerStore(
  (base: WorldLayer[]) => JSON.stringify(base.map((l) => [l.name, l.tree, l.precedence])),
  (store, base) => new CompositionStore(store).save(worldComposition(base).composition),
);

/**
 * The composefs image of a seed's stored composition ({@link worldImage}), its objects checked,
 * once per store object: the bottom layer of every layered world of a build.
 */
export const seedWorldImage = keptPerStore(
  (root: Digest) => root,
  (store, root) => worldImage(store, root),
);

/**
 * The merged view's tree of a world: its own, or (a world made by {@link buildLayeredWorld}) its
 * composition's view, merged, cached and checked now (`CompositionStore.view`).
 * @throws CompositionError E18, NotFoundError E4 as `CompositionStore.view`
 */
export async function worldTree(store: Store, world: World): Promise<Digest> {
  return world.tree ?? (await new CompositionStore(store).view(world.root)).tree;
}

/**
 * The merged view of a world made from its seed's view (stored once per store object, {@link seedWorld})
 * with each dependency layer merged onto it (specs/executor.md §2.1): the same view the whole
 * composition merges to whenever no dependency meets another layer's different file or symlink
 * (a union). Undefined when there are no dependency layers, or when one does meet such a node
 * (shadowing or a conflict): the caller then merges the whole composition, which decides by
 * precedence and reports every shadowed path exactly as before. New trees go to `pending`.
 */
async function layeredView(
  store: Store,
  layers: WorldLayer[],
  pending: PendingTrees,
): Promise<MergedView | undefined> {
  const base = layers.filter((l) => l.precedence < PRECEDENCE.dependency);
  const deps = layers.filter((l) => l.precedence >= PRECEDENCE.dependency);
  if (!deps.length || !base.length) return undefined;
  let view = (await seedWorld(store, base)).view;
  for (const d of deps) {
    const next = await mergeOnto(view, d.name, { at: '/', node: { kind: 'tree', digest: d.tree } }, pending);
    if (!next) return undefined;
    view = next;
  }
  return view;
}

/**
 * How a world becomes the sandbox's `/`: its composefs image mounted, a hard-link directory, or
 * the observed world (served over FUSE and recorded: specs/observe.md; never chosen by `auto`).
 */
export type WorldMount = 'composefs' | 'hardlink' | 'observed';

/**
 * The mount a build uses: `composefs` where mounting is permitted (root, and `EOS_NO_MOUNT` is not
 * `1`), else `hardlink`; an explicit choice is taken as is.
 */
export function chooseWorldMount(requested: WorldMount | 'auto' = 'auto'): WorldMount {
  if (requested !== 'auto') return requested;
  return mountingPermitted().ok ? 'composefs' : 'hardlink';
}

/**
 * The most dependency layers a world is mounted with layer by layer; a world with more is mounted
 * from its whole image (each layer is a lower layer of the overlay, whose options must fit a page).
 */
export const MAX_LAYERED_DEPENDENCIES = 32;

/** The composefs layer image of a dependency's output tree (written once, cached by tree). */
export async function worldLayerImage(store: Store, tree: Digest): Promise<string> {
  return (await layerImage(new CompositionStore(store), tree)).path;
}

/** The composefs image of a stored world composition (written once, cached by root). */
export async function worldImage(store: Store, root: Digest): Promise<string> {
  return (await compositionImage(new CompositionStore(store), root)).path;
}

/** The hard-link materialized world of a stored world composition (made once, then reused). */
export async function materializeWorld(store: Store, root: Digest): Promise<string> {
  return (await new CompositionStore(store).world(root)).dir;
}
