/**
 * Cancellation of real sandboxed builds (issue #6): `buildAtom` with an abort signal kills the
 * whole sandbox (a process that ignores SIGTERM included), rejects with E22 `reason: 'cancelled'`,
 * stores no record, root or log for it and removes its temporary directories; and `eos build`
 * given SIGTERM (to the eos process only) kills its running sandbox, exits 143 and records no
 * action cache entry. Needs root and bwrap (skips and says so otherwise).
 */
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BuildFailedError, type Store } from '../../src/kernel/index.ts';
import { buildAtom, type SeedLock } from '../../executor/index.ts';
import { encodeLock } from '../../atoms/index.ts';
import { actionEntryPath } from '../../scheduler/index.ts';
import { run as runBuild } from '../../src/cli/build.ts';
import { hostSeedWorld, testCacheDir } from './helpers.ts';

const canRun = existsSync('/usr/bin/bwrap') && process.getuid?.() === 0;
if (!canRun) console.warn('executor cancellation tests skipped: need root and /usr/bin/bwrap');

const repo = join(import.meta.dirname, '..', '..');
const nonce = `${Date.now()}${process.pid}`;
let store: Store;
let seed: SeedLock;

beforeAll(async () => {
  if (!canRun) return;
  const w = await hostSeedWorld();
  store = w.store;
  seed = w.seed.lock;
}, 600_000);

/** A recipe script whose inner shell ignores SIGTERM and loops forever; `marker` is in its command line. */
function loopScript(marker: string): string {
  return `echo started > "$OUTPUT/started"; sh -c 'trap "" TERM; while :; do sleep 1; done' ${marker}`;
}

/** The PIDs whose command line holds `marker` (not this process). */
function pidsWith(marker: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    if (Number(pid) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)) out.push(Number(pid));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Whether a process has ended and waits to be reaped (a zombie runs nothing; init reaps it in its time). */
function zombie(pid: number): boolean {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return /^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
}

