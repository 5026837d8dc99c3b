// `eos store export` under attack (issue 15 item 1, specs/store.md §7.2–7.3): a real concurrent
// process swaps every directory the export creates (in DEST or in its private temporary beside
// DEST) for a symlink to a directory outside, stopping eos in the kernel (seccomp user notification)
// so that each swap lands before eos uses the directory; no file may land outside, the export
// refuses with E8 and leaves no DEST. Against the export before 2846b3b (paths walked through
// parents) the same test leaks files on every run. Then the kill-anywhere test: SIGKILL at random moments of real exports leaves DEST
// absent or complete and a store that verifies; the next export removes the dead exports' litter.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/kernel/index.ts';
import { eosBin, snapshot, tempDir } from '../helpers/fs.ts';

/**
 * The racer (tests/fixtures/store/notify-racer.c): runs eos under a seccomp filter that stops each
 * of its path-taking system calls in the kernel and, before letting it continue, swaps every real
 * directory directly under DEST or `.NAME.eos-export-*` + `/tree` for a symlink to OUTSIDE. A call
 * that uses a directory eos made is issued after the mkdir returned, so the swap always comes
 * first: the attack is deterministic (no polling, no hook in the exporter).
 */
let racer = '';
interface Run {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

function eosAsync(store: string, args: string[], killAfterMs?: number): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [eosBin, '--store', store, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    const timer =
      killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Every file (not directory) under `dir`, recursively, without following symlinks. */
function countFiles(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true }))
    n += e.isDirectory() ? countFiles(join(dir, e.name)) : 1;
  return n;
}

/** Kill rounds of the kill-anywhere test. */
const ROUNDS = 10;

let store = '';
let src = '';
let digest = '';

beforeAll(async () => {
  store = join(tempDir(), 'store');
  src = tempDir();
  // 3,000 files in 30 directories (two levels), as the probe used.
  for (let d = 0; d < 30; d++) {
    const sub = join(src, `d${String(d).padStart(2, '0')}`, 'inner');
    mkdirSync(sub, { recursive: true });
    for (let f = 0; f < 100; f++) writeFileSync(join(sub, `f${f}`), `${d}-${f}\n`);
  }
  digest = (await new Store(store).ingest(src)).digest;
  racer = join(tempDir(), 'notify-racer');
  execFileSync('gcc', [
    '-O1',
    '-Wall',
    '-o',
    racer,
    join(import.meta.dirname, '../fixtures/store/notify-racer.c'),
  ]);
}, 120_000);

describe('eos store export', () => {
  it('writes nothing outside DEST while every directory it makes is swapped for a symlink (deterministic)', () => {
    const results: string[] = [];
    for (const copy of [false, true]) {
      const parent = tempDir();
      const outside = tempDir();
      const dest = join(parent, 'out');
      const r = spawnSync(
        racer,
        [
          parent,
          'out',
          outside,
          '--',
          process.execPath,
          eosBin,
          '--store',
          store,
          'store',
          'export',
          digest,
          dest,
        ].concat(copy ? ['--copy'] : []),
        { encoding: 'utf8', timeout: 120_000 },
      );
      const m = /notify-racer: swaps (\d+) stops (\d+)/.exec(r.stderr);
      expect(m, `the racer ran: ${r.stderr}`).not.toBeNull();
      const leaked = countFiles(outside);
      results.push(`copy=${copy} exit=${r.status} leaked=${leaked} swaps=${m![1]} stops=${m![2]}`);
      expect(leaked, `files written outside DEST (${results.join('; ')}): ${r.stderr}`).toBe(0);
      // The first directory the export makes is swapped before it is used, every time: the export
      // refuses it (E8), leaves no DEST and removes its temporary.
      expect(Number(m![1]), 'the racer swapped a directory').toBeGreaterThan(0);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(
        /\[E8\] .*: is not a directory any more \(a symlink\?\); refusing to write through it/,
      );
      expect(existsSync(dest), 'a failed export leaves no DEST').toBe(false);
      expect(readdirSync(parent).filter((n) => n.includes('.eos-export-'))).toEqual([]);
    }
    console.log(`export race: ${results.join('; ')}`);
  }, 180_000);

  it('kill anywhere: DEST is absent or complete, the store verifies, the next export removes the litter', async () => {
    const parent = tempDir();
    const dest = join(parent, 'out');
    const s0 = Date.now();
    spawnSync(process.execPath, [eosBin, '--version']);
    const startMs = Date.now() - s0;
    const t0 = Date.now();
    const whole = await eosAsync(store, ['store', 'export', digest, dest, '--copy']);
    const fullMs = Date.now() - t0;
    expect(whole.code, whole.stderr).toBe(0);
    rmSync(dest, { recursive: true });
    const want = snapshot(src);
    let absent = 0;
    let complete = 0;
    let killed = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const r = await eosAsync(
        store,
        ['store', 'export', digest, dest, ...(round % 2 ? ['--copy'] : [])],
        startMs * 0.8 + Math.random() * (fullMs * 1.1 - startMs * 0.8),
      );
      if (r.signal === 'SIGKILL') killed++;
      else expect(r.code, r.stderr).toBe(0);
      if (existsSync(dest)) {
        expect(snapshot(dest), `round ${round}: DEST is the whole tree`).toEqual(want);
        complete++;
        rmSync(dest, { recursive: true });
      } else absent++;
    }
    const v = spawnSync(process.execPath, [eosBin, '--store', store, 'store', 'verify'], {
      encoding: 'utf8',
    });
    expect(v.status, v.stdout + v.stderr).toBe(0);
    const litter = readdirSync(parent).filter((n) => n.includes('.eos-export-')).length;
    const last = await eosAsync(store, ['store', 'export', digest, dest]);
    expect(last.code, last.stderr).toBe(0);
    expect(snapshot(dest)).toEqual(want);
    expect(readdirSync(parent).filter((n) => n.includes('.eos-export-'))).toEqual([]);
    console.log(
      `export kill-anywhere: ${ROUNDS} rounds, ${killed} killed, DEST absent ${absent}, complete ${complete}, litter ${litter} removed by the next export`,
    );
    expect(killed).toBeGreaterThan(2);
  }, 300_000);
});
