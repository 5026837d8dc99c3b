/**
 * Seed archives (specs/seed.md §7) through `eos seed export` / `eos seed import`: a three-package
 * Debian seed (dash, make, sed from the cached seed) exports to the same bytes twice; imported into
 * an empty store with no apt state it stores the .debs and re-makes every tree with the locked
 * digest, touching no network; a tampered .deb, a missing one, an unexpected member and another
 * lock at the target are E24. Needs root, dpkg-deb and an apt source (the cached seed).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar-stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { digestBytes } from '../../src/kernel/index.ts';
import { encodeSeedLock, seedArchiveDebName, type SeedLock } from '../../executor/index.ts';
import { run } from '../../src/cli/seed.ts';
import { Store } from '../../src/kernel/store/index.ts';
import { cachedDebianSeed, canSeedDebian, testCacheDir, testStore, withDebianSeedLock } from './helpers.ts';

const canRun = canSeedDebian();
let lock: SeedLock;
let dir = '';

/** Re-packs an archive's members through `edit` (which may drop or change them). */
async function repack(
  file: string,
  out: string,
  edit: (name: string, bytes: Buffer) => Buffer | null,
  extra: [string, Buffer][] = [],
): Promise<void> {
  const ex = tar.extract();
  const members: [string, Buffer][] = [];
  const done = (async () => {
    for await (const e of ex) {
      const chunks: Buffer[] = [];
      for await (const c of e) chunks.push(c as Buffer);
      const b = edit(e.header.name, Buffer.concat(chunks));
      if (b) members.push([e.header.name, b]);
    }
  })();
  ex.end(readFileSync(file));
  await done;
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((r) => pack.on('end', () => r()));
  for (const [n, b] of [...members, ...extra]) pack.entry({ name: n, size: b.length }, b);
  pack.finalize();
  await ended;
  writeFileSync(out, Buffer.concat(chunks));
}

beforeAll(async () => {
  if (!canRun) return;
  const full = (await cachedDebianSeed((m) => console.log(`seed-archive: ${m}`))).lock;
  const pick = full.packages.filter((p) => ['dash', 'make', 'sed'].includes(p.name));
  lock = { ...full, roots: ['dash', 'make', 'sed'], packages: pick };
  dir = mkdtempSync(join(tmpdir(), 'eos-seed-archive-'));
  writeFileSync(join(dir, 'seed.lock'), encodeSeedLock(lock));
}, 900_000);

