/**
 * The store's file workers: a small pool of worker threads (cores + 1, at most 4) that ingest or
 * hash files with native BLAKE3, so reading, hashing and writing use every core while the main
 * thread walks. One pool serves the whole process (`sharedFilePool`): its threads start on first
 * use and stay for later ingests (starting a thread and loading BLAKE3 costs tens of ms, more than
 * a small ingest), but a thread holds the process open only while it has a job, so nobody needs to
 * close the shared pool and an idle one never delays exit. Jobs can also run inline on the calling
 * thread (`inline`): a small ingest (a few files) hashes them without any worker.
 *
 * Cancellation: `abort(tag)` rejects the queued jobs of one ingest and waits for its running ones
 * (a job is one synchronous file operation, it cannot be interrupted); other ingests' jobs go on.
 * A worker that dies is replaced by the next job; its jobs fail.
 *
 * Start-up is never interrupted: a worker stopped while the native BLAKE3 addon initialises in it
 * aborts the whole process (`FATAL ERROR: Error::ThrowAsJavaScriptException napi_throw` from the
 * addon's `Napi::Symbol::WellKnown`, which calls into a JavaScript environment that is being torn
 * down). So a worker is never `terminate()`d: `close()` waits until each one has reported ready
 * and then asks it to leave by message; a starting worker holds the process open (it is ref'd
 * until ready); and a `process.exit()` while one starts waits for it in an 'exit' listener (a
 * shared flag the worker sets once loaded, at most `READY_WAIT_MS`). specs/store.md §6.8
 *
 * @see specs/store.md §6 (ingest), §6.6 (the shared pool)
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Digest } from '../digest.ts';
import { hashOne, ingestOne } from './file-ops.ts';

/** What a file operation returns for one file. */
export interface WorkerResult {
  digest: Digest;
  /** Bytes read (and stored). */
  size: number;
  /** True when this call created the object (false: it was already there). */
  stored?: boolean;
  /** With `stage`: the temp file holding the new object, not yet renamed. */
  tmp?: string;
}

/** Copy `src` into the store (file-ops.ts `ingestOne`). */
export interface IngestJob {
  op: 'ingest';
  src: string;
  tmpDir: string;
  objectsDir: string;
  sync: boolean;
  stage: boolean;
  probe: boolean;
}

/** Hash the file at `path` (file-ops.ts `hashOne`). */
export interface HashJob {
  op: 'hash';
  path: string;
}

/** A worker's answer to job `id`, or its one `ready` message once BLAKE3 and its module are loaded. */
export type WorkerReply =
  | ({ id: number } & WorkerResult)
  | { id: number; error: { code: string; message: string } }
  | { ready: true };

/** What the pool sends a worker: a job, or `close` (leave once the jobs before it are answered). */
export type WorkerRequest = ((IngestJob | HashJob) & { id: number }) | { op: 'close' };

/**
 * How long a `process.exit()` waits for a starting worker to finish loading (ms). Loading takes
 * tens of milliseconds; the bound only keeps a worker that never starts from holding exit.
 */
export const READY_WAIT_MS = 10_000;

/** Workers still starting, by their ready flag (`Int32Array` over shared memory: 0 starting, 1 ready). */
const starting = new Set<Int32Array>();
let exitHook = false;

/**
 * Blocks the exiting thread until every starting worker has loaded (Node stops workers right after
 * the 'exit' listeners; one stopped mid-load would abort the process with exit 134).
 */
function waitForStartingWorkers(): void {
  const until = Date.now() + READY_WAIT_MS;
  for (const flag of starting) {
    const left = until - Date.now();
    if (left > 0) Atomics.wait(flag, 0, 0, left);
  }
}

/** How a job is submitted. */
export interface JobOptions {
  /** Who submitted it (one ingest), so that it can `abort` its own jobs in a shared pool. */
  tag?: object;
  /** Run it on the calling thread now, without a worker (for a few small files). */
  inline?: boolean;
}

