/**
 * The build sandbox: bubblewrap with new mount, PID, network, IPC, UTS (and, where possible,
 * user and cgroup) namespaces. The world directory is bound read-only at `/`; only `/build` and
 * `/output` are writable; `/tmp` is a fresh tmpfs, `/dev` minimal, `/proc` the sandbox's own.
 * Nothing else of the host is visible and there is no network. The environment is cleared and set
 * to a fixed list. The sandbox dies with its parent, is killed whole at its time limit, and every
 * process left in it is killed when its main process exits (the PID namespace ends).
 * stdout and stderr go to one log file.
 *
 * @see specs/executor.md §4
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import type { Socket } from 'node:net';
import * as fs from 'node:fs/promises';
import { getPriority, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { composefsRootCommand, spawnWithSeccomp, type ComposefsRoot } from '../composer/index.ts';
import { BuildFailedError, MountError, SandboxError, pidAlive } from '../src/kernel/index.ts';
import { actionLimits, defaultLimits, type LimitMechanism, type ResourceLimits } from './sandbox-limits.ts';

/** The host mount-point directories of composefs sandboxes: `$TMPDIR/eos-sandbox-mnt-<pid>-<random>`. */
const SANDBOX_MNT_PREFIX = 'eos-sandbox-mnt-';

/**
 * Removes the (empty) host mount-point directories left by sandboxes whose process is dead (a
 * SIGTERM'd or SIGKILLed build): `$TMPDIR/eos-sandbox-mnt-<pid>-*`. The mounts themselves lived
 * in the dead process's namespace, so only an empty directory remains; non-empty ones are kept.
 * Called when a sandbox starts and by `eos store gc`.
 * @returns how many were removed
 * @see specs/executor.md §4
 */
export function sweepSandboxMounts(dir: string = tmpdir()): number {
  let n = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const m = /^eos-sandbox-mnt-(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
    try {
      rmdirSync(join(dir, name));
      n++;
    } catch {
      // not empty, or raced: leave it
    }
  }
  return n;
}

/** The directories {@link sweepSandboxMountsOnce} has swept in this process. */
const sweptDirs = new Set<string>();

/**
 * {@link sweepSandboxMounts} once per directory per process: what a sandbox start calls, so a
 * build of many actions lists `$TMPDIR` once, not once per action (litter of a build killed after
 * this one started is swept by the next process, or by `eos store gc`).
 * @returns how many were removed (0 after the first call for `dir`)
 */
export function sweepSandboxMountsOnce(dir: string = tmpdir()): number {
  if (sweptDirs.has(dir)) return 0;
  sweptDirs.add(dir);
  return sweepSandboxMounts(dir);
}

/** What a shared world's holder runs once the view is mounted: says so, then waits for its stdin's end. */
const HOLD_SCRIPT = 'echo ready; read line; exit 0';

/** A mounted shared world: the holder process whose mount namespace has it, and the view's path there. */
interface HeldWorld {
  child: ChildProcess;
  pid: number;
  mnt: string;
  view: string;
  exited: boolean;
  /** The sandboxes in it now (entered, not yet released). */
  users: number;
}

/** A sandbox's place in a shared world: the holder's pid, the view's path, and its release. */
export interface WorldLease {
  pid: number;
  view: string;
  /** Says the sandbox has ended (idempotent): an unused world may then be ended (see `maxIdle`). */
  release: () => void;
}

/** What a {@link SandboxWorlds} did: worlds mounted (holders started) and sandboxes that entered one. */
export interface SandboxWorldsStats {
  mounted: number;
  entered: number;
}

/**
 * Composefs worlds mounted once and shared by many sandboxes (specs/executor.md §4.2): per distinct
 * world (image, object directory and mount options), one holder process makes a mount namespace
 * (`unshare --mount`, propagation `slave`) with the world's tmpfs, EROFS image and read-only overlay
 * mounted, exactly as a lone sandbox mounts them, and waits. Each sandbox of that world enters the
 * holder's namespace (`nsenter --mount`) and binds the view read-only at `/` as usual; its
 * `/build`, `/output`, `/tmp`, `/dev` and `/proc` are its own, as before. The world is read-only
 * (an overlay without an upper layer, bound read-only), so sharing it changes nothing a build sees.
 *
 * A world no sandbox is in is kept for the next (at most `maxIdle` such worlds, default
 * {@link SANDBOX_WORLDS_MAX_IDLE}; the one unused longest is ended first), so a long build over
 * many different worlds keeps a bounded number of holders.
 *
 * The mounts live only in the holder's namespace: they vanish when the holder and every sandbox in
 * it have ended. The holder dies with this process (its stdin is a pipe from it, and it has
 * `--pdeathsig KILL`), so a SIGKILL leaves nothing mounted, only an empty
 * `$TMPDIR/eos-sandbox-mnt-<pid>-*` directory that {@link sweepSandboxMounts} removes. Never keeps
 * this process alive; {@link SandboxWorlds.close} ends the holders (sandboxes still running keep
 * their namespace until they end) and removes their mount directories.
 */
