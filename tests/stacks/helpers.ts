/**
 * Shared fixtures of the stacks suites: a workspace (client store and config with a deploy key, a
 * host root whose trust policy trusts it), small real compositions made of the host's own dash,
 * sleep and cat with the libraries `ldd` names, and a real OpenSSH server on loopback.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..', '..');
export const eosBin = join(repoRoot, 'bin', 'eos.mjs');
/** The argv prefix that runs `eos` here. */
export const eosCommand = [process.execPath, eosBin];

/** One CLI run's outcome. */
export interface Cli {
  code: number;
  stdout: string;
  stderr: string;
}

/** A stacks workspace. */
export interface Ws {
  dir: string;
  store: string;
  config: string;
  host: string;
}

/** Runs `eos ARGS` with the workspace's store and config. */
export function eos(ws: Ws, args: string[], env: NodeJS.ProcessEnv = {}): Cli {
  const r = spawnSync(process.execPath, [eosBin, ...args], {
    cwd: ws.dir,
    encoding: 'utf8',
    env: { ...process.env, EOS_STORE: ws.store, EOS_CONFIG_DIR: ws.config, ...env },
    timeout: 180_000,
  });
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

/** Runs `eos` and throws with its stderr unless it exits 0. */
export function eosOk(ws: Ws, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = eos(ws, args, env);
  if (r.code !== 0) throw new Error(`eos ${args.join(' ')} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

/** The files `ldd` names for programs, as [path in the world, real host file], de-duplicated. */
function closure(programs: string[]): Map<string, string> {
  const files = new Map<string, string>();
  for (const program of programs) {
    files.set(program, realpathSync(program));
    for (const line of execFileSync('ldd', [program], { encoding: 'utf8' }).split('\n')) {
      const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
      if (m) files.set(m[1]!, realpathSync(m[1]!));
    }
  }
  return files;
}

/** Writes a composition TOML of host programs (plus `/usr/bin/sh` → dash) and returns its path. */
export function worldToml(
  dir: string,
  name: string,
  programs: string[],
  extra: Record<string, string> = {},
): string {
  const lines: string[] = [];
  let i = 0;
  for (const [at, real] of [...closure(programs)].sort())
    lines.push(`[entries.f${i++}]`, `at = "${at}"`, `path = "${real}"`, '');
  lines.push('[entries.sh]', 'at = "/usr/bin/sh"', 'symlink = "dash"', '');
  for (const [at, content] of Object.entries(extra)) {
    const f = join(dir, `${name}.${i}.data`);
    writeFileSync(f, content);
    lines.push(`[entries.f${i++}]`, `at = "${at}"`, `path = "${f}"`, '');
  }
  const p = join(dir, `${name}.toml`);
  writeFileSync(p, lines.join('\n'));
  return p;
}

/** A fresh workspace: a client key `ops` and a host root whose policy trusts it for deploy. */
export function workspace(prefix = 'eos-stacks-'): Ws {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const ws: Ws = { dir, store: join(dir, 'store'), config: join(dir, 'config'), host: join(dir, 'host') };
  eosOk(ws, ['key', 'generate', 'ops']);
  writeFileSync(join(dir, 'ops.pub'), eosOk(ws, ['key', 'export', 'ops']));
  const hostEnv = { EOS_CONFIG_DIR: join(ws.host, 'config') };
  eosOk(ws, ['key', 'import', join(dir, 'ops.pub')], hostEnv);
  eosOk(ws, ['key', 'trust', 'ops', '--for', 'deploy'], hostEnv);
  return ws;
}

/** Writes a stack file from parts and returns its path. */
export function stackFile(ws: Ws, name: string, text: string): string {
  const p = join(ws.dir, name);
  writeFileSync(p, text);
  return p;
}

/** Parses tab-separated result lines into [kind, ...fields]. */
export function lines(out: string): string[][] {
  return out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t'));
}

/** The `pushed` line's fields as numbers. */
export function pushed(out: string): Record<string, number> {
  const l = lines(out).find((x) => x[0] === 'pushed');
  if (!l) throw new Error(`no pushed line in ${out}`);
  return Object.fromEntries(
    l
      .slice(1)
      .map((kv) => kv.split('='))
      .map(([k, v]) => [k!, Number(v)]),
  );
}

/** A snapshot of what a deploy may change on a host: generations, current, channels, object names. */
export function hostSnapshot(host: string): string {
  const list = (d: string): string[] => {
    if (!existsSync(d)) return [];
    return readdirSync(d, { recursive: true, encoding: 'utf8' })
      .filter((f) => !statSync(join(d, f)).isDirectory())
      .sort();
  };
  let current = '';
  try {
    current = execFileSync('readlink', [join(host, 'current')], { encoding: 'utf8' });
  } catch {
    current = '(none)';
  }
  const chans = list(join(host, 'channels')).map(
    (f) => `${f}:${readFileSync(join(host, 'channels', f), 'utf8')}`,
  );
  return JSON.stringify({
    current,
    generations: list(join(host, 'generations')),
    chans,
    objects: list(join(host, 'store', 'objects')),
    trees: list(join(host, 'store', 'trees')),
    staging: list(join(host, 'staging')),
  });
}

/** Stops every process-backend service of a host (the test's own supervisors, by their recorded pids). */
export function stopServices(host: string): void {
  const run = join(host, 'run');
  if (!existsSync(run)) return;
  for (const f of readdirSync(run).filter((x) => x.endsWith('.json'))) {
    try {
      const { pid } = JSON.parse(readFileSync(join(run, f), 'utf8')) as { pid: number };
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** A running test sshd. */
export interface Sshd {
  port: number;
  /** A known_hosts file with this server's host key. */
  knownHosts: string;
  /** A known_hosts file naming another host key for the same address. */
  wrongKnownHosts: string;
  /** An empty known_hosts file. */
  emptyKnownHosts: string;
  /** The client's private key (authorized for root). */
  identity: string;
  /** The sshd log (its -E file). */
  log: string;
  proc: ChildProcess;
  stop(): void;
}

/**
 * Starts Debian's OpenSSH server on 127.0.0.1 at a free high port with its own sshd_config, a host
 * key made here by ssh-keygen, and the client's key authorized for root. Installs openssh-server
 * with scripts/setup.sh when absent.
 */
export async function startSshd(dir: string): Promise<Sshd> {
  if (!existsSync('/usr/sbin/sshd'))
    spawnSync('bash', [join(repoRoot, 'scripts', 'setup.sh')], { stdio: 'inherit' });
  const d = join(dir, 'sshd');
  mkdirSync(d, { recursive: true });
  mkdirSync('/run/sshd', { recursive: true });
  const keygen = (f: string) => execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', f]);
  keygen(join(d, 'host_key'));
  keygen(join(d, 'other_host_key'));
  keygen(join(d, 'client_key'));
  writeFileSync(join(d, 'authorized_keys'), readFileSync(join(d, 'client_key.pub')));
  const port = await freePort();
  const log = join(d, 'sshd.log');
  writeFileSync(
    join(d, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(d, 'host_key')}`,
      `AuthorizedKeysFile ${join(d, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      `PidFile ${join(d, 'sshd.pid')}`,
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );
  const proc = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(d, 'sshd_config'), '-E', log], {
    stdio: 'ignore',
  });
  const hostPub = readFileSync(join(d, 'host_key.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
  const otherPub = readFileSync(join(d, 'other_host_key.pub'), 'utf8')
    .trim()
    .split(' ')
    .slice(0, 2)
    .join(' ');
  const knownHosts = join(d, 'known_hosts');
  const wrongKnownHosts = join(d, 'wrong_known_hosts');
  const emptyKnownHosts = join(d, 'empty_known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostPub}\n`);
  writeFileSync(wrongKnownHosts, `[127.0.0.1]:${port} ${otherPub}\n`);
  writeFileSync(emptyKnownHosts, '');
  for (let i = 0; i < 100; i++) {
    if (existsSync(log) && readFileSync(log, 'utf8').includes('Server listening')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    knownHosts,
    wrongKnownHosts,
    emptyKnownHosts,
    identity: join(d, 'client_key'),
    log,
    proc,
    stop: () => proc.kill('SIGTERM'),
  };
}

/** Waits (up to `ms`) until a file contains `text`; returns its content. */
export async function waitForText(file: string, text: string | RegExp, ms = 20_000): Promise<string> {
  const until = Date.now() + ms;
  for (;;) {
    const s = existsSync(file) ? readFileSync(file, 'utf8') : '';
    if (typeof text === 'string' ? s.includes(text) : text.test(s)) return s;
    if (Date.now() > until) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
}
