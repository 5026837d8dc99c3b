/**
 * bench/executor: the seed and the zlib build, each against a peer measured in the same run.
 *
 * 1. Seed unpack + normalize + ingest of every .deb of the Debian seed into a fresh store, against
 *    the probe's method (`dpkg-deb -x` of the same .debs into one directory, no hashing).
 * 2. Seed fetch: `apt-get download` of the same .debs with the private apt state (no peer: it is
 *    the network).
 * 3. zlib 1.2.13 built by `buildAtom` in the sandboxed Debian world, against the same
 *    `./configure && make && make install` run directly on the host (no sandbox, host toolchain).
 *
 * Uses the test cache (tests/executor/helpers.ts): run `npx vitest run tests/executor/zlib-debian.test.ts`
 * once first. Usage: npx tsx bench/executor/run.ts
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, parseDigest } from '../../src/kernel/index.ts';
import {
  PrivateApt,
  buildAtom,
  ingestPackageDirs,
  mapLimit,
  readSeedLock,
  unpackDebInto,
} from '../../executor/index.ts';
import { testCacheDir, testStore } from '../../tests/executor/helpers.ts';

const ZLIB_ORIG = parseDigest('blake3:f559164c43c50b21f641e78223e6d715fced49bd068a8d153bfef0bd090705ec');

async function main(): Promise<void> {
  const lockPath = join(testCacheDir(), 'seed-debian.lock');
  if (!existsSync(lockPath)) {
    console.log(`no ${lockPath}: run the zlib test once first`);
    return;
  }
  const cached = testStore();
  const lock = await readSeedLock(lockPath);
  const debs = lock.packages.map((p) => ({ name: p.name, path: cached.blobPath(p.deb!) }));
  const scratch = mkdtempSync(join(tmpdir(), 'eos-bench-executor-'));
  try {
    // 1. unpack + normalize + ingest vs dpkg-deb -x
    const fresh = new Store(join(scratch, 'store'));
    let t = performance.now();
    const staged = join(scratch, 'staged');
    await mapLimit(debs, 2, (d) => unpackDebInto(d.path, join(staged, d.name)));
    const trees = await ingestPackageDirs(fresh, staged);
    if (lock.packages.some((p) => trees.get(p.name) !== p.tree))
      throw new Error('a tree differs from the lock');
    const oursS = (performance.now() - t) / 1000;
    const peerDir = join(scratch, 'peer');
    mkdirSync(peerDir);
    t = performance.now();
    await mapLimit(debs, 2, async (d) => execFileSync('dpkg-deb', ['-x', d.path, peerDir]));
    const peerS = (performance.now() - t) / 1000;
    const mb = Number(execFileSync('du', ['-sm', peerDir]).toString().split('\t')[0]);
    console.log(
      `seed unpack+normalize+ingest: ${debs.length} debs, ${mb} MB unpacked: eos ${oursS.toFixed(1)} s ` +
        `(${(mb / oursS).toFixed(0)} MB/s), dpkg-deb -x only ${peerS.toFixed(1)} s; ratio ${(oursS / peerS).toFixed(2)}`,
    );

    // 2. fetch
    const apt = new PrivateApt(join(testCacheDir(), 'apt'));
    t = performance.now();
    await apt.update();
    await apt.download(lock.packages, join(scratch, 'debs'));
    console.log(
      `seed fetch (apt-get download, ${debs.length} debs): ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );

    // 3. zlib: sandboxed build vs host build
    t = performance.now();
    const r = await buildAtom({
      store: cached,
      seed: lock,
      label: 'zlib',
      version: '1.2.13',
      recipe: 'std.autotools',
      sources: [{ kind: 'debian-source', package: 'zlib', version: '1:1.2.13.dfsg-1', digest: ZLIB_ORIG }],
      aptDir: join(testCacheDir(), 'apt'),
      jobs: 2,
    });
    const sandboxS = (performance.now() - t) / 1000;
    const host = join(scratch, 'host-zlib');
    mkdirSync(host);
    t = performance.now();
    execFileSync('tar', ['-xf', cached.blobPath(ZLIB_ORIG), '-C', host, '--strip-components=1']);
    execFileSync(
      'sh',
      [
        '-c',
        './configure --prefix=/usr --libdir=/usr/lib/x86_64-linux-gnu >/dev/null && make -j2 >/dev/null && make install DESTDIR=$PWD/out >/dev/null',
      ],
      { cwd: host, env: { PATH: '/usr/bin:/bin', LC_ALL: 'C', SOURCE_DATE_EPOCH: '1700000000' } },
    );
    const hostS = (performance.now() - t) / 1000;
    console.log(
      `zlib 1.2.13 build: eos sandbox ${sandboxS.toFixed(1)} s (recipe ${(r.record.durationMs / 1000).toFixed(1)} s, ` +
        `output ${r.output}), host without sandbox ${hostS.toFixed(1)} s; ratio ${(sandboxS / hostS).toFixed(2)}`,
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
