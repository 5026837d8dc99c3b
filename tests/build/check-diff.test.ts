// eos build --check's explanation of a difference (specs/scheduler.md §8.3): two real output
// trees ingested into a real store, walked to the first differing path, classified.
import { mkdtemp, mkdir, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store, type Digest } from '../../src/kernel/index.ts';
import { classifyBytes, firstDifference } from '../../src/build/index.ts';

let dir: string;
let store: Store;

async function tree(
  name: string,
  files: Record<string, string | Buffer | { link: string }>,
): Promise<Digest> {
  const root = join(dir, name);
  for (const [p, v] of Object.entries(files)) {
    const full = join(root, p);
    await mkdir(join(full, '..'), { recursive: true });
    if (typeof v === 'object' && !Buffer.isBuffer(v)) await symlink(v.link, full);
    else await writeFile(full, v);
  }
  return (await store.ingest(root)).digest;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eos-check-diff-'));
  store = new Store(join(dir, 'store'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('firstDifference', () => {
  it('is undefined for the same tree', async () => {
    const a = await tree('same', { 'usr/lib/x': 'x' });
    expect(await firstDifference(store, a, a)).toBeUndefined();
  });

  it('names a build date in a library as timestamps, at its path', async () => {
    const a = await tree('t1', {
      'usr/bin/tool': 'same',
      'usr/lib/libx.so': 'built on: Wed Dec  2 05:31:07 UTC 2026 by eos\n',
    });
    const b = await tree('t2', {
      'usr/bin/tool': 'same',
      'usr/lib/libx.so': 'built on: Wed Dec  2 05:49:51 UTC 2026 by eos\n',
    });
    const d = await firstDifference(store, a, b);
    expect(d).toMatchObject({ path: 'usr/lib/libx.so', reason: 'timestamps' });
    expect(d!.detail).toContain('offset 24');
  });

  it('names a gzip header mtime', async () => {
    const payload = Buffer.from('manual page\n'.repeat(20));
    const g1 = gzipSync(payload);
    const g2 = Buffer.from(g1);
    g2.writeUInt32LE(1700000000, 4);
    g1.writeUInt32LE(1800000000, 4);
    const a = await tree('g1', { 'share/man/x.1.gz': g1 });
    const b = await tree('g2', { 'share/man/x.1.gz': g2 });
    expect(await firstDifference(store, a, b)).toMatchObject({
      path: 'share/man/x.1.gz',
      reason: 'timestamps',
    });
  });

  it('names a scratch path, an ordering, a mode bit, a symlink target and a one-sided file', async () => {
    const p1 = await tree('p1', { 'lib/pkgconfig/x.pc': 'prefix=/tmp/eos-build-aaaa/usr\n' });
    const p2 = await tree('p2', { 'lib/pkgconfig/x.pc': 'prefix=/tmp/eos-build-bbbb/usr\n' });
    expect(await firstDifference(store, p1, p2)).toMatchObject({ reason: 'build-paths' });

    const o1 = await tree('o1', { 'share/list': 'alpha\nbeta\ngamma\n' });
    const o2 = await tree('o2', { 'share/list': 'gamma\nalpha\nbeta\n' });
    expect(await firstDifference(store, o1, o2)).toMatchObject({ path: 'share/list', reason: 'ordering' });

    const m1 = await tree('m1', { 'bin/x': 'same bytes' });
    await chmod(join(dir, 'm1', 'bin/x'), 0o755);
    const m1d = (await store.ingest(join(dir, 'm1'))).digest;
    const m2 = await tree('m2', { 'bin/x': 'same bytes' });
    expect(await firstDifference(store, m1d, m2)).toMatchObject({ path: 'bin/x', reason: 'mode' });
    expect(m1).not.toBe(m1d);

    const s1 = await tree('s1', { 'lib/libx.so': { link: 'libx.so.1' } });
    const s2 = await tree('s2', { 'lib/libx.so': { link: 'libx.so.2' } });
    expect(await firstDifference(store, s1, s2)).toMatchObject({ reason: 'symlink-target' });

    const f1 = await tree('f1', { 'a/b': '1', 'a/c': '2' });
    const f2 = await tree('f2', { 'a/c': '2' });
    expect(await firstDifference(store, f1, f2)).toMatchObject({ path: 'a/b', reason: 'only-recorded' });
    expect(await firstDifference(store, f2, f1)).toMatchObject({ path: 'a/b', reason: 'only-rebuilt' });
  });
});

describe('classifyBytes', () => {
  it('falls back to content, and reads a .pyc header mtime', () => {
    expect(classifyBytes('x', Buffer.from('abcdef'), Buffer.from('abcxyz')).reason).toBe('content');
    const h1 = Buffer.from([0xa7, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9, 9]);
    const h2 = Buffer.from(h1);
    h2[9] = 7;
    expect(classifyBytes('m/__pycache__/x.cpython-311.pyc', h1, h2).reason).toBe('timestamps');
  });
});
