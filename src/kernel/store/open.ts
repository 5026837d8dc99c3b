/**
 * `openStore(url)`: builds a store backend from an address.
 * - `memory:` → a new, empty in-memory store;
 * - `file:///abs/path` or a plain path → the filesystem store in that directory.
 *
 * @see specs/store.md §5.1
 */
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.ts';
import { Store } from './fs-store.ts';
import { MemoryStore } from './memory.ts';
import type { ObjectStore } from './types.ts';

/**
 * Opens a store by address.
 * @throws UsageError E1 for an unknown scheme
 */
export function openStore(url: string): ObjectStore {
  if (url === 'memory:' || url.startsWith('memory:')) return new MemoryStore();
  if (url.startsWith('file:')) return new Store(fileURLToPath(url));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url))
    throw new UsageError(
      `store address ${JSON.stringify(url)}: unknown scheme (use a path, file: or memory:)`,
    );
  return new Store(url);
}