export class SandboxWorlds {
  readonly #held = new Map<string, Promise<HeldWorld>>();
  /** Keys of mounted worlds no sandbox is in, the one unused longest first. */
  readonly #idle: string[] = [];
  readonly #maxIdle: number;
  #closed = false;
  #mounted = 0;
  #entered = 0;
  /** Live holders, for the one 'exit' hook of this set (this process's end kills them). */
  readonly #live = new Set<HeldWorld>();
  readonly #onExit = (): void => {
    for (const w of this.#live) {
      try {
        w.child.kill('SIGKILL');
      } catch {
        /* gone */
      }
      try {
        rmdirSync(w.mnt);
      } catch {
        /* still busy or gone: sweepSandboxMounts removes it later */
      }
    }
  };

  /** @param opts.maxIdle how many mounted worlds no sandbox is in are kept (default {@link SANDBOX_WORLDS_MAX_IDLE}) */
  constructor(opts: { maxIdle?: number } = {}) {
    this.#maxIdle = opts.maxIdle ?? SANDBOX_WORLDS_MAX_IDLE;
  }

  /** Worlds mounted and sandboxes entered so far. */
  stats(): SandboxWorldsStats {
    return { mounted: this.#mounted, entered: this.#entered };
  }

  /**
   * The holder of `root`'s world, mounting it first when no live holder has it. The caller
   * releases the lease when its sandbox has ended.
   * @throws SandboxError E21 when closed, or when the world cannot be mounted (the holder's stderr)
   */
  async enter(root: ComposefsRoot): Promise<WorldLease> {
    if (this.#closed) throw new SandboxError('shared sandbox worlds: used after close');
    const key = JSON.stringify(root);
    let p = this.#held.get(key);
    if (p) {
      const w = await p.catch(() => undefined);
      if (!w || w.exited) {
        if (this.#held.get(key) === p) this.#held.delete(key);
        p = undefined;
      }
    }
    if (!p) {
      p = this.#hold(root);
      this.#held.set(key, p);
      p.catch(() => {
        if (this.#held.get(key) === p) this.#held.delete(key);
      });
    }
    const w = await p;
    if (this.#closed) throw new SandboxError('shared sandbox worlds: used after close');
    w.users++;
    this.#entered++;
    const i = this.#idle.indexOf(key);
    if (i >= 0) this.#idle.splice(i, 1);
    let released = false;
    return {
      pid: w.pid,
      view: w.view,
      release: () => {
        if (released) return;
        released = true;
        w.users--;
        if (w.users > 0 || w.exited || this.#closed || this.#held.get(key) !== p) return;
        this.#idle.push(key);
        while (this.#idle.length > this.#maxIdle) {
          const old = this.#idle.shift()!;
          const q = this.#held.get(old);
          this.#held.delete(old);
          void q?.then((x) => SandboxWorlds.#end(x)).catch(() => undefined);
        }
      },
    };
  }

  async #hold(root: ComposefsRoot): Promise<HeldWorld> {
    sweepSandboxMountsOnce();
    const mnt = await fs.mkdtemp(join(tmpdir(), `${SANDBOX_MNT_PREFIX}${process.pid}-`));
    let cmd: [string, string[]];
    try {
      cmd = await composefsRootCommand(root, {
        mnt,
        mountPoints: SANDBOX_MOUNT_POINTS,
        source: 'eos-sandbox',
        propagation: 'slave',
        command: () => ['/bin/sh', '-c', HOLD_SCRIPT],
      });
    } catch (e) {
      await fs.rmdir(mnt).catch(() => undefined);
      if (e instanceof MountError)
        throw new SandboxError(e.detail, { ...(e.hint ? { hint: e.hint } : {}), cause: e });
      throw e;
    }
    const child = spawn(cmd[0], cmd[1], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    const w: HeldWorld = {
      child,
      pid: child.pid ?? -1,
      mnt,
      view: join(mnt, 'root'),
      exited: false,
      users: 0,
    };
    if (this.#live.size === 0) process.on('exit', this.#onExit);
    this.#live.add(w);
    child.once('exit', () => {
      w.exited = true;
      this.#live.delete(w);
      if (this.#live.size === 0) process.removeListener('exit', this.#onExit);
      try {
        rmdirSync(mnt);
      } catch {
        /* gone, or still busy: sweepSandboxMounts removes it later */
      }
    });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
    child.stdin!.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const fail = (why: string): void => {
        reject(new SandboxError(`composefs world ${root.image}: cannot mount a shared world: ${why}`));
      };
      child.once('error', (e) => {
        this.#live.delete(w);
        if (this.#live.size === 0) process.removeListener('exit', this.#onExit);
        fail(e.message);
      });
      child.once('close', (code, sig) => fail(`${stderr.trim() || 'no output'} (exit ${code ?? sig})`));
      child.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('ready\n')) resolve();
      });
    });
    // Mounted: this process need not wait for the holder, nor read from it again.
    child.removeAllListeners('close');
    child.stdout!.destroy();
    child.stderr!.destroy();
    (child.stdin as Socket).unref();
    child.unref();
    this.#mounted++;
    return w;
  }

  /** Ends one holder (its stdin closed) and waits until it has exited and its mount directory is gone. */
  static async #end(w: HeldWorld): Promise<void> {
    if (!w.exited) {
      const gone = new Promise<void>((res) => w.child.once('exit', () => res()));
      w.child.ref(); // waited for now
      w.child.stdin!.end();
      await gone;
    }
    await fs.rmdir(w.mnt).catch(() => undefined);
  }

  /**
   * Ends every holder and removes their mount directories: their worlds are unmounted once the
   * sandboxes still in them end. Later {@link enter}s fail.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const held = await Promise.allSettled([...this.#held.values()]);
    this.#held.clear();
    this.#idle.length = 0;
    await Promise.all(held.map((r) => (r.status === 'fulfilled' ? SandboxWorlds.#end(r.value) : undefined)));
  }
}

/** How many mounted worlds no sandbox is in a {@link SandboxWorlds} keeps by default. */
export const SANDBOX_WORLDS_MAX_IDLE = 8;

/** Where the writable directories appear inside the sandbox. */
export const SANDBOX_BUILD_DIR = '/build';
/** The sandbox path of `$OUTPUT`. */
export const SANDBOX_OUTPUT_DIR = '/output';

/** A world mounted from its composefs image instead of a materialized directory (composer's world runner). */
export type { ComposefsRoot };

/** The mount points the sandbox binds over (present in the world, or provided by a stub layer). */
export const SANDBOX_MOUNT_POINTS = ['build', 'output', 'tmp', 'proc', 'dev'] as const;

/** What to run. */
export interface SandboxSpec {
  /**
   * The world directory (bound read-only at `/`); it must hold the mount points build, output,
   * tmp, proc, dev. Ignored when `composefs` is given.
   */
  worldDir: string;
  /** Mount this composefs image as `/` (read-only overlay) instead of binding `worldDir`. */
  composefs?: ComposefsRoot;
  /**
   * Shares the composefs world: the sandbox enters the namespace where `worlds` keeps `composefs`
   * mounted (mounting it there first if needed) instead of mounting it for itself.
   */
  worlds?: SandboxWorlds;
  /** Host directory bound read-write at `/build`. */
  buildDir: string;
  /** Host directory bound read-write at `/output`. */
  outputDir: string;
  /** The command and its arguments, inside the sandbox. */
  argv: string[];
  /** Working directory inside; default `/build`. */
  cwd?: string;
  /** `SOURCE_DATE_EPOCH` (seconds). */
  sourceDateEpoch: number;
  /** Parallel jobs for `MAKEFLAGS=-jN` (the fixed share of build systems without a jobserver). */
  jobs: number;
  /**
   * A GNU make jobserver (a FIFO open read-write): the sandbox inherits it as file descriptors
   * {@link JOBSERVER_FDS} and `MAKEFLAGS` names them in `--jobserver-auth=3,4` (make 4.3's pipe form).
   */
  jobserverFd?: number;
  /** `$SOURCE` inside; default `/build/src`. */
  sourcePath?: string;
  /** Extra variables (recipe arguments); they cannot override the fixed ones. */
  extraEnv?: Record<string, string>;
  /** Wall-clock limit in milliseconds; the whole sandbox is killed when it passes. */
  timeoutMs: number;
  /** The log file for stdout and stderr (created or truncated). */
  logPath: string;
  /**
   * Cancels the run: the sandbox's process group gets SIGTERM, then SIGKILL after
   * {@link SANDBOX_KILL_GRACE_MS}; the run rejects once every process of it is gone.
   */
  signal?: AbortSignal;
  /** The action's pids and memory limits (default {@link defaultLimits}; specs/executor.md §4.1). */
  limits?: ResourceLimits;
  /**
   * A fetch action's network (specs/fetch.md §4): the sandbox keeps a network namespace made for
   * it, whose only way out is a forwarder on `127.0.0.1:port` to the fetch proxy's unix socket.
   * Builds never set it: their namespace has loopback only.
   */
  network?: SandboxNetwork;
}

/** The network of a fetch action's sandbox: the proxy's unix socket on the host, the port inside. */
export interface SandboxNetwork {
  socketPath: string;
  port: number;
  /** A directory of ours for the readiness FIFO. */
  dir: string;
}

/** The descriptors (read, write) a sandbox sees the jobserver as: inherited through bwrap. */
export const JOBSERVER_FDS = [3, 4] as const;

/** How long a cancelled sandbox has between SIGTERM and SIGKILL, in milliseconds. */
export const SANDBOX_KILL_GRACE_MS = 1000;

/**
 * The umask a build starts with, whatever the caller's: modes a build writes into its files'
 * bytes (an `ar` member header, a tarball it makes) must not depend on the user who ran Eos.
 * @see specs/executor.md §4
 */
export const SANDBOX_UMASK = 0o022;

/**
 * The niceness a build runs at, whatever the caller's: a configure probe can write it into the
 * output (CPython's `HAVE_BROKEN_NICE` is defined only at niceness 19, so `nice -n 19 eos build`
 * built another pyconfig.h). Builds stay low-priority; a caller that cannot lower its niceness
 * (not root, above 10) keeps its own, and the log's first line says so.
 * @see specs/executor.md §4
 */
export const SANDBOX_NICENESS = 10;

/** The command run at {@link SANDBOX_NICENESS}: `nice -n DELTA` in front when the caller's differs. */
function atSandboxNiceness(command: [string, string[]]): [string, string[]] {
  const delta = SANDBOX_NICENESS - getPriority();
  if (delta === 0) return command;
  return ['nice', ['-n', String(delta), command[0], ...command[1]]];
}

/** A process as `/proc` shows it: its PID and start time (clock ticks since boot), against PID reuse. */
interface ProcId {
  pid: number;
  start: string;
}

/** A process's parent, start time (clock ticks since boot) and whether it is a zombie, from `/proc/<pid>/stat`. */
function procStat(pid: number): { ppid: number; start: string; zombie: boolean } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), start: f[19]!, zombie: f[0] === 'Z' || f[0] === 'X' };
  } catch {
    return undefined;
  }
}

