/**
 * A small pool of worker threads (cores + 1, at most 4) that ingest or hash files with
 * native BLAKE3, so reading, hashing and writing use every core while the main thread walks.
 *
 * @see specs/store.md §6 (ingest)
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Digest } from '../digest.ts';

/** What a worker returns for one file. */
export interface WorkerResult {
  digest: Digest;
  /** Bytes read (and stored). */
  size: number;
  /** True when this call created the object (false: it was already there). */
  stored?: boolean;
  /** With `stage`: the temp file holding the new object, not yet renamed. */
  tmp?: string;
}

type Job =
  | {
      op: 'ingest';
      src: string;
      tmpDir: string;
      objectsDir: string;
      sync: boolean;
      stage: boolean;
      probe: boolean;
    }
  | { op: 'hash'; path: string };

interface Pending {
  job: Job;
  /** Who submitted it (one ingest), so that ingest can abort its own jobs in a shared pool. */
  tag: object | undefined;
  resolve: (r: WorkerResult) => void;
  reject: (e: Error & { code?: string }) => void;
}

const WORKER_URL = new URL('./ingest-worker.mjs', import.meta.url);
/** Jobs in flight per worker. */
const DEPTH = 2;

/** A pool of file workers; `close()` it when done. */
export class FilePool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: Pending[] = [];
  private readonly running = new Map<number, Pending>();
  private readonly owner = new Map<number, Worker>();
  /** Jobs in flight per worker: a worker keeps the process alive only while it has one. */
  private readonly busy = new Map<Worker, number>();
  private nextId = 0;
  /** Index of the next job in `queue`. */
  private head = 0;

  /**
   * @param size number of threads (default: one more than the cores, at most 4: a thread blocked in
   *   open/copy_file_range leaves its core to another)
   */
  constructor(private readonly size = Math.min(4, availableParallelism() + 1)) {}

  /** Starts one more worker (threads start lazily, one per submitted job, up to `size`). */
  private grow(): void {
    // No inherited loaders (tsx): the worker is plain JavaScript and starts faster without them.
    const w = new Worker(WORKER_URL, { execArgv: [] });
    w.unref();
    this.busy.set(w, 0);
    w.on('message', (m: { id: number; error?: { code: string; message: string } } & WorkerResult) => {
      const p = this.running.get(m.id);
      this.running.delete(m.id);
      this.owner.delete(m.id);
      const n = (this.busy.get(w) ?? 1) - 1;
      this.busy.set(w, n);
      if (n === 0) w.unref();
      this.idle.push(w);
      this.pump();
      if (!p) return;
      if (m.error) p.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
      else p.resolve({ digest: m.digest, size: m.size, stored: m.stored, tmp: m.tmp });
    });
    const drop = (e: Error) => {
      // A dead worker leaves the pool (a later job starts a fresh one); its jobs fail.
      const i = this.workers.indexOf(w);
      if (i < 0) return;
      this.workers.splice(i, 1);
      for (let k = this.idle.length - 1; k >= 0; k--) if (this.idle[k] === w) this.idle.splice(k, 1);
      this.busy.delete(w);
      for (const [id, p] of this.running)
        if (this.owner.get(id) === w) {
          this.running.delete(id);
          this.owner.delete(id);
          p.reject(e);
        }
      if (this.head < this.queue.length && this.workers.length < Math.max(1, this.size)) this.grow();
      this.pump();
    };
    w.on('error', drop);
    w.on('exit', (code) =>
      drop(Object.assign(new Error(`store worker exited (${code})`), { code: 'EWORKER' })),
    );
    this.workers.push(w);
    // Each worker gets DEPTH slots: a next job is always waiting in its queue, so it never idles
    // for a round trip to the main thread.
    for (let k = 0; k < DEPTH; k++) this.idle.push(w);
  }

  private pump(): void {
    while (this.idle.length && this.head < this.queue.length) {
      const w = this.idle.shift()!;
      const p = this.queue[this.head]!;
      this.queue[this.head++] = undefined as never;
      if (this.head === this.queue.length) {
        this.queue.length = 0;
        this.head = 0;
      }
      const id = this.nextId++;
      this.running.set(id, p);
      this.owner.set(id, w);
      const n = (this.busy.get(w) ?? 0) + 1;
      this.busy.set(w, n);
      if (n === 1) w.ref();
      w.postMessage({ id, ...p.job });
    }
  }

  private submit(job: Job, tag?: object): Promise<WorkerResult> {
    if (this.workers.length < Math.max(1, this.size)) this.grow();
    return new Promise((resolve, reject) => {
      this.queue.push({ job, tag, resolve, reject });
      this.pump();
    });
  }

  /**
   * Copies `src` into `objectsDir` through a temp file in `tmpDir`; returns its digest and size.
   * With `stage`, leaves the new temp file unsynced and unrenamed and returns it as `tmp`; with
   * `probe`, hashes a large source first and skips the copy when its object is stored already.
   */
  ingest(
    src: string,
    tmpDir: string,
    objectsDir: string,
    sync: boolean,
    stage = false,
    probe = false,
    tag?: object,
  ): Promise<WorkerResult> {
    return this.submit({ op: 'ingest', src, tmpDir, objectsDir, sync, stage, probe }, tag);
  }

  /** Hashes the file at `path`. */
  hash(path: string): Promise<WorkerResult> {
    return this.submit({ op: 'hash', path });
  }

  /**
   * Rejects the queued jobs submitted with `tag` (every queued job when no tag is given) and
   * resolves when the running ones with that tag have finished; other submitters' jobs go on.
   */
  async abort(tag?: object): Promise<void> {
    const mine = (p: Pending | undefined) => p !== undefined && (tag === undefined || p.tag === tag);
    const queued = this.queue.splice(this.head);
    this.queue.length = 0;
    this.head = 0;
    for (const p of queued) {
      if (mine(p)) p.reject(Object.assign(new Error('aborted'), { code: 'EABORT' }));
      else this.queue.push(p);
    }
    while ([...this.running.values()].some(mine)) await new Promise((r) => setTimeout(r, 5));
  }

  /** Stops the threads. */
  async close(): Promise<void> {
    const all = this.workers.splice(0);
    this.idle.length = 0;
    await Promise.all(all.map((w) => w.terminate()));
  }
}

let shared: FilePool | undefined;

/**
 * The process's shared pool of default size. Its threads start on first use and stay for later
 * ingests (starting a thread and loading BLAKE3 costs tens of ms, more than a small ingest), but
 * they keep the process alive only while they have work, so nobody needs to close it.
 */
export function sharedFilePool(): FilePool {
  shared ??= new FilePool();
  return shared;
}
