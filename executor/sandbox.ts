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
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { constants, getPriority, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  composefsRootCommand,
  erofsImageMount,
  imagesOf,
  overlayViewMount,
  seccompProgram,
  shellQuote,
  spawnWithSeccomp,
  type ComposefsRoot,
  type MountCall,
  type ViewMount,
} from '../composer/index.ts';
import { SandboxLauncher, hostFdPath } from './launcher.ts';
import { BuildFailedError, MountError, SandboxError, pidAlive } from '../src/kernel/index.ts';
import {
  actionLimits,
  defaultLimits,
  type ActionLimits,
  type LimitMechanism,
  type ResourceLimits,
} from './sandbox-limits.ts';

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

/** A mounted shared world: its directory in the launcher's tmpfs, the view's path there, its users. */
interface HeldWorld {
  launcher: SandboxLauncher;
  dir: string;
  /** The view's directory (the overlay's mount point). */
  view: string;
  /** The sandboxes in it now (entered, not yet released). */
  users: number;
  /** Its EROFS mounts (keys of {@link SandboxWorlds}' layers), released when it is unmounted. */
  layers: string[];
}

/** A mounted EROFS image of a launcher's namespace: its mount point, and the worlds over it. */
interface HeldLayer {
  launcher: SandboxLauncher;
  /** Its directory in the launcher's tmpfs (removed when it is unmounted). */
  dir: string;
  /** The mount point (`dir/m`). */
  meta: string;
  /** Mounted worlds whose overlay has it as a lower layer. */
  users: number;
}

/**
 * A sandbox's place in a shared world: the view's path in the launcher's mount namespace, the
 * launcher, and the release.
 */
export interface WorldLease {
  view: string;
  launcher: SandboxLauncher;
  /** Says the sandbox has ended (idempotent): an unused world may then be unmounted (see `maxIdle`). */
  release: () => void;
}

/** What a {@link SandboxWorlds} did: worlds mounted and sandboxes that entered one. */
export interface SandboxWorldsStats {
  mounted: number;
  entered: number;
}

/**
 * Composefs worlds mounted once and shared by many sandboxes, all started by one launcher
 * (specs/executor.md §4.2–§4.3): the first {@link enter} starts a {@link SandboxLauncher} (a shell in
 * its own mount and PID namespaces, propagation `slave`, with a private tmpfs); each distinct world
 * (image, layer images, object directory and mount options) is mounted once in that namespace, at
 * `w<N>/` of the tmpfs: a read-only overlay (a stub layer of empty mount points, the images, the
 * object directory as a data-only layer), exactly as a lone sandbox mounts it, over EROFS mounts
 * of its images that are shared by every world stacking them (`l<N>/m`: a build's seed image
 * under all its worlds), made by the launcher's mount helper. Each sandbox
 * of that world is started by the launcher and binds the view read-only at `/` as usual; its
 * `/build`, `/output`, `/tmp`, `/dev` and `/proc` are its own, as before. The world is read-only
 * (an overlay without an upper layer, bound read-only), so sharing it changes nothing a build sees.
 *
 * A world no sandbox is in is kept for the next (at most `maxIdle` such worlds, default
 * {@link SANDBOX_WORLDS_MAX_IDLE}; the one unused longest is unmounted first), so a long build over
 * many different worlds keeps a bounded number mounted.
 *
 * The mounts live only in the launcher's namespace: they vanish when the launcher and every
 * sandbox it started have ended. The launcher dies with this process (`--pdeathsig KILL`, and its
 * PID namespace takes every sandbox with it), so a SIGKILL leaves nothing mounted, only an empty
 * `$TMPDIR/eos-sandbox-mnt-<pid>-*` directory that {@link sweepSandboxMounts} removes. Never keeps
 * this process alive; {@link SandboxWorlds.close} ends the launcher once the sandboxes still running
 * have ended, and removes its directory.
 */
