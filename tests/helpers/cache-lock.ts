/**
 * A lock between the test files that share the test cache (tests/executor/helpers.ts): vitest runs
 * files in parallel worker processes, and on a cold cache two files making the same seed (or the
 * same real build) at once would each download, unpack and ingest it. Holding the lock named for
 * the work, the first file does it and the others wait, then find it in the cached store.
 *
 * The lock is a pid file (src/kernel/pid-file.ts) under `<test cache>/locks/`: a file left by a
 * killed test process names a dead pid and is taken over, so a crash never wedges later runs.
 * Within one process the callers of one name run one after the other.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { takePidFile } from '../../src/kernel/index.ts';

const chains = new Map<string, Promise<unknown>>();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `fn` holding the lock `name` in the test cache directory `cacheDir`, waiting (polling every
 * 200 ms) while another live process holds it.
 * @param name a file name: letters, digits, `-` and `.`
 * @returns what `fn` returns; the lock is released whether it returns or throws
 */
export async function withCacheLock<T>(cacheDir: string, name: string, fn: () => Promise<T>): Promise<T> {
  if (!/^[a-z0-9][a-z0-9.-]*$/.test(name)) throw new Error(`cache lock name ${JSON.stringify(name)}`);
  const prev = chains.get(name) ?? Promise.resolve();
  const mine = prev.catch(() => undefined).then(() => holding(cacheDir, name, fn));
  chains.set(
    name,
    mine.catch(() => undefined),
  );
  return mine;
}

async function holding<T>(cacheDir: string, name: string, fn: () => Promise<T>): Promise<T> {
  const dir = join(cacheDir, 'locks');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.lock`);
  for (;;) {
    // No caller in this process holds it (the chain above), so a file naming our pid is stale.
    const taken = takePidFile(path, { ownPid: 'stale' });
    if ('lock' in taken) {
      try {
        return await fn();
      } finally {
        taken.lock.release();
      }
    }
    await sleep(200);
  }
}
