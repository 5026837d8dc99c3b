/**
 * Litter and kills (issue 15 item 10, and the kill-anywhere tests of items 9/10): temp files of dead
 * processes are removed on the next start and by gc; a SIGKILL at a random point of `eos compose`,
 * `eos key generate` or `eos store add` leaves a store that verifies and nothing half-written
 * visible. The kill tests (tests/helpers/kill-anywhere.ts) spread their kills over the phases of a
 * measured unkilled run, see at each kill (the process stopped) whether it landed in the middle of
 * writing, and require a minimum of such landings; each prints its counts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eos, repoRoot, tempDir } from '../composer/helpers.ts';
import { calibrate, killAnywhere, killSeed, type KillTarget } from '../helpers/kill-anywhere.ts';

const bin = join(repoRoot, 'bin', 'eos.mjs');

/** Mid-write landings each kill test requires, and its most attempts. */
const MIN_MID = 3;
const CAP = 40;

/** A pid that is certainly dead: a process that has exited. */
function deadPid(): number {
  return spawnSync('true').pid!;
}

function wsIn(base: string): { store: string; config: string; cwd: string } {
  return { store: join(base, 'store'), config: join(base, 'config'), cwd: base };
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

/** Entries of `dir` (none when it does not exist). */
function ls(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** Temp files and staging directories (`.x.<pid>.<hex>.tmp`, `x.tmp-<pid>-<hex>`) directly in `dir`. */
function temps(dir: string): string[] {
  return ls(dir).filter((n) => /\.tmp$|\.tmp-\d+-/.test(n));
}

/** Prints and checks the counts of a kill-anywhere test. */
function report(
  what: string,
  seed: number,
  c: { killed: number; midWrite: number; verified: number; attempts: number },
): void {
  console.log(`kill-anywhere ${what}: seed ${seed} ${JSON.stringify(c)}`);
  expect(c.midWrite, `${what}: kills that landed mid-write`).toBeGreaterThanOrEqual(MIN_MID);
  expect(c.verified).toBe(c.attempts);
}

describe('kill anywhere (issue 15 "Done when")', () => {
  it('eos compose: after a SIGKILL the composition is pinned whole or not visible', async () => {
    const base = tempDir('eos-kill-compose-');
    const ws = wsIn(base);
    const env = { EOS_STORE: ws.store, EOS_CONFIG_DIR: ws.config };
    /** Composition `i`: a tree of 200 files of its own (new objects to write) and a symlink. */
    const file = (i: number): string => {
      const tree = join(base, `tree${i}`, 'sub');
      mkdirSync(tree, { recursive: true });
      for (let f = 0; f < 200; f++) writeFileSync(join(tree, `f${f}`), `file ${f} of ${i}\n`);
      writeFileSync(
        join(base, `c${i}.toml`),
        `[entries.t]\nat = "/opt"\npath = "tree${i}"\n\n[entries.k${i}]\nat = "/k${i}"\nsymlink = "t"\n`,
      );
      return `c${i}.toml`;
    };
    const roots = new Map<number, string>();
    /** The root composition `i` has, from an unkilled run in a scratch store. */
    const rootOf = (i: number): string => {
      const r = eos({ ...wsIn(tempDir('eos-kill-scratch-')), cwd: base }, ['compose', file(i)]);
      expect(r.code, r.stderr).toBe(0);
      roots.set(i, r.stdout.trim());
      return r.stdout.trim();
    };
    const pinOf = (root: string): string => join(ws.store, 'roots', `composition-${root.slice(7)}`);
    const target = (i: number): KillTarget => {
      const root = rootOf(i);
      return {
        args: [bin, 'compose', `c${i}.toml`],
        env,
        cwd: base,
        watch: ['tmp', 'roots', 'compositions', 'objects'].map((d) => join(ws.store, d)),
        probe: () => {
          const seen = [
            ...ls(join(ws.store, 'tmp')).map((n) => `tmp/${n}`),
            ...temps(join(ws.store, 'compositions')).map((n) => `compositions/${n}`),
            ...temps(join(ws.store, 'roots')).map((n) => `roots/${n}`),
          ];
          // Its view written but not yet its pin: the save is under way.
          if (
            ls(join(ws.store, 'compositions')).some((n) => n.startsWith(root.slice(7))) &&
            !existsSync(pinOf(root))
          )
            seen.push('view without pin');
          return seen;
        },
      };
    };
    // A first unkilled compose makes the store's directories (watched); a second measures a whole run.
    expect((await calibrate(target(1000))).code).toBe(0);
    const unkilled = await calibrate(target(1001));
    expect(unkilled.code, unkilled.stderr).toBe(0);
    const seed = killSeed();
    console.log(`kill-anywhere compose: seed ${seed}`);
    const counts = { pinned: 0, invisible: 0 };
    const c = await killAnywhere({
      target,
      unkilled,
      timed: 6,
      targeted: 4,
      minMid: MIN_MID,
      cap: CAP,
      seed,
      check: (i, a) => {
        if (a.outcome === 'done') expect(a.code, a.stderr).toBe(0);
        const root = roots.get(i)!;
        const show = eos(ws, ['compose', 'show', root]);
        if (show.code === 0) {
          counts.pinned++;
          // The pin is whole: one digest line, the tree naming the composition.
          expect(readFileSync(pinOf(root), 'utf8')).toMatch(/^blake3:[0-9a-f]{64}\n$/);
        } else {
          counts.invisible++;
          expect(show.stderr).toMatch(/\[E4\]/);
          expect(existsSync(pinOf(root)), 'a pin of an invisible composition').toBe(false);
        }
        const v = eos(ws, ['store', 'verify']);
        expect(v.code, v.stdout + v.stderr).toBe(0);
      },
    });
    // gc with no grace keeps everything a visible composition names; the store verifies.
    expect(eos(ws, ['store', 'gc', '--grace', '0']).code).toBe(0);
    expect(eos(ws, ['store', 'verify']).code).toBe(0);
    for (const name of readdirSync(join(ws.store, 'roots'))) {
      const root = `blake3:${name.slice('composition-'.length)}`;
      expect(eos(ws, ['compose', 'show', root]).code).toBe(0);
    }
    report('compose', seed, {
      ...c,
      ...counts,
      unkilledMs: unkilled.ms,
      events: unkilled.events,
    } as typeof c);
    expect(counts.pinned + counts.invisible).toBe(c.attempts);
  }, 900_000);

  it('eos key generate: after a SIGKILL no temp seed survives the next start; keys are whole', async () => {
    const base = tempDir('eos-kill-key-');
    const ws = wsIn(base);
    const env = { EOS_STORE: ws.store, EOS_CONFIG_DIR: ws.config };
    const keys = join(ws.config, 'keys');
    const target = (i: number): KillTarget => ({
      args: [bin, 'key', 'generate', `k${i}`],
      env,
      cwd: base,
      watch: [keys],
      probe: () => {
        const mine = ls(keys).filter((n) => n.includes(`k${i}.`));
        const seen = mine.filter((n) => n.endsWith('.tmp'));
        // The secret key placed but not yet its public half.
        if (mine.includes(`k${i}.key`) && !mine.includes(`k${i}.pub`))
          seen.push(`k${i}.key without k${i}.pub`);
        return seen;
      },
    });
    expect((await calibrate(target(1000))).code).toBe(0); // makes keys/ (watched)
    const unkilled = await calibrate(target(1001)); // measures a whole run
    expect(unkilled.code, unkilled.stderr).toBe(0);
    const seed = killSeed();
    const c = await killAnywhere({
      target,
      unkilled,
      timed: 6,
      targeted: 4,
      minMid: MIN_MID,
      cap: CAP,
      seed,
      check: (i, a) => {
        if (a.outcome === 'done') expect(a.code, a.stderr).toBe(0);
        // The next start removes a dead writer's temp seed; every key file left is whole.
        const next = eos(ws, ['key', 'generate', `n${i}`]);
        expect(next.code, next.stderr).toBe(0);
        expect(temps(keys), `attempt ${i}: temp seeds after the next start`).toEqual([]);
        const list = eos(ws, ['key', 'list']);
        expect(list.code, list.stderr).toBe(0);
        for (const n of ls(keys).filter((f) => f.endsWith('.key') || f.endsWith('.pub')))
          expect(readFileSync(join(keys, n), 'utf8')).toMatch(/\S\n?$/);
      },
    });
    report('key generate', seed, { ...c, unkilledMs: unkilled.ms, events: unkilled.events } as typeof c);
  }, 900_000);

  it('eos store add: after a SIGKILL the store verifies and the next ingest empties tmp/', async () => {
    const base = tempDir('eos-kill-ingest-');
    const ws = wsIn(base);
    const src = join(base, 'src');
    mkdirSync(src);
    for (let i = 0; i < 40; i++) writeFileSync(join(src, `big${i}`), Buffer.alloc(256 * 1024, i));
    for (let i = 0; i < 300; i++) writeFileSync(join(src, `small${i}`), `small ${i}\n`);
    writeFileSync(join(base, 'one.txt'), 'one\n');
    expect(eos(ws, ['store', 'add', join(base, 'one.txt')]).code).toBe(0); // makes tmp/ (watched)
    const env = { EOS_STORE: ws.store, EOS_CONFIG_DIR: ws.config };
    const tmp = join(ws.store, 'tmp');
    const target = (): KillTarget => {
      mkdirSync(tmp, { recursive: true });
      return { args: [bin, 'store', 'add', src], env, cwd: base, watch: [tmp], probe: () => ls(tmp) };
    };
    const unkilled = await calibrate(target());
    expect(unkilled.code, unkilled.stderr).toBe(0);
    const seed = killSeed();
    const c = await killAnywhere({
      target,
      unkilled,
      timed: 6,
      targeted: 4,
      minMid: MIN_MID,
      cap: CAP,
      seed,
      check: (i, a) => {
        if (a.outcome === 'done') expect(a.code, a.stderr).toBe(0);
        const v = eos(ws, ['store', 'verify']);
        expect(v.code, v.stdout + v.stderr).toBe(0);
        expect(v.stdout).toMatch(/^ok\t/m);
        // Empty the store (nothing is pinned) so the next attempt writes every object again.
        expect(eos(ws, ['store', 'gc', '--grace', '0']).code).toBe(0);
      },
    });
    expect(eos(ws, ['store', 'add', join(base, 'one.txt')]).code).toBe(0);
    expect(ls(tmp)).toEqual([]);
    report('ingest', seed, { ...c, unkilledMs: unkilled.ms, events: unkilled.events } as typeof c);
  }, 900_000);
});