/** The running PIDs (zombies excepted) living in the PID namespace `ns` (as `/proc/<pid>/ns/pid` names it). */
function pidsInNamespace(ns: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (readlinkSync(`/proc/${pid}/ns/pid`) === ns && !zombie(Number(pid))) out.push(Number(pid));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Waits until a process whose command line holds `marker` runs inside a sandbox; returns it and its namespace. */
async function waitForSandbox(marker: string, timeoutMs: number): Promise<{ pid: number; ns: string }> {
  const self = readlinkSync('/proc/self/ns/pid');
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    for (const pid of pidsWith(marker)) {
      try {
        const ns = readlinkSync(`/proc/${pid}/ns/pid`);
        if (ns !== self && readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sh\0-c\0'))
          return { pid, ns };
      } catch {
        /* gone */
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no sandboxed process with ${marker} within ${timeoutMs} ms`);
}

/** `eos-sandbox-mnt-*` directories named on the command lines of processes holding `marker`. */
function mountDirsOf(marker: string): string[] {
  const dirs = new Set<string>();
  for (const pid of pidsWith(marker)) {
    try {
      for (const a of readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'))
        if (/\/eos-sandbox-mnt-[^/]+$/.test(a)) dirs.add(a);
    } catch {
      /* gone */
    }
  }
  return [...dirs];
}

/** The labels of the build records that `build-*` roots name. */
async function recordLabels(): Promise<string[]> {
  const labels: string[] = [];
  for (const r of await store.listRoots()) {
    if (!r.name.startsWith('build-') || r.name.endsWith('-sig')) continue;
    try {
      labels.push((JSON.parse(readFileSync(store.blobPath(r.digest), 'utf8')) as { label: string }).label);
    } catch {
      /* not a record */
    }
  }
  return labels;
}

/** This process's staging directories in the store's tmp. */
function myStaging(): string[] {
  const dir = store.dir('tmp');
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith(`${process.pid}-build-`)) : [];
}

describe.skipIf(!canRun)('cancelling real sandboxed builds (root, bwrap)', () => {
  for (const worldMount of ['composefs', 'hardlink'] as const) {
    it(`buildAtom (${worldMount} world): abort kills the sandbox, stores nothing, leaves no temp dirs`, async () => {
      const label = `cancel-${worldMount}-${nonce}`;
      const marker = `eos-cancel-marker-${worldMount}-${nonce}`;
      const ctrl = new AbortController();
      const t0 = Date.now();
      const build = buildAtom({
        store,
        seed,
        label,
        version: '1.0.0',
        recipe: 'std.shell',
        args: { script: loopScript(marker) },
        sources: [],
        worldMount,
        timeoutMs: 120_000,
        signal: ctrl.signal,
      });
      const outcome = build.then(
        () => undefined,
        (e: unknown) => e,
      );
      const { ns } = await Promise.race([
        waitForSandbox(marker, 120_000),
        outcome.then((e) => Promise.reject(new Error(`the build ended before it was aborted: ${String(e)}`))),
      ]);
      const mnts = mountDirsOf(marker);
      if (worldMount === 'composefs') expect(mnts).toHaveLength(1);
      expect(myStaging()).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 1000));
      const tAbort = Date.now();
      ctrl.abort(new Error('test abort'));
      const err = await outcome;
      const tookMs = Date.now() - tAbort;
      expect(err).toBeInstanceOf(BuildFailedError);
      expect((err as BuildFailedError).message).toBe(`[E22] ${label} 1.0.0: build cancelled (test abort)`);
      expect((err as BuildFailedError).data).toMatchObject({ reason: 'cancelled' });
      expect(tookMs).toBeLessThan(5000); // SIGTERM, then SIGKILL after 1 s at the latest
      // Nothing of the sandbox survives: no process with the marker, none in its PID namespace.
      expect(pidsWith(marker)).toEqual([]);
      expect(pidsInNamespace(ns)).toEqual([]);
      // Nothing stored for it; its staging and mount directories are gone.
      expect(await recordLabels()).not.toContain(label);
      expect(myStaging()).toEqual([]);
      for (const m of mnts) expect(existsSync(m)).toBe(false);
      expect(Date.now() - t0).toBeLessThan(180_000);
    }, 240_000);
  }

  it('an already aborted signal starts nothing', async () => {
    const ctrl = new AbortController();
    ctrl.abort(new Error('early'));
    await expect(
      buildAtom({
        store,
        seed,
        label: `never-${nonce}`,
        version: '1.0.0',
        recipe: 'std.shell',
        args: { script: 'exit 0' },
        sources: [],
        signal: ctrl.signal,
      }),
    ).rejects.toThrow(`[E22] never-${nonce} 1.0.0: build cancelled (early)`);
    expect(myStaging()).toEqual([]);
  });

  it('eos build: SIGTERM to eos alone kills the running sandbox, exits 143, caches nothing', async () => {
    const label = `sleeper-${nonce}`;
    const marker = `eos-cancel-marker-cli-${nonce}`;
    const ws = mkdtempSync(join(tmpdir(), 'eos-cancel-ws-'));
    mkdirSync(join(ws, label));
    writeFileSync(
      join(ws, label, 'atom.toml'),
      [
        '[atom]',
        `label = "${label}"`,
        'version = "1.0.0"',
        '',
        '[build]',
        'recipe = "std.shell"',
        `script = '''${loopScript(marker)}'''`,
        '',
      ].join('\n'),
    );
    const lock = join(ws, 'eos.lock');
    writeFileSync(
      lock,
      encodeLock({
        version: 1,
        prerelease: false,
        sets: {},
        atoms: {},
        workspace: { [label]: { path: label, version: '1.0.0', deps: [] } },
      }),
    );
    const seedLock = join(testCacheDir(), 'seed-host.lock');
    // The action id, from a dry run.
    const dry = await runBuild({ store: store.root, json: false, lock, seedLock, dryRun: true });
    const line = dry.lines!.find((l) => l.startsWith(`dry-run\t${label}\t`))!;
    const action = line.split('\t')[2]!;
    expect(action).toMatch(/^blake3:[0-9a-f]{64}$/);
    const entry = actionEntryPath(store.root, action as Parameters<typeof actionEntryPath>[1]);
    expect(existsSync(entry)).toBe(false);

    const child = spawn(
      process.execPath,
      [join(repo, 'bin/eos.mjs'), '--store', store.root, 'build', lock, '--seed-lock', seedLock, '-j', '1'],
      { cwd: ws, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.resume();
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) =>
      child.on('exit', (code, signal) => r({ code, signal })),
    );
    const { ns } = await waitForSandbox(marker, 120_000);
    await new Promise((r) => setTimeout(r, 1000));
    const tTerm = Date.now();
    child.kill('SIGTERM'); // the eos process only, not its group
    const res = await exited;
    const tookMs = Date.now() - tTerm;
    expect(res, stderr).toEqual({ code: 143, signal: null });
    expect(stderr).toContain('SIGTERM: cancelling');
    expect(tookMs).toBeLessThan(10_000);
    expect(pidsWith(marker)).toEqual([]);
    expect(pidsInNamespace(ns)).toEqual([]);
    expect(existsSync(entry)).toBe(false);
    expect(await recordLabels()).not.toContain(label);
  }, 240_000);
});
