/**
 * Shared set-up of the example chain tests: the example seed lock copied into a workspace, verified
 * (repaired from the archive when a tree is missing) and re-pinned when its pins have left the
 * archive, in the shared test cache (tests/executor/helpers.ts), under its `seed-debian` lock.
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { ensureSeed, type SeedReport } from '../../executor/index.ts';
import { repoRoot } from '../atoms/fixture.ts';
import { testCacheDir, testStore, withDebianSeedLock } from '../executor/helpers.ts';

/** The example seed (examples/seed/seed.lock) as `WS/seed.lock`, ensured in the cached store. */
export async function exampleSeed(
  ws: string,
  log: (m: string) => void,
): Promise<{ seed: SeedReport; seedLock: string; aptDir: string }> {
  const aptDir = join(testCacheDir(), 'apt');
  const seedLock = join(ws, 'seed.lock');
  cpSync(join(repoRoot, 'examples', 'seed', 'seed.lock'), seedLock);
  const seed = await withDebianSeedLock(() =>
    ensureSeed({
      store: testStore(),
      mode: 'debian',
      lockPath: seedLock,
      aptDir,
      repinIfGone: true,
      log,
    }),
  );
  return { seed, seedLock, aptDir };
}
