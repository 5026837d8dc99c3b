// A store worker thread: runs the file operations of file-ops.ts for the pool (pool.ts), one at a
// time. Compiled to dist/ with the rest; from the sources it runs under tsx.
// Protocol: {id, op: 'ingest', src, tmpDir, objectsDir, sync, stage, probe} → {id, digest, size, stored, tmp?}
//           {id, op: 'hash', path} → {id, digest, size}; failures → {id, error: {code, message}}.
// See specs/store.md §6 (ingest).
import { parentPort } from 'node:worker_threads';
import { hashOne, ingestOne } from './file-ops.ts';
import type { HashJob, IngestJob, WorkerReply } from './pool.ts';

parentPort!.on('message', (m: (IngestJob | HashJob) & { id: number }) => {
  let reply: WorkerReply;
  try {
    reply = { id: m.id, ...(m.op === 'hash' ? hashOne(m) : ingestOne(m)) };
  } catch (e) {
    const err = e as Error & { code?: string };
    reply = { id: m.id, error: { code: err.code ?? 'EIO', message: err.message } };
  }
  parentPort!.postMessage(reply);
});
