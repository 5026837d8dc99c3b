/**
 * Store.putObjects (specs/store.md §4.3): many objects with one durability step; blobs first, then
 * trees in order, each tree only once its children are stored; a tree whose child is missing is
 * E4 and is not stored (the objects renamed before it stay, complete), and no temp file is left.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NotFoundError, Store, digestBytes, encodeTree, makeTree } from '../../src/kernel/index.ts';
import { tempDir } from '../helpers/fs.ts';

const enc = (s: string) => new TextEncoder().encode(s);

describe('Store.putObjects', () => {
  it('stores blobs and trees (children first), read-only, and says which digests they have', async () => {
    const store = new Store(tempDir('put-objects'));
    const a = enc('a\n');
    const b = enc('bb\n');
    const inner = makeTree([{ kind: 'file', name: 'b', digest: digestBytes(b), size: 3, executable: false }]);
    const outer = makeTree([
      { kind: 'file', name: 'a', digest: digestBytes(a), size: 2, executable: true },
      { kind: 'directory', name: 'sub', digest: digestBytes(encodeTree(inner)), size: 1 },
    ]);
    const got = await store.putObjects([a, b, a], [inner, outer]);
    expect(got.blobs).toEqual([digestBytes(a), digestBytes(b), digestBytes(a)]);
    expect(got.trees).toEqual([digestBytes(encodeTree(inner)), digestBytes(encodeTree(outer))]);
    expect(Buffer.from(await store.blobs.get(digestBytes(b))).toString()).toBe('bb\n');
    expect(await store.getTree(got.trees[1]!)).toEqual(outer);
    expect(statSync(store.blobPath(digestBytes(a))).mode & 0o777).toBe(0o444);
    expect(readdirSync(join(store.root, 'tmp'))).toEqual([]);
    // Again: nothing new, same answer.
    expect(await store.putObjects([a], [outer])).toEqual({ blobs: [digestBytes(a)], trees: [got.trees[1]] });
  });

  it('a tree whose child is missing is E4, is not stored, and leaves no temp file', async () => {
    const store = new Store(tempDir('put-objects-missing'));
    const a = enc('present\n');
    const tree = makeTree([
      { kind: 'file', name: 'a', digest: digestBytes(a), size: 8, executable: false },
      { kind: 'file', name: 'gone', digest: digestBytes('not stored'), size: 10, executable: false },
    ]);
    const e = await store.putObjects([a], [tree]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(NotFoundError);
    expect(String(e)).toContain('"gone"');
    expect(await store.trees.has(digestBytes(encodeTree(tree)))).toBe(false);
    expect(await store.blobs.has(digestBytes(a))).toBe(true);
    expect(readdirSync(join(store.root, 'tmp'))).toEqual([]);
  });
});
