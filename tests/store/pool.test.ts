/**
 * The shared ingest pool (src/kernel/store/pool.ts, specs/store.md §6.6): a small ingest runs
 * inline without starting a thread; later ingests reuse the same threads; an idle pool never holds
 * a process open (the hang that reverted the first shared pool: a worker started but never given
 * a job stayed ref'd); `abort(tag)` fails only that submitter's queued jobs.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Store } from '../../src/kernel/index.ts';
import { FilePool, sharedFilePool } from '../../src/kernel/store/pool.ts';
import { eosBin, tempDir } from '../helpers/fs.ts';

/** A directory of `n` small distinct files. */
function smallFiles(n: number, tag: string): string {
  const d = tempDir();
  for (let i = 0; i < n; i++) writeFileSync(join(d, `f${i}`), `${tag} ${i}\n`);
  return d;
}

describe('the shared ingest pool', () => {
  it('hashes a small ingest inline (no thread), then reuses the same threads for larger ones', async () => {
    const store = new Store(join(tempDir(), 's'));
    const r = await store.ingest(smallFiles(3, 'inline'), { fsync: false });
    expect(r.files).toBe(3);
    expect(sharedFilePool().threads).toBe(0); // this test file's process started no worker
    await store.ingest(smallFiles(60, 'first'), { fsync: false });
    const threads = sharedFilePool().threads;
    expect(threads).toBeGreaterThan(0);
    await store.ingest(smallFiles(60, 'second'), { fsync: false });
    expect(sharedFilePool().threads).toBe(threads);
    // The content is what a fresh store computes.
    const again = await new Store(join(tempDir(), 's2')).ingest(smallFiles(60, 'second'), { fsync: false });
    expect((await store.ingest(smallFiles(60, 'second'), { fsync: false })).digest).toBe(again.digest);
  });

  it('an idle pool holds no process open: eos store verify of a 4-blob store exits by itself', () => {
    // Verify hashes every blob in the pool: 4 jobs start 3 threads on 2 cores, one of which gets
    // no job. Before the fix that thread kept the process alive for ever.
    const dir = join(tempDir(), 'store');
    const src = tempDir();
    mkdirSync(join(src, 'd'));
    for (let i = 0; i < 4; i++) writeFileSync(join(src, 'd', `f${i}`), `blob ${i}\n`);
    const env = { ...process.env, EOS_STORE: dir };
    expect(spawnSync(process.execPath, [eosBin, 'store', 'add', src], { env, encoding: 'utf8' }).status).toBe(
      0,
    );
    const t0 = Date.now();
    const v = spawnSync(process.execPath, [eosBin, 'store', 'verify'], {
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect({ status: v.status, signal: v.signal }, v.stderr).toEqual({ status: 0, signal: null });
    expect(v.stdout).toContain('checked 4 blobs');
    expect(Date.now() - t0).toBeLessThan(60_000);
  });

  it('abort(tag) rejects only that submitter’s queued jobs; the others complete', async () => {
    const pool = new FilePool(1);
    try {
      const files = smallFiles(20, 'abort');
      const a = {};
      const b = {};
      const jobsA = Array.from({ length: 10 }, (_, i) => pool.hash(join(files, `f${i}`), { tag: a }));
      const jobsB = Array.from({ length: 10 }, (_, i) => pool.hash(join(files, `f${i + 10}`), { tag: b }));
      const settledA = Promise.allSettled(jobsA);
      await pool.abort(a);
      const ra = await settledA;
      const rejected = ra.filter((x) => x.status === 'rejected');
      expect(rejected.length).toBeGreaterThan(0); // at most DEPTH of them were already running
      for (const x of rejected) expect((x.reason as { code?: string }).code).toBe('EABORT');
      const rb = await Promise.all(jobsB);
      expect(rb.map((x) => x.size)).toEqual(Array.from({ length: 10 }, (_, i) => `abort ${i + 10}\n`.length));
    } finally {
      await pool.close();
    }
  });
});
