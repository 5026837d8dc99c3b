/**
 * `eos mount ROOT DIR`: mounts a composition's composefs image read-only at DIR (EROFS on a loop
 * device plus an overlay over the store's objects). Where mounting is not permitted, DIR (absent
 * or empty) receives the hard-link materialization of the same view instead, said on stderr.
 * @see specs/composition.md §13
 */
import { existsSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { MountError, Store, parseDigest } from '../kernel/index.ts';
import {
  CompositionStore,
  checkSwaps,
  compositionImage,
  mountImage,
  mountingPermitted,
} from '../../composer/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Runs `eos mount ROOT DIR`. @throws MountError E23, NotFoundError E4, CompositionError E18, E30/E31/E32 (swap proofs) */
export async function run(opts: GlobalOptions & { root: string; dir: string }): Promise<CommandResult> {
  const root = parseDigest(opts.root, 'ROOT');
  const dir = resolve(opts.dir);
  const store = new Store(opts.store);
  const cs = new CompositionStore(store);
  await checkSwaps(cs, root); // E30/E31/E32: a swapped entry's proof is re-checked, never trusted
  const permitted = mountingPermitted();
  if (permitted.ok) {
    if (!existsSync(dir)) throw new MountError(`${dir}: no such directory`, { data: { dir } });
    const image = await compositionImage(cs, root);
    await mountImage(image.path, store.dir('objects'), dir);
    return { lines: [`mounted\t${root}\t${dir}`], json: { version: 1, root, dir, image: image.path } };
  }
  if (existsSync(dir) && readdirSync(dir).length > 0)
    throw new MountError(`${dir}: not empty; cannot materialize the world here`, { data: { dir } });
  const v = await cs.view(root);
  await store.materialize(v.tree, dir);
  return {
    lines: [`materialized\t${root}\t${dir}`],
    json: { version: 1, root, dir, materialized: true },
    notes: [
      `eos: mounting not permitted (${permitted.reason}); materialized the view by hard links at ${dir}`,
    ],
  };
}