interface Pending {
  job: IngestJob | HashJob;
  tag: object | undefined;
  resolve: (r: WorkerResult) => void;
  reject: (e: Error & { code?: string }) => void;
}

/**
 * The worker module beside this one: compiled JavaScript in dist/, or, when this module runs from
 * the TypeScript sources (tests, tsx), the source started through tsx's ESM API (a `--import tsx`
 * in a worker's execArgv does not reach its entry module on Node 20).
 */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(FROM_SOURCE ? './ingest-worker.ts' : './ingest-worker.js', import.meta.url);

/** How to start a worker: the compiled module itself, or a bootstrap that registers tsx first. */
function workerEntry(): [URL | string, { eval?: boolean }] {
  if (!FROM_SOURCE) return [WORKER_URL, {}];
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as {
    exports: Record<string, { import: { default: string } }>;
  };
  const api = pathToFileURL(join(dirname(pkgPath), pkg.exports['./esm/api']!.import.default)).href;
  const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
  return [boot, { eval: true }];
}
let entry: [URL | string, { eval?: boolean }] | undefined;

/** Jobs in flight per worker: a next job is always waiting in its queue, so it never idles. */
const DEPTH = 2;

/** A pool of file workers. A pool of one's own is `close()`d when done; the shared one never is. */
export class FilePool {
  private readonly workers: Worker[] = [];
  /** One entry per free slot of a worker (DEPTH per worker). */
  private readonly idle: Worker[] = [];
  private readonly queue: Pending[] = [];
  /** Index of the next job in `queue`. */
  private head = 0;
  private readonly running = new Map<number, { p: Pending; w: Worker }>();
  /** Jobs in flight per worker: a worker holds the process open only while it has one. */
  private readonly busy = new Map<Worker, number>();
  private nextId = 0;
  private closed = false;
  /** Resolves when the worker has loaded (or died); its settle function until then. */
  private readonly ready = new Map<Worker, Promise<void>>();
  private readonly settleReady = new Map<Worker, () => void>();

  /**
   * @param size number of threads (default: one more than the cores, at most 4: a thread blocked in
   *   open/copy_file_range leaves its core to another)
   */
  constructor(private readonly size = Math.min(4, availableParallelism() + 1)) {}

  /** Starts one more worker (threads start lazily, one per submitted job, up to `size`). */
  private grow(): void {
    entry ??= workerEntry();
    if (!exitHook) {
      exitHook = true;
      process.on('exit', waitForStartingWorkers);
    }
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const w = new Worker(entry[0], { ...entry[1], execArgv: [], workerData: { ready: flag } });
    starting.add(flag);
    let settle!: () => void;
    this.ready.set(
      w,
      new Promise<void>((r) => (settle = r)).finally(() => starting.delete(flag)),
    );
    this.settleReady.set(w, settle);
    this.busy.set(w, 0);
    w.on('message', (m: WorkerReply) => {
      if ('ready' in m) {
        this.settleReady.get(w)?.();
        this.settleReady.delete(w);
        if (!this.busy.get(w)) w.unref();
        return;
      }
      const r = this.running.get(m.id);
      this.running.delete(m.id);
      this.release(w);
      if (this.workers.includes(w)) this.idle.push(w);
      this.pump();
      if (!r) return;
      if ('error' in m) r.p.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
      else r.p.resolve({ digest: m.digest, size: m.size, stored: m.stored, tmp: m.tmp });
    });
    const drop = (e: Error): void => {
      // A dead worker leaves the pool (the next job starts a fresh one); its jobs fail.
      this.settleReady.get(w)?.();
      this.settleReady.delete(w);
      const i = this.workers.indexOf(w);
      if (i < 0) return;
      this.workers.splice(i, 1);
      for (let k = this.idle.length - 1; k >= 0; k--) if (this.idle[k] === w) this.idle.splice(k, 1);
      this.busy.delete(w);
      for (const [id, r] of this.running)
        if (r.w === w) {
          this.running.delete(id);
          r.p.reject(e);
        }
      if (!this.closed && this.head < this.queue.length && this.workers.length < Math.max(1, this.size))
        this.grow();
      this.pump();
    };
    w.on('error', drop);
    w.on('exit', (code) =>
      drop(Object.assign(new Error(`store worker exited (${code})`), { code: 'EWORKER' })),
    );
    // A starting worker stays ref'd until its `ready` message (then it is unref'd unless it has a
    // job): the process never ends while BLAKE3 loads in it. Unref'ing only after the listeners
    // matters: adding a 'message' listener refs a worker again, and a worker started for a burst
    // but never given a job held the process open for ever (`eos build` never exited after
    // SIGTERM: the cause of the revert 346b5c9 of the first shared pool, 6fa3251).
    this.workers.push(w);
    for (let k = 0; k < DEPTH; k++) this.idle.push(w);
  }

