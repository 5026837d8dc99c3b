// `eos store export` under attack (issue 15 item 1, specs/store.md §7.2–7.3): a real concurrent
// process swaps every directory the export creates (in DEST or in its private temporary beside
// DEST) for a symlink to a directory outside, stopping eos in the kernel (seccomp user notification)
// so that each swap lands before eos uses the directory; no file may land outside, the export
// refuses with E8 and leaves no DEST. Against the export before 2846b3b (paths walked through
// parents) the same test leaks files on every run. Then the kill-anywhere test
// (tests/helpers/kill-anywhere.ts): SIGKILL at moments spread over a measured unkilled export, and
// at targeted moments until at least 3 kills landed while the export's temporary existed, leaves
// DEST absent or complete and a store that verifies; the next export removes the dead exports' litter.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/kernel/index.ts';
import { eosBin, snapshot, tempDir } from '../helpers/fs.ts';
import { calibrate, killAnywhere, killSeed, type KillTarget } from '../helpers/kill-anywhere.ts';

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
    const exportTarget = (i: number): KillTarget => {
      rmSync(dest, { recursive: true, force: true });
      return {
        args: [eosBin, '--store', store, 'store', 'export', digest, dest, ...(i % 2 ? ['--copy'] : [])],
        watch: [parent],
        // The export's private temporary beside DEST, not yet renamed to DEST.
        probe: () => readdirSync(parent).filter((n) => n.includes('.eos-export-')),
      };
    };
    const unkilled = await calibrate(exportTarget(1));
    expect(unkilled.code, unkilled.stderr).toBe(0);
    const want = snapshot(src);
    expect(snapshot(dest)).toEqual(want);
    let absent = 0;
    let complete = 0;
    const seed = killSeed();
    const c = await killAnywhere({
      target: exportTarget,
      unkilled,
      timed: ROUNDS,
      targeted: 2,
      minMid: 3,
      cap: ROUNDS + 20,
      seed,
      check: (i, a) => {
        if (a.outcome === 'done') expect(a.code, a.stderr).toBe(0);
        if (existsSync(dest)) {
          expect(snapshot(dest), `attempt ${i}: DEST is the whole tree`).toEqual(want);
          complete++;
        } else absent++;
      },
    });
    const v = spawnSync(process.execPath, [eosBin, '--store', store, 'store', 'verify'], {
      encoding: 'utf8',
    });
    expect(v.status, v.stdout + v.stderr).toBe(0);
    const litter = readdirSync(parent).filter((n) => n.includes('.eos-export-')).length;
    rmSync(dest, { recursive: true, force: true });
    const last = await eosAsync(store, ['store', 'export', digest, dest]);
    expect(last.code, last.stderr).toBe(0);
    expect(snapshot(dest)).toEqual(want);
    expect(readdirSync(parent).filter((n) => n.includes('.eos-export-'))).toEqual([]);
    console.log(
      `kill-anywhere export: seed ${seed} unkilled ${unkilled.ms} ms / ${unkilled.events} events; ${JSON.stringify(c)}; DEST absent ${absent}, complete ${complete}, litter ${litter} removed by the next export`,
    );
    expect(c.midWrite, 'kills that landed mid-write').toBeGreaterThanOrEqual(3);
    expect(c.verified).toBe(c.attempts);
  }, 300_000);
});
