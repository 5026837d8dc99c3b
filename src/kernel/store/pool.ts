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
    w.on('message', (m: { id: number; error?: { code: string; message: string } } & WorkerResult) => {
      const p = this.running.get(m.id);
      this.running.delete(m.id);
      this.owner.delete(m.id);
      this.idle.push(w);
      this.pump();
      if (!p) return;
      if (m.error) p.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
      else p.resolve({ digest: m.digest, size: m.size, stored: m.stored, tmp: m.tmp });
    });
    w.on('error', (e) => {
      for (const [id, p] of this.running)
        if (this.owner.get(id) === w) {
          this.running.delete(id);
          p.reject(e);
        }
    });
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
      w.postMessage({ id, ...p.job });
    }
  }

  private submit(job: Job): Promise<WorkerResult> {
    if (this.workers.length < Math.max(1, this.size)) this.grow();
    return new Promise((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
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
  ): Promise<WorkerResult> {
    return this.submit({ op: 'ingest', src, tmpDir, objectsDir, sync, stage, probe });
  }

  /** Hashes the file at `path`. */
  hash(path: string): Promise<WorkerResult> {
    return this.submit({ op: 'hash', path });
  }

  /** Rejects every queued job and resolves when the running ones have finished. */
  async abort(): Promise<void> {
    const queued = this.queue.splice(this.head);
    this.queue.length = 0;
    this.head = 0;
    for (const p of queued) p.reject(Object.assign(new Error('aborted'), { code: 'EABORT' }));
    while (this.running.size) await new Promise((r) => setTimeout(r, 5));
  }

  /** Stops the threads. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
