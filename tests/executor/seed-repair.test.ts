/**
 * A Debian seed re-made offline from the .deb blobs in the store: a fresh store holding only the
 * locked .debs rebuilds every tree with the locked digest, touching no network (the apt state
 * directory does not exist); a lock whose tree digest is wrong is E24. Uses the Debian seed cached
 * in the test cache (tests/executor/zlib-debian.test.ts's), making it first on a cold cache
 * (network: the machine's Debian archive). Needs root, dpkg-deb and an apt source.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Store, type Digest } from '../../src/kernel/index.ts';
import { encodeSeedLock, ensureSeed, parseSeedLock, type SeedLock } from '../../executor/index.ts';
import { cachedDebianSeed, canSeedDebian, testCacheDir, testStore } from './helpers.ts';

const lockPath = join(testCacheDir(), 'seed-debian.lock');
const canRun = canSeedDebian();

beforeAll(async () => {
  if (canRun) await cachedDebianSeed((m) => console.log(`seed-repair: ${m}`));
}, 900_000);

describe.skipIf(!canRun)('seed repair from stored .debs (offline)', () => {
  it('rebuilds missing trees from the .deb blobs with the locked digests; a wrong digest is E24', async () => {
    const full = parseSeedLock(readFileSync(lockPath), lockPath);
    const pick = full.packages.filter((p) => ['dash', 'make', 'sed'].includes(p.name));
    expect(pick).toHaveLength(3);
    const lock: SeedLock = { ...full, roots: ['dash', 'make', 'sed'], packages: pick };
    const dir = mkdtempSync(join(tmpdir(), 'eos-seed-repair-'));
    const fresh = new Store(join(dir, 'store'));
    const from = testStore();
    for (const p of pick) await fresh.putBlob(readFileSync(from.blobPath(p.deb!)));
    const path = join(dir, 'seed.lock');
    writeFileSync(path, encodeSeedLock(lock));
    const noApt = join(dir, 'no-apt-here');
    const r = await ensureSeed({ store: fresh, lockPath: path, aptDir: noApt });
    expect(r.built).toEqual(['dash', 'make', 'sed']);
    expect(r.timings.fetchMs).toBe(0);
    expect(existsSync(noApt)).toBe(false);
    for (const p of pick) expect(await fresh.hasTree(p.tree)).toBe(true);
    expect(readFileSync(path)).toEqual(Buffer.from(encodeSeedLock(lock)));

    // A lock that claims another tree for make: re-made from the .deb, it does not match.
    const other = new Store(join(dir, 'store2'));
    for (const p of pick) await other.putBlob(readFileSync(from.blobPath(p.deb!)));
    const bad = 'blake3:' + '0'.repeat(64);
    const badLock: SeedLock = {
      ...lock,
      packages: pick.map((p) => (p.name === 'make' ? { ...p, tree: bad as Digest } : p)),
    };
    writeFileSync(path, encodeSeedLock(badLock));
    await expect(ensureSeed({ store: other, lockPath: path, aptDir: noApt })).rejects.toThrow(
      new RegExp(`\\[E24\\] make \\S+: the .deb unpacks to tree blake3:[0-9a-f]{64}, the lock says ${bad}`),
    );
  });
});