  /** One job of `w` is done: an idle worker lets the process exit. */
  private release(w: Worker): void {
    const n = (this.busy.get(w) ?? 1) - 1;
    if (!this.busy.has(w)) return;
    this.busy.set(w, n);
    if (n === 0 && !this.settleReady.has(w)) w.unref();
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
      this.running.set(id, { p, w });
      const n = (this.busy.get(w) ?? 0) + 1;
      this.busy.set(w, n);
      if (n === 1) w.ref();
      w.postMessage({ id, ...p.job } satisfies WorkerRequest);
    }
  }

  private submit(job: IngestJob | HashJob, o: JobOptions): Promise<WorkerResult> {
    if (o.inline) {
      try {
        return Promise.resolve(job.op === 'hash' ? hashOne(job) : ingestOne(job));
      } catch (e) {
        return Promise.reject(e as Error);
      }
    }
    if (this.closed) return Promise.reject(Object.assign(new Error('file pool closed'), { code: 'EABORT' }));
    if (this.workers.length < Math.max(1, this.size)) this.grow();
    return new Promise((resolve, reject) => {
      this.queue.push({ job, tag: o.tag, resolve, reject });
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
    o: JobOptions = {},
  ): Promise<WorkerResult> {
    return this.submit({ op: 'ingest', src, tmpDir, objectsDir, sync, stage, probe }, o);
  }

  /** Hashes the file at `path`. */
  hash(path: string, o: JobOptions = {}): Promise<WorkerResult> {
    return this.submit({ op: 'hash', path }, o);
  }

  /**
   * Rejects the queued jobs submitted with `tag` (every queued job when no tag is given, with code
   * `EABORT`) and resolves when the running ones with that tag have finished; other submitters'
   * jobs go on.
   */
  async abort(tag?: object): Promise<void> {
    const mine = (p: Pending): boolean => tag === undefined || p.tag === tag;
    const queued = this.queue.splice(this.head);
    this.queue.length = 0;
    this.head = 0;
    for (const p of queued) {
      if (mine(p)) p.reject(Object.assign(new Error('aborted'), { code: 'EABORT' }));
      else this.queue.push(p);
    }
    while ([...this.running.values()].some((r) => mine(r.p))) await new Promise((r) => setTimeout(r, 2));
  }

  /**
   * Rejects queued jobs, waits for running ones, and stops the threads (not for the shared pool):
   * each once it has reported ready, by a `close` message, never by `terminate()` (see the module
   * comment). Resolves when every thread has exited.
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.abort();
    const all = this.workers.splice(0);
    this.idle.length = 0;
    await Promise.all(
      all.map(async (w) => {
        const exited = new Promise<void>((r) => w.once('exit', () => r()));
        await this.ready.get(w);
        this.ready.delete(w);
        w.ref();
        w.postMessage({ op: 'close' } satisfies WorkerRequest);
        await exited;
      }),
    );
  }

  /** Threads alive now (for tests). */
  get threads(): number {
    return this.workers.length;
  }
}

let shared: FilePool | undefined;

/** The process's shared pool of default size (see the module comment). */
export function sharedFilePool(): FilePool {
  shared ??= new FilePool();
  return shared;
}
