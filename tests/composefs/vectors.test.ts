import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chunking,
  encodeDump,
  encodeImage,
  parseDump,
  parseImage,
  validateTree,
} from '../../composer/composefs/index.ts';
import type { ComposefsTree } from '../../composer/composefs/index.ts';
import { fsck, normalizeForImage, setup, vectors, vectorsDir } from './helpers.ts';

const all = vectors();
let work: string;
beforeAll(() => {
  setup();
  work = mkdtempSync(join(tmpdir(), 'eos-cfs-vec-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

function options(version: number | undefined) {
  return version === undefined ? {} : { minVersion: version, maxVersion: version };
}

/** Files over 8 TiB need more than one chunk; mkcomposefs may move their chunk index out of line. */
function hasMultiChunkFile(tree: ComposefsTree): boolean {
  const stack = [tree.root];
  while (stack.length) {
    const n = stack.pop()!;
    if (
      (n.mode & 0o170000) === 0o100000 &&
      !n.content &&
      n.sizeBytes > 0 &&
      chunking(n.sizeBytes).chunkCount > 1
    )
      return true;
    for (const e of n.entries ?? []) if (!e.hardlink) stack.push(e.inode);
  }
  return false;
}

describe('composefs golden vectors', () => {
  it('has all fourteen vectors, special_v1.dump being special.dump (a symlink upstream) with version 1', () => {
    expect(all.map((v) => v.name)).toHaveLength(14);
    const p = join(vectorsDir, 'special_v1.dump');
    if (lstatSync(p).isSymbolicLink()) expect(readlinkSync(p)).toMatch(/special\.dump$/);
    expect(Buffer.compare(readFileSync(p), readFileSync(join(vectorsDir, 'special.dump')))).toBe(0);
    expect(all.find((v) => v.name === 'special_v1.dump')!.version).toBe(1);
  });

  for (const v of all) {
    describe(v.name, () => {
      const tree = parseDump(v.bytes);
      const image = encodeImage(tree, options(v.version));

      it('reproduces the reference image byte for byte', () => {
        expect(createHash('sha256').update(image).digest('hex')).toBe(v.sha256);
      });

      it('is accepted by fsck.erofs', () => {
        const file = join(work, v.name + '.img');
        writeFileSync(file, image);
        expect(fsck(file, false).ok).toBe(true);
        // mkcomposefs lays out files over 8 TiB with an out-of-line chunk index that fsck.erofs
        // cannot read (specs/composefs.md §2.5); every other image must extract cleanly.
        if (!hasMultiChunkFile(tree)) {
          const r = fsck(file, true);
          expect(r.output).toBe('');
          expect(r.ok).toBe(true);
        }
      });

      it('round-trips through the dump format', () => {
        const text = encodeDump(tree);
        const again = parseDump(text);
        expect(encodeDump(again)).toBe(text);
        expect(sameBytes(encodeImage(again, options(v.version)), image)).toBe(true);
      });

      it('reads back from the image as the input tree (normalized) and rewrites the same bytes', () => {
        const { tree: back, info } = parseImage(image);
        const want = validateTree(normalizeForImage(tree));
        const got = validateTree(normalizeForImage(back));
        expect(encodeDump(got)).toBe(encodeDump(want));
        if (v.version !== undefined) expect(info.version).toBe(v.version);
        expect(sameBytes(encodeImage(back, options(v.version)), image)).toBe(true);
      });
    });
  }

  it('defaults to version 1 only for trees with a character device 0/0', () => {
    const special = all.find((v) => v.name === 'special.dump')!;
    const v1 = all.find((v) => v.name === 'special_v1.dump')!;
    expect(
      createHash('sha256')
        .update(encodeImage(parseDump(special.bytes)))
        .digest('hex'),
    ).toBe(v1.sha256);
    const plain = parseDump('/ 4096 40755 2 0 0 0 0.0 - - -\n/a 0 100644 1 0 0 0 0.0 - - -\n');
    expect(parseImage(encodeImage(plain)).info.version).toBe(0);
    expect(parseImage(encodeImage(plain, { minVersion: 1 })).info.version).toBe(1);
    expect(() => encodeImage(plain, { maxVersion: 2 })).toThrow(/\[E14\]/);
  });
});
