/**
 * The ingest pool under churn (src/kernel/store/pool.ts, specs/store.md §6.6) and the walk's error
 * path (fs-store.ts, §6). A worker stopped while the native BLAKE3 addon initialises in it aborts
 * the whole process (`FATAL ERROR: Error::ThrowAsJavaScriptException napi_throw`, exit 134: test
 * files died with "Worker exited unexpectedly"); the pool used to `terminate()` threads that had no
 * job yet and were still loading. Before the fix, the `pools` and `aborts` churns below each died
 * with that error in every run tried (1 of 1 at 300 rounds each, 2026-12-02), and a process that
 * exits while workers load died 2 times in 60 (the standalone reproduction in the commit message).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Store, UnsupportedFileError } from '../../src/kernel/index.ts';
import { repoRoot, tempDir } from '../helpers/fs.ts';

const churn = join(repoRoot, 'tests', 'store', 'fixtures', 'pool-churn.mjs');

function run(mode: string, rounds = 1): { status: number | null; signal: string | null; out: string } {
  const r = spawnSync(process.execPath, [churn, mode, tempDir(), String(rounds)], {
    encoding: 'utf8',
    timeout: 600_000,
  });
  return { status: r.status, signal: r.signal, out: `${r.stdout}${r.stderr}` };
}

describe('the ingest pool never stops a worker that is loading BLAKE3', () => {
  it('30 private pools of 4 threads, 4 tiny jobs each, closed at once: the process survives', () => {
    const r = run('pools', 30);
    expect(r.out).not.toContain('FATAL ERROR');
    expect({ status: r.status, signal: r.signal, out: r.out.trim() }).toEqual({
      status: 0,
      signal: null,
      out: 'done',
    });
  }, 600_000);

  it('30 ingests with their own threads that fail at once (a FIFO) and abort: the process survives', () => {
    const r = run('aborts', 30);
    expect(r.out).not.toContain('FATAL ERROR');
    expect({ status: r.status, signal: r.signal, out: r.out.trim() }).toEqual({
      status: 0,
      signal: null,
      out: 'done',
    });
  }, 600_000);

  it('10 processes that exit (process.exit) right after an ingest, while its idle threads start', () => {
    for (let i = 0; i < 10; i++) {
      const r = run('exit');
      expect(r.out).not.toContain('FATAL ERROR');
      expect({ round: i, status: r.status, signal: r.signal, out: r.out.trim() }).toEqual({
        round: i,
        status: 0,
        signal: null,
        out: 'done',
      });
    }
  }, 600_000);
});

describe('a failed ingest stops its walk', () => {
  /** A tree: `trap` (made by `make`) at the top, next to 6 directories of 300 small files each. */
  function treeWith(make: (dir: string) => void): string {
    const d = tempDir();
    for (let k = 0; k < 6; k++) {
      mkdirSync(join(d, `d${k}`, 'sub'), { recursive: true });
      for (let i = 0; i < 150; i++) {
        writeFileSync(join(d, `d${k}`, `f${i}`), `${k} ${i}\n`);
        writeFileSync(join(d, `d${k}`, 'sub', `g${i}`), `${k} ${i} sub\n`);
      }
    }
    make(d);
    return d;
  }

  /** Operations still pending in this process (the walk's lstat/readdir/open calls). */
  const pendingFs = (): number =>
    process.getActiveResourcesInfo().filter((x) => x.startsWith('FSReq')).length;

  it('a real FIFO next to sibling directories: E6, and nothing of the walk is still running', async () => {
    const src = treeWith((d) => {
      expect(spawnSync('mkfifo', [join(d, 'fifo')]).status).toBe(0);
    });
    const store = new Store(join(tempDir(), 'store'));
    const err = await store.ingest(src, { fsync: false }).catch((e: unknown) => e);
    const pending = pendingFs();
    expect(err).toBeInstanceOf(UnsupportedFileError);
    expect((err as Error).message).toBe(`[E6] ${join(src, 'fifo')}: a FIFO cannot be stored`);
    // Before the fix the siblings went on walking (and copying) their subtrees after the error.
    expect(pending).toBe(0);
  });

  it('the store inside the tree, next to sibling directories: E6, and the walk has stopped', async () => {
    const src = treeWith(() => {});
    const store = new Store(join(src, 'store'));
    const err = await store.ingest(src, { fsync: false }).catch((e: unknown) => e);
    const pending = pendingFs();
    expect(err).toBeInstanceOf(UnsupportedFileError);
    expect((err as Error).message).toContain('is the store itself');
    expect(pending).toBe(0);
  });

  it('eos store add of a tree with a FIFO prints E6 and exits 1', () => {
    const src = treeWith((d) => {
      expect(spawnSync('mkfifo', [join(d, 'd3', 'fifo')]).status).toBe(0);
    });
    const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'eos.mjs'), 'store', 'add', src], {
      env: { ...process.env, EOS_STORE: join(tempDir(), 'store') },
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect({ status: r.status, signal: r.signal }).toEqual({ status: 1, signal: null });
    expect(r.stderr).toContain(`[E6] ${join(src, 'd3', 'fifo')}: a FIFO cannot be stored`);
  });
});