/** Every descendant of `pid` (one scan of `/proc`). */
function descendants(pid: number): ProcId[] {
  const kids = new Map<number, ProcId[]>();
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    const st = procStat(Number(n));
    if (!st) continue;
    const list = kids.get(st.ppid) ?? [];
    list.push({ pid: Number(n), start: st.start });
    kids.set(st.ppid, list);
  }
  const out: ProcId[] = [];
  const todo = [pid];
  while (todo.length > 0)
    for (const k of kids.get(todo.pop()!) ?? []) {
      out.push(k);
      todo.push(k.pid);
    }
  return out;
}

/** Whether the process still runs (the same one: its start time matches; zombies have ended). */
function running(p: ProcId): boolean {
  const st = procStat(p.pid);
  return st !== undefined && st.start === p.start && !st.zombie;
}

/**
 * Kills the processes still running with SIGKILL and waits (up to `limitMs`) until none runs:
 * a PID namespace's init ends only after every process in it has.
 */
async function killAndWait(procs: ProcId[], limitMs: number): Promise<void> {
  const end = Date.now() + limitMs;
  for (const p of procs)
    if (running(p))
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
  while (procs.some(running) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

/** The reason an abort signal carries, as text (for error details). */
function abortReason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  return r instanceof Error ? r.message : r === undefined ? 'aborted' : String(r);
}

/**
 * The error a cancelled sandbox run rejects with: E22 with `data.reason` `'cancelled'`.
 * @param what names the run (the atom, or the log path)
 */
export function cancelledError(what: string, signal: AbortSignal): BuildFailedError {
  return new BuildFailedError(`${what}: build cancelled (${abortReason(signal)})`, {
    data: { reason: 'cancelled', cancelled: true },
  });
}

/** How the sandbox ended. */
export interface SandboxResult {
  /** The main process's exit status (null when killed by a signal). */
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  /** The limit the run hit (when it failed and the cgroup says so): `pids` or `memory`. */
  limitExceeded?: 'pids' | 'memory';
  /** How the limits were enforced. */
  limits: LimitMechanism;
}

/** The environment a build sees: exactly these variables (plus `extraEnv`). */
export function sandboxEnv(spec: SandboxSpec): Record<string, string> {
  const fixed: Record<string, string> = {
    PATH: '/usr/bin:/usr/sbin',
    HOME: SANDBOX_BUILD_DIR,
    LC_ALL: 'C',
    TZ: 'UTC',
    SOURCE_DATE_EPOCH: String(spec.sourceDateEpoch),
    MAKEFLAGS:
      spec.jobserverFd === undefined
        ? `-j${spec.jobs}`
        : `-j${spec.jobs} --jobserver-auth=${JOBSERVER_FDS[0]},${JOBSERVER_FDS[1]}`,
    OUTPUT: SANDBOX_OUTPUT_DIR,
    SOURCE: spec.sourcePath ?? `${SANDBOX_BUILD_DIR}/src`,
    BUILD: SANDBOX_BUILD_DIR,
  };
  return { ...(spec.extraEnv ?? {}), ...fixed };
}

let bwrapPath: string | undefined;
function findBwrap(): string {
  if (bwrapPath) return bwrapPath;
  for (const p of ['/usr/bin/bwrap', '/bin/bwrap', '/usr/local/bin/bwrap'])
    if (existsSync(p)) return (bwrapPath = p);
  throw new SandboxError('bubblewrap (bwrap) is not installed', { hint: 'run scripts/setup.sh as root' });
}

/**
 * The capabilities a build keeps inside its user namespace (uid 0 mapped to the caller): owner and
 * permission overrides on its own files, nothing else (no `CAP_SYS_ADMIN`: no mount, no umount).
 * @see specs/executor.md §4
 */
export const SANDBOX_CAPABILITIES = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID'] as const;

/** The sandbox descriptor bubblewrap reads the seccomp filter from: after stdio and the jobserver's. */
export function sandboxSeccompFd(spec: Pick<SandboxSpec, 'jobserverFd'>): number {
  return spec.jobserverFd === undefined ? 3 : JOBSERVER_FDS[1] + 1;
}

/** The bubblewrap argument list for a spec (exported for inspection and tests). */
export function bwrapArgs(spec: SandboxSpec): string[] {
  const env = sandboxEnv(spec);
  return [
    '--unshare-all',
    ...(spec.network ? ['--share-net'] : []),
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    ...SANDBOX_CAPABILITIES.flatMap((c) => ['--cap-add', c]),
    '--seccomp',
    String(sandboxSeccompFd(spec)),
    '--hostname',
    'eos',
    '--ro-bind',
    spec.worldDir,
    '/',
    '--bind',
    spec.buildDir,
    SANDBOX_BUILD_DIR,
    '--bind',
    spec.outputDir,
    SANDBOX_OUTPUT_DIR,
    '--dev',
    '/dev',
    '--proc',
    '/proc',
    '--tmpfs',
    '/tmp',
    '--clearenv',
    ...Object.entries(env)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .flatMap(([k, v]) => ['--setenv', k, v]),
    '--chdir',
    spec.cwd ?? SANDBOX_BUILD_DIR,
    '--',
    ...spec.argv,
  ];
}

/**
 * The command line that runs the sandbox: bwrap directly, or, for a composefs world, composer's
 * world runner (the image mounted in a private namespace, source name `eos-sandbox`, on `mnt`)
 * execing bwrap with the view bound read-only at `/`.
 * @throws SandboxError E21 when the image cannot be read or a path cannot be an overlay option
 */
async function sandboxCommand(
  spec: SandboxSpec,
  bwrap: string,
  mnt: string | undefined,
): Promise<[string, string[]]> {
  const args = bwrapArgs(spec);
  if (!spec.composefs || !mnt) return [bwrap, args];
  const i = args.indexOf('--ro-bind');
  const rest = [...args.slice(0, i), ...args.slice(i + 3)]; // the view is bound at / instead
  try {
    return await composefsRootCommand(spec.composefs, {
      mnt,
      mountPoints: SANDBOX_MOUNT_POINTS,
      source: 'eos-sandbox',
      command: (view) => [bwrap, '--ro-bind', view, '/', ...rest],
    });
  } catch (e) {
    if (e instanceof MountError)
      throw new SandboxError(e.detail, { ...(e.hint ? { hint: e.hint } : {}), cause: e });
    throw e;
  }
}

/** The forwarder a fetch namespace runs (plain JS: the host's node runs it as it is). */
function forwarderPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), 'fetch', 'forwarder.mjs');
}

