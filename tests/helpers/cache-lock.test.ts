/**
 * The test cache's lock (tests/helpers/cache-lock.ts), which parallel test files take around the
 * shared seeds: callers in one process run one at a time (a throw releases it), a live process
 * holding the lock file is waited for, and a file of a dead process (or a leftover naming our pid)
 * is taken over at once.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withCacheLock } from './cache-lock.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the test cache lock', () => {
  it('runs the callers of one name in one process one at a time; a throw releases it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eos-cache-lock-'));
    const log: string[] = [];
    const job = (n: number, fail = false) =>
      withCacheLock(dir, 'seed-x', async () => {
        log.push(`start ${n}`);
        expect(existsSync(join(dir, 'locks', 'seed-x.lock'))).toBe(true);
        await sleep(50);
        log.push(`end ${n}`);
        if (fail) throw new Error(`job ${n} failed`);
        return n;
      });
    const results = await Promise.allSettled([job(1), job(2, true), job(3)]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      1,
      'job 2 failed',
      3,
    ]);
    expect(log).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
    expect(existsSync(join(dir, 'locks', 'seed-x.lock'))).toBe(false);
  });

  it('waits while another live process holds it, then takes it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eos-cache-lock-'));
    mkdirSync(join(dir, 'locks'));
    const holder = spawn('sleep', ['30']);
    writeFileSync(join(dir, 'locks', 'seed-y.lock'), `${holder.pid}\n`);
    let ran = false;
    const p = withCacheLock(dir, 'seed-y', async () => {
      ran = true;
    });
    await sleep(700);
    expect(ran).toBe(false);
    holder.kill('SIGKILL');
    await new Promise((r) => holder.on('exit', r));
    await p;
    expect(ran).toBe(true);
  });

  it('takes over the lock file of a dead process and a leftover naming our own pid at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eos-cache-lock-'));
    mkdirSync(join(dir, 'locks'));
    const dead = Number(spawnSync('sh', ['-c', 'echo $$']).stdout.toString().trim());
    writeFileSync(join(dir, 'locks', 'a.lock'), `${dead}\n`);
    writeFileSync(join(dir, 'locks', 'b.lock'), `${process.pid}\n`);
    // Not taken over, these would wait for ever (the test's timeout).
    expect(await withCacheLock(dir, 'a', async () => 'a')).toBe('a');
    expect(await withCacheLock(dir, 'b', async () => 'b')).toBe('b');
    expect(existsSync(join(dir, 'locks', 'a.lock'))).toBe(false);
    await expect(withCacheLock(dir, '../x', async () => 0)).rejects.toThrow(/cache lock name/);
  });
});
