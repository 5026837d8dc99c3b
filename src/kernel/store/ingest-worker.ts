// A store worker thread: runs the file operations of file-ops.ts for the pool (pool.ts), one at a
// time. Compiled to dist/ with the rest; from the sources it runs under tsx.
// Protocol: once loaded (BLAKE3 included) it sets its shared ready flag and sends {ready: true};
//           {id, op: 'ingest', src, tmpDir, objectsDir, sync, stage, probe} → {id, digest, size, stored, tmp?}
//           {id, op: 'hash', path} → {id, digest, size}; failures → {id, error: {code, message}};
//           {op: 'close'} → the thread leaves (its port closes, its event loop ends).
// See specs/store.md §6 (ingest), §6.8 (start-up is never interrupted).
import { parentPort, workerData } from 'node:worker_threads';
import { hashOne, ingestOne } from './file-ops.ts';
import type { WorkerReply, WorkerRequest } from './pool.ts';

parentPort!.on('message', (m: WorkerRequest) => {
  if (!('id' in m)) {
    parentPort!.close();
    return;
  }
  let reply: WorkerReply;
  try {
    reply = { id: m.id, ...(m.op === 'hash' ? hashOne(m) : ingestOne(m)) };
  } catch (e) {
    const err = e as Error & { code?: string };
    reply = { id: m.id, error: { code: err.code ?? 'EIO', message: err.message } };
  }
  parentPort!.postMessage(reply);
});

// Loaded: from now on stopping this thread is safe (pool.ts waits for this before any exit).
const flag = (workerData as { ready?: Int32Array } | null)?.ready;
if (flag) {
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}
parentPort!.postMessage({ ready: true } satisfies WorkerReply);
