/**
 * viewToComposefs keeps the composefs inodes of view subtrees across the images of a process
 * (specs/composefs.md §2.8). These tests check that an image made with kept subtrees has exactly
 * the bytes of one made from a tree built afresh (a plain recursive model written here), in any
 * order of views, with a subtree repeated inside one view (each occurrence its own inodes) and
 * with two images made at once; and that a kept subtree is not reused after a failure elsewhere.
 */
import { describe, expect, it } from 'vitest';
import {
  MemoryTrees,
  encodeImage,
  newInode,
  objectRedirect,
  parseImage,
  utf8,
  validateTree,
  viewToComposefs,
  type CfsInode,
  type ViewEntry,
} from '../../composer/index.ts';
import { ComposefsError, digestBytes, type Digest } from '../../src/kernel/index.ts';

/** A fake but deterministic 32-byte "fs-verity digest" of a blob: its BLAKE3 bytes. */
function verityOf(trees: MemoryTrees): (d: Digest) => Promise<Uint8Array> {
  return async (d) => {
    const b = trees.blobs.get(d);
    if (!b) throw new Error(`no blob ${d}`);
    return Buffer.from(digestBytes(b).slice('blake3:'.length), 'hex');
  };
}

/** The reference model: the tree built afresh, every directory its own new inode. */
async function fresh(trees: MemoryTrees, view: Digest): Promise<Uint8Array> {
  const verity = verityOf(trees);
  const dir = async (d: Digest): Promise<CfsInode> => {
    const t = await trees.getTree(d);
    const inode = newInode(0o040755);
    let subdirs = 0;
    for (const e of t.entries) {
      let child: CfsInode;
      if (e.kind === 'directory') {
        child = await dir(e.digest);
        subdirs++;
      } else if (e.kind === 'file') {
        child = newInode(0o100000 | (e.executable ? 0o755 : 0o644), { sizeBytes: e.size });
        if (e.size > 0) {
          child.payload = utf8(objectRedirect(e.digest));
          child.fsverityDigest = await verity(e.digest);
        }
      } else {
        const target = utf8(e.target);
        child = newInode(0o120777, { sizeBytes: target.length, payload: target });
      }
      inode.entries!.push({ name: utf8(e.name), inode: child, hardlink: false });
    }
    inode.nlink = 2 + subdirs;
    return inode;
  };
  return encodeImage(validateTree(await dir(view)));
}

async function kept(trees: MemoryTrees, view: Digest): Promise<Uint8Array> {
  return encodeImage(await viewToComposefs(trees, view, verityOf(trees)));
}

/** A small FHS-like world: a shared `usr/lib` and `usr/bin`, two empty directories, a symlink. */
async function worlds(trees: MemoryTrees) {
  const file = (name: string, body: string, executable = false): ViewEntry => {
    const digest = trees.putBlob(body);
    return { name, kind: 'file', digest, size: Buffer.byteLength(body), executable };
  };
  const dirOf = async (name: string, entries: ViewEntry[]): Promise<ViewEntry> => {
    const digest = await trees.putTree({ entries });
    return { name, kind: 'directory', digest, size: 0 };
  };
  // Sizes are recomputed by putTree's model; directory entry sizes must be right, so build bottom-up.
  const sized = async (name: string, entries: ViewEntry[]): Promise<ViewEntry> => {
    const d = await dirOf(name, entries);
    const t = await trees.getTree((d as { digest: Digest }).digest);
    const size = t.entries.reduce((s, e) => s + 1 + (e.kind === 'directory' ? e.size : 0), 0);
    return { ...d, size } as ViewEntry;
  };
  const lib = await sized('lib', [
    file('libc.so.6', 'ELF libc'),
    file('libz.so.1', 'ELF zlib'),
    file('empty', ''),
    { name: 'libz.so', kind: 'symlink', target: 'libz.so.1' },
    await sized('gconv', []),
  ]);
  const bin = await sized('bin', [file('sh', '#!dash', true), file('cat', 'ELF cat', true)]);
  const usrA = await sized('usr', [bin, lib, await sized('share', [await sized('doc', [])])]);
  const usrB = await sized('usr', [
    bin,
    lib,
    await sized('share', [
      await sized('bench', [file('b1', 'b1'), file('b2', 'b2')]),
      await sized('doc', []),
    ]),
  ]);
  const a = await trees.putTree({ entries: [await sized('etc', []), usrA, await sized('var', [])] });
  const b = await trees.putTree({ entries: [{ name: 'bin', kind: 'symlink', target: 'usr/bin' }, usrB] });
  // The same subtree (usr/lib) twice in one view, beside the empty directories.
  const twice = await trees.putTree({
    entries: [usrA, { ...lib, name: 'lib64' }, await sized('opt', [lib])],
  });
  return { a, b, twice };
}

describe('viewToComposefs with kept subtrees', () => {
  it('gives the bytes of a tree built afresh, in any order of views and again', async () => {
    const trees = new MemoryTrees();
    const { a, b, twice } = await worlds(trees);
    for (const v of [a, b, twice, a, twice, b, b])
      expect(await kept(trees, v)).toEqual(await fresh(trees, v));
  });

  it('gives each occurrence of a repeated subtree its own inodes (nlink and ino as the kernel counts)', async () => {
    const trees = new MemoryTrees();
    const { twice } = await worlds(trees);
    const t = await viewToComposefs(trees, twice, verityOf(trees));
    const seen = new Set<CfsInode>();
    const walk = (n: CfsInode): void => {
      expect(seen.has(n)).toBe(false);
      seen.add(n);
      for (const e of n.entries ?? []) walk(e.inode);
    };
    walk(t.root);
    // Read back by the reader: lib, lib64 and opt/lib are three directories of five entries.
    const back = parseImage(encodeImage(t)).tree.root;
    const names = back.entries!.map((e) => Buffer.from(e.name).toString());
    expect(names).toEqual(['lib64', 'opt', 'usr']);
  });

  it('makes two images at once from shared subtrees with the bytes of each made alone', async () => {
    const trees = new MemoryTrees();
    const { a, b, twice } = await worlds(trees);
    const [ia, ib, it2] = await Promise.all([kept(trees, a), kept(trees, b), kept(trees, twice)]);
    expect(ia).toEqual(await fresh(trees, a));
    expect(ib).toEqual(await fresh(trees, b));
    expect(it2).toEqual(await fresh(trees, twice));
  });

  it('still rejects a tree that breaks a composefs limit, whatever is kept', async () => {
    const trees = new MemoryTrees();
    const { a } = await worlds(trees);
    await kept(trees, a);
    const long = 'x'.repeat(300);
    const bad = await trees.putTree({ entries: [{ name: 'l', kind: 'symlink', target: long.repeat(14) }] });
    await expect(viewToComposefs(trees, bad, verityOf(trees))).rejects.toThrow(ComposefsError);
    expect(await kept(trees, a)).toEqual(await fresh(trees, a));
  });
});
