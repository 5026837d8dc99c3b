/**
 * The filesystem store: blobs in `objects/`, trees in `trees/`, executable twins in `xobjects/`,
 * gc roots in `roots/`. Every write is temp file (in `tmp/`) + fsync + rename, so a SIGKILL at any
 * moment leaves only complete objects (and temp litter that gc and `verify --repair` remove).
 *
 * @see specs/store.md §4–§10
 */
import { osError } from '../os-error.ts';
import { randomHex } from '../random-hex.ts';
import { fsyncAsync, openAsync } from '../atomic-write.ts';
import {
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import type * as ChildProcess from 'node:child_process';
import { createRequire } from 'node:module';
import { lstat, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { digestBytes, parseDigest, type Digest } from '../digest.ts';
import {
  CorruptObjectError,
  EncodingError,
  NotFoundError,
  UnsafePathError,
  UnsupportedFileError,
} from '../errors.ts';
import { checkChildrenPresent } from './children-present.ts';
import { entryName, linkTarget, unstorableEntry, unstorableRoot } from './entry-names.ts';
import { DIRS, ensureLayout, checkFormat, renameInto, shardedPath } from './layout.ts';
import { lockExclusive, lockShared, type StoreLock } from './store-lock.ts';
import { FilePool, sharedFilePool } from './pool.ts';
import { checkObjects, objectsOfTree } from './checked-read.ts';
import { encodeTree, makeTree, parseTree, subtreeSize, type Tree, type TreeEntry } from './tree.ts';
import type { BlobStore, ObjectStore, TreeStore } from './types.ts';
import { materializeTree, type MaterializeOptions, type MaterializeReport } from './materialize.ts';
import {
  cleanTmp,
  gcStore,
  statsStore,
  verifyStore,
  type GcOptions,
  type GcReport,
  type StoreStats,
} from './maintenance.ts';
import type { VerifyOptions, VerifyReport } from './maintenance.ts';

/** What `ingest` made: a tree for a directory, a blob for a single file. */
export interface IngestResult {
  digest: Digest;
  kind: 'directory' | 'file';
  /** File entries (a hard-linked file counts once per link). */
  files: number;
  /** Bytes of all file entries (logical; a hard-linked file is read once but counted per link). */
  bytes: number;
  /** Objects (blobs and trees) newly written; the rest were already stored. */
  written: number;
}

/** Options for `ingest`. */
export interface IngestOptions {
  /** fsync each object before its rename (default true). Off only for throwaway stores. */
  fsync?: boolean;
  /**
   * Worker threads of a pool of this ingest's own, closed when it ends (default: the process's
   * shared pool, cores + 1 threads, at most 4).
   */
  threads?: number;
}

/** A gc root: a name in `roots/` pinning a digest. */
export interface RootEntry {
  name: string;
  digest: Digest;
}

const ROOT_NAME = /^[A-Za-z0-9_][A-Za-z0-9._+@=:,-]{0,199}$/;

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Creates `tmp` (`wx`, `mode`) on libuv's thread pool (a new file's inode allocation is the costly
 * part of a small write; the event loop goes on meanwhile), writes `data`, fsyncs it there when
 * `sync`, and closes it. On failure the file is closed and removed. Unsynced writes are for a batch
 * the caller makes durable at once.
 */
async function writeNewAsync(tmp: string, data: Uint8Array, mode: number, sync = false): Promise<void> {
  const fd = await openAsync(tmp, 'wx', mode);
  try {
    // Into the page cache: microseconds, less than a thread-pool round trip costs the event loop.
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    if (sync) await fsyncAsync(fd);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      /* closed */
    }
    await rm(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
}

/** Creates `tmp` (`wx`, `mode`), writes `data`, fsyncs and closes it; on failure removes it. */
function writeDurableAsync(tmp: string, data: Uint8Array, mode: number): Promise<void> {
  return writeNewAsync(tmp, data, mode, true);
}

/**
 * Writes bytes to `dest` through a temp file without blocking the event loop: the write and the
 * fsync run on libuv's thread pool, so other actions' completions are handled meanwhile
 * (specs/store.md §6.5). The order: write, fsync, rename. Returns false (and writes nothing) when `dest` exists.
 */
export async function writeAtomicAsync(
  tmpDir: string,
  dest: string,
  bytes: Uint8Array,
  mode: number,
): Promise<boolean> {
  if (existsSync(dest)) return false;
  const tmp = join(tmpDir, `${process.pid}.m.${randomHex(6)}`);
  try {
    await writeDurableAsync(tmp, bytes, mode);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  renameInto(tmp, dest);
  return true;
}

/**
 * fsync(2) of a file or directory on libuv's thread pool (its open and close, microseconds for a
 * path that exists, done here: fewer round trips to the pool).
 */
async function fsyncPathAsync(path: string): Promise<void> {
  const fd = openSync(path, 'r');
  try {
    await fsyncAsync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * How many parsed trees a {@link Store} keeps in memory (specs/store.md §5.3): a build reads the
 * seed's trees again for every action's world merge and image.
 */
export const TREE_CACHE_MAX = 20_000;

/** A parsed tree kept by {@link Store.getTree}, with the identity of the file it was read from. */
interface CachedTree {
  tree: Tree;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** The objects a {@link Store} read while a trace was on (digests, each once). */
export interface StoreReadTrace {
  blobs: Set<Digest>;
  trees: Set<Digest>;
}

/**
 * A content-addressed store in a directory. Construct with the store directory; the layout is
 * created on the first write.
 * @see specs/store.md §4
 */
export class Store implements ObjectStore {
  /** The absolute store directory. */
  readonly root: string;
  readonly blobs: BlobStore;
  readonly trees: TreeStore;
  private laidOut = false;
  private lockDepth = 0;
  private heldLock: StoreLock | undefined;
  /** The shared lock being taken (every concurrent first write waits for the same one). */
  private acquiring: Promise<StoreLock> | undefined;
  /** Callers of {@link keepWriteLock} not yet released. */
  private keepers = 0;
  /** Object files found good during the current run ({@link beginRun}): `o` (object) or `x` (twin) + digest. */
  private runFiles: Set<string> | undefined;
  /**
   * Blobs (`b` + digest) and trees (`t` + digest) known stored during the current run: found by
   * `has*`, read, or written by this object (specs/store.md §5.4).
   */
  private runPresent: Set<string> | undefined;
  private runs = 0;
  private tmpSwept = false;
  private reads: StoreReadTrace | undefined;
  /** Parsed trees by digest, least recently used first (specs/store.md §5.3). */
  private readonly treeCache = new Map<Digest, CachedTree>();

  /**
   * @param root the store directory (created with its layout on the first write)
   * @param opts `durable: false` for a throwaway store (probeDigest's): its layout's format file
   *   is written without fsync; objects follow `IngestOptions.fsync`. Default true.
   * @throws EncodingError E3 when `root` holds a store of another format or version
   */
  constructor(
    root: string,
    private readonly opts: { durable?: boolean } = {},
  ) {
    this.root = resolve(root);
    checkFormat(this.root);
    this.blobs = {
      has: (d) => this.hasBlob(d),
      get: (d) => this.readBlob(d),
      put: (b) => this.putBlob(b),
    };
    this.trees = {
      has: (d) => this.hasTree(d),
      get: (d) => this.getTree(d),
      put: (t) => this.putTree(t),
    };
  }

  /**
   * Starts recording the digests of the blobs and trees this object reads (`readBlob`,
   * `readTreeBytes`, so also `getTree`), until {@link stopReadTrace}; one trace at a time. Tests
   * use it to check which objects an operation opened (e.g. that a swap reads no tree of an entry
   * that cannot consume the swapped one).
   */
  startReadTrace(): StoreReadTrace {
    this.reads = { blobs: new Set(), trees: new Set() };
    return this.reads;
  }

  /** Stops recording reads. */
  stopReadTrace(): void {
    this.reads = undefined;
  }

  /** A subdirectory of the store. */
  dir(name: keyof typeof DIRS): string {
    return join(this.root, DIRS[name]);
  }

  /** Creates the layout if needed. */
  ensureLayout(): void {
    if (this.laidOut) return;
    try {
      ensureLayout(this.root, { durable: this.opts.durable ?? true });
    } catch (e) {
      throw osError(e, this.root);
    }
    this.laidOut = true;
  }

  /**
   * Runs `fn` holding the store's shared (writer) lock; reentrant within this object, and one lock
   * file for all of this object's concurrent writes (specs/store.md §9). Released when the last
   * write ends, unless {@link keepWriteLock} keeps it.
   * @throws IoError E12 when an exclusive holder (gc, repair) keeps the store too long
   */
  async withWriteLock<T>(fn: () => Promise<T>): Promise<T> {
    this.ensureLayout();
    this.lockDepth++;
    try {
      if (!this.heldLock) {
        this.acquiring ??= lockShared(this.dir('locks')).finally(() => {
          this.acquiring = undefined;
        });
        const lock = await this.acquiring;
        if (!this.heldLock) {
          this.heldLock = lock;
          process.once('exit', this.releaseAtExit);
        }
      }
      return await fn();
    } finally {
      if (--this.lockDepth === 0 && this.keepers === 0) this.releaseHeldLock();
    }
  }

  /**
   * Keeps the shared lock, once a write has taken it, until the returned function is called (then
   * released when no write is running): for a command that writes many objects over its run, such
   * as `eos build`, so it takes one lock file instead of one per object (specs/store.md §9). A
   * command that writes nothing takes none. The lock file goes with the process at its exit as
   * always (and a killed holder's is stale).
   * @returns the release function (idempotent)
   */
  keepWriteLock(): () => void {
    this.keepers++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--this.keepers === 0 && this.lockDepth === 0) this.releaseHeldLock();
    };
  }

  /**
   * Starts a run, one command that uses the same objects many times (`eos build`: every action's
   * world holds the seed): until the returned function is called, an object file `checkObjects`
   * found good is not looked at again, and a parsed tree is reused without a `stat` of its file
   * (specs/store.md §5.3, §12.4). Runs nest; the memory goes with the last.
   * @returns the function that ends the run (idempotent)
   */
  beginRun(): () => void {
    if (this.runs++ === 0) {
      this.runFiles = new Set();
      this.runPresent = new Set();
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--this.runs === 0) {
        this.runFiles = undefined;
        this.runPresent = undefined;
        // Trees cached on write in the run carry no file identity: they are not trusted after it.
        for (const [d, c] of this.treeCache) if (c.ino === -1) this.treeCache.delete(d);
      }
    };
  }

  /**
   * The object files found good during the current run ({@link beginRun}), each as its kind (`o`
   * object, `x` executable twin) followed by the blob digest; undefined outside a run.
   */
  get runChecked(): Set<string> | undefined {
    return this.runFiles;
  }

  private releaseHeldLock(): void {
    if (!this.heldLock) return;
    process.removeListener('exit', this.releaseAtExit);
    this.heldLock.release();
    this.heldLock = undefined;
    // Without the lock, gc may remove what the run found stored (§5.4).
    this.runPresent?.clear();
  }

  /** A process that exits while holding the lock (e.g. on SIGTERM) removes its lock file. */
  private readonly releaseAtExit = (): void => {
    this.heldLock?.release();
    this.heldLock = undefined;
  };

  /** Runs `fn` holding the store's exclusive lock (gc, repair). @throws IoError E12 when busy */
  async withExclusiveLock<T>(fn: () => Promise<T>): Promise<T> {
    this.ensureLayout();
    const lock = lockExclusive(this.dir('locks'));
    try {
      return await fn();
    } finally {
      lock.release();
    }
  }

  /** Absolute path of a blob's object file (`objects/<2 hex>/<62 hex>`), present or not. */
  blobPath(d: Digest): string {
    return shardedPath(this.dir('objects'), d);
  }
  /** Absolute path of a tree's file (`trees/<2 hex>/<62 hex>`), present or not. */
  treePath(d: Digest): string {
    return shardedPath(this.dir('trees'), d);
  }
  /** Absolute path of a blob's executable twin (`xobjects/<2 hex>/<62 hex>`, mode 0555), present or not. */
  twinPath(d: Digest): string {
    return shardedPath(this.dir('xobjects'), d);
  }

  /** True when the blob is stored (in a run, a blob once found is not looked up again). */
  async hasBlob(d: Digest): Promise<boolean> {
    if (this.runPresent?.has('b' + d)) return true;
    const yes = existsSync(this.blobPath(d));
    if (yes) this.notePresent('b' + d);
    return yes;
  }
  /** True when the tree is stored (in a run, a tree once found is not looked up again). */
  async hasTree(d: Digest): Promise<boolean> {
    if (this.runPresent?.has('t' + d)) return true;
    const yes = existsSync(this.treePath(d));
    if (yes) this.notePresent('t' + d);
    return yes;
  }

  /**
   * A blob's bytes, checked against its digest.
   * @throws NotFoundError E4 when absent; CorruptObjectError E5 when the bytes hash otherwise
   */
  async readBlob(d: Digest): Promise<Uint8Array> {
    this.reads?.blobs.add(d);
    const p = this.blobPath(d);
    let bytes: Buffer;
    try {
      bytes = await readFile(p);
    } catch (e) {
      if (errno(e) === 'ENOENT')
        throw new NotFoundError(`blob ${d} is not in the store ${this.root}`, { data: { digest: d } });
      throw osError(e, p);
    }
    const got = digestBytes(bytes);
    if (got !== d)
      throw new CorruptObjectError(`blob ${d} (${p}): content hashes to ${got}`, {
        data: { digest: d, path: p },
        hint: 'run eos store verify --repair, then ingest the source again',
      });
    return bytes;
  }

  /** Stores bytes as a blob (read-only file) and returns the digest. */
  async putBlob(bytes: Uint8Array): Promise<Digest> {
    const d = digestBytes(bytes);
    return this.withWriteLock(async () => {
      const p = this.blobPath(d);
      try {
        if (!(await writeAtomicAsync(this.dir('tmp'), p, bytes, 0o444))) touch(p);
      } catch (e) {
        throw osError(e, p);
      }
      this.notePresent('b' + d);
      return d;
    });
  }

  /**
   * Stores a tree after checking its children are stored; returns its digest.
   * @throws NotFoundError E4 when a child is absent
   */
  async putTree(tree: Tree): Promise<Digest> {
    const bytes = encodeTree(tree);
    const d = digestBytes(bytes);
    // In a run, a tree already stored (and touched) during it is not looked at again (§5.3).
    if (this.runPresent?.has('t' + d)) return d;
    return this.withWriteLock(async () => {
      const p = this.treePath(d);
      if (existsSync(p)) {
        touch(p);
        this.notePresent('t' + d);
        return d;
      }
      await checkChildrenPresent(tree, d, this.blobs, this.trees);
      try {
        // Off the event loop, as putBlob: a build's world trees are written while other actions run.
        if (!(await writeAtomicAsync(this.dir('tmp'), p, bytes, 0o444))) touch(p);
      } catch (e) {
        throw osError(e, p);
      }
      this.noteWrittenTree(d, bytes);
      return d;
    });
  }

  /**
   * Stores many objects with one durability step (specs/store.md §4.3): each new object is written
   * to a temp file, all of them are made durable together (one syncfs, as ingest's batches), then
   * renamed into place in order, blobs first, then `trees` in the order given (children before
   * parents), each tree only after checking its children are stored; then the shard directories
   * are synced. A SIGKILL at any moment leaves complete objects and temp litter only. In a run
   * (§5.4) a tree known stored is skipped, and the trees written are remembered and kept parsed.
   * @param encodedTrees `encodeTree` of each of `trees`, when the caller has them (not encoded again)
   * @returns the digests of `blobs` and of `trees`, in order
   * @throws NotFoundError E4 when a tree's child is neither stored nor among the objects before it;
   *   IoError E12
   */
  async putObjects(
    blobs: readonly Uint8Array[],
    trees: readonly Tree[],
    encodedTrees?: readonly Uint8Array[],
  ): Promise<{ blobs: Digest[]; trees: Digest[] }> {
    return this.withWriteLock(async () => {
      const staged: { tmp: string; dest: string; tree?: Tree; bytes: Uint8Array; d: Digest }[] = [];
      const seen = new Set<string>();
      const stage = (dest: string, bytes: Uint8Array, d: Digest, tree?: Tree) => {
        if (seen.has(dest)) return;
        seen.add(dest);
        if (existsSync(dest)) {
          touch(dest);
          this.notePresent((tree ? 't' : 'b') + d);
          return;
        }
        const tmp = join(this.dir('tmp'), `${process.pid}.m.${randomHex(6)}`);
        staged.push({ tmp, dest, d, bytes, ...(tree ? { tree } : {}) });
      };
      // The temp files are written together on the thread pool; one that was not made is not removed.
      const written = new Set<string>();
      // A batch small enough to be made durable by an fsync of each file (syncFs) fsyncs each
      // through the descriptor that wrote it: open, write, fsync, close, not a second open and
      // close for the fsync (each a round trip to the thread pool, specs/store.md §4.3).
      let fsyncedEach = false;
      const writeStaged = async () => {
        fsyncedEach = staged.length <= FSYNC_EACH_MAX;
        const errs = await Promise.all(
          staged.map((x) =>
            writeNewAsync(x.tmp, x.bytes, 0o444, fsyncedEach).then(
              () => void written.add(x.tmp),
              (e: unknown) => osError(e, x.tmp),
            ),
          ),
        );
        const err = errs.find((e) => e !== undefined);
        if (err) throw err;
      };
      const out = { blobs: [] as Digest[], trees: [] as Digest[] };
      try {
        for (const b of blobs) {
          const d = digestBytes(b);
          out.blobs.push(d);
          stage(this.blobPath(d), b, d);
        }
        for (const [i, t] of trees.entries()) {
          const bytes = encodedTrees?.[i] ?? encodeTree(t);
          const d = digestBytes(bytes);
          out.trees.push(d);
          if (this.runPresent?.has('t' + d)) continue;
          stage(this.treePath(d), bytes, d, t);
        }
        await writeStaged();
        if (staged.length && !fsyncedEach)
          await syncFs(
            this.dir('tmp'),
            staged.map((x) => x.tmp),
          );
        const dirs = new Set<string>();
        for (const [i, x] of staged.entries()) {
          if (x.tree) await checkChildrenPresent(x.tree, x.d, this.blobs, this.trees);
          try {
            renameInto(x.tmp, x.dest);
          } catch (e) {
            throw osError(e, x.dest);
          }
          staged[i] = { ...x, tmp: '' };
          dirs.add(join(x.dest, '..'));
          if (x.tree) this.noteWrittenTree(x.d, x.bytes);
          else this.notePresent('b' + x.d);
        }
        if (dirs.size) await syncShards(this.dir('objects'), dirs);
      } finally {
        for (const x of staged) if (x.tmp && written.has(x.tmp)) rmSync(x.tmp, { force: true });
      }
      return out;
    });
  }

  /** A tree's canonical bytes as stored, checked against the digest. @throws E4, E5 */
  async readTreeBytes(d: Digest): Promise<Uint8Array> {
    this.reads?.trees.add(d);
    const p = this.treePath(d);
    let bytes: Buffer;
    try {
      // Read on this thread: a tree file is small, and a threadpool read is four round trips.
      bytes = readFileSync(p);
    } catch (e) {
      if (errno(e) === 'ENOENT')
        throw new NotFoundError(`tree ${d} is not in the store ${this.root}`, { data: { digest: d } });
      throw osError(e, p);
    }
    const got = digestBytes(bytes);
    if (got !== d)
      throw new CorruptObjectError(`tree ${d} (${p}): content hashes to ${got}`, {
        data: { digest: d, path: p },
        hint: 'run eos store verify --repair, then ingest the source again',
      });
    return bytes;
  }

  /**
   * A stored tree, checked and parsed.
   * @throws NotFoundError E4; CorruptObjectError E5; EncodingError E3 / UnsafePathError E8 (hostile bytes)
   */
  async getTree(d: Digest): Promise<Tree> {
    // A tree file, once read and checked, is reused while the file is the same one: same inode,
    // size, modification and change times (specs/store.md §5.3). A removed, replaced, rewritten or
    // chmod'ed file is read and checked again, so E4/E5 are raised as without the cache.
    const p = this.treePath(d);
    const hit = this.treeCache.get(d);
    if (hit && this.runFiles) {
      this.reads?.trees.add(d);
      return hit.tree;
    }
    if (hit) {
      let st;
      try {
        st = statSync(p);
      } catch {
        st = undefined;
      }
      if (
        st &&
        st.ino === hit.ino &&
        st.size === hit.size &&
        st.mtimeMs === hit.mtimeMs &&
        st.ctimeMs === hit.ctimeMs
      ) {
        this.reads?.trees.add(d);
        this.treeCache.delete(d);
        this.treeCache.set(d, hit);
        return hit.tree;
      }
      this.treeCache.delete(d);
    }
    let before;
    try {
      before = statSync(p);
    } catch {
      before = undefined;
    }
    const tree = parseTree(await this.readTreeBytes(d), `tree ${d}`);
    this.notePresent('t' + d);
    if (before)
      this.cacheTree(d, {
        tree,
        ino: before.ino,
        size: before.size,
        mtimeMs: before.mtimeMs,
        ctimeMs: before.ctimeMs,
      });
    return tree;
  }

  /**
   * Remembers, in a run, that an object is stored (`b`/`t` + digest, specs/store.md §5.4): only
   * while this object holds the shared lock, so gc cannot remove it before the run ends.
   */
  private notePresent(key: string): void {
    if (this.heldLock) this.runPresent?.add(key);
  }

  /**
   * In a run holding the lock, remembers a tree this object just wrote: stored (§5.4), and kept as
   * getTree would parse its bytes, since the run reads it back (merges, images), trusted only
   * within the run (no file identity: ino -1 matches no stat). A tree parseTree refuses is not
   * kept, so reading it raises as without the cache.
   */
  private noteWrittenTree(d: Digest, bytes: Uint8Array): void {
    if (!this.runPresent || !this.heldLock) return;
    this.notePresent('t' + d);
    let parsed: Tree | undefined;
    try {
      parsed = parseTree(bytes, `tree ${d}`);
    } catch {
      parsed = undefined;
    }
    if (parsed) this.cacheTree(d, { tree: parsed, ino: -1, size: -1, mtimeMs: -1, ctimeMs: -1 });
  }

  /** Adds a parsed tree to the cache, dropping the least recently used past TREE_CACHE_MAX. */
  private cacheTree(d: Digest, c: CachedTree): void {
    this.treeCache.delete(d);
    this.treeCache.set(d, c);
    if (this.treeCache.size > TREE_CACHE_MAX) this.treeCache.delete(this.treeCache.keys().next().value!);
  }

  /**
   * Ingests a directory (→ tree digest) or a single regular file (→ blob digest). Files are read
   * once, streamed through BLAKE3 by a worker pool and written as they are hashed; identical
   * content is stored once; trees are written bottom-up after their children.
   * @throws UnsupportedFileError E6 for sockets, devices, FIFOs, non-UTF-8 names or symlink targets,
   *   or a symlink given as the path; IoError E12 for operating-system failures
   * @see specs/store.md §6
   */
  async ingest(path: string, opts: IngestOptions = {}): Promise<IngestResult> {
    const abs = resolve(path);
    let st;
    try {
      st = await lstat(abs);
    } catch (e) {
      if (errno(e) === 'ENOENT')
        throw new NotFoundError(`${abs}: no such file or directory`, { data: { path: abs } });
      throw osError(e, abs);
    }
    if (!st.isDirectory() && !st.isFile()) throw unstorableRoot(abs, st);
    return this.withWriteLock(async () => {
      // Litter of killed ingests (temp files of dead pids) is removed on the next start (§4.2).
      if (!this.tmpSwept) {
        this.tmpSwept = true;
        await cleanTmp(this);
      }
      const pool = opts.threads === undefined ? sharedFilePool() : new FilePool(opts.threads);
      const state: IngestState = {
        store: this,
        pool,
        sync: opts.fsync ?? true,
        files: 0,
        bytes: 0,
        written: 0,
        staged: [],
        stagedDests: new Set(),
        stagedBytes: 0,
        committing: Promise.resolve(),
        reused: 0,
        fresh: 0,
        inlineLeft: INLINE_FILES,
        inodes: new Map(),
        storeKey: inodeKey(await lstat(this.root)),
      };
      try {
        if (inodeKey(st) === state.storeKey)
          throw new UnsupportedFileError(`${abs}: is the store itself; it cannot be ingested into itself`, {
            data: { path: abs },
          });
        let digest: Digest;
        let bytes: number;
        if (st.isFile()) {
          const r = await ingestFile(state, abs, st.size);
          [digest, bytes] = [r.digest, r.size];
        } else {
          digest = (await ingestDir(state, abs)).digest;
          bytes = state.bytes;
        }
        await commitStaged(state);
        const result: IngestResult = {
          digest,
          kind: st.isFile() ? 'file' : 'directory',
          files: st.isFile() ? 1 : state.files,
          bytes,
          written: state.written,
        };
        return result;
      } catch (e) {
        // Leave no temp files behind for a failed ingest (objects already renamed are complete).
        state.failed = true;
        await pool.abort(state);
        await new Promise((r) => setTimeout(r, 0));
        for (const b of state.staged) rmSync(b.tmp, { force: true });
        throw e;
      } finally {
        if (opts.threads !== undefined) await pool.close(); // the shared pool stays for the next ingest
      }
    });
  }

  /**
   * Writes the tree `d` into `dir` (created if absent; an existing real directory is filled):
   * hard links from the object directory when on the same filesystem (executables from their
   * 0555 twins), copies otherwise or when `opts.copy`.
   * @throws UnsafePathError E8 for an unsafe name or an existing symlink on the way;
   *   NotFoundError E4 for a missing object; IoError E12 when a path exists already; CorruptObjectError
   *   E5 when an object's bytes do not match its digest (checked first, specs/store.md §12)
   * @see specs/store.md §7
   */
  async materialize(d: Digest, dir: string, opts: MaterializeOptions = {}): Promise<MaterializeReport> {
    // Verified reads (§12): every object is checked against its digest before it is linked or copied.
    // (A tree that cannot be walked is reported by materializeTree itself, in its own order.)
    const uses = await objectsOfTree(this, d).catch(() => undefined);
    if (uses) await checkObjects(this, uses);
    return materializeTree(this, d, resolve(dir), opts);
  }

  /** Makes sure the executable twin of blob `d` exists; returns its path. @throws E4 */
  ensureTwin(d: Digest): string {
    const twin = this.twinPath(d);
    if (existsSync(twin)) return twin;
    const src = this.blobPath(d);
    if (!existsSync(src))
      throw new NotFoundError(`blob ${d} is not in the store ${this.root}`, { data: { digest: d } });
    this.ensureLayout();
    const tmp = join(this.dir('tmp'), `${process.pid}.x.${randomHex(6)}`);
    try {
      copyFileSync(src, tmp, constants.COPYFILE_EXCL);
      chmodSync(tmp, 0o555);
      fsyncPath(tmp);
      if (existsSync(twin)) rmSync(tmp, { force: true });
      else renameInto(tmp, twin);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw osError(e, twin);
    }
    return twin;
  }

  /**
   * Re-hashes every blob, tree and twin; checks that trees parse and that their children are
   * present. With `repair`, deletes what is corrupt (and trees whose children are missing) so a
   * later ingest restores them, and removes temp litter.
   * @see specs/store.md §8
   */
  async verify(opts: VerifyOptions = {}): Promise<VerifyReport> {
    if (!opts.repair) return verifyStore(this, opts);
    return this.withExclusiveLock(() => verifyStore(this, opts));
  }

  /**
   * Marks everything reachable from the roots in `roots/` (plus `opts.roots`) and deletes every
   * other blob, tree and twin older than `opts.graceSeconds` (default 3600), and all temp files.
   * @throws IoError E12 when the store is busy; CorruptObjectError E5 / EncodingError E3 when a
   *   reachable tree is damaged (nothing is deleted then)
   * @see specs/store.md §9
   */
  async gc(opts: GcOptions = {}): Promise<GcReport> {
    return this.withExclusiveLock(() => gcStore(this, opts));
  }

  /** Counts and sizes of the store. @see specs/store.md §10 */
  async stats(): Promise<StoreStats> {
    return statsStore(this);
  }

  /**
   * Pins `digest` (a blob or tree that is stored) under `roots/<name>`, replacing an older pin.
   * @throws UnsafePathError E8 for a bad name; NotFoundError E4 when the object is not stored
   */
  async addRoot(name: string, digest: Digest): Promise<void> {
    checkRootName(name);
    parseDigest(digest, 'root digest');
    await this.withWriteLock(async () => {
      if (!(await this.hasTree(digest)) && !(await this.hasBlob(digest)))
        throw new NotFoundError(`root ${name}: ${digest} is not in the store ${this.root}`, {
          data: { digest },
        });
      const dest = join(this.dir('roots'), name);
      const tmp = join(this.dir('tmp'), `${process.pid}.r.${randomHex(6)}`);
      try {
        // On the thread pool, not the event loop: an action's two roots are pinned while other
        // actions run (specs/store.md §6.5).
        await writeDurableAsync(tmp, Buffer.from(`${digest}\n`), 0o644);
        renameSync(tmp, dest);
        touch(this.hasTreeSync(digest) ? this.treePath(digest) : this.blobPath(digest));
      } catch (e) {
        rmSync(tmp, { force: true });
        throw osError(e, dest);
      }
    });
  }

  private hasTreeSync(d: Digest): boolean {
    return existsSync(this.treePath(d));
  }

  /** Removes the root `name`. @throws NotFoundError E4 when there is none; UnsafePathError E8 */
  async removeRoot(name: string): Promise<void> {
    checkRootName(name);
    const p = join(this.dir('roots'), name);
    if (!existsSync(p))
      throw new NotFoundError(`root ${name} does not exist in ${this.root}`, { data: { name } });
    rmSync(p, { force: true });
  }

  /**
   * The roots, sorted by name.
   * @throws EncodingError E3 naming a root file that does not hold one digest
   */
  async listRoots(): Promise<RootEntry[]> {
    const dir = this.dir('roots');
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (e) {
      if (errno(e) === 'ENOENT') return [];
      throw osError(e, dir);
    }
    const out: RootEntry[] = [];
    for (const name of names.sort()) {
      if (!ROOT_NAME.test(name)) continue;
      const p = join(dir, name);
      const text = readFileSync(p, 'utf8');
      const m = /^(blake3:[0-9a-f]{64})\n?$/.exec(text);
      if (!m)
        throw new EncodingError(`${p}: a root file holds one digest and a newline`, { data: { path: p } });
      out.push({ name, digest: m[1] as Digest });
    }
    return out;
  }
}

/** @throws UnsafePathError E8 when `name` cannot be a root name */
function checkRootName(name: string): void {
  if (!ROOT_NAME.test(name))
    throw new UnsafePathError(
      `root name ${JSON.stringify(name)} is not allowed (letters, digits and ._+@=:,- ; no /, not starting with .)`,
      { data: { name } },
    );
}

/** Refreshes an object's mtime so gc's grace period protects a reused object. */
function touch(p: string): void {
  try {
    const now = new Date();
    utimesSync(p, now, now);
  } catch {
    // best effort: a reader-only store or a vanished object is not an error here
  }
}

function inodeKey(st: { dev: number; ino: number }): string {
  return `${st.dev}:${st.ino}`;
}

interface IngestState {
  store: Store;
  pool: FilePool;
  sync: boolean;
  files: number;
  bytes: number;
  written: number;
  /** New objects written to temp files, in creation order (blobs and trees, children first). */
  staged: { tmp: string; dest: string; bytes: number }[];
  /** Destinations already staged (identical content met twice in one batch). */
  stagedDests: Set<string>;
  stagedBytes: number;
  /** Serializes batch commits. */
  committing: Promise<void>;
  /**
   * Files whose object was stored already, and files that made a new one: while the first
   * outnumber the second (a re-ingest), large files are hashed before they are copied.
   */
  reused: number;
  fresh: number;
  /** Small files still to be hashed inline (on this thread) before the workers take over. */
  inlineLeft: number;
  /** A batch commit is queued and has not taken its batch yet. */
  commitPending?: boolean;
  /** `dev:ino` of the store directory, which must not be inside the ingested tree. */
  storeKey: string;
  /** Set when the ingest failed: stop walking, submitting and staging. */
  failed?: boolean;
  /** The first failure (what the ingest reports). */
  failure?: unknown;
  /** Files with several links, by `dev:ino`: each inode is read once per ingest. */
  inodes: Map<string, Promise<{ digest: Digest; size: number }>>;
}

/**
 * The first files of an ingest that are hashed inline when small (under 1 MiB): an output of a
 * few files is stored without waking a worker (a round trip to a thread, or its start, costs more
 * than hashing it). specs/store.md §6.6
 */
const INLINE_FILES = 8;
const INLINE_MAX_BYTES = 1 << 20;

/** What a walk step of a failed ingest throws: it stops, and only the first failure is reported. */
const STOPPED: Error = Object.assign(new Error('ingest stopped'), { code: 'EABORT' });

/**
 * Runs the walk steps `steps` of one directory concurrently. The first failure anywhere in the
 * ingest marks it failed (`s.failed`, `s.failure`): every step not yet started, and every step
 * that checks, stops; this resolves only when all of this directory's steps have settled (so a
 * failed ingest returns with nothing of it still running) and then rethrows that first failure.
 * Before, the siblings of a failing entry went on walking and ingesting their whole subtrees after
 * the error was reported (`eos store add` of a big tree with a FIFO printed [E6] and did not exit).
 * specs/store.md §6.9
 */
async function allOrStop<T>(s: IngestState, steps: (() => Promise<T>)[]): Promise<T[]> {
  const settled = await Promise.allSettled(
    steps.map(async (step) => {
      if (s.failed) throw STOPPED;
      try {
        return await step();
      } catch (e) {
        if (!s.failed) {
          s.failed = true;
          s.failure = e;
        }
        throw e;
      }
    }),
  );
  if (s.failed) throw s.failure ?? STOPPED;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** Ingests one regular file of `size` bytes (as lstat saw it). */
async function ingestFile(
  s: IngestState,
  path: string,
  size: number,
): Promise<{ digest: Digest; size: number }> {
  let r;
  if (s.failed) throw STOPPED;
  const inline = s.inlineLeft > 0 && size < INLINE_MAX_BYTES;
  if (inline) s.inlineLeft--;
  try {
    r = await s.pool.ingest(
      path,
      s.store.dir('tmp'),
      s.store.dir('objects'),
      s.sync,
      true,
      s.reused > s.fresh,
      {
        tag: s,
        inline,
      },
    );
  } catch (e) {
    const code = errno(e);
    if (code === 'E6')
      throw new UnsupportedFileError(`${path}: not a regular file any more`, { data: { path } });
    throw osError(e, path);
  }
  const obj = s.store.blobPath(r.digest);
  if (r.tmp) {
    s.fresh++;
    stage(s, r.tmp, obj, r.size);
  } else {
    s.reused++;
    touch(obj);
  }
  await maybeCommit(s);
  return r;
}

/** Batch limits: commit (sync + rename) when this much is staged. */
const BATCH_BYTES = 1 << 30;
const BATCH_OBJECTS = 50_000;

function stage(s: IngestState, tmp: string, dest: string, bytes: number): void {
  if (s.failed || s.stagedDests.has(dest)) {
    rmSync(tmp, { force: true });
    return;
  }
  s.stagedDests.add(dest);
  s.staged.push({ tmp, dest, bytes });
  s.stagedBytes += bytes;
}

async function maybeCommit(s: IngestState): Promise<void> {
  if (s.commitPending) return;
  if (s.stagedBytes >= BATCH_BYTES || s.staged.length >= BATCH_OBJECTS) {
    s.commitPending = true;
    await commitStaged(s);
  }
}

/**
 * Makes the staged temp files durable with one syncfs (`sync -f`; per-file fsync if that fails),
 * then renames them into place in creation order (so a tree never appears before its children),
 * then syncs the directory entries. specs/store.md §6.5
 */
function commitStaged(s: IngestState): Promise<void> {
  const run = async () => {
    s.commitPending = false;
    const batch = s.staged;
    s.staged = [];
    s.stagedDests = new Set();
    s.stagedBytes = 0;
    if (!batch.length) return;
    if (s.sync)
      await syncFs(
        s.store.dir('tmp'),
        batch.map((b) => b.tmp),
      );
    const dirs = new Set<string>();
    for (const b of batch) {
      try {
        if (existsSync(b.dest)) {
          rmSync(b.tmp, { force: true });
          touch(b.dest);
        } else {
          renameInto(b.tmp, b.dest);
          s.written++;
          dirs.add(join(b.dest, '..'));
        }
      } catch (e) {
        throw osError(e, b.dest);
      }
    }
    // The shard directories and their parents (a shard made by this batch is an entry there).
    if (s.sync) await syncShards(s.store.dir('objects'), dirs);
  };
  s.committing = s.committing.then(run);
  return s.committing;
}

/**
 * Shard directories (`trees/ab`, `objects/cd`) whose own entry in their parent this process has
 * made durable (specs/store.md §6.5). A shard directory is never removed (gc and repair delete
 * objects, not shards), so once its entry is synced, a later batch syncs the shard directory
 * (its new entries) but not its parent again; a shard this process has not synced yet gets its
 * parent synced too, even when another process made it.
 */
const shardParentsSynced = new Set<string>();

/**
 * Makes a batch of renames into `shards` durable (syncFs): each shard directory, and the parent of
 * each shard whose entry this process has not synced before, noted as synced once all succeeded.
 * @throws IoError from the fsyncs
 */
async function syncShards(anchor: string, shards: Iterable<string>): Promise<void> {
  const dirs = [...shards];
  const fresh = dirs.filter((d) => !shardParentsSynced.has(d));
  await syncFs(anchor, [...dirs, ...new Set(fresh.map((d) => join(d, '..')))]);
  for (const d of fresh) shardParentsSynced.add(d);
}

/**
 * Batches of at most this many paths are made durable by an fsync of each: cheaper than starting
 * `sync -f`, whose syncfs also flushes every other writer's dirty data on the filesystem (a build
 * output of a few files is stored in milliseconds, not tens of them). specs/store.md §6.5
 */
const FSYNC_EACH_MAX = 16;

/**
 * syncfs(2) of the filesystem holding `anchor` through `sync -f`; fsync of each path for a small
 * batch or when that fails. Neither blocks the event loop: the fsyncs run together on libuv's
 * thread pool and `sync -f` is waited for asynchronously, so the scheduler keeps starting and
 * finishing other actions while one action's outputs become durable (specs/store.md §6.5).
 */
async function syncFs(anchor: string, paths: string[]): Promise<void> {
  if (paths.length <= FSYNC_EACH_MAX) {
    await Promise.all(paths.map(fsyncPathAsync));
    return;
  }
  // node:child_process is loaded here, not with every `eos` start (specs/cli.md §1.4).
  const { spawn } = createRequire(import.meta.url)('node:child_process') as typeof ChildProcess;
  const status = await new Promise<number | null>((done) => {
    const c = spawn('sync', ['-f', anchor], { stdio: 'ignore' });
    c.on('error', () => done(null));
    c.on('exit', (code) => done(code));
  });
  if (status === 0) return;
  await Promise.all(paths.map(fsyncPathAsync));
}

async function ingestDir(s: IngestState, dir: string): Promise<{ digest: Digest; size: number }> {
  let dirents;
  try {
    dirents = await readdir(dir, { encoding: 'buffer' });
  } catch (e) {
    throw osError(e, dir);
  }
  const entries = await allOrStop(
    s,
    dirents.map((raw) => async (): Promise<TreeEntry> => {
      const name = entryName(dir, raw);
      const p = join(dir, name);
      let st;
      try {
        st = await lstat(p);
      } catch (e) {
        throw osError(e, p);
      }
      if (s.failed) throw STOPPED;
      if (st.isFile()) {
        let pending: Promise<{ digest: Digest; size: number }>;
        if (st.nlink > 1) {
          // A hard link: read the inode once; every link becomes its own file entry.
          const key = inodeKey(st);
          pending = s.inodes.get(key) ?? ingestFile(s, p, st.size);
          s.inodes.set(key, pending);
        } else pending = ingestFile(s, p, st.size);
        const r = await pending;
        s.bytes += r.size;
        s.files++;
        return { name, kind: 'file', digest: r.digest, size: r.size, executable: (st.mode & 0o100) !== 0 };
      }
      if (st.isDirectory()) {
        if (inodeKey(st) === s.storeKey)
          throw new UnsupportedFileError(`${p}: is the store itself; it cannot be ingested into itself`, {
            data: { path: p },
          });
        const r = await ingestDir(s, p);
        return { name, kind: 'directory', digest: r.digest, size: r.size };
      }
      if (st.isSymbolicLink()) {
        let raw: Buffer;
        try {
          raw = await readlink(p, { encoding: 'buffer' });
        } catch (e) {
          throw osError(e, p);
        }
        return { name, kind: 'symlink', target: linkTarget(p, raw) };
      }
      throw unstorableEntry(p, st);
    }),
  );
  const tree = makeTree(entries, dir);
  const bytes = encodeTree(tree);
  const d = digestBytes(bytes);
  const p = s.store.treePath(d);
  if (existsSync(p)) touch(p);
  else if (!s.stagedDests.has(p)) {
    const tmp = join(s.store.dir('tmp'), `${process.pid}.t.${randomHex(6)}`);
    try {
      await writeNewAsync(tmp, bytes, 0o444);
    } catch (e) {
      throw osError(e, tmp);
    }
    stage(s, tmp, p, bytes.length);
    await maybeCommit(s);
  }
  return { digest: d, size: subtreeSize(tree) };
}