describe.skipIf(!canRun)('eos seed export / import', () => {
  it('exports the lock and its .debs, deterministically', async () => {
    const opts = { store: testStore().root, json: false, lock: join(dir, 'seed.lock') };
    const a = await run({ ...opts, action: 'export', file: join(dir, 'a.tar') });
    const b = await run({ ...opts, action: 'export', file: join(dir, 'b.tar') });
    const digest = digestBytes(readFileSync(join(dir, 'a.tar')));
    expect(a.lines).toEqual([`ok\t${join(dir, 'a.tar')}\t${digest}`]);
    expect(b.lines![0]!.split('\t')[2]).toBe(digest);
    const names = execFileSync('tar', ['-tf', join(dir, 'a.tar')], { encoding: 'utf8' })
      .trim()
      .split('\n');
    expect(names).toEqual(['seed.lock', ...lock.packages.map((p) => seedArchiveDebName(p))]);
  });

  it('imports into an empty store offline: .debs verified, trees re-made with the locked digests', async () => {
    const to = mkdtempSync(join(tmpdir(), 'eos-seed-import-'));
    const noApt = join(to, 'no-apt-here');
    const r = await run({
      store: join(to, 'store'),
      json: false,
      lock: join(to, 'seed.lock'),
      aptDir: noApt,
      action: 'import',
      file: join(dir, 'a.tar'),
    });
    expect(r.lines).toEqual([
      ...lock.packages.map((p) => `ok\t${p.name}\t${p.version}\t${p.tree}`),
      expect.stringMatching(/^root\tblake3:/),
    ]);
    expect(r.notes!.join('\n')).toContain(
      'seed import: 3 .debs verified (3 new in the store), 3 trees made offline',
    );
    expect(readFileSync(join(to, 'seed.lock'))).toEqual(Buffer.from(encodeSeedLock(lock)));
    expect(existsSync(noApt)).toBe(false);
  });

  it('refuses a tampered .deb, a missing one, an unexpected member and another lock: E24', async () => {
    const make = seedArchiveDebName(lock.packages.find((p) => p.name === 'make')!);
    const imp = async (
      file: string,
      lockFile = join(mkdtempSync(join(tmpdir(), 'eos-si-')), 'seed.lock'),
    ) => {
      const to = mkdtempSync(join(tmpdir(), 'eos-seed-import-bad-'));
      return run({ store: join(to, 'store'), json: false, lock: lockFile, action: 'import', file });
    };
    await repack(join(dir, 'a.tar'), join(dir, 'tampered.tar'), (n, b) => {
      if (n === make) b[b.length - 1] = b[b.length - 1]! ^ 1;
      return b;
    });
    await expect(imp(join(dir, 'tampered.tar'))).rejects.toThrow(
      new RegExp(
        `\\[E24\\] tampered\\.tar: ${make.replace(/[.+]/g, '\\$&')} has sha256 [0-9a-f]{64}, the lock pins make`,
      ),
    );
    await repack(join(dir, 'a.tar'), join(dir, 'missing.tar'), (n, b) => (n === make ? null : b));
    await expect(imp(join(dir, 'missing.tar'))).rejects.toThrow(
      /\[E24\] missing\.tar: 1 pinned \.deb\(s\) missing/,
    );
    await repack(join(dir, 'a.tar'), join(dir, 'extra.tar'), (_n, b) => b, [
      ['debs/evil.deb', Buffer.from('x')],
    ]);
    await expect(imp(join(dir, 'extra.tar'))).rejects.toThrow(
      /\[E24\] extra\.tar: unexpected member "debs\/evil\.deb"/,
    );
    const other = join(dir, 'other.lock');
    writeFileSync(other, encodeSeedLock({ ...lock, roots: ['dash'], packages: lock.packages.slice(0, 1) }));
    await expect(imp(join(dir, 'a.tar'), other)).rejects.toThrow(
      /\[E24\] .*other\.lock: another seed lock is already here/,
    );
  });

  it('a tree stored without its .deb: export is E24 naming it; `eos seed --keep-debs` fetches only the .deb', async () => {
    const to = mkdtempSync(join(tmpdir(), 'eos-seed-keep-'));
    const store = join(to, 'store');
    const lockFile = join(to, 'seed.lock');
    await run({ store, json: false, lock: lockFile, action: 'import', file: join(dir, 'a.tar') });
    // As when a host seed of the same version made the tree: the tree is there, the .deb is not.
    const dash = lock.packages.find((p) => p.name === 'dash')!;
    unlinkSync(new Store(store).blobPath(dash.deb!));
    const exp = { store, json: false, lock: lockFile, action: 'export', file: join(to, 'x.tar') };
    await expect(run(exp)).rejects.toThrow(
      new RegExp(`\\[E24\\] dash ${dash.version}: its \\.deb ${dash.deb} is not in the store`),
    );
    await expect(run(exp)).rejects.toMatchObject({ hint: expect.stringContaining('eos seed --keep-debs') });
    // Without --keep-debs the seed is complete as it is (trees stored, nothing fetched).
    const plain = await run({ store, json: false, lock: lockFile, repinIfGone: true });
    expect(plain.notes!.join('\n')).toMatch(/3 packages, 0 trees made/);
    expect(existsSync(new Store(store).blobPath(dash.deb!))).toBe(false);
    const kept = await withDebianSeedLock(() =>
      run({
        store,
        json: false,
        lock: lockFile,
        repinIfGone: true,
        keepDebs: true,
        aptDir: join(testCacheDir(), 'apt'),
      }),
    );
    expect(kept.notes!.join('\n')).toMatch(/downloading 1 \.deb files[\s\S]*3 packages, 0 trees made/);
    expect(readFileSync(lockFile)).toEqual(Buffer.from(encodeSeedLock(lock)));
    const r = await run(exp);
    expect(r.lines![0]!.split('\t')[2]).toBe(digestBytes(readFileSync(join(dir, 'a.tar'))));
  }, 300_000);
});
