/**
 * The tree encoder written for speed (encodeTree) against the generic canonical encoder, and the
 * name order (compareNames) against a byte comparison of the UTF-8 encodings, over names that
 * exercise JSON escapes and the places where UTF-16 and UTF-8 orders part (specs/store.md §3).
 */
import { describe, expect, it } from 'vitest';
import {
  compareNames,
  digestBytes,
  encodeCanonical,
  encodeTree,
  makeTree,
  type TreeEntry,
} from '../../src/kernel/index.ts';

/** Names with quotes, backslashes, control and separator characters, BMP above the surrogates, astral. */
const ODD = [
  'a"b',
  'back\\slash',
  'tab\tnl\n',
  '\u0001\u001f\u007f',
  'line\u2028sep',
  '\ue000',
  '\uffff',
  '\u{10000}',
  '\u{1f600}x',
  'é',
  'Z',
  'z',
  'a',
  'aa',
  'a0',
];

function rng(seed: number): () => number {
  let x = seed;
  return () => ((x = (x * 1103515245 + 12345) & 0x7fffffff), x / 0x7fffffff);
}

function randomName(r: () => number): string {
  const pool = [...ODD, 'lib', 'bin', 'x.so.1', '日本', 'ü'];
  let s = '';
  const parts = 1 + Math.floor(r() * 3);
  for (let i = 0; i < parts; i++) s += pool[Math.floor(r() * pool.length)]!;
  return s.replaceAll('/', '_');
}

describe('encodeTree and compareNames', () => {
  it('compareNames orders as the UTF-8 bytes do', () => {
    const r = rng(7);
    const names = [...ODD];
    for (let i = 0; i < 300; i++) names.push(randomName(r));
    for (const a of names)
      for (const b of names.slice(0, 60)) {
        const want = Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
        expect(Math.sign(compareNames(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(want);
      }
  });

  it('encodeTree is byte-identical to encodeCanonical of the tree', () => {
    const r = rng(11);
    const blob = digestBytes('x');
    for (let t = 0; t < 200; t++) {
      const seen = new Set<string>();
      const entries: TreeEntry[] = [];
      const n = Math.floor(r() * 12);
      for (let i = 0; i < n; i++) {
        const name = randomName(r);
        if (seen.has(name)) continue;
        seen.add(name);
        const k = r();
        if (k < 0.4)
          entries.push({
            name,
            kind: 'file',
            digest: blob,
            size: Math.floor(r() * 2 ** 40),
            executable: r() < 0.5,
          });
        else if (k < 0.7)
          entries.push({ name, kind: 'directory', digest: blob, size: Math.floor(r() * 1000) });
        else entries.push({ name, kind: 'symlink', target: `../${randomName(r)}/"t"\\` });
      }
      const tree = makeTree(entries);
      const want = encodeCanonical({ version: tree.version, entries: tree.entries.map((e) => ({ ...e })) });
      expect(Buffer.from(encodeTree(tree)).toString('utf8')).toBe(Buffer.from(want).toString('utf8'));
    }
  });

  it('the empty tree', () => {
    expect(Buffer.from(encodeTree(makeTree([]))).toString()).toBe('{"entries":[],"version":1}');
  });
});
