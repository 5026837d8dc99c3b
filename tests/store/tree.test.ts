import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  compareNames,
  digestBytes,
  encodeTree,
  EncodingError,
  EosError,
  makeTree,
  parseTree,
  subtreeSize,
  treeDigest,
  UnsafePathError,
  type TreeEntry,
} from '../../src/kernel/index.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const blob = (s: string) => digestBytes(enc(s));

// specs/store.md §3.5
const SUB_BYTES =
  '{"entries":[{"kind":"symlink","name":"up","target":"../hello.txt"},{"digest":"blake3:8e4c7c1b99dbfd50e7a95185fead5ee1448fa904a2fdd778eaf5f2dbfd629a99","executable":false,"kind":"file","name":"ﬁ","size":6},{"digest":"blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262","executable":false,"kind":"file","name":"😀","size":0}],"version":1}';
const SUB_DIGEST = 'blake3:95972b57d19f4082abd0544062597c4698d717ae6a01116b5bdd105598222aaf';
const EMPTY_DIGEST = 'blake3:a6968d6d767077a26148a60d1806c872326b0812aa4fd017c0f361917ee44571';
import { GOLDEN_DIGEST, repoRoot } from '../helpers/fs.ts';
import { codeOfSync } from '../helpers/error-code.ts';

function subEntries(): TreeEntry[] {
  return [
    { name: '😀', kind: 'file', digest: blob(''), size: 0, executable: false },
    { name: 'ﬁ', kind: 'file', digest: blob('hello\n'), size: 6, executable: false },
    { name: 'up', kind: 'symlink', target: '../hello.txt' },
  ];
}

function goldenEntries(): TreeEntry[] {
  const sub = makeTree(subEntries());
  return [
    { name: 'hello.txt', kind: 'file', digest: blob('hello\n'), size: 6, executable: false },
    { name: 'run.sh', kind: 'file', digest: blob('#!/bin/sh\necho hi\n'), size: 18, executable: true },
    { name: 'dangling', kind: 'symlink', target: '/nonexistent/target' },
    { name: 'sub', kind: 'directory', digest: treeDigest(sub), size: subtreeSize(sub) },
    { name: 'empty-dir', kind: 'directory', digest: treeDigest(makeTree([])), size: 0 },
    { name: 'Zero', kind: 'file', digest: blob(''), size: 0, executable: false },
  ];
}

