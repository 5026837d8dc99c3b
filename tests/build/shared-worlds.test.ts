/**
 * `eos build` shares one mounted world among the actions whose world repeats (specs/executor.md
 * §4.2): a real `eos build --json` of a workspace where three atoms have no dependencies (the
 * seed's world, three times) and a fourth depends on one of them (a world of its own). The three
 * run at the same time and each writes the device number of its `/` (an overlay mount has a
 * device of its own): one for the three, another for the fourth, and the JSON counts one shared
 * world mounted and entered three times. After the build, and after a SIGTERM in the middle of
 * one, no holder process and no `$TMPDIR/eos-sandbox-mnt-<pid>-*` directory of that build remains.
 *
 * The store is private: the small host seed of ./small-seed.ts, copied.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeLock } from '../../atoms/index.ts';
import { Store, type Digest } from '../../src/kernel/index.ts';
import { eosBin, tempDir } from '../helpers/fs.ts';
import { smallSeed } from './small-seed.ts';

const canRun = existsSync('/usr/bin/bwrap') && process.getuid?.() === 0 && process.env.EOS_NO_MOUNT !== '1';

let store = '';
let seedLock = '';
let base = '';

beforeAll(async () => {
  if (!canRun) return;
  const seed = await smallSeed();
  base = tempDir('eos-shared-worlds-');
  store = join(base, 'store');
  cpSync(seed.store, store, { recursive: true, preserveTimestamps: true });
  seedLock = join(base, 'seed.lock');
  cpSync(seed.lock, seedLock);
}, 300_000);

/** A workspace of shell atoms (`label → [deps, script]`) and its lock; returns the lock's path. */
function workspace(name: string, atoms: Record<string, [string[], string]>): string {
  const ws = join(base, name);
  for (const [label, [deps, script]] of Object.entries(atoms)) {
    mkdirSync(join(ws, label), { recursive: true });
    writeFileSync(
      join(ws, label, 'atom.toml'),
      [
        '[atom]',
        `label = "${label}"`,
        'version = "1.0.0"',
        '',
        ...(deps.length ? ['[deps]', ...deps.map((d) => `${d} = "^1.0"`), ''] : []),
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
      workspace: Object.fromEntries(
        Object.entries(atoms).map(([label, [deps]]) => [label, { path: label, version: '1.0.0', deps }]),
      ),
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

/** Runs `eos build LOCK --json -j 3`; `whenRunning` is called with the build's pid once it has started. */
function build(lock: string, whenRunning?: (pid: number) => void): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [eosBin, '--store', store, '--json', 'build', lock, '--seed-lock', seedLock, '-j', '3'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    whenRunning?.(child.pid!);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, pid: child.pid! }));
  });
}

/** The sandbox mount directories of build `pid` left in `$TMPDIR`. */
function mountDirs(pid: number): string[] {
  return readdirSync(tmpdir()).filter((n) => n.startsWith(`eos-sandbox-mnt-${pid}-`));
}

/**
 * Processes whose command line names a mount directory of build `pid`: its sandbox launcher and
 * world runners, or with `holdersOnly` its launcher only (the shell named `eos-launcher`).
 */
function mounters(pid: number, holdersOnly = false): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n)))
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.includes(`eos-sandbox-mnt-${pid}-`) && (!holdersOnly || cmd.includes('eos-launcher')))
        out.push(Number(p));
    } catch {
      /* gone */
    }
  return out;
}