/**
 * Wraps a sandbox command for a fetch action (specs/fetch.md §4): `unshare --net` makes a network
 * namespace of its own (loopback only, brought up with `ip`), the host's node runs the forwarder in
 * it (outside the sandbox; it sees the host's files, so the proxy's unix socket), and once the
 * forwarder is listening the command runs with bwrap's `--share-net`. The forwarder is killed when
 * the command ends and exits by itself when its shell is gone.
 * @throws SandboxError E21 when not root (making a network namespace needs CAP_SYS_ADMIN here)
 */
async function netnsCommand(
  net: SandboxNetwork,
  [cmd, args]: [string, string[]],
): Promise<[string, string[]]> {
  if (process.getuid?.() !== 0)
    throw new SandboxError(
      'a fetch action needs root here: its network namespace is made with unshare --net',
    );
  const fifo = join(net.dir, 'forwarder-ready');
  await fs.rm(fifo, { force: true });
  const r = spawnSync('mkfifo', ['-m', '600', fifo]);
  if (r.status !== 0) throw new SandboxError(`mkfifo ${fifo} failed: ${String(r.stderr).trim()}`);
  const script = [
    'ip link set lo up || { echo "eos fetch: ip link set lo up failed" >&2; exit 125; }',
    'node=$1 fwd=$2 sock=$3 port=$4 ready=$5; shift 5',
    '"$node" "$fwd" "$sock" "$port" 3>&- 4>&- 5>&- >"$ready" & fpid=$!',
    'read line <"$ready" || true',
    'if [ "$line" != ready ]; then echo "eos fetch: the forwarder did not start" >&2; exit 125; fi',
    '"$@"; rc=$?',
    'kill $fpid 2>/dev/null; wait $fpid 2>/dev/null',
    'exit $rc',
  ].join('\n');
  return [
    'unshare',
    [
      '--net',
      '--fork',
      '--kill-child=SIGKILL',
      '/bin/sh',
      '-c',
      script,
      'eos-fetch-netns',
      process.execPath,
      forwarderPath(),
      net.socketPath,
      String(net.port),
      fifo,
      cmd,
      ...args,
    ],
  ];
}

