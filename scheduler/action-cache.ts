/**
 * The action cache (I/O): maps an action id to its cache entry (a build record with its
 * signatures). The filesystem cache files entries at `STORE/actions/<2 hex>/<62 hex>` with atomic
 * writes, and pins each record's output tree and log as GC roots in `STORE/roots/`; the memory
 * cache is for tests and simulations.
 *
 * @see specs/action.md §5 (entry), §6 (layout, roots)
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  NO_STAT_MEMO,
  digestHex,
  osError,
  parseDigest,
  writeFileAtomic,
  type Digest,
  type StatMemo,
  type Store,
} from '../src/kernel/index.ts';
import { encodeCacheEntry, entryAction, readCacheEntry, type CacheEntry } from './build-record.ts';

/** Where action results are remembered. `put` replaces any entry for the same action. */
export interface ActionCache {
  /**
   * The entry for `action`, or undefined when there is none or it holds a superseded build-record
   * version (specs/action.md §5.3). @throws EncodingError E3, CorruptObjectError E5
   */
  get(action: Digest): Promise<CacheEntry | undefined>;
  /** Stores an entry under its record's action id, atomically. */
  put(entry: CacheEntry): Promise<void>;
}

/** Pins digests as GC roots. @see specs/action.md §6 */
export interface RootPinner {
  /** Writes (or replaces) the root `name` holding `digest`. */
  pin(name: string, digest: Digest): Promise<void>;
}

/** An in-memory action cache (tests, simulations). Entries are kept as encoded bytes, so they round-trip. */
export class MemoryActionCache implements ActionCache {
  readonly entries = new Map<Digest, Uint8Array>();
  /** Every `put`, in order (tests use it to see what was stored). */
  readonly puts: Digest[] = [];
  async get(action: Digest): Promise<CacheEntry | undefined> {
    const b = this.entries.get(action);
    return b ? readCacheEntry(b, `memory action cache ${action}`, action) : undefined;
  }
  async put(entry: CacheEntry): Promise<void> {
    const action = entryAction(entry);
    this.entries.set(action, encodeCacheEntry(entry));
    this.puts.push(action);
  }
}

/**
 * Pins through the store's own root API (`Store.addRoot`: its lock, its name rules, and the check
 * that the pinned object is stored).
 * @see specs/action.md §6, specs/store.md (roots)
 */
export function storeRootPinner(store: { addRoot(name: string, digest: Digest): Promise<void> }): RootPinner {
  return { pin: (name, digest) => store.addRoot(name, digest) };
}

/** The path of an action's entry under a store: `actions/<2 hex>/<62 hex>`. @see specs/action.md §6 */
export function actionEntryPath(storeDir: string, action: Digest): string {
  const hex = digestHex(parseDigest(action, 'action id'));
  return join(storeDir, 'actions', hex.slice(0, 2), hex.slice(2));
}

/**
 * The action cache of a filesystem store, pinning through the store's roots.
 * @see specs/action.md §6
 */
export function openActionCache(store: Store, memo: StatMemo = NO_STAT_MEMO): FsActionCache {
  return new FsActionCache(store.root, storeRootPinner(store), memo);
}

/**
 * The filesystem action cache of a store. `put` pins the record's output tree and log first
 * (roots `action-<64 hex>.output`, `.log`), then writes the entry atomically, so an entry never
 * exists without its roots.
 * @see specs/action.md §6
 */
export class FsActionCache implements ActionCache {
  /**
   * @param storeDir the store directory (entries go to `storeDir/actions/`)
   * @param roots pins outputs and logs, normally {@link storeRootPinner} of the same store
   * @param memo a stat memo (specs/scheduler.md §11.6): an entry file whose `stat` signature it
   *   holds as kind `action-entry` is not read and validated again
   */
  constructor(
    readonly storeDir: string,
    readonly roots: RootPinner,
    readonly memo: StatMemo = NO_STAT_MEMO,
  ) {}

  async get(action: Digest): Promise<CacheEntry | undefined> {
    const path = actionEntryPath(this.storeDir, action);
    if (this.memo === NO_STAT_MEMO) return this.read(path, action);
    let st;
    try {
      st = statSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw osError(e, path);
    }
    const m = this.memo.get('action-entry', path, st);
    if (m !== undefined) return m as CacheEntry;
    const entry = await this.read(path, action);
    // Entries are replaced by rename (a new inode), so the signature changes with the entry.
    if (entry) this.memo.set('action-entry', path, st, entry);
    return entry;
  }

  private async read(path: string, action: Digest): Promise<CacheEntry | undefined> {
    let bytes: Uint8Array;
    try {
      // A synchronous read: an entry is a few hundred bytes in the page cache, and a no-op build
      // reads one per action; the thread pool's open/stat/read/close round trips cost more CPU
      // than the read itself (specs/scheduler.md §12).
      bytes = readFileSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw osError(e, path);
    }
    // An entry of a superseded record version is a miss: the action runs again and replaces it.
    return readCacheEntry(bytes, path, action);
  }

  async put(entry: CacheEntry): Promise<void> {
    const { output, log } = entry.record;
    const action = entryAction(entry);
    const hex = digestHex(action);
    await this.roots.pin(`action-${hex}.output`, output);
    await this.roots.pin(`action-${hex}.log`, log);
    await writeFileAtomic(actionEntryPath(this.storeDir, action), encodeCacheEntry(entry), { mkdir: true });
  }
}
