/**
 * The network test: zlib 1.2.13 from Debian's orig tarball, built with its own ./configure && make
 * in the Debian-seeded world (83 .debs through a private apt state), once: that a rebuild gives
 * the same tree is checked on the same world by tests/examples/zlib-chain.test.ts (`eos build
 * --check` rebuilds zlib for real and compares) and tests/examples/observe-chain.test.ts (the
 * observed rebuild has the plain build's output). The seed and the tarball are cached in a
 * content-addressed store under the test cache directory, so only a cold run touches the
 * network. Needs root, bwrap and the machine's Debian archive.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Store, parseDigest } from '../../src/kernel/index.ts';
import { buildAtom, fetchSource } from '../../executor/index.ts';
import { cachedDebianSeed, canSeedDebian, testCacheDir, testStore } from './helpers.ts';

/** blake3 of zlib_1.2.13.dfsg.orig.tar.bz2 (its sha256 is in bookworm's signed Sources index). */
const ZLIB_ORIG = parseDigest('blake3:f559164c43c50b21f641e78223e6d715fced49bd068a8d153bfef0bd090705ec');

const canRun = existsSync('/usr/bin/bwrap') && canSeedDebian();

describe.skipIf(!canRun)(
  'zlib 1.2.13 in the Debian-seeded world (network on a cold cache; root; bwrap)',
  () => {
    it('builds with plain sonames, no RPATH/RUNPATH, SOURCE_DATE_EPOCH set', async () => {
      const store = testStore();
      const aptDir = join(testCacheDir(), 'apt');
      const t0 = Date.now();
      const seed = await cachedDebianSeed((m) => console.log(`zlib: ${m}`));
      const seedMs = Date.now() - t0;
      expect(seed.lock.packages.length).toBeGreaterThanOrEqual(80);
      expect(seed.lock.packages.every((p) => /^[0-9a-f]{64}$/.test(p.debSha256 ?? ''))).toBe(true);
      for (const name of ['gcc-12', 'libc6-dev', 'libc-bin', 'make', 'perl', 'base-files'])
        expect(seed.lock.packages.map((p) => p.name)).toContain(name);

      const req = {
        store,
        seed: seed.lock,
        label: 'zlib',
        version: '1.2.13',
        recipe: 'std.autotools',
        sources: [
          { kind: 'debian-source' as const, package: 'zlib', version: '1:1.2.13.dfsg-1', digest: ZLIB_ORIG },
        ],
        aptDir,
        jobs: 2,
        sourceDateEpoch: 1700000000,
      };
      const t1 = Date.now();
      const a = await buildAtom(req);
      const firstMs = Date.now() - t1;
      console.log(
        `zlib: seed ${seedMs} ms (built ${seed.built.length} trees; resolve ${seed.timings.resolveMs} ms, ` +
          `fetch ${seed.timings.fetchMs} ms, unpack+ingest ${seed.timings.unpackIngestMs} ms); ` +
          `build ${firstMs} ms (recipe ${a.record.durationMs} ms); output ${a.output}`,
      );
      expect(a.record.details.seed.mode).toBe('debian');
      expect(a.record.details.sourceDateEpoch).toBe(1700000000);
      expect(a.record.details.sources).toEqual([ZLIB_ORIG]);
      expect(a.warnings).toEqual([]);

      const out = mkdtempSync(join(tmpdir(), 'eos-zlib-'));
      await store.materialize(a.output, out);
      const lib = join(out, 'usr/lib/x86_64-linux-gnu/libz.so.1.2.13');
      expect(existsSync(lib)).toBe(true);
      expect(existsSync(join(out, 'usr/include/zlib.h'))).toBe(true);
      expect(existsSync(join(out, 'usr/lib/x86_64-linux-gnu/pkgconfig/zlib.pc'))).toBe(true);
      const dyn = execFileSync('readelf', ['-d', '-W', lib]).toString();
      const needed = [...dyn.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
      expect(needed).toEqual(['libc.so.6']);
      expect(dyn).toMatch(/\(SONAME\)\s+Library soname: \[libz\.so\.1\]/);
      expect(dyn).not.toMatch(/RPATH|RUNPATH/);
      execFileSync('rm', ['-rf', out]);

      // The `deb` source kind: the seed's own make .deb, fetched by name and version into a fresh
      // store, has the blob digest the seed recorded.
      const make = seed.lock.packages.find((p) => p.name === 'make')!;
      const fresh = new Store(mkdtempSync(join(tmpdir(), 'eos-deb-')));
      const got = await fetchSource(
        { kind: 'deb', package: make.name, version: make.version, arch: make.arch, digest: make.deb! },
        { store: fresh, aptDir },
      );
      expect(got).toMatchObject({ kind: 'file', cached: false, digest: make.deb });
      execFileSync('rm', ['-rf', fresh.root]);
    }, 900_000);
  },
);