/**
 * Runs a command in the sandbox and waits for it (and everything it started) to end.
 * @throws SandboxError E21 when bubblewrap is missing, a mount point is absent from the world,
 *   a composefs path cannot be an overlay option, or the sandbox cannot start
 * @throws BuildFailedError E22 with `data.reason` `'cancelled'` when `spec.signal` aborts (after
 *   the whole sandbox is gone), or was aborted before the start (nothing runs)
 */
export async function runSandbox(spec: SandboxSpec): Promise<SandboxResult> {
  const bwrap = findBwrap();
  if (spec.signal?.aborted) throw cancelledError(`sandbox ${spec.logPath}`, spec.signal);
  let mnt: string | undefined;
  let lease: WorldLease | undefined;
  let command: [string, string[]];
  if (spec.composefs && spec.worlds) {
    lease = await spec.worlds.enter(spec.composefs);
    const { pid, view } = lease;
    const args = bwrapArgs(spec);
    const i = args.indexOf('--ro-bind');
    command = [
      'nsenter',
      [
        `--mount=/proc/${pid}/ns/mnt`,
        '--',
        bwrap,
        '--ro-bind',
        view,
        '/',
        ...args.slice(0, i),
        ...args.slice(i + 3),
      ],
    ];
  } else if (spec.composefs) {
    sweepSandboxMountsOnce();
    mnt = await fs.mkdtemp(join(tmpdir(), `${SANDBOX_MNT_PREFIX}${process.pid}-`));
    try {
      command = await sandboxCommand(spec, bwrap, mnt);
    } catch (e) {
      await fs.rmdir(mnt).catch(() => undefined);
      throw e;
    }
  } else {
    command = await sandboxCommand(spec, bwrap, undefined);
    for (const m of SANDBOX_MOUNT_POINTS)
      if (!existsSync(`${spec.worldDir}/${m}`))
        throw new SandboxError(`world ${spec.worldDir} has no /${m} mount point`, {
          hint: 'the seed fixups entry provides the mount points; is it in the world?',
        });
  }
  try {
    return await spawnSandbox(spec, command);
  } finally {
    lease?.release();
    if (mnt) await fs.rmdir(mnt).catch(() => undefined);
  }
}

