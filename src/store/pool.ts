/**
 * A small pool of worker threads (one per core, at most `size`) that ingest or hash files with
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
}

type Job = { op: 'ingest'; src: string; tmpDir: string; objectsDir: string; sync: boolean } | { op: 'hash'; path: string };

interface Pending {
  job: Job;
  resolve: (r: WorkerResult) => void;
  reject: (e: Error & { code?: string }) => void;
}

const WORKER_URL = new URL('./ingest-worker.mjs', import.meta.url);

/** A pool of file workers; `close()` it when done. */
export class FilePool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: Pending[] = [];
  private readonly running = new Map<number, Pending>();
  private readonly owner = new Map<number, Worker>();
  private nextId = 0;

  /** @param size number of threads (default: the number of cores, at most 2 unless asked) */
  constructor(size = Math.min(2, availableParallelism())) {
    for (let i = 0; i < Math.max(1, size); i++) {
      const w = new Worker(WORKER_URL);
      w.on('message', (m: { id: number; error?: { code: string; message: string } } & WorkerResult) => {
        const p = this.running.get(m.id);
        this.running.delete(m.id);
        this.owner.delete(m.id);
        this.idle.push(w);
        this.pump();
        if (!p) return;
        if (m.error) p.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
        else p.resolve({ digest: m.digest, size: m.size, stored: m.stored });
      });
      w.on('error', (e) => {
        for (const [id, p] of this.running)
          if (this.owner.get(id) === w) {
            this.running.delete(id);
            p.reject(e);
          }
      });
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  private pump(): void {
    while (this.idle.length && this.queue.length) {
      const w = this.idle.pop()!;
      const p = this.queue.shift()!;
      const id = this.nextId++;
      this.running.set(id, p);
      this.owner.set(id, w);
      w.postMessage({ id, ...p.job });
    }
  }

  private submit(job: Job): Promise<WorkerResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.pump();
    });
  }

  /** Copies `src` into `objectsDir` through a temp file in `tmpDir`; returns its digest and size. */
  ingest(src: string, tmpDir: string, objectsDir: string, sync: boolean): Promise<WorkerResult> {
    return this.submit({ op: 'ingest', src, tmpDir, objectsDir, sync });
  }

  /** Hashes the file at `path`. */
  hash(path: string): Promise<WorkerResult> {
    return this.submit({ op: 'hash', path });
  }

  /** Stops the threads. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