describe('tree encoding (specs/store.md §3)', () => {
  it('matches the spec vectors byte for byte', () => {
    expect(treeDigest(makeTree([]))).toBe(EMPTY_DIGEST);
    expect(new TextDecoder().decode(encodeTree(makeTree([])))).toBe('{"entries":[],"version":1}');
    const sub = makeTree(subEntries());
    expect(new TextDecoder().decode(encodeTree(sub))).toBe(SUB_BYTES);
    expect(treeDigest(sub)).toBe(SUB_DIGEST);
    const golden = makeTree(goldenEntries());
    expect(treeDigest(golden)).toBe(GOLDEN_DIGEST);
    expect(subtreeSize(golden)).toBe(9);
    expect(parseTree(enc(SUB_BYTES))).toEqual(sub);
  });

  it('agrees with the vectors printed in specs/store.md', () => {
    const spec = readFileSync(join(repoRoot, 'specs', 'store.md'), 'utf8');
    const golden = makeTree(goldenEntries());
    for (const text of [
      SUB_BYTES,
      SUB_DIGEST,
      EMPTY_DIGEST,
      GOLDEN_DIGEST,
      new TextDecoder().decode(encodeTree(golden)),
      blob(''),
      blob('hello\n'),
      blob('#!/bin/sh\necho hi\n'),
    ])
      expect(spec).toContain(text);
  });

  it('sorts by UTF-8 bytes, not UTF-16 code units', () => {
    expect(compareNames('ﬁ', '😀')).toBeLessThan(0);
    expect('ﬁ' < '😀').toBe(false); // JavaScript's own order differs
    expect(makeTree(subEntries()).entries.map((e) => e.name)).toEqual(['up', 'ﬁ', '😀']);
  });

  it('is independent of the order entries are given in', () => {
    const a = goldenEntries();
    for (let i = 0; i < 20; i++) {
      const shuffled = [...a].sort(() => Math.random() - 0.5);
      expect(treeDigest(makeTree(shuffled))).toBe(GOLDEN_DIGEST);
    }
  });

  it('rejects unsafe names with E8', () => {
    for (const name of ['', '.', '..', 'a/b', '/', 'a\0b', '\ud800x']) {
      expect(
        codeOfSync(() => makeTree([{ name, kind: 'symlink', target: 'x' }])),
        JSON.stringify(name),
      ).toBe('E8');
      const bytes = enc(
        `{"entries":[{"kind":"symlink","name":${JSON.stringify(name)},"target":"x"}],"version":1}`,
      );
      expect(
        codeOfSync(() => parseTree(bytes)),
        JSON.stringify(name),
      ).toBe('E8');
    }
  });

  it('rejects non-canonical, unsorted, duplicate, unknown-version and malformed trees with E3 (or E2)', () => {
    const cases: [string, string][] = [
      ['{"entries": [],"version":1}', 'E3'], // whitespace
      ['{"version":1,"entries":[]}', 'E3'], // key order
      ['{"entries":[],"version":2}', 'E3'],
      ['{"entries":[],"extra":1,"version":1}', 'E3'],
      ['[]', 'E3'],
      [
        '{"entries":[{"kind":"symlink","name":"b","target":"x"},{"kind":"symlink","name":"a","target":"x"}],"version":1}',
        'E3',
      ],
      [
        '{"entries":[{"kind":"symlink","name":"a","target":"x"},{"kind":"symlink","name":"a","target":"y"}],"version":1}',
        'E3',
      ],
      ['{"entries":[{"kind":"symlink","name":"a","target":""}],"version":1}', 'E3'],
      ['{"entries":[{"kind":"fifo","name":"a"}],"version":1}', 'E3'],
      [
        '{"entries":[{"digest":"blake3:00","executable":false,"kind":"file","name":"a","size":1}],"version":1}',
        'E2',
      ],
      [
        `{"entries":[{"digest":"${blob('')}","executable":false,"kind":"file","name":"a","size":-1}],"version":1}`,
        'E3',
      ],
      [
        `{"entries":[{"digest":"${blob('')}","executable":0,"kind":"file","name":"a","size":1}],"version":1}`,
        'E3',
      ],
      [`{"entries":[{"digest":"${blob('')}","kind":"file","name":"a","size":1}],"version":1}`, 'E3'],
      [
        `{"entries":[{"digest":"${blob('')}","executable":false,"kind":"directory","name":"a","size":1}],"version":1}`,
        'E3',
      ],
    ];
    for (const [text, want] of cases)
      expect(
        codeOfSync(() => parseTree(enc(text))),
        text,
      ).toBe(want);
    expect(() =>
      makeTree([
        { name: 'a', kind: 'symlink', target: 'x' },
        { name: 'a', kind: 'directory', digest: EMPTY_DIGEST as never, size: 0 },
      ]),
    ).toThrow(EncodingError);
  });

  it('never crashes on random bytes: only Eos errors', () => {
    const valid = enc(SUB_BYTES);
    for (let i = 0; i < 2000; i++) {
      const b = Uint8Array.from(valid);
      const flips = 1 + (i % 4);
      for (let j = 0; j < flips; j++)
        b[Math.floor(Math.random() * b.length)] = Math.floor(Math.random() * 256);
      try {
        parseTree(b);
      } catch (e) {
        expect(e).toBeInstanceOf(EosError);
      }
      const r = new Uint8Array(Math.floor(Math.random() * 64)).map(() => Math.floor(Math.random() * 256));
      try {
        parseTree(r);
      } catch (e) {
        expect(e).toBeInstanceOf(EosError);
      }
    }
  });

  it('trees are frozen values', () => {
    const t = makeTree(subEntries());
    expect(Object.isFrozen(t)).toBe(true);
    expect(Object.isFrozen(t.entries[0])).toBe(true);
    expect(() => makeTree([{ name: 'x', kind: 'symlink', target: 'a\0b' }])).toThrow(EncodingError);
    expect(() => makeTree([{ name: '..', kind: 'symlink', target: 'a' }])).toThrow(UnsafePathError);
  });
});
