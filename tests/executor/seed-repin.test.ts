/**
 * Seeds that survive the archive moving (specs/seed.md §6): a lock whose pin is neither in the
 * store nor in the current index is re-pinned from the index with `repinIfGone` (the path the demo
 * and the tests share), which reports the pins that were gone and the version diff, and `eos seed
 * --repin-if-gone` prints that diff; without the flag the same lock fails; and a lock whose trees
 * are all stored is used as is, offline, flag or not. Starts from the cached Debian seed (made on
 * a cold cache: network). Needs root, dpkg-deb and an apt source.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDigest } from '../../src/kernel/index.ts';
import { encodeSeedLock, ensureSeed, parseSeedLock, type SeedLock } from '../../executor/index.ts';
import { run } from '../../src/cli/seed.ts';
import { cachedDebianSeed, canSeedDebian, testCacheDir, testStore } from './helpers.ts';

const canRun = canSeedDebian();
let current: SeedLock;
const GONE = '4.3-4.1+eos.left.the.archive';

/** The current lock with make pinned to a version no archive has, whose tree and .deb no store has. */
function goneLock(): SeedLock {
  return {
    ...current,
    packages: current.packages.map((p) =>
      p.name === 'make'
        ? {
            ...p,
            version: GONE,
            debSha256: 'e'.repeat(64),
            deb: parseDigest('blake3:' + 'e'.repeat(64)),
            tree: parseDigest('blake3:' + 'f'.repeat(64)),
          }
        : p,
    ),
  };
}

beforeAll(async () => {
  if (!canRun) return;
  const seed = await cachedDebianSeed((m) => console.log(`seed-repin: ${m}`));
  current = seed.lock;
}, 900_000);

describe.skipIf(!canRun)('re-pinning a seed whose pins left the archive', () => {
  const aptDir = () => join(testCacheDir(), 'apt');

  it('repinIfGone re-pins from the current index and reports what was gone and the diff', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eos-seed-repin-'));
    const lockPath = join(dir, 'seed.lock');
    writeFileSync(lockPath, encodeSeedLock(goneLock()));
    await expect(ensureSeed({ store: testStore(), lockPath, aptDir: aptDir() })).rejects.toThrow(
      /\[E12\] apt-get .*make/,
    );
    const notes: string[] = [];
    const r = await ensureSeed({
      store: testStore(),
      lockPath,
      aptDir: aptDir(),
      repinIfGone: true,
      log: (m) => notes.push(m),
    });
    const make = current.packages.find((p) => p.name === 'make')!;
    expect(r.gone).toEqual([`make=${GONE}`]);
    expect(r.changes).toEqual([{ name: 'make', old: GONE, new: make.version }]);
    expect(notes.join('\n')).toContain(`1 pinned package version(s) have left the archive (make=${GONE})`);
    expect(r.lockWritten).toBe(true);
    expect(r.lock.packages).toEqual(current.packages); // the same index as the cached seed's
    expect(parseSeedLock(readFileSync(lockPath), lockPath)).toEqual(r.lock);
  });

  it('eos seed --repin-if-gone prints the version diff, then the packages and the root', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eos-seed-repin-cli-'));
    const lock = join(dir, 'seed.lock');
    writeFileSync(lock, encodeSeedLock(goneLock()));
    const make = current.packages.find((p) => p.name === 'make')!;
    const r = await run({ store: testStore().root, json: false, lock, aptDir: aptDir(), repinIfGone: true });
    expect(r.lines![0]).toBe(`changed\tmake\t${GONE}\t${make.version}`);
    expect(r.lines).toContain(`ok\tmake\t${make.version}\t${make.tree}`);
    expect(r.lines!.at(-1)).toMatch(/^root\tblake3:[0-9a-f]{64}$/);
    expect(r.notes!.join('\n')).toContain(`seed: 1 package(s) changed: make ${GONE} → ${make.version}`);
  });

  it('a lock whose trees are all stored is used as is, offline, with or without the flag', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eos-seed-repin-offline-'));
    const lockPath = join(dir, 'seed.lock');
    writeFileSync(lockPath, encodeSeedLock(current));
    const noApt = join(dir, 'no-apt-here');
    for (const repinIfGone of [true, false]) {
      const r = await ensureSeed({ store: testStore(), lockPath, aptDir: noApt, repinIfGone });
      expect(r).toMatchObject({ lockWritten: false, changes: [], gone: [], built: [] });
      expect(r.timings.fetchMs).toBe(0);
    }
    expect(existsSync(noApt)).toBe(false);
  });
});
