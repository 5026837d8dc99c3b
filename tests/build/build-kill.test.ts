/**
 * Kill anywhere, `eos build` (issue 15 "Done when"): a real `eos build` of two workspace atoms (a
 * shell build writing 300 small files and a 4 MiB one, and a dependent) is SIGKILLed at seeded
 * random moments between start-up and the end of an unkilled run. After each kill the next `eos
 * build` completes, and every output it reports (built or cached) is the whole tree an unkilled
 * build makes (materialized, every object checked, and compared file by file): no action-cache
 * entry names a half-written output. At the end the store verifies and no process of a killed build's sandbox is left.
 *
 * The store is private: a small host seed (dash, coreutils) made once in the test cache
 * (`<test cache>/kill-build-seed`, under its lock: ./small-seed.ts) and copied per run, so `store verify` checks
 * only what this test wrote.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeLock } from '../../atoms/index.ts';
import { Store, type Digest } from '../../src/kernel/index.ts';
import { eosBin, tempDir } from '../helpers/fs.ts';
import { smallSeed } from './small-seed.ts';

const canRun = existsSync('/usr/bin/bwrap') && process.getuid?.() === 0;

/** Kills per run (each on a fresh nonce, so each hits a build that has not been done). */
const KILLS = 4;

let store = '';
let seedLock = '';
let ws = '';

/** The build script of `files`: 300 small files and a 4 MiB one, naming `nonce`. */
function filesScript(nonce: string): string {
  return [
    'mkdir -p "$OUTPUT/usr/share/many"',
    'i=0; while [ $i -lt 300 ]; do echo "file $i ' +
      nonce +
      '" > "$OUTPUT/usr/share/many/f$i"; i=$((i+1)); done',
    'head -c 4194304 /dev/zero > "$OUTPUT/usr/share/big"',
    `echo ${nonce} > "$OUTPUT/usr/share/nonce"`,
  ].join('\n');
}

function writeWorkspace(nonce: string): string {
  const atoms: Record<string, string> = {
    files: filesScript(nonce),
    // The dependent counts its dependency's files (the world merges dependency outputs at /).
    user: `mkdir -p "$OUTPUT/usr/share" && ls /usr/share/many | wc -l > "$OUTPUT/usr/share/count" && echo ${nonce} > "$OUTPUT/usr/share/user"`,
  };
  for (const [label, script] of Object.entries(atoms)) {
    mkdirSync(join(ws, label), { recursive: true });
    writeFileSync(
      join(ws, label, 'atom.toml'),
      [
        '[atom]',
        `label = "${label}"`,
        'version = "1.0.0"',
        '',
        ...(label === 'user' ? ['[deps]', 'files = "^1.0"', ''] : []),
        '[build]',
        'recipe = "std.shell"',
        `script = '''${script}'''`,
        '',
      ].join('\n'),
    );
  }
  const lock = join(ws, 'eos.lock');
  writeFileSync(
    lock,
    encodeLock({
      version: 1,
      prerelease: false,
      sets: {},
      atoms: {},
      workspace: {
        files: { path: 'files', version: '1.0.0', deps: [] },
        user: { path: 'user', version: '1.0.0', deps: ['files'] },
      },
    }),
  );
  return lock;
}

interface Run {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  pid: number;
}

function build(lock: string, killAfterMs?: number): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [eosBin, '--store', store, 'build', lock, '--seed-lock', seedLock, '-j', '2'],
      {
        cwd: ws,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    const t = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, stdout, stderr, pid: child.pid! });
    });
  });
}

/** Seeded kill points in [lo, hi) ms (reproducible). */
function points(n: number, lo: number, hi: number, seed = 15): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return lo + (x % Math.max(1, hi - lo));
  });
}

/** The `ok`/`cached` output digests of a build's result lines, by label. */
function outputs(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of stdout.matchAll(/^(?:ok|cached)\t(\S+)\t(blake3:[0-9a-f]{64})$/gm)) out[m[1]!] = m[2]!;
  return out;
}

