/**
 * Kill anywhere, `eos build` (issue 15 "Done when"): a real `eos build` of two workspace atoms (a
 * shell build writing FILES small files and a 1 MiB one, and a dependent) is SIGKILLed, by the
 * driver of tests/helpers/kill-anywhere.ts: timed kills spread over a measured unkilled build, then
 * kills at events in the store's tmp/ and roots/ until at least MIN_MID landed while tmp/ held the
 * build's staged work. Each kill is on a fresh nonce (a build not done before); the next unkilled
 * build completes, and every output it reports (built or cached)
 * is the whole tree an unkilled build makes (materialized, every object checked, and compared file
 * by file): no action-cache entry names a half-written output. No process of a killed build's
 * sandbox is left; at the end the store verifies.
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
import { calibrate, killAnywhere, killSeed, type KillTarget } from '../helpers/kill-anywhere.ts';

const canRun = existsSync('/usr/bin/bwrap') && process.getuid?.() === 0;

/**
 * Timed kills (stratified over the unkilled run), mid-write landings required, most attempts; each
 * attempt is on a fresh nonce, so each hits a build that has not been done.
 */
const TIMED = 2;
const TARGETED = 2;
const MIN_MID = 2;
const CAP = 8;

let store = '';
let seedLock = '';
let ws = '';

/** Small files `files` writes (and the dependent counts). */
const FILES = 120;

/** The build script of `files`: FILES small files and a 1 MiB one, naming `nonce`. */
function filesScript(nonce: string): string {
  return [
    'mkdir -p "$OUTPUT/usr/share/many"',
    `i=0; while [ $i -lt ${FILES} ]; do echo "file $i ${nonce}" > "$OUTPUT/usr/share/many/f$i"; i=$((i+1)); done`,
    'head -c 1048576 /dev/zero > "$OUTPUT/usr/share/big"',
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
    expect(many.length).toBe(FILES);
    for (const n of many)
      expect(readFileSync(join(dest, 'usr', 'share', 'many', n), 'utf8')).toBe(
        `file ${n.slice(1)} ${nonce}\n`,
      );
    expect(readFileSync(join(dest, 'usr', 'share', 'big')).equals(Buffer.alloc(1 << 20))).toBe(true);
    expect(readFileSync(join(dest, 'usr', 'share', 'nonce'), 'utf8')).toBe(`${nonce}\n`);
  } else {
    expect(readFileSync(join(dest, 'usr', 'share', 'count'), 'utf8').trim()).toBe(String(FILES));
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

/** Waits (up to 20 s) until no process names `nonce`; returns those still left. */
async function sandboxGone(nonce: string): Promise<number[]> {
  for (let i = 0; i < 200 && pidsNaming(nonce).length; i++) await new Promise((r) => setTimeout(r, 100));
  return pidsNaming(nonce);
}

describe.skipIf(!canRun)('kill anywhere: eos build (root, bwrap)', () => {
  it('after a SIGKILL at a random point the next build completes whole outputs and the store verifies', async () => {
    const run0 = `${Date.now()}-${process.pid}`;
    const args = (lock: string): string[] => [
      eosBin,
      '--store',
      store,
      'build',
      lock,
      '--seed-lock',
      seedLock,
      '-j',
      '2',
    ];
    const tmp = join(store, 'tmp');
    // Each attempt builds a fresh nonce ("chain"); its check build reuses whatever the kill left in
    // the action cache.
    let chain = 0;
    const nonceOf = (): string => `${run0}-c${chain}`;
    const target = (): KillTarget => ({
      args: args(writeWorkspace(nonceOf())),
      cwd: ws,
      watch: [tmp, join(store, 'roots')],
      // Objects, trees, roots and records are staged in tmp/ and renamed into place; the action's
      // output directory is made there too.
      probe: () => (existsSync(tmp) ? readdirSync(tmp).map((n) => `tmp/${n}`) : []),
    });
    const counts = { chains: 0, rebuilt: 0, cached: 0, outputsChecked: 0, stagedObjects: 0 };
    /** The next build of the chain completes; every output it reports is whole. */
    const finish = async (): Promise<void> => {
      const nonce = nonceOf();
      const next = await build(writeWorkspace(nonce));
      expect(next.code, next.stderr).toBe(0);
      const outs = outputs(next.stdout);
      expect(Object.keys(outs).sort(), next.stdout).toEqual(['files', 'user']);
      for (const l of next.stdout.split('\n'))
        if (l.startsWith('ok\t')) counts.rebuilt++;
        else if (l.startsWith('cached\t')) counts.cached++;
      for (const [label, digest] of Object.entries(outs)) {
        await checkOutput(label, digest, nonce);
        counts.outputsChecked++;
      }
      counts.chains++;
      chain++;
    };
    // A first unkilled build sets up the world (and fetches); the second, of fresh actions, is the
    // unkilled run the kill points come from (its wall time, its events in tmp/ and roots/).
    const warm = await build(writeWorkspace(`${run0}-warm`));
    expect(warm.code, warm.stderr).toBe(0);
    const unkilled = await calibrate({ ...target(), args: args(writeWorkspace(`${run0}-calibrate`)) });
    expect(unkilled.code, unkilled.stderr).toBe(0);
    const seed = killSeed();
    const c = await killAnywhere({
      target,
      unkilled,
      timed: TIMED,
      targeted: TARGETED,
      minMid: MIN_MID,
      cap: CAP,
      seed,
      check: async (_i, a) => {
        expect(await sandboxGone(nonceOf()), 'a killed build left its sandbox running').toEqual([]);
        if (a.evidence.some((e) => !e.includes('-build-'))) counts.stagedObjects++;
        if (a.outcome === 'done') expect(a.code, a.stderr).toBe(0);
        // A restarted build has less left to do (its cached actions): the next kill would miss the
        // unkilled run's events. So each chain is one kill and its check build.
        await finish();
      },
    });
    const v = spawnSync(process.execPath, [eosBin, '--store', store, 'store', 'verify'], {
      encoding: 'utf8',
    });
    expect(v.status, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(/^ok\t.* 0 problems$/m);
    console.log(
      `kill-anywhere build: seed ${seed} unkilled ${unkilled.ms} ms / events ${unkilled.events.join('+')}; ${JSON.stringify({ ...c, ...counts })}; store verify: ${v.stdout.trim()}`,
    );
    expect(c.midWrite, 'kills that landed mid-write').toBeGreaterThanOrEqual(MIN_MID);
    expect(c.verified).toBe(c.attempts);
  }, 600_000);
});
