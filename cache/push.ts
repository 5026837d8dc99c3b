/**
 * `eos cache push`: uploads action-cache entries (signed build records) with the objects of their
 * output closures and logs, sending only what the cache lacks.
 *
 * @see specs/cache.md §6
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError, digestFrom, osError, type Digest, type Store } from '../src/kernel/index.ts';
import { actionEntryPath, parseCacheEntry } from '../scheduler/index.ts';
import type { CacheBackend, PushCounts } from './backend.ts';
import { localClosure } from './closure.ts';

/** What was pushed for one action. */
export interface PushedAction extends PushCounts {
  action: Digest;
  /** Objects in the closure (sent + present). */
  objects: number;
  /** Whether the entry carries at least one signature (an unsigned one is refused by every substituter). */
  signed: boolean;
}

/**
 * Every action id with an entry in the store's action cache (`STORE/actions/`), sorted.
 * @throws IoError E12
 */
export async function listActions(store: Store): Promise<Digest[]> {
  const dir = join(store.root, 'actions');
  let shards: string[];
  try {
    shards = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw osError(e, dir);
  }
  const out: Digest[] = [];
  for (const s of shards.filter((x) => /^[0-9a-f]{2}$/.test(x)).sort())
    for (const rest of (await readdir(join(dir, s))).sort())
      if (/^[0-9a-f]{62}$/.test(rest)) out.push(digestFrom(s + rest));
  return out;
}

/**
 * Pushes one action's entry and closure to a cache.
 * @throws NotFoundError E4 when the store has no entry for `action`; EncodingError E3 /
 *   CorruptObjectError E5 for a damaged entry; CacheTransportError E58
 */
export async function pushAction(store: Store, cache: CacheBackend, action: Digest): Promise<PushedAction> {
  const path = actionEntryPath(store.root, action);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new NotFoundError(`action ${action} has no entry in the action cache of ${store.root}`, {
        data: { action },
      });
    throw osError(e, path);
  }
  const entry = parseCacheEntry(bytes, path, action);
  const objects = await localClosure(store, [entry.record.output, entry.record.log]);
  const counts = await cache.push(action, bytes, objects);
  return { action, objects: objects.length, signed: entry.signatures.length > 0, ...counts };
}