/** Runs the sandbox's command line (its world already mounted, or entered) and waits for it to end. */
async function spawnSandbox(spec: SandboxSpec, world: [string, string[]]): Promise<SandboxResult> {
  let command = world;
  if (spec.network) command = await netnsCommand(spec.network, command);
  command = atSandboxNiceness(command);
  const log = await fs.open(spec.logPath, 'w', 0o644);
  const limits = await actionLimits(spec.limits ?? defaultLimits());
  const t0 = Date.now();
  try {
    return await new Promise<SandboxResult>((resolve, reject) => {
      const [cmd, args] = command;
      // The child inherits the umask at fork (spawn is synchronous up to there); put it back at once.
      const callerUmask = process.umask(SANDBOX_UMASK);
      let child: ReturnType<typeof spawnWithSeccomp>;
      try {
        child = spawnWithSeccomp(
          limits.prefix[0]!,
          [...limits.prefix.slice(1), cmd, ...args],
          spec.jobserverFd === undefined
            ? ['ignore', log.fd, log.fd]
            : ['ignore', log.fd, log.fd, spec.jobserverFd, spec.jobserverFd],
          { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, detached: true },
        );
      } finally {
        process.umask(callerUmask);
      }
      let timedOut = false;
      const killGroup = (sig: NodeJS.Signals): void => {
        try {
          process.kill(-child.pid!, sig);
        } catch {
          child.kill(sig);
        }
      };
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup('SIGKILL');
      }, spec.timeoutMs);
      // Cancellation: SIGTERM to the group (bwrap's PID namespace dies with it), SIGKILL after a grace.
      // The sandbox's processes are taken before the kill: bwrap's inner init is in its own session.
      let graceTimer: NodeJS.Timeout | undefined;
      let tree: ProcId[] = [];
      const onAbort = (): void => {
        tree = descendants(child.pid!);
        killGroup('SIGTERM');
        graceTimer = setTimeout(() => {
          killGroup('SIGKILL');
          void killAndWait(tree, 0);
        }, SANDBOX_KILL_GRACE_MS);
      };
      spec.signal?.addEventListener('abort', onAbort, { once: true });
      if (spec.signal?.aborted) onAbort(); // aborted while the log was being opened
      const cleanup = (): void => {
        clearTimeout(timer);
        clearTimeout(graceTimer);
        spec.signal?.removeEventListener('abort', onAbort);
        process.removeListener('exit', onExit);
      };
      const onExit = (): void => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
      };
      process.once('exit', onExit);
      child.on('error', (e) => {
        cleanup();
        reject(new SandboxError(`bwrap: cannot start (${e.message})`));
      });
      child.on('close', (code, signal) => {
        cleanup();
        if (spec.signal?.aborted) {
          // The leader is gone; whatever of the sandbox is left goes now, and is waited for.
          const why = cancelledError(`sandbox ${spec.logPath}`, spec.signal);
          killGroup('SIGKILL');
          void killAndWait(tree, 10_000).then(() => reject(why));
        } else {
          const hit = code !== 0 ? limits.exceeded() : undefined;
          resolve({
            exitCode: code,
            signal,
            timedOut,
            durationMs: Date.now() - t0,
            limits: limits.mechanism,
            ...(hit ? { limitExceeded: hit } : {}),
          });
        }
      });
    });
  } finally {
    await limits.remove();
    await log.close();
  }
}
