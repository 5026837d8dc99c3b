// One suite for every store backend (specs/store.md §5): memory and filesystem.
import { describe, expect, it } from 'vitest';
import {
  digestBytes,
  makeTree,
  openStore,
  treeDigest,
  type Digest,
  type ObjectStore,
} from '../../src/kernel/index.ts';
import { tempDir } from '../helpers/fs.ts';
import { codeOf } from '../helpers/error-code.ts';

const enc = (s: string) => new TextEncoder().encode(s);

const backends: [string, () => ObjectStore][] = [
  ['memory', () => openStore('memory:')],
  ['filesystem (path)', () => openStore(tempDir('eos-conf-'))],
  ['filesystem (file: URL)', () => openStore(new URL(`file://${tempDir('eos-conf-')}/store`).href)],
];

describe.each(backends)('store backend: %s', (_name, make) => {
  it('puts, has and gets blobs by their digest', async () => {
    const s = make();
    const bytes = enc('hello\n');
    const d = await s.blobs.put(bytes);
    expect(d).toBe(digestBytes(bytes));
    expect(await s.blobs.has(d)).toBe(true);
    expect(Buffer.from(await s.blobs.get(d)).toString()).toBe('hello\n');
    expect(await s.blobs.put(enc('hello\n'))).toBe(d); // idempotent
    const e = await s.blobs.put(new Uint8Array());
    expect(e).toBe('blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262');
    expect((await s.blobs.get(e)).length).toBe(0);
  });

  it('get of an absent object is E4; has is false', async () => {
    const s = make();
    const d = digestBytes('absent');
    expect(await s.blobs.has(d)).toBe(false);
    expect(await s.trees.has(d)).toBe(false);
    expect(await codeOf(s.blobs.get(d))).toBe('E4');
    expect(await codeOf(s.trees.get(d))).toBe('E4');
  });

  it('returns copies: mutating what put took or get gave does not change the store', async () => {
    const s = make();
    const bytes = enc('abc');
    const d = await s.blobs.put(bytes);
    bytes[0] = 0;
    const got = await s.blobs.get(d);
    got[1] = 0;
    expect(Buffer.from(await s.blobs.get(d)).toString()).toBe('abc');
  });

  it('stores trees whose children are present, and refuses others (E4)', async () => {
    const s = make();
    const f = digestBytes('content');
    const empty = makeTree([]);
    const t = makeTree([
      { name: 'f', kind: 'file', digest: f, size: 7, executable: true },
      { name: 'd', kind: 'directory', digest: treeDigest(empty), size: 0 },
      { name: 'l', kind: 'symlink', target: '/abs' },
    ]);
    expect(await codeOf(s.trees.put(t))).toBe('E4');
    expect(await s.trees.has(treeDigest(t))).toBe(false);
    await s.blobs.put(enc('content'));
    expect(await codeOf(s.trees.put(t))).toBe('E4'); // the subtree is still missing
    expect(await s.trees.put(empty)).toBe(treeDigest(empty));
    const d: Digest = await s.trees.put(t);
    expect(d).toBe(treeDigest(t));
    expect(await s.trees.has(d)).toBe(true);
    expect(await s.trees.get(d)).toEqual(t);
    expect(await s.trees.put(t)).toBe(d);
    // a tree digest is not a blob and vice versa
    expect(await s.blobs.has(d)).toBe(false);
    expect(await s.trees.has(f)).toBe(false);
  });
});

describe('openStore', () => {
  it('refuses unknown schemes with E1', () => {
    expect(() => openStore('s3://bucket/x')).toThrow(/\[E1\]/);
  });
});
