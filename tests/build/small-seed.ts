/**
 * A small host seed (dash, coreutils) for real `eos build` runs, made once in the test cache
 * (`<test cache>/kill-build-seed`, under its lock, whole or not at all). Tests copy its store so
 * that each has a private one.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { testCacheDir } from '../executor/helpers.ts';
import { withCacheLock } from '../helpers/cache-lock.ts';
import { eosBin } from '../helpers/fs.ts';

/** The cached small seed: `{store, lock}` (the store directory and its `seed.lock`). */
export async function smallSeed(): Promise<{ store: string; lock: string }> {
  const dir = join(testCacheDir(), 'kill-build-seed');
  await withCacheLock(testCacheDir(), 'kill-build-seed', async () => {
    if (existsSync(join(dir, 'seed.lock'))) return;
    const tmp = `${dir}.${process.pid}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const r = spawnSync(
      process.execPath,
      [
        eosBin,
        '--store',
        join(tmp, 'store'),
        'seed',
        '--mode',
        'host',
        '--package',
        'dash',
        '--package',
        'coreutils',
        '--lock',
        join(tmp, 'seed.lock'),
      ],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`small seed: ${r.stderr}`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  });
  return { store: join(dir, 'store'), lock: join(dir, 'seed.lock') };
}
