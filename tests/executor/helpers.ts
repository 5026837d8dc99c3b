/**
 * Shared fixtures for the executor tests: a store cached across runs (content-addressed, so any
 * run may add to it), and a host-seeded world made once per host dpkg database.
 */
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
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

/** A host-mode seed (made once, then reused from the cached store) and its materialized world. */
export async function hostSeedWorld(): Promise<{
  store: Store;
  seed: SeedReport;
  world: World;
  worldDir: string;
}> {
  const store = testStore();
  const seed = await ensureSeed({ store, mode: 'host', lockPath: join(testCacheDir(), 'seed-host.lock') });
  const world = await buildWorld(store, seedLayers(seed.lock));
  const worldDir = await materializeWorld(store, world.root);
  return { store, seed, world, worldDir };
}

/** Whether this machine can make a Debian seed: root, dpkg-deb and an apt source. */
export function canSeedDebian(): boolean {
  return process.getuid?.() === 0 && existsSync('/usr/bin/dpkg-deb') && readHostAptSources().length > 0;
}

/**
 * The Debian seed cached in the test cache (`seed-debian.lock` and the cached store): made from the
 * current index on a cold cache (network: the machine's Debian archive), re-pinned when its pins
 * have left the archive and are not stored (saying so through `log`), offline otherwise.
 */
export async function cachedDebianSeed(log: (m: string) => void = console.log): Promise<SeedReport> {
  return ensureSeed({
    store: testStore(),
    mode: 'debian',
    lockPath: join(testCacheDir(), 'seed-debian.lock'),
    aptDir: join(testCacheDir(), 'apt'),
    repinIfGone: true,
    log,
  });
}
