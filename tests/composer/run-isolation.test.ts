/**
 * `eos run`'s isolation (issue 15 item 2): a static probe inside a composition tries the classic
 * escapes — `open_by_handle_at` on an inherited descriptor of the host's filesystem (reading a host
 * file), mounting, unsharing a user namespace, ptrace — and each must fail, while ordinary commands
 * still run. Both modes: the mounted composefs image (root) and the hard-link world
 * (`EOS_NO_MOUNT=1`). Needs root (the suite runs as root) and gcc's static libc (scripts/setup.sh).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, openSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { eos, repoRoot, tempDir } from './helpers.ts';

const isRoot = process.getuid?.() === 0;
const bin = join(repoRoot, 'bin', 'eos.mjs');
let ws: { store: string; config: string; cwd: string };
let root = '';
let secretDir = '';
let handle = '';

beforeAll(() => {
  const base = tempDir('eos-run-iso-');
  ws = { store: join(base, 'store'), config: join(base, 'config'), cwd: base };
  const probe = join(base, 'probe');
  execFileSync('gcc', ['-static', '-O1', '-o', probe, join(repoRoot, 'tests/fixtures/sandbox/probe.c')]);
  // The host file the probe must not read; its handle is taken on the host, as an attacker could guess it.
  secretDir = tempDir('eos-run-secret-');
  writeFileSync(join(secretDir, 'secret.txt'), 'HOST-SECRET-5150\n');
  handle = execFileSync(probe, ['handle', join(secretDir, 'secret.txt')], { encoding: 'utf8' }).trim();
  expect(
    execFileSync(probe, ['open', '0', handle], {
      stdio: [openSync(secretDir, 'r'), 'pipe', 'pipe'],
    }).toString(),
  ).toContain('open ok HOST-SECRET-5150');
  const files: string[] = [];
  let i = 0;
  for (const p of ['/usr/bin/dash', '/usr/bin/cat']) {
    const ldd = execFileSync('ldd', [p], { encoding: 'utf8' });
    for (const f of [p, ...[...ldd.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)].map((m) => m[1]!)])
      files.push(`[entries.f${i++}]`, `at = "${f}"`, `path = "${realpathSync(f)}"`, '');
  }
  files.push('[entries.probe]', 'at = "/usr/bin/probe"', `path = "${probe}"`, '');
  files.push('[entries.sh]', 'at = "/usr/bin/sh"', 'symlink = "dash"', '');
  writeFileSync(join(base, 'world.toml'), files.join('\n'));
  const r = eos(ws, ['compose', 'world.toml']);
  if (r.code !== 0) throw new Error(r.stderr);
  root = r.stdout.trim();
});

/** `eos run ROOT -- ARGV` with stdin a descriptor of the secret's host directory (inherited). */
function run(argv: string[], env: NodeJS.ProcessEnv = {}, extra: string[] = []) {
  const fd = openSync(secretDir, 'r');
  try {
    const r = spawnSync(process.execPath, [bin, 'run', root, ...extra, '--', ...argv], {
      cwd: ws.cwd,
      encoding: 'utf8',
      env: { ...process.env, EOS_STORE: ws.store, EOS_CONFIG_DIR: ws.config, ...env },
      stdio: [fd, 'pipe', 'pipe'],
      timeout: 120_000,
    });
    return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
  } finally {
    closeSync(fd);
  }
}

/** Prints the network interfaces' names, one a line (shell built-ins only: the world has no coreutils). */
const NET = '{ read a; read b; while read n rest; do echo "if ${n%%:*}"; done; } < /proc/net/dev';

/** The interface names of a NET script's output, sorted. */
function interfaces(out: string): string[] {
  return [...out.matchAll(/^if (\S+)$/gm)].map((m) => m[1]!).sort();
}

const SCRIPT = [
  'probe open 0 "$1"',
  'probe mount /tmp',
  'probe umount /proc',
  'probe unshare',
  'probe ptrace',
  'while IFS= read -r l; do case "$l" in Uid:*|Cap*|NoNewPrivs:*|Seccomp:*) echo "$l";; esac; done < /proc/self/status',
  NET,
  'echo ordinary ok',
].join('\n');

describe.skipIf(!isRoot)('eos run is unprivileged (needs root: the escapes worked as root)', () => {
  for (const [mode, env] of [
    ['mounted image', {}],
    ['hard-link world', { EOS_NO_MOUNT: '1' }],
  ] as const) {
    it(`${mode}: open_by_handle_at, mount, umount, unshare and ptrace fail; ordinary commands work`, () => {
      const r = run(['sh', '-c', SCRIPT, 'sh', handle], env);
      expect(r.stdout).not.toContain('HOST-SECRET-5150');
      expect(r.stdout).toMatch(/^open EPERM$/m);
      expect(r.stdout).toMatch(/^mount EPERM$/m);
      expect(r.stdout).toMatch(/^umount EPERM$/m);
      expect(r.stdout).toMatch(/^unshare EPERM$/m);
      expect(r.stdout).toMatch(/^ptrace EPERM$/m);
      expect(r.stdout).toMatch(/^Uid:\s+1000\s/m);
      expect(r.stdout).toMatch(/^CapEff:\s+0+$/m);
      expect(r.stdout).toMatch(/^CapBnd:\s+0+$/m);
      expect(r.stdout).toMatch(/^NoNewPrivs:\s+1$/m);
      expect(r.stdout).toMatch(/^Seccomp:\s+2$/m);
      // A fresh network namespace: only the loopback interface.
      expect(interfaces(r.stdout)).toEqual(['lo']);
      expect(r.stdout).toContain('ordinary ok');
      expect(r.code).toBe(0);
    });
  }

  it('shares the host network only with --network (said in --help)', () => {
    const host = interfaces(execFileSync('sh', ['-c', NET], { encoding: 'utf8' }));
    expect(host.length).toBeGreaterThan(1);
    const r = run(['sh', '-c', NET], {}, ['--network']);
    expect(r.code).toBe(0);
    expect(interfaces(r.stdout)).toEqual(host);
    const help = eos(ws, ['run', '--help']);
    expect(help.stdout).toMatch(/--network/);
    expect(help.stdout).toMatch(/seccomp/);
  });
});
