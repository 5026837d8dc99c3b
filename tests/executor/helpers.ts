/**
 * Shared fixtures for the executor tests: a store cached across runs (content-addressed, so any
 * run may add to it), and a host-seeded world made once per host dpkg database.
 */
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../src/kernel/index.ts';
import {
  buildWorld,
  ensureSeed,
  materializeWorld,
  readHostAptSources,
  seedLayers,
  type SeedReport,
  type World,
} from '../../executor/index.ts';
import { withCacheLock } from '../helpers/cache-lock.ts';

/** The test cache directory: `$EOS_TEST_CACHE`, else /var/cache/eos-test when writable, else the OS temp dir. */
export function testCacheDir(): string {
  if (process.env.EOS_TEST_CACHE) return process.env.EOS_TEST_CACHE;
  try {
    mkdirSync('/var/cache/eos-test', { recursive: true });
    accessSync('/var/cache/eos-test', constants.W_OK);
    return '/var/cache/eos-test';
  } catch {
    return join(tmpdir(), 'eos-test');
  }
}

/** The cached store. */
export function testStore(): Store {
  return new Store(join(testCacheDir(), 'store'));
}

/**
 * A host-mode seed (made once, then reused from the cached store) and its materialized world.
 * Made under the test cache's `seed-host` lock (tests/helpers/cache-lock.ts): files running in
 * parallel on a cold cache wait for the first to make it instead of each copying the host's packages.
 */
export async function hostSeedWorld(): Promise<{
  store: Store;
  seed: SeedReport;
  world: World;
  worldDir: string;
}> {
  return withCacheLock(testCacheDir(), 'seed-host', async () => {
    const store = testStore();
    const seed = await ensureSeed({ store, mode: 'host', lockPath: join(testCacheDir(), 'seed-host.lock') });
    const world = await buildWorld(store, seedLayers(seed.lock));
    const worldDir = await materializeWorld(store, world.root);
    return { store, seed, world, worldDir };
  });
}

/** Whether this machine can make a Debian seed: root, dpkg-deb and an apt source. */
export function canSeedDebian(): boolean {
  return process.getuid?.() === 0 && existsSync('/usr/bin/dpkg-deb') && readHostAptSources().length > 0;
}

/**
 * The Debian seed cached in the test cache (`seed-debian.lock` and the cached store): on a cold
 * cache it starts from the example seed's pins (examples/seed/seed.lock, the seed of the example
 * chain tests and the demo, so the suite makes one Debian seed, not two), fetched from the machine's
 * Debian archive (network) and re-pinned from the current index where they have left it (saying so
 * through `log`); offline once stored. Its `.deb`s are kept too (`keepDebs`: the export and repair
 * tests read them), even for packages whose trees a host seed made first. Made under the test cache's `seed-debian` lock, as
 * {@link withDebianSeedLock}.
 */
export async function cachedDebianSeed(log: (m: string) => void = console.log): Promise<SeedReport> {
  return withDebianSeedLock(() => {
    const lockPath = join(testCacheDir(), 'seed-debian.lock');
    if (!existsSync(lockPath)) {
      const tmp = `${lockPath}.${process.pid}.tmp`;
      copyFileSync(join(import.meta.dirname, '..', '..', 'examples', 'seed', 'seed.lock'), tmp);
      renameSync(tmp, lockPath);
    }
    return ensureSeed({
      store: testStore(),
      mode: 'debian',
      lockPath,
      aptDir: join(testCacheDir(), 'apt'),
      repinIfGone: true,
      keepDebs: true,
      log,
    });
  });
}

/**
 * Runs `fn` (making or checking a Debian seed in the test cache) under the test cache's
 * `seed-debian` lock: test files running in parallel on a cold cache wait for the first to fetch,
 * unpack and ingest the seed's .debs, then find its trees stored.
 */
export function withDebianSeedLock<T>(fn: () => Promise<T>): Promise<T> {
  return withCacheLock(testCacheDir(), 'seed-debian', fn);
}