/** Materializes `digest` (every object checked against its digest) and checks it is the whole tree the atom makes. */
async function checkOutput(label: string, digest: string, nonce: string): Promise<void> {
  const dest = join(tempDir('eos-build-kill-out-'), 'o');
  await new Store(store).materialize(digest as Digest, dest);
  if (label === 'files') {
    const many = readdirSync(join(dest, 'usr', 'share', 'many'));
    expect(many.length).toBe(300);
    for (const n of many)
      expect(readFileSync(join(dest, 'usr', 'share', 'many', n), 'utf8')).toBe(
        `file ${n.slice(1)} ${nonce}\n`,
      );
    expect(readFileSync(join(dest, 'usr', 'share', 'big')).equals(Buffer.alloc(4 << 20))).toBe(true);
    expect(readFileSync(join(dest, 'usr', 'share', 'nonce'), 'utf8')).toBe(`${nonce}\n`);
  } else {
    expect(readFileSync(join(dest, 'usr', 'share', 'count'), 'utf8').trim()).toBe('300');
    expect(readFileSync(join(dest, 'usr', 'share', 'user'), 'utf8')).toBe(`${nonce}\n`);
  }
}

/** Processes whose command line or environment names `nonce` (a killed build's sandbox left running). */
function pidsNaming(nonce: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8') + readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (cmd.includes(nonce) && Number(pid) !== process.pid) out.push(Number(pid));
    } catch {
      /* gone */
    }
  }
  return out;
}

beforeAll(async () => {
  if (!canRun) return;
  const seed = await smallSeed();
  const base = tempDir('eos-build-kill-');
  store = join(base, 'store');
  cpSync(seed.store, store, { recursive: true, preserveTimestamps: true });
  seedLock = join(base, 'seed.lock');
  cpSync(seed.lock, seedLock);
  ws = join(base, 'ws');
  mkdirSync(ws);
}, 300_000);

describe.skipIf(!canRun)('kill anywhere: eos build (root, bwrap)', () => {
  it('after a SIGKILL at a random point the next build completes whole outputs and the store verifies', async () => {
    const run0 = `${Date.now()}-${process.pid}`;
    // A first unkilled build sets up the world; a second (fresh actions) says how long a whole
    // run takes, the window the kills are spread over.
    const s0 = Date.now();
    spawnSync(process.execPath, [eosBin, '--version']);
    const startMs = Date.now() - s0;
    const warm = await build(writeWorkspace(`${run0}-warm`));
    expect(warm.code, warm.stderr).toBe(0);
    const t0 = Date.now();
    const first = await build(writeWorkspace(`${run0}-calibrate`));
    const fullMs = Date.now() - t0;
    expect(first.code, first.stderr).toBe(0);
    const counts = { killed: 0, finished: 0, rebuilt: 0, cachedAfterKill: 0, outputsChecked: 0 };
    for (const [i, ms] of points(KILLS, Math.round(startMs * 0.8), Math.round(fullMs * 0.95)).entries()) {
      const nonce = `${run0}-k${i}`;
      const lock = writeWorkspace(nonce);
      const r = await build(lock, ms);
      if (r.signal === 'SIGKILL') counts.killed++;
      else {
        expect(r.code, r.stderr).toBe(0);
        counts.finished++;
      }
      const next = await build(lock);
      expect(next.code, next.stderr).toBe(0);
      const outs = outputs(next.stdout);
      expect(Object.keys(outs).sort(), next.stdout).toEqual(['files', 'user']);
      for (const l of next.stdout.split('\n'))
        if (l.startsWith('ok\t')) counts.rebuilt++;
        else if (l.startsWith('cached\t') && r.signal === 'SIGKILL') counts.cachedAfterKill++;
      for (const [label, digest] of Object.entries(outs)) {
        await checkOutput(label, digest, nonce);
        counts.outputsChecked++;
      }
      expect(pidsNaming(nonce), 'a killed build left its sandbox running').toEqual([]);
    }
    const v = spawnSync(process.execPath, [eosBin, '--store', store, 'store', 'verify'], {
      encoding: 'utf8',
    });
    expect(v.status, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(/^ok\t.* 0 problems$/m);
    console.log(
      `kill-anywhere build: ${KILLS} runs, ${JSON.stringify(counts)}; store verify: ${v.stdout.trim()}`,
    );
    expect(counts.killed).toBeGreaterThan(1);
  }, 600_000);
});
