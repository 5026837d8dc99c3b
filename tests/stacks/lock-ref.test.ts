/**
 * `{ lock = … }` compositions in a stack file (specs/stack.md §4.1): evaluating the stack builds
 * the lock for real (sandboxed, the host seed) and uses the runtime composition of its closure,
 * the same root `eos build --compose` gives; the deployed service runs the built program. A lock
 * that fails to build, or a missing lock, is a located E33 before anything is pushed.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeLock } from '../../atoms/index.ts';
import { hostSeedWorld, testCacheDir } from '../executor/helpers.ts';
import {
  eosBin,
  hostSnapshot,
  lines,
  stackFile,
  stopServices,
  waitForText,
  workspace,
  type Ws,
} from './helpers.ts';

const nonce = `${Date.now()}-${process.pid}`; // fresh action ids in the shared test store
let ws: Ws;
let store: string;
const seedLock = join(testCacheDir(), 'seed-host.lock');

function atom(dir: string, label: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'atom.toml'),
    `[atom]\nlabel = "${label}"\nversion = "1.0.0"\n\n[build]\nrecipe = "std.make"\n`,
  );
  for (const [n, t] of Object.entries(files)) writeFileSync(join(dir, n), t);
}

const GREETER = {
  'greeter.c': [
    '#include <stdio.h>',
    '#include <unistd.h>',
    `int main(void) { printf("greeter ${nonce}\\n"); fflush(stdout); for (;;) sleep(1000); }`,
    '',
  ].join('\n'),
  Makefile: [
    'greeter: greeter.c',
    '\t$(CC) -O2 -o $@ greeter.c',
    'install: greeter',
    '\tinstall -d $(DESTDIR)$(PREFIX)/bin',
    '\tinstall -m 755 greeter $(DESTDIR)$(PREFIX)/bin/',
    '',
  ].join('\n'),
};

function lockOf(dir: string, label: string): string {
  const lock = join(dir, 'eos.lock');
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
  return lock;
}

function stack(name: string, lockRel: string): string {
  return stackFile(
    ws,
    name,
    `version = 1
name = "greet"
backend = "process"

[compositions]
app = { lock = "${lockRel}", seedLock = "${seedLock}" }

[[services]]
name = "greeter"
composition = "app"
exec = "/usr/bin/greeter"
`,
  );
}

const isRoot = process.getuid?.() === 0;

/** `eos ARGS` with the shared test store (evaluation builds: a longer limit than the helpers' eos). */
function eos(w: Ws, args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [eosBin, ...args], {
    cwd: w.dir,
    encoding: 'utf8',
    env: { ...process.env, EOS_STORE: store, EOS_CONFIG_DIR: w.config },
    timeout: 900_000,
  });
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  store = (await hostSeedWorld()).store.root;
  ws = workspace('eos-stack-lock-');
  atom(join(ws.dir, 'app', 'greeter'), 'greeter', GREETER);
  lockOf(join(ws.dir, 'app'), 'greeter');
  atom(join(ws.dir, 'bad', 'broken'), 'broken', {
    Makefile: 'all:\n\t@echo "cc: error: no input files" >&2; exit 2\ninstall: all\n',
  });
  lockOf(join(ws.dir, 'bad'), 'broken');
}, 600_000);
afterAll(() => stopServices(ws.host));

describe.skipIf(!isRoot)('stack compositions given as { lock = … }', () => {
  it('evaluation builds the lock and uses its runtime composition (the root eos build --compose gives)', () => {
    const file = stack('greet.stack.toml', 'app/eos.lock');
    const check = eos(ws, ['stack', 'check', file, '--target', `local:${ws.host}`]);
    expect(check.stderr).toMatch(/^ok\tgreeter\tblake3:[0-9a-f]{64}$/m); // built during evaluation
    expect(check.code).toBe(0);
    const comp = lines(check.stdout).find((l) => l[0] === 'composition')!;
    expect(comp[1]).toBe('app');
    expect(comp[2]).toMatch(/^blake3:[0-9a-f]{64}$/);

    const built = eos(ws, [
      'build',
      join(ws.dir, 'app', 'eos.lock'),
      '--seed-lock',
      seedLock,
      '--compose',
      join(ws.dir, 'rt.toml'),
    ]);
    expect(built.code).toBe(0);
    expect(built.stdout).toContain('1 atom(s): 0 ok, 1 cached'); // evaluation built it, once
    expect(lines(built.stdout).find((l) => l[0] === 'composition')![1]).toBe(comp[2]);

    const again = eos(ws, ['stack', 'check', file, '--target', `local:${ws.host}`]);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/^cached\tgreeter\t/m);
    expect(lines(again.stdout).find((l) => l[0] === 'composition')![2]).toBe(comp[2]);
  }, 1_800_000);

  it('a deploy of the stack runs the built program in that composition', async () => {
    const file = stack('greet.stack.toml', 'app/eos.lock');
    const out = eos(ws, ['deploy', file, '--key', 'ops', '--target', `local:${ws.host}`]);
    expect(out.code, out.stderr).toBe(0);
    expect(lines(out.stdout).find((l) => l[0] === 'generation')?.[1]).toBe('1');
    expect(await waitForText(join(ws.host, 'logs', 'greeter.log'), `greeter ${nonce}`)).toContain(
      `greeter ${nonce}`,
    );
  }, 1_800_000);

  it('a lock that does not build, or is missing, is a located E33 and nothing is pushed', () => {
    const before = hostSnapshot(ws.host);
    const bad = eos(ws, [
      'deploy',
      stack('bad.stack.toml', 'bad/eos.lock'),
      '--key',
      'ops',
      '--target',
      `local:${ws.host}`,
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      /\[E33\] (?:\S*\/)?bad\.stack\.toml:6: compositions\.app\.lock: bad\/eos\.lock: \[E33\] the build failed \(exit 3\): broken: \[E22\] broken 1\.0\.0: recipe std\.make failed/,
    );
    const missing = eos(ws, ['stack', 'check', stack('missing.stack.toml', 'nowhere/eos.lock')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /\[E33\] (?:\S*\/)?missing\.stack\.toml:6: compositions\.app\.lock: \/.*\/nowhere\/eos\.lock does not exist/,
    );
    expect(hostSnapshot(ws.host)).toBe(before);
  }, 1_800_000);
});
