/**
 * Litter and kills (issue 15 item 10, and the kill-anywhere tests of items 9/10): temp files of dead
 * processes are removed on the next start and by gc; a SIGKILL at a random point of `eos compose`,
 * `eos key generate` or `eos store add` leaves a store that verifies and nothing half-written
 * visible. Each kill test prints its counts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eos, repoRoot, tempDir } from '../composer/helpers.ts';

const bin = join(repoRoot, 'bin', 'eos.mjs');

/** A pid that is certainly dead: a process that has exited. */
function deadPid(): number {
  return spawnSync('true').pid!;
}

/** Starts `eos ARGS` and SIGKILLs it after `ms` (or lets it finish first); resolves when it is gone. */
function killAfter(
  env: NodeJS.ProcessEnv,
  args: string[],
  ms: number,
  cwd: string,
): Promise<'killed' | 'done'> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd,
      env: { ...process.env, ...env },
      stdio: 'ignore',
    });
    const t = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (_code, signal) => {
      clearTimeout(t);
      res(signal === 'SIGKILL' ? 'killed' : 'done');
    });
  });
}

function wsIn(base: string): { store: string; config: string; cwd: string } {
  return { store: join(base, 'store'), config: join(base, 'config'), cwd: base };
}

/** Random kill points: spread over [lo, hi) ms, from a fixed seed so a failure is reproducible. */
function points(n: number, lo: number, hi: number, seed = 15): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return lo + (x % (hi - lo));
  });
}

describe('litter of dead processes is removed (issue 15 item 10)', () => {
  it('key generate removes temp copies of secret seeds left by a dead writer', () => {
    const ws = wsIn(tempDir('eos-litter-key-'));
    expect(eos(ws, ['key', 'generate', 'first']).code).toBe(0);
    const keys = join(ws.config, 'keys');
    const litter = join(keys, `.lost.key.${deadPid()}.0123456789ab.tmp`);
    const live = join(keys, `.busy.key.${process.pid}.0123456789ab.tmp`);
    writeFileSync(litter, 'secret seed', { mode: 0o600 });
    writeFileSync(live, 'secret seed', { mode: 0o600 });
    expect(eos(ws, ['key', 'generate', 'second']).code).toBe(0);
    expect(existsSync(litter)).toBe(false);
    expect(existsSync(live)).toBe(true); // its writer (this test) is alive
  });

  it('an ingest removes the tmp/ litter of dead ingests; gc removes dead atomic-write temps', () => {
    const base = tempDir('eos-litter-store-');
    const ws = wsIn(base);
    writeFileSync(join(base, 'f.txt'), 'x\n');
    expect(eos(ws, ['store', 'add', join(base, 'f.txt')]).code).toBe(0);
    const dead = deadPid();
    const staged = join(ws.store, 'tmp', `${dead}.0.abcdef`);
    writeFileSync(staged, Buffer.alloc(1 << 20));
    const stagingDir = join(ws.store, 'tmp', `${dead}-stage`);
    mkdirSync(stagingDir);
    expect(eos(ws, ['store', 'add', join(base, 'f.txt')]).code).toBe(0);
    expect(readdirSync(join(ws.store, 'tmp'))).toEqual([]);
    mkdirSync(join(ws.store, 'compositions'), { recursive: true });
    const comp = join(ws.store, 'compositions', `.x.view.json.${dead}.0123456789ab.tmp`);
    const world = join(ws.store, 'worlds', `${'a'.repeat(64)}.tmp-${dead}-0123abcd`);
    writeFileSync(comp, '{}');
    mkdirSync(join(world, 'usr'), { recursive: true });
    const tmp = join(base, 'host-tmp');
    const mnt = join(tmp, `eos-sandbox-mnt-${dead}-AbC123`);
    mkdirSync(mnt, { recursive: true });
    const gc = eos(ws, ['store', 'gc'], { TMPDIR: tmp });
    expect(gc.code).toBe(0);
    expect(gc.stdout).toMatch(/^tmpRemoved\t2$/m);
    expect(gc.stdout).toMatch(/^sandboxMountsRemoved\t1$/m);
    expect(existsSync(comp) || existsSync(world) || existsSync(mnt)).toBe(false);
  });
});