async function waitFor(what: string, ok: () => boolean, limitMs = 120_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The file `path` of the output tree `digest`. */
async function outputFile(digest: string, path: string): Promise<string> {
  const dest = join(tempDir('eos-shared-worlds-out-'), 'o');
  await new Store(store).materialize(digest as Digest, dest);
  return readFileSync(join(dest, path), 'utf8').trim();
}

describe.skipIf(!canRun)('eos build shares a repeated world (root, bwrap, composefs)', () => {
  it('three actions over the seed world see one mount; the dependent its own; nothing is left after', async () => {
    const nonce = `${Date.now()}-${process.pid}`;
    // The three sleep so that they are in their sandboxes at once (-j 3): lone mounts would be
    // three overlays mounted together, three device numbers.
    const leaf = `mkdir -p "$OUTPUT/usr/share" && stat -c %d / > "$OUTPUT/usr/share/dev" && sleep 2 && echo ${nonce} > "$OUTPUT/usr/share/nonce"`;
    const lock = workspace(`ws-${nonce}`, {
      a: [[], `${leaf} a`],
      b: [[], `${leaf} b`],
      c: [[], `${leaf} c`],
      d: [['a'], 'mkdir -p "$OUTPUT/usr/share" && stat -c %d / > "$OUTPUT/usr/share/dev-d"'],
    });
    const r = await build(lock);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      events: { type: string; label?: string; output?: string }[];
      sharedWorlds?: { mounted: number; entered: number };
    };
    const out: Record<string, string> = {};
    for (const e of doc.events) if (e.type === 'ok' && e.label && e.output) out[e.label] = e.output;
    expect(Object.keys(out).sort(), r.stdout).toEqual(['a', 'b', 'c', 'd']);
    const devs = await Promise.all(['a', 'b', 'c'].map((l) => outputFile(out[l]!, 'usr/share/dev')));
    const devD = await outputFile(out.d!, 'usr/share/dev-d');
    expect(new Set(devs).size, `devices of / in a, b, c: ${devs.join(' ')}`).toBe(1);
    expect(devD).not.toBe(devs[0]); // another world, another mount
    expect(doc.sharedWorlds).toEqual({ mounted: 2, entered: 4 }); // a, b, c share one; d has its own
    expect(mounters(r.pid)).toEqual([]);
    expect(mountDirs(r.pid)).toEqual([]);
  }, 300_000);

  it('a SIGTERM in the middle of a build leaves no holder and no mount directory', async () => {
    const nonce = `${Date.now()}-${process.pid}-term`;
    const slow = `sleep 60; echo ${nonce} > "$OUTPUT/x"`;
    const lock = workspace(`ws-${nonce}`, { p: [[], slow], q: [[], slow] });
    let seen: number[] = [];
    const r = await build(lock, (pid) => {
      void waitFor('a world holder', () => (seen = mounters(pid, true)).length > 0, 60_000).then(
        () => setTimeout(() => process.kill(pid, 'SIGTERM'), 1000),
        () => process.kill(pid, 'SIGKILL'),
      );
    });
    expect(seen.length, 'no sandbox launcher was seen').toBeGreaterThan(0);
    expect(r.code, r.stderr).toBe(143);
    expect(mounters(r.pid)).toEqual([]);
    for (const p of seen) expect(existsSync(`/proc/${p}`), `launcher ${p}`).toBe(false);
    expect(mountDirs(r.pid)).toEqual([]);
  }, 300_000);

  it('a SIGKILL in the middle of a build takes the launcher and every sandbox with it', async () => {
    const nonce = `${Date.now()}-${process.pid}-kill`;
    const slow = `sleep 60 && echo ${nonce} > "$OUTPUT/x"`;
    const lock = workspace(`ws-${nonce}`, { p: [[], slow], q: [[], slow] });
    let seen: number[] = [];
    // The launcher's descendants: its job shells, bwrap, the sandboxes' processes.
    const below = (root: number): number[] => {
      const kids = new Map<number, number[]>();
      for (const n of readdirSync('/proc').filter((x) => /^\d+$/.test(x)))
        try {
          const st = readFileSync(`/proc/${n}/stat`, 'utf8');
          const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
          kids.set(ppid, [...(kids.get(ppid) ?? []), Number(n)]);
        } catch {
          /* gone */
        }
      const out: number[] = [];
      const walk = (p: number): void => {
        for (const k of kids.get(p) ?? []) {
          out.push(k);
          walk(k);
        }
      };
      walk(root);
      return out;
    };
    let tree: number[] = [];
    const sleeping = (): boolean =>
      (tree = seen.flatMap(below)).filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('sleep\0');
        } catch {
          return false;
        }
      }).length >= 2;
    const r = await build(lock, (pid) => {
      void waitFor('two sandboxes', () => (seen = mounters(pid, true)).length > 0 && sleeping(), 60_000).then(
        () => process.kill(pid, 'SIGKILL'),
        () => process.kill(pid, 'SIGKILL'),
      );
    });
    expect(r.signal).toBe('SIGKILL');
    expect(seen.length, 'no sandbox launcher was seen').toBeGreaterThan(0);
    expect(tree.length).toBeGreaterThan(2);
    await waitFor(
      'the launcher and its sandboxes to end',
      () => [...seen, ...tree].every((p) => !existsSync(`/proc/${p}`)),
      10_000,
    );
  }, 300_000);
});
