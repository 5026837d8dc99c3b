/**
 * Resource limits of a build action (issue 15 item 6, specs/executor.md §4.1): a static probe in
 * the real sandbox forks 300 processes or allocates 1.5 GiB and must fail with the limit named
 * (cgroup v2 or v1 here), while a normal run under the same limits passes and no cgroup is left.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runSandbox, type SandboxSpec } from '../../executor/index.ts';
import { hostSeedWorld } from './helpers.ts';

const canRun = existsSync('/usr/bin/bwrap') && process.getuid?.() === 0;
let worldDir = '';
let scratch = '';
let probe = '';

beforeAll(async () => {
  if (!canRun) return;
  worldDir = (await hostSeedWorld()).worldDir;
  scratch = mkdtempSync(join(tmpdir(), 'eos-limits-'));
  probe = join(scratch, 'probe');
  execFileSync('gcc', [
    '-static',
    '-O1',
    '-o',
    probe,
    join(import.meta.dirname, '../fixtures/sandbox/probe.c'),
  ]);
}, 300_000);

async function script(text: string, extra: Partial<SandboxSpec> = {}) {
  const d = mkdtempSync(join(scratch, 'run-'));
  const buildDir = join(d, 'build');
  const outputDir = join(d, 'output');
  mkdirSync(buildDir);
  mkdirSync(outputDir);
  writeFileSync(join(buildDir, 'build.sh'), text);
  execFileSync('cp', [probe, join(buildDir, 'probe')]);
  const logPath = join(d, 'log');
  const r = await runSandbox({
    worldDir,
    buildDir,
    outputDir,
    argv: ['/bin/sh', '/build/build.sh'],
    sourceDateEpoch: 1700000000,
    jobs: 2,
    timeoutMs: 60_000,
    logPath,
    limits: { maxPids: 256, maxMemory: 1024 * 2 ** 20 },
    ...extra,
  });
  return { r, log: readFileSync(logPath, 'utf8') };
}

/** The action cgroups of this process still present (must be none after a run). */
function leftCgroups(): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number): void => {
    if (depth > 6) return;
    let names: string[] = [];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names)
      if (n.startsWith(`eos-action-${process.pid}-`)) out.push(join(d, n));
      else if (!n.includes('.') && existsSync(join(d, n, 'cgroup.procs'))) walk(join(d, n), depth + 1);
  };
  walk('/sys/fs/cgroup', 0);
  return out;
}

describe.skipIf(!canRun)('sandbox resource limits (needs root and bwrap)', () => {
  it('a normal run passes under the limits (and says how they were enforced)', async () => {
    const { r, log } = await script('/build/probe fork 50 1 && /build/probe alloc 200 && echo done\n');
    expect(log).toContain('fork ok 50');
    expect(log).toContain('alloc ok 200');
    expect(r.exitCode).toBe(0);
    expect(r.limitExceeded).toBeUndefined();
    expect(['cgroup2', 'cgroup1']).toContain(r.limits);
    expect(leftCgroups()).toEqual([]);
  });

  it('300 processes fail the run with the pids limit named', async () => {
    const { r, log } = await script('/build/probe fork 300 20\n');
    expect(log).toMatch(/fork EAGAIN after \d+/);
    expect(r.exitCode).not.toBe(0);
    expect(r.limitExceeded).toBe('pids');
    expect(leftCgroups()).toEqual([]);
  }, 120_000);

  it('a 1.5 GiB allocation fails the run with the memory limit named', async () => {
    const { r } = await script('/build/probe alloc 1536\n');
    expect(r.exitCode).not.toBe(0);
    expect(r.limitExceeded).toBe('memory');
    expect(leftCgroups()).toEqual([]);
  }, 120_000);
});