describe('kill anywhere (issue 15 "Done when")', () => {
  it('eos compose: after a SIGKILL the composition is pinned whole or not visible', async () => {
    const base = tempDir('eos-kill-compose-');
    const ws = wsIn(base);
    mkdirSync(join(base, 'tree', 'sub'), { recursive: true });
    for (let i = 0; i < 200; i++) writeFileSync(join(base, 'tree', 'sub', `f${i}`), `file ${i}\n`);
    const toml = (i: number): string =>
      `[entries.t]\nat = "/opt"\npath = "tree"\n\n[entries.k${i}]\nat = "/k${i}"\nsymlink = "t"\n`;
    const counts = { killed: 0, done: 0, pinned: 0, invisible: 0 };
    const env = { EOS_STORE: ws.store, EOS_CONFIG_DIR: ws.config };
    for (const [i, ms] of points(6, 500, 8000).entries()) {
      writeFileSync(join(base, `c${i}.toml`), toml(i));
      counts[await killAfter(env, ['compose', `c${i}.toml`], ms, base)]++;
      // The root it would have had, from an unkilled run in a scratch store.
      const scratch = wsIn(tempDir('eos-kill-scratch-'));
      const r = eos({ ...scratch, cwd: base }, ['compose', `c${i}.toml`]);
      const root = r.stdout.trim();
      const show = eos(ws, ['compose', 'show', root]);
      if (show.code === 0) {
        counts.pinned++;
        expect(existsSync(join(ws.store, 'roots', `composition-${root.slice(7)}`))).toBe(true);
      } else {
        counts.invisible++;
        expect(show.stderr).toMatch(/\[E4\]/);
      }
    }
    // gc with no grace keeps everything a visible composition names; the store verifies.
    expect(eos(ws, ['store', 'gc', '--grace', '0']).code).toBe(0);
    expect(eos(ws, ['store', 'verify']).code).toBe(0);
    for (const name of readdirSync(join(ws.store, 'roots'))) {
      const root = `blake3:${name.slice('composition-'.length)}`;
      expect(eos(ws, ['compose', 'show', root]).code).toBe(0);
    }
    console.log(`kill-anywhere compose: ${JSON.stringify(counts)}`);
    expect(counts.pinned + counts.invisible).toBe(6);
  }, 900_000);

  it('eos key generate: after a SIGKILL no temp seed survives the next start; keys are whole', async () => {
    const base = tempDir('eos-kill-key-');
    const ws = wsIn(base);
    const env = { EOS_STORE: ws.store, EOS_CONFIG_DIR: ws.config };
    const counts = { killed: 0, done: 0 };
    for (const [i, ms] of points(6, 300, 6000).entries())
      counts[await killAfter(env, ['key', 'generate', `k${i}`], ms, base)]++;
    expect(eos(ws, ['key', 'generate', 'last']).code).toBe(0);
    const keys = join(ws.config, 'keys');
    expect(readdirSync(keys).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    const list = eos(ws, ['key', 'list']);
    expect(list.code).toBe(0);
    for (const n of readdirSync(keys).filter((f) => f.endsWith('.key')))
      expect(readFileSync(join(keys, n), 'utf8')).toMatch(/\S/);
    console.log(`kill-anywhere key generate: ${JSON.stringify(counts)}`);
  }, 900_000);

  it('eos store add: after a SIGKILL the store verifies and the next ingest empties tmp/', async () => {
    const base = tempDir('eos-kill-ingest-');
    const ws = wsIn(base);
    const src = join(base, 'src');
    mkdirSync(src);
    for (let i = 0; i < 40; i++) writeFileSync(join(src, `big${i}`), Buffer.alloc(256 * 1024, i));
    for (let i = 0; i < 300; i++) writeFileSync(join(src, `small${i}`), `small ${i}\n`);
    const env = { EOS_STORE: ws.store, EOS_CONFIG_DIR: ws.config };
    const counts = { killed: 0, done: 0, litterSeen: 0 };
    for (const ms of points(6, 500, 8000)) {
      counts[await killAfter(env, ['store', 'add', src], ms, base)]++;
      if (existsSync(join(ws.store, 'tmp')) && readdirSync(join(ws.store, 'tmp')).length) counts.litterSeen++;
      const v = eos(ws, ['store', 'verify']);
      expect(v.stdout + v.stderr).toMatch(/^ok\t/m);
    }
    writeFileSync(join(base, 'one.txt'), 'one\n');
    expect(eos(ws, ['store', 'add', join(base, 'one.txt')]).code).toBe(0);
    expect(readdirSync(join(ws.store, 'tmp'))).toEqual([]);
    console.log(`kill-anywhere ingest: ${JSON.stringify(counts)}`);
  }, 900_000);
});
