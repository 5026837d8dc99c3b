/**
 * The kernel's pid-file lock (src/kernel/pid-file.ts), the one behind the store locks and the
 * host lock: exclusive create, live holders respected, stale takeover, owner-only release, and
 * real processes racing for one stale lock (exactly one wins).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  createPidFile,
  livePidFileOwner,
  pidAlive,
  readPidFile,
  takePidFile,
} from '../../src/kernel/index.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'eos-pidfile-'));

/** The pid of a process that has exited (and so is stale). */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  const pid = Number(r.stdout.toString().trim());
  expect(pidAlive(pid)).toBe(false);
  return pid;
}

describe('pid files', () => {
  it('creates exclusively and atomically, with the pid and a newline', () => {
    const p = join(dir(), 'lock');
    expect(createPidFile(p)).toBe(true);
    expect(readFileSync(p, 'utf8')).toBe(`${process.pid}\n`);
    expect(createPidFile(p, 1)).toBe(false);
    expect(readPidFile(p)).toBe(process.pid);
    expect(readdirSync(join(p, '..'))).toEqual(['lock']); // no temp file left behind
  });

  it('respects a live holder and names it', async () => {
    const p = join(dir(), 'lock');
    const child = spawn('sleep', ['30']);
    try {
      writeFileSync(p, `${child.pid}\n`);
      const r = takePidFile(p);
      expect(r).toEqual({ holder: child.pid });
      expect(livePidFileOwner(p)).toBe(child.pid);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('takes over a stale lock (dead owner, or no pid), and leaves a live one alone', () => {
    const d = dir();
    const p = join(d, 'lock');
    writeFileSync(p, `${deadPid()}\n`);
    expect(livePidFileOwner(p)).toBeUndefined();
    const r = takePidFile(p);
    expect('lock' in r).toBe(true);
    expect(readPidFile(p)).toBe(process.pid);
    if ('lock' in r) r.lock.release();
    expect(readdirSync(d)).toEqual([]);

    writeFileSync(p, 'not a pid\n');
    const r2 = takePidFile(p);
    expect('lock' in r2).toBe(true);
    expect(readPidFile(p)).toBe(process.pid);

    writeFileSync(p, `${deadPid()}\n`);
    expect(livePidFileOwner(p, { removeStale: true })).toBeUndefined();
    expect(readdirSync(d)).toEqual([]);
  });

  it('our own pid is held by default, stale on request', () => {
    const p = join(dir(), 'lock');
    const first = takePidFile(p);
    expect('lock' in first).toBe(true);
    expect(takePidFile(p)).toEqual({ holder: process.pid });
    const again = takePidFile(p, { ownPid: 'stale' });
    expect('lock' in again).toBe(true);
  });

  it('release removes only the owner’s file; handTo moves the ownership', () => {
    const d = dir();
    const p = join(d, 'lock');
    const r = takePidFile(p);
    if (!('lock' in r)) throw new Error('not taken');
    const child = spawn('sleep', ['30']);
    try {
      r.lock.handTo(child.pid!);
      expect(readFileSync(p, 'utf8')).toBe(`${child.pid}\n`);
      expect(takePidFile(p)).toEqual({ holder: child.pid }); // held while the child runs
      writeFileSync(p, `${process.pid}\n`); // someone else's now (not the handed owner's)
      r.lock.release();
      expect(readPidFile(p)).toBe(process.pid); // kept
      writeFileSync(p, `${child.pid}\n`);
      r.lock.release();
      expect(readdirSync(d)).toEqual([]); // the owner's: removed
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('processes racing for one stale lock: exactly one takes it', async () => {
    const d = dir();
    const p = join(d, 'lock');
    writeFileSync(p, `${deadPid()}\n`);
    const mod = pathToFileURL(resolve('dist/src/kernel/pid-file.js')).href;
    const script = `
      const { takePidFile } = await import(${JSON.stringify(mod)});
      const go = Number(process.argv[1]);
      while (Date.now() < go) {}
      const r = takePidFile(${JSON.stringify(p)});
      process.stdout.write('lock' in r ? 'won' : 'lost');
      setTimeout(() => {}, 1500); // stay alive, holding it, while the others look`;
    const go = Date.now() + 1500;
    const outs = await Promise.all(
      Array.from(
        { length: 6 },
        () =>
          new Promise<string>((res, rej) => {
            const c = spawn(process.execPath, ['--input-type=module', '-e', script, String(go)]);
            let out = '';
            c.stdout.on('data', (b: Buffer) => (out += b.toString()));
            c.on('error', rej);
            c.on('exit', () => res(out));
          }),
      ),
    );
    expect(outs.filter((o) => o === 'won')).toHaveLength(1);
    expect(outs.filter((o) => o === 'lost')).toHaveLength(5);
    expect(readdirSync(d).filter((n) => n !== 'lock')).toEqual([]); // nothing set aside left
  });
});
