/**
 * The one check every backend runs before storing a tree: each child it names is present.
 *
 * @see specs/store.md §5.2
 */
import type { Digest } from '../digest.ts';
import { NotFoundError } from '../errors.ts';
import type { BlobStore, TreeStore } from './types.ts';
import type { Tree } from './tree.ts';

/**
 * Throws when a child of `tree` is absent from the store.
 * @param what names the tree in the error (usually its digest)
 * @throws NotFoundError E4 naming the entry and the missing digest
 */
export async function checkChildrenPresent(
  tree: Tree,
  what: string | Digest,
  blobs: BlobStore,
  trees: TreeStore,
): Promise<void> {
  for (const e of tree.entries) {
    if (e.kind === 'file' && !(await blobs.has(e.digest)))
      throw new NotFoundError(
        `tree ${what}: file ${JSON.stringify(e.name)} needs blob ${e.digest}, not stored`,
        {
          data: { digest: e.digest, name: e.name },
        },
      );
    if (e.kind === 'directory' && !(await trees.has(e.digest)))
      throw new NotFoundError(
        `tree ${what}: directory ${JSON.stringify(e.name)} needs tree ${e.digest}, not stored`,
        { data: { digest: e.digest, name: e.name } },
      );
  }
}