export class SandboxWorlds {
  readonly #held = new Map<string, Promise<HeldWorld>>();
  /** Keys of mounted worlds no sandbox is in, the one unused longest first. */
  readonly #idle: string[] = [];
  readonly #maxIdle: number;
  /** EROFS mounts by image path; those no mounted world uses, the one unused longest first. */
  readonly #layers = new Map<string, Promise<HeldLayer>>();
  readonly #idleLayers: string[] = [];
  #launcher: Promise<SandboxLauncher> | undefined;
  #closed = false;
  #mounted = 0;
  #entered = 0;
  #n = 0;
  readonly #onExit = (): void => {
    void this.#launcher?.then((l) => l.kill()).catch(() => undefined);
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
   * The launcher, started on first use (a failed start is tried again by the next caller).
   * @throws SandboxError E21 when it cannot start
   */
  launcher(): Promise<SandboxLauncher> {
    if (this.#closed) return Promise.reject(new SandboxError('shared sandbox worlds: used after close'));
    const cur = this.#launcher;
    if (cur) {
      const again = cur.then((l) => (l.exited ? this.#start() : l));
      return again;
    }
    return this.#start();
  }

  #start(): Promise<SandboxLauncher> {
    const p = (async () => {
      sweepSandboxMountsOnce();
      const mnt = await fs.mkdtemp(join(tmpdir(), `${SANDBOX_MNT_PREFIX}${process.pid}-`));
      try {
        const l = await SandboxLauncher.start(mnt, SANDBOX_NICENESS);
        process.removeListener('exit', this.#onExit);
        process.on('exit', this.#onExit);
        return l;
      } catch (e) {
        await fs.rmdir(mnt).catch(() => undefined);
        throw e;
      }
    })();
    this.#launcher = p;
    p.catch(() => {
      if (this.#launcher === p) this.#launcher = undefined;
    });
    return p;
  }

  /**
   * The shared world of `root`, mounting it first when it is not mounted. The caller releases the
   * lease when its sandbox has ended.
   * @throws SandboxError E21 when closed, or when the world cannot be mounted (mount's stderr)
   */
  enter(root: ComposefsRoot): Promise<WorldLease> {
    return this.#lease(root, true);
  }

  /**
   * Mounts `root`'s world ahead of its sandbox (a build's prepare-ahead, specs/scheduler.md §4.4)
   * and leaves it unused: counted as mounted, not as entered.
   * @throws SandboxError E21 as {@link enter}
   */
  async prepare(root: ComposefsRoot): Promise<void> {
    (await this.#lease(root, false)).release();
  }

  async #lease(root: ComposefsRoot, sandbox: boolean): Promise<WorldLease> {
    if (this.#closed) throw new SandboxError('shared sandbox worlds: used after close');
    const key = JSON.stringify(root);
    let p = this.#held.get(key);
    if (p) {
      const w = await p.catch(() => undefined);
      if (!w || w.launcher.exited) {
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
    // Unmounted meanwhile (the idle world evicted while this call waited): mount it again.
    if (this.#held.get(key) !== p) return this.#lease(root, sandbox);
    w.users++;
    if (sandbox) this.#entered++;
    const i = this.#idle.indexOf(key);
    if (i >= 0) this.#idle.splice(i, 1);
    let released = false;
    return {
      view: w.view,
      launcher: w.launcher,
      release: () => {
        if (released) return;
        released = true;
        w.users--;
        if (w.users > 0 || w.launcher.exited || this.#closed || this.#held.get(key) !== p) return;
        this.#idle.push(key);
        while (this.#idle.length > this.#maxIdle) {
          const old = this.#idle.shift()!;
          const q = this.#held.get(old);
          this.#held.delete(old);
          void q?.then((x) => this.#end(x)).catch(() => undefined);
        }
      },
    };
  }

  async #hold(root: ComposefsRoot): Promise<HeldWorld> {
    const launcher = await this.launcher();
    const images = imagesOf(root);
    const got = await Promise.allSettled(images.map((i) => this.#layer(launcher, i)));
    const layers: HeldLayer[] = [];
    try {
      for (const l of got)
        if (l.status === 'fulfilled') layers.push(l.value);
        else throw l.reason;
      const dir = join(launcher.dir, `w${this.#n++}`);
      let m: ViewMount;
      try {
        m = overlayViewMount(
          root,
          layers.map((l) => l.meta),
          dir,
          SANDBOX_MOUNT_POINTS,
        );
      } catch (e) {
        if (e instanceof MountError)
          throw new SandboxError(e.detail, { ...(e.hint ? { hint: e.hint } : {}), cause: e });
        throw e;
      }
      for (const d of m.dirs) mkdirSync(launcher.hostPath(d), { recursive: true });
      try {
        await launcher.mount([{ op: 'mount', call: m.mount }]);
      } catch (e) {
        launcher.remove(dir);
        throw new SandboxError(
          `composefs world ${root.image}: cannot mount a shared world: ${(e as SandboxError).detail}`,
        );
      }
      this.#mounted++;
      return { launcher, dir, view: m.view, users: 0, layers: images };
    } catch (e) {
      for (const [i, l] of got.entries()) if (l.status === 'fulfilled') this.#releaseLayer(images[i]!);
      throw e;
    }
  }

  /**
   * The EROFS mount of `image` in the launcher's namespace (at `l<N>/`), mounting it first when it
   * is not mounted, with one more world counted over it. Each image is mounted once however many
   * worlds stack it: a build's seed image under every world, a dependency's layer image under
   * each of its dependents' (specs/executor.md §4.3).
   * @throws SandboxError E21 when it cannot be read or mounted (mount's stderr)
   */
  async #layer(launcher: SandboxLauncher, image: string): Promise<HeldLayer> {
    let p = this.#layers.get(image);
    if (p) {
      const l = await p.catch(() => undefined);
      if (!l || l.launcher !== launcher || launcher.exited) {
        if (this.#layers.get(image) === p) this.#layers.delete(image);
        p = undefined;
      }
    }
    if (!p) {
      p = this.#mountLayer(launcher, image);
      this.#layers.set(image, p);
      p.catch(() => {
        if (this.#layers.get(image) === p) this.#layers.delete(image);
      });
    }
    const l = await p;
    if (this.#layers.get(image) !== p) return this.#layer(launcher, image); // unmounted meanwhile
    l.users++;
    const i = this.#idleLayers.indexOf(image);
    if (i >= 0) this.#idleLayers.splice(i, 1);
    return l;
  }

  async #mountLayer(launcher: SandboxLauncher, image: string): Promise<HeldLayer> {
    const dir = join(launcher.dir, `l${this.#n++}`);
    let call: MountCall;
    try {
      call = await erofsImageMount(image, join(dir, 'm'));
    } catch (e) {
      if (e instanceof MountError)
        throw new SandboxError(e.detail, { ...(e.hint ? { hint: e.hint } : {}), cause: e });
      throw e;
    }
    mkdirSync(launcher.hostPath(call.target), { recursive: true });
    try {
      await launcher.mount([{ op: 'mount', call }]);
    } catch (e) {
      launcher.remove(dir);
      throw new SandboxError(
        `composefs image ${image}: cannot mount it in the sandbox launcher: ${(e as SandboxError).detail}`,
      );
    }
    return { launcher, dir, meta: call.target, users: 0 };
  }

  /** One world fewer over `image`'s mount: unused, it is kept idle (at most 2 × maxIdle), then unmounted. */
  #releaseLayer(image: string): void {
    const p = this.#layers.get(image);
    void p
      ?.then((l) => {
        l.users--;
        if (l.users > 0 || l.launcher.exited || this.#closed || this.#layers.get(image) !== p) return;
        this.#idleLayers.push(image);
        while (this.#idleLayers.length > 2 * this.#maxIdle) {
          const old = this.#idleLayers.shift()!;
          const q = this.#layers.get(old);
          this.#layers.delete(old);
          void q
            ?.then(async (x) => {
              if (x.launcher.exited) return;
              await x.launcher.mount([{ op: 'umount', target: x.meta }]).catch(() => undefined);
              x.launcher.remove(x.dir);
            })
            .catch(() => undefined);
        }
      })
      .catch(() => undefined);
  }

  /** Unmounts one world and removes its directory, then releases its layers (never throws). */
  async #end(w: HeldWorld): Promise<void> {
    if (w.launcher.exited) return;
    await w.launcher.mount([{ op: 'umount', target: w.view }]).catch(() => undefined);
    w.launcher.remove(w.dir);
    for (const l of w.layers) this.#releaseLayer(l);
  }

  /**
   * Ends the launcher once the sandboxes still running have ended (its namespace, with every world
   * mounted in it, goes with it) and removes its directory. Later {@link enter}s fail.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#held.values()]);
    this.#held.clear();
    this.#idle.length = 0;
    this.#layers.clear();
    this.#idleLayers.length = 0;
    const l = await this.#launcher?.catch(() => undefined);
    if (l) await l.close();
    process.removeListener('exit', this.#onExit);
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
   * Shares the composefs world: the sandbox is started by the launcher of `worlds`, in whose
   * namespace `composefs` is mounted (first if needed), instead of mounting it for itself
   * (specs/executor.md §4.3). Ignored for a sandbox with `network` (a fetch), which mounts its own.
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
  let command: [string, string[]];
  if (spec.composefs && spec.worlds && !spec.network) {
    // Started by the launcher, in whose namespace the world is mounted: this process does not fork.
    const lease = await spec.worlds.enter(spec.composefs);
    try {
      const args = bwrapArgs(spec);
      const i = args.indexOf('--ro-bind');
      const inWorld = [bwrap, '--ro-bind', lease.view, '/', ...args.slice(0, i), ...args.slice(i + 3)];
      return await superviseSandbox(spec, (limits) => launchedSandbox(spec, lease.launcher, limits, inWorld));
    } finally {
      lease.release();
    }
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
    if (mnt) await fs.rmdir(mnt).catch(() => undefined);
  }
}

/** A started sandbox: how to signal it, and how it ended. */
interface SandboxProcess {
  /** The sandbox's host PID (its process group leader when spawned here), once known. */
  pid(): number | undefined;
  /** Sends `sig` to the sandbox: its process group when it has one, else its main process. */
  kill(sig: NodeJS.Signals): void;
  /** Resolves with its exit status or signal; rejects (SandboxError) when it could not start. */
  ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs the sandbox's command line (its world already mounted, or entered) from this process. */
async function spawnSandbox(spec: SandboxSpec, world: [string, string[]]): Promise<SandboxResult> {
  let command = world;
  if (spec.network) command = await netnsCommand(spec.network, command);
  command = atSandboxNiceness(command);
  const [cmd, args] = command;
  const log = await fs.open(spec.logPath, 'w', 0o644);
  try {
    return await superviseSandbox(spec, (limits): SandboxProcess => {
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
      return {
        pid: () => child.pid,
        kill: (sig) => {
          try {
            process.kill(-child.pid!, sig);
          } catch {
            child.kill(sig);
          }
        },
        ended: new Promise((resolve, reject) => {
          child.on('error', (e) => reject(new SandboxError(`bwrap: cannot start (${e.message})`)));
          child.on('close', (code, signal) => resolve({ code, signal }));
        }),
      };
    });
  } finally {
    await log.close();
  }
}

/** Where a launcher keeps the seccomp filter's bytes (written once per launcher). */
const launcherFilters = new WeakMap<SandboxLauncher, string>();

/**
 * Starts the sandbox's command line `argv` from `launcher` (specs/executor.md §4.3): its job
 * reports its PID, opens the log (stdout and stderr), the jobserver (this process's FIFO, reopened
 * through `/proc`) and the seccomp filter (a file of the launcher's tmpfs) at the descriptors the
 * arguments name, and execs `argv`. The launcher runs at the sandbox niceness with the sandbox
 * umask, and its environment is `PATH` alone, as a spawned sandbox's.
 */
function launchedSandbox(
  spec: SandboxSpec,
  launcher: SandboxLauncher,
  limits: ActionLimits,
  command: string[],
): SandboxProcess {
  let filter = launcherFilters.get(launcher);
  if (!filter) {
    filter = join(launcher.dir, 'seccomp.bpf');
    writeFileSync(launcher.hostPath(filter), seccompProgram());
    launcherFilters.set(launcher, filter);
  }
  const fds = [`>${shellQuote(spec.logPath)}`, '2>&1'];
  if (spec.jobserverFd !== undefined)
    fds.push(
      `${JOBSERVER_FDS[0]}<>${hostFdPath(spec.jobserverFd)}`,
      `${JOBSERVER_FDS[1]}>&${JOBSERVER_FDS[0]}`,
    );
  fds.push(`${sandboxSeccompFd(spec)}<${shellQuote(filter)}`);
  // Into the action's cgroups by the job's own shell (its PID in the launcher's namespace, which is
  // how cgroup.procs reads it), not by one more exec of the limits' prefix.
  const enter = (limits.procs ?? []).map((f) => `echo $BASHPID >${shellQuote(f)} || exit 125\n`).join('');
  const argv = limits.procs ? command : [...limits.prefix, ...command];
  const job = launcher.run(
    (id) =>
      `${SandboxLauncher.reportPid(id)}\nexec ${fds.join(' ')}\n${enter}exec ${argv.map(shellQuote).join(' ')}\n`,
  );
  let pid: number | undefined;
  let killed = false;
  const known = job.pid.then((p) => (pid = p > 0 ? p : undefined));
  return {
    pid: () => pid,
    kill: (sig) => {
      killed = true;
      const to = (p: number | undefined): void => {
        if (p !== undefined)
          try {
            process.kill(p, sig);
          } catch {
            /* gone */
          }
      };
      if (pid !== undefined) to(pid);
      else void known.then(to); // not started yet: killed as soon as it has reported its PID
    },
    ended: job.status.then((status) => {
      if (launcher.exited && pid === undefined)
        throw new SandboxError(`bwrap: cannot start (the sandbox launcher exited)`);
      // The shell reports a killed bwrap as 128+N, and so does bwrap for a build killed inside it:
      // only a kill sent from here is a signal, as for a spawned sandbox (whose bwrap exits 128+N).
      const sig = killed && status > 128 ? signalName(status - 128) : undefined;
      return sig ? { code: null, signal: sig as NodeJS.Signals } : { code: status, signal: null };
    }),
  };
}

/** The name of signal number `n` (`SIGKILL` for 9), if there is one. */
function signalName(n: number): string | undefined {
  return Object.entries(constants.signals).find(([, v]) => v === n)?.[0];
}

/**
 * Supervises one sandbox started by `start` (given the action's limits): its time limit, its
 * cancellation (SIGTERM, then SIGKILL after {@link SANDBOX_KILL_GRACE_MS}; what is left of it is
 * waited for), this process's exit (SIGKILL), and its limits' removal afterwards.
 */
async function superviseSandbox(
  spec: SandboxSpec,
  start: (limits: ActionLimits) => SandboxProcess,
): Promise<SandboxResult> {
  const limits = await actionLimits(spec.limits ?? defaultLimits());
  const t0 = Date.now();
  try {
    return await new Promise<SandboxResult>((resolve, reject) => {
      let p: SandboxProcess;
      try {
        p = start(limits);
      } catch (e) {
        reject(e);
        return;
      }
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        p.kill('SIGKILL');
      }, spec.timeoutMs);
      // Cancellation: SIGTERM to the group (bwrap's PID namespace dies with it), SIGKILL after a grace.
      // The sandbox's processes are taken before the kill: bwrap's inner init is in its own session.
      let graceTimer: NodeJS.Timeout | undefined;
      let tree: ProcId[] = [];
      const onAbort = (): void => {
        const pid = p.pid();
        tree = pid !== undefined ? descendants(pid) : [];
        p.kill('SIGTERM');
        graceTimer = setTimeout(() => {
          p.kill('SIGKILL');
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
      const onExit = (): void => p.kill('SIGKILL');
      process.once('exit', onExit);
      p.ended.then(
        ({ code, signal }) => {
          cleanup();
          if (spec.signal?.aborted) {
            // The leader is gone; whatever of the sandbox is left goes now, and is waited for.
            const why = cancelledError(`sandbox ${spec.logPath}`, spec.signal);
            p.kill('SIGKILL');
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
        },
        (e: unknown) => {
          cleanup();
          reject(e);
        },
      );
    });
  } finally {
    await limits.remove();
  }
}
