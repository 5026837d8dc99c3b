/** seed.lock encoding: vectors from specs/seed.md §1, rejections. (The build record's vectors are in tests/scheduler/action-cache.test.ts.) */
import { describe, expect, it } from 'vitest';
import { encodeCanonical, type Digest } from '../../src/kernel/index.ts';
import { encodeSeedLock, parseSeedLock, seedRoot, type SeedLock } from '../../executor/index.ts';

const z = (c: string): Digest => `blake3:${c.repeat(64)}` as Digest;

const LOCK: SeedLock = {
  format: 'eos-seed-lock',
  version: 1,
  mode: 'debian',
  arch: 'amd64',
  roots: ['make', 'dash'],
  packages: [
    { name: 'make', version: '4.3-4.1', arch: 'amd64', debSha256: 'b'.repeat(64), deb: z('1'), tree: z('2') },
    {
      name: 'dash',
      version: '0.5.12-2',
      arch: 'amd64',
      debSha256: 'a'.repeat(64),
      deb: z('3'),
      tree: z('4'),
    },
  ],
  fixups: z('5'),
};

describe('seed.lock', () => {
  it('matches the spec vector', () => {
    const bytes = encodeSeedLock(LOCK);
    expect(bytes.length).toBe(772);
    expect(Buffer.from(bytes).toString().startsWith('{"arch":"amd64","fixups":"blake3:5555')).toBe(true);
    expect(seedRoot(LOCK)).toBe('blake3:b5e5aceba10fb32523493e23b9ad36a1f2ab6bbdd721d9f337047762154ca660');
  });

  it('round-trips, and the order things were listed in does not matter', () => {
    const bytes = encodeSeedLock(LOCK);
    const back = parseSeedLock(bytes);
    expect(back.packages.map((p) => p.name)).toEqual(['dash', 'make']);
    expect(encodeSeedLock(back)).toEqual(bytes);
    expect(seedRoot({ ...LOCK, packages: [...LOCK.packages].reverse() })).toBe(seedRoot(LOCK));
  });

  it('the mode is part of the seed root', () => {
    const host: SeedLock = {
      ...LOCK,
      mode: 'host',
      packages: LOCK.packages.map((p) => ({ ...p, debSha256: null, deb: null })),
    };
    expect(seedRoot(host)).not.toBe(seedRoot(LOCK));
    expect(parseSeedLock(encodeSeedLock(host)).mode).toBe('host');
  });

  it('rejects non-canonical bytes, unknown fields, bad digests, unsorted packages, debian without sha256', () => {
    const good = JSON.parse(Buffer.from(encodeSeedLock(LOCK)).toString());
    expect(() => parseSeedLock(Buffer.from(JSON.stringify(good, null, 1)), 'x.lock')).toThrow(
      /\[E3\] x.lock/,
    );
    expect(() => parseSeedLock(encodeCanonical({ ...good, extra: 1 }), 'x.lock')).toThrow(/\[E24\] x.lock/);
    expect(() => parseSeedLock(encodeCanonical({ ...good, version: 2 }))).toThrow(/E24.*version/);
    const badTree = { ...good, packages: [{ ...good.packages[0], tree: 'sha256:00' }, good.packages[1]] };
    expect(() => parseSeedLock(encodeCanonical(badTree))).toThrow(/packages\.0\.tree/);
    const unsorted = { ...good, packages: [good.packages[1], good.packages[0]] };
    expect(() => parseSeedLock(encodeCanonical(unsorted))).toThrow(/not sorted/);
    const noSha = { ...good, packages: [{ ...good.packages[0], debSha256: null }, good.packages[1]] };
    expect(() => parseSeedLock(encodeCanonical(noSha))).toThrow(/debian-mode seed needs debSha256/);
  });
});
