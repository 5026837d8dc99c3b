/**
 * The sandbox seccomp filter (specs/sandbox-seccomp.md): its bytes match the spec's vector, and a
 * real static probe under bubblewrap with the filter installed (as `eos run` and the build sandbox
 * install it) gets EPERM for the denied calls, ENOSYS for clone3, is killed for an i386 call, and
 * still forks and runs ordinary programs.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SECCOMP_DENIED, seccompProgram, spawnWithSeccomp } from '../../composer/index.ts';
import { digestBytes } from '../../src/kernel/index.ts';
import { repoRoot, tempDir } from './helpers.ts';

/** specs/sandbox-seccomp.md §4: the program's length and BLAKE3 digest. */
const VECTOR = {
  instructions: 87,
  digest: 'blake3:326f4a53dbc51bd2210f71f7f15217b69b1fe8eeda0845c100686adba29bdb76',
};

let probe = '';
beforeAll(() => {
  probe = join(tempDir('eos-seccomp-'), 'probe');
  execFileSync('gcc', ['-static', '-O1', '-o', probe, join(repoRoot, 'tests/fixtures/sandbox/probe.c')]);
});

/** Runs the probe under bwrap (host `/` read-only, a user namespace, no capabilities, the filter). */
function underFilter(args: string[]): Promise<{ code: number | null; signal: string | null; out: string }> {
  const child = spawnWithSeccomp(
    'bwrap',
    [
      '--ro-bind',
      '/',
      '/',
      '--dev',
      '/dev',
      '--proc',
      '/proc',
      '--unshare-user',
      '--cap-drop',
      'ALL',
      '--unshare-pid',
      '--seccomp',
      '3',
      '--',
      probe,
      ...args,
    ],
    ['ignore', 'pipe', 'pipe'],
    {},
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((res) => child.on('close', (code, signal) => res({ code, signal, out })));
}

describe('the seccomp filter', () => {
  it('is the spec vector: length and digest of the program bytes', () => {
    const p = seccompProgram();
    expect(p.length).toBe(VECTOR.instructions * 8);
    expect(digestBytes(p)).toBe(VECTOR.digest);
    const spec = readFileSync(join(repoRoot, 'specs/sandbox-seccomp.md'), 'utf8');
    expect(spec).toContain(VECTOR.digest);
    for (const [name] of SECCOMP_DENIED) expect(spec).toContain(`\`${name}\``);
  });

  it('denies with EPERM, answers clone3 with ENOSYS, kills an i386 call, allows the rest', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['mount', '/tmp'], /^mount EPERM$/m],
      [['umount', '/proc'], /^umount EPERM$/m],
      [['unshare'], /^unshare EPERM$/m],
      [['ptrace'], /^ptrace EPERM$/m],
      [['clone'], /^clone EPERM$/m],
      [['clone3'], /^clone3 ENOSYS$/m],
      [['x32'], /^x32 EPERM$/m],
      [['open', '0', '1:00'], /^open EPERM$/m],
      [['handle', '/proc'], /^handle EPERM$/m],
      [['fork', '20', '0'], /^fork ok 20$/m],
      [['alloc', '64'], /^alloc ok 64$/m],
    ];
    for (const [args, want] of cases) {
      const r = await underFilter(args);
      expect(r.out, args.join(' ')).toMatch(want);
    }
    const killed = await underFilter(['int80']);
    expect(killed.out).not.toMatch(/int80 ok/);
    expect(killed.code === 159 || killed.signal === 'SIGSYS').toBe(true);
  });
});
