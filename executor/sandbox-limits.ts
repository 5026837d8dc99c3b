/**
 * Resource limits of a build action (I/O): a child cgroup per action with a pids and a memory
 * limit — cgroup v2 where a cgroup2 file system is mounted (`/sys/fs/cgroup`, or beside the v1
 * hierarchies in a hybrid set-up) and our cgroup there offers `pids` and `memory`, else the cgroup v1 `pids` and `memory` hierarchies where they are mounted writable,
 * else `prlimit` (RLIMIT_NPROC, which does not bind root, and RLIMIT_AS). The sandbox's command
 * enters the cgroup itself (a shell prefix writes its pid to `cgroup.procs`, then execs), so no
 * process of it ever runs outside; after the run, what is left is killed and the cgroup removed.
 *
 * @see specs/executor.md §4.1
 */
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import * as fs from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { pidAlive } from '../src/kernel/index.ts';

/** The limits of one action. */
export interface ResourceLimits {
  /** The most processes (and threads) at once. */
  maxPids: number;
  /** The most memory in bytes (anonymous and page cache, as the cgroup counts it). */
  maxMemory: number;
}

/** The default process limit of a build action. */
export const DEFAULT_MAX_PIDS = 4096;

/** The default memory limit of a build action: 3/4 of the machine's memory, at most 32 GiB. */
export function defaultMaxMemory(): number {
  return Math.min(32 * 2 ** 30, Math.floor((totalmem() * 3) / 4));
}

/** The default limits ({@link DEFAULT_MAX_PIDS}, {@link defaultMaxMemory}). */
export function defaultLimits(): ResourceLimits {
  return { maxPids: DEFAULT_MAX_PIDS, maxMemory: defaultMaxMemory() };
}

/** How an action's limits are enforced. */
export type LimitMechanism = 'cgroup2' | 'cgroup1' | 'prlimit';

/** An action's limits, set up: the command prefix that applies them, and what happened after. */
export interface ActionLimits {
  mechanism: LimitMechanism;
  /** Prepended to the sandbox's command line. */
  prefix: string[];
  /**
   * With cgroups: the `cgroup.procs` files the prefix writes its PID into. A shell that starts the
   * sandbox itself (the launcher, specs/executor.md §4.3) writes them instead of running `prefix`.
   */
  procs?: string[];
  /** After the run: which limit was hit (`pids`, `memory`), if the mechanism can tell. */
  exceeded(): 'pids' | 'memory' | undefined;
  /** Kills what is left in the cgroup and removes it (never throws). */
  remove(): Promise<void>;
}

/** The shell prefix that moves itself into each `cgroup.procs` given before `--`, then execs the rest. */
const ENTER = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"';

const CGROUP2_SUPER_MAGIC = 0x63677270;
let counter = 0;

/** This process's cgroup paths, by controller (`''` for the v2 unified line). */
function ownCgroups(): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, ctl, path] = /^\d+:([^:]*):(.*)$/.exec(l) ?? [];
    if (path === undefined) continue;
    for (const c of ctl!.split(',')) m.set(c, path);
  }
  return m;
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function counterOf(file: string, key: string): number {
  try {
    const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

// The cgroup file system is the kernel's memory: its reads, writes, mkdir and rmdir are made on
// this thread, each a few microseconds, not a thread-pool round trip (a few milliseconds of a
// loaded build's event loop, twice per action).
async function killAndRemove(dirs: string[]): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    let left = 0;
    for (const d of dirs) {
      if (!existsSync(d)) continue;
      let pids: string[] = [];
      try {
        pids = readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
      } catch {
        /* gone */
      }
      for (const p of pids)
        try {
          process.kill(Number(p), 'SIGKILL');
        } catch {
          /* gone */
        }
      try {
        rmdirSync(d);
      } catch {
        left++;
      }
    }
    if (left === 0) return;
    await new Promise((r) => setTimeout(r, 40));
  }
}

/** The controllers an action's limits need. */
const NEEDED = ['pids', 'memory'] as const;

/** A cgroup2 file system's mount point, from `/proc/self/mountinfo` text (the first one listed). */
export function cgroup2MountOf(mountinfo: string): string | undefined {
  for (const l of mountinfo.split('\n')) {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
    const [left, right] = l.split(' - ');
    if (right?.split(' ')[0] === 'cgroup2') return left!.split(' ')[4]!.replace(/\\040/g, ' ');
  }
  return undefined;
}

/** The names in a `cgroup.controllers` or `cgroup.subtree_control` file's text (space separated). */
export function parseControllerList(text: string): string[] {
  return text.split(/\s+/).filter(Boolean);
}

/** What cgroup v2 offers this process (see {@link probeCgroup2}). */
export interface Cgroup2Probe {
  /** The cgroup2 mount point: `/sys/fs/cgroup` (unified) or e.g. `/sys/fs/cgroup/unified` (hybrid). */
  mount: string;
  /** Our cgroup's directory: the mount point joined with the `0::` path of `/proc/self/cgroup`. */
  dir: string;
  /** Its `cgroup.controllers`: what it may enable for its children. */
  controllers: string[];
  /** Its `cgroup.subtree_control`: what its children have. */
  subtreeControl: string[];
  /** Of `pids` and `memory`, those `controllers` lacks (bound to cgroup v1 hierarchies, or not delegated). */
  missing: string[];
}

/**
 * Reads what cgroup v2 offers this process: its cgroup2 mount (from `/proc/self/mountinfo`), its
 * cgroup there (the `0::` line of `/proc/self/cgroup`), that cgroup's `cgroup.controllers` and
 * `cgroup.subtree_control`. Undefined when no cgroup2 is mounted or the files cannot be read.
 * @see specs/executor.md §4.1
 */
export async function probeCgroup2(): Promise<Cgroup2Probe | undefined> {
  const mountinfo = await fs.readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const mount = cgroup2MountOf(mountinfo);
  const own = ownCgroups().get('');
  if (mount === undefined || own === undefined) return undefined;
  const st = await fs.statfs(mount).catch(() => undefined);
  if (!st || st.type !== CGROUP2_SUPER_MAGIC) return undefined;
  const dir = join(mount, own);
  const controllers = await fs.readFile(join(dir, 'cgroup.controllers'), 'utf8').catch(() => undefined);
  const sub = await fs.readFile(join(dir, 'cgroup.subtree_control'), 'utf8').catch(() => undefined);
  if (controllers === undefined || sub === undefined) return undefined;
  const have = parseControllerList(controllers);
  return {
    mount,
    dir,
    controllers: have,
    subtreeControl: parseControllerList(sub),
    missing: NEEDED.filter((c) => !have.includes(c)),
  };
}

/**
 * The command prefix that enters the cgroups whose `cgroup.procs` files are given (the shell writes
 * its own pid to each, exit 125 when one refuses it), then execs the command that follows it.
 */
export function enterPrefix(procsFiles: string[]): string[] {
  return ['/bin/sh', '-c', ENTER, 'sh', ...procsFiles, '--'];
}

/**
 * Removes a cgroup v2 directory: `cgroup.kill` kills every process in it (and below), then what is
 * left is killed by pid and the directory removed (retried while it empties). Never throws.
 */
export async function removeCgroup2(dir: string): Promise<void> {
  try {
    writeFileSync(join(dir, 'cgroup.kill'), '1');
  } catch {
    /* gone, or no cgroup.kill (Linux < 5.14): killed by pid below */
  }
  await killAndRemove([dir]);
}

/**
 * Removes the action cgroups `eos-action-<pid>-<n>` directly under `parent` whose process `pid`
 * is dead: a SIGKILLed build's sandboxes die with it (specs/executor.md §4.3), its cgroups do not.
 * Whatever is still in one is killed first (as after a run). Never throws.
 * @returns the directories removed
 * @see specs/executor.md §4.1
 */
export async function sweepDeadActionCgroups(parent: string): Promise<string[]> {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return [];
  }
  const dead = names
    .filter((n) => {
      const m = /^eos-action-(\d+)-\d+$/.exec(n);
      return m !== null && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]));
    })
    .map((n) => join(parent, n));
  for (const d of dead)
    try {
      writeFileSync(join(d, 'cgroup.kill'), '1');
    } catch {
      /* cgroup v1, or gone: killed by pid */
    }
  if (dead.length) await killAndRemove(dead);
  return dead.filter((d) => !existsSync(d));
}

/** Parents swept by {@link sweepOnce} in this process. */
const sweptParents = new Set<string>();

/** {@link sweepDeadActionCgroups} once per parent per process (an action's cgroups' first creation). */
async function sweepOnce(parent: string): Promise<void> {
  if (sweptParents.has(parent)) return;
  sweptParents.add(parent);
  await sweepDeadActionCgroups(parent);
}

/** The last probe of this process's cgroup v2 parent, by its own cgroup path (it rarely moves). */
let lastProbe: { own: string; probe: Cgroup2Probe } | undefined;

async function probeOnce(): Promise<Cgroup2Probe | undefined> {
  const own = ownCgroups().get('');
  if (lastProbe && lastProbe.own === own) return lastProbe.probe;
  const probe = await probeCgroup2();
  if (probe && own !== undefined) lastProbe = { own, probe };
  return probe;
}

/** cgroup v2: a child of our cgroup with `pids` and `memory` enabled, or undefined. */
async function cgroup2(limits: ResourceLimits, name: string): Promise<ActionLimits | undefined> {
  const probe = await probeOnce();
  // A controller bound to a cgroup v1 hierarchy (a hybrid set-up) is not in `cgroup.controllers`.
  if (!probe || probe.missing.length) return undefined;
  const parent = probe.dir;
  if (!NEEDED.every((c) => probe.subtreeControl.includes(c))) {
    // Enabling needs a parent without processes of its own (cgroup v2's no-internal-process rule).
    try {
      writeFileSync(join(parent, 'cgroup.subtree_control'), '+pids +memory');
    } catch {
      return undefined;
    }
    probe.subtreeControl = [...new Set([...probe.subtreeControl, ...NEEDED])];
  }
  await sweepOnce(parent);
  const dir = join(parent, name);
  try {
    mkdirSync(dir);
  } catch {
    lastProbe = undefined; // the parent moved or went: probed again next time
    return undefined;
  }
  try {
    writeFileSync(join(dir, 'pids.max'), String(limits.maxPids));
    writeFileSync(join(dir, 'memory.max'), String(limits.maxMemory));
    try {
      writeFileSync(join(dir, 'memory.swap.max'), '0');
    } catch {
      /* no swap accounting */
    }
  } catch {
    try {
      rmdirSync(dir);
    } catch {
      /* raced */
    }
    return undefined;
  }
  return {
    mechanism: 'cgroup2',
    prefix: enterPrefix([join(dir, 'cgroup.procs')]),
    procs: [join(dir, 'cgroup.procs')],
    exceeded: () =>
      counterOf(join(dir, 'memory.events'), 'oom_kill') > 0
        ? 'memory'
        : counterOf(join(dir, 'pids.events'), 'max') > 0
          ? 'pids'
          : undefined,
    remove: () => removeCgroup2(dir),
  };
}

/** cgroup v1: a child in the `pids` and the `memory` hierarchies, or undefined. */
async function cgroup1(limits: ResourceLimits, name: string): Promise<ActionLimits | undefined> {
  const own = ownCgroups();
  const pidsOwn = own.get('pids');
  const memOwn = own.get('memory');
  if (pidsOwn === undefined || memOwn === undefined) return undefined;
  const pidsParent = join('/sys/fs/cgroup/pids', pidsOwn);
  const memParent = join('/sys/fs/cgroup/memory', memOwn);
  if (!existsSync(join(pidsParent, 'pids.max')) && !existsSync(join(pidsParent, 'cgroup.procs')))
    return undefined;
  if (!existsSync(join(memParent, 'memory.limit_in_bytes'))) return undefined;
  if (!writable(pidsParent) || !writable(memParent)) return undefined;
  await sweepOnce(pidsParent);
  await sweepOnce(memParent);
  const pids = join(pidsParent, name);
  const mem = join(memParent, name);
  try {
    mkdirSync(pids);
    mkdirSync(mem);
    writeFileSync(join(pids, 'pids.max'), String(limits.maxPids));
    writeFileSync(join(mem, 'memory.limit_in_bytes'), String(limits.maxMemory));
    // No swap beyond the limit where swap accounting exists.
    try {
      writeFileSync(join(mem, 'memory.memsw.limit_in_bytes'), String(limits.maxMemory));
    } catch {
      /* no swap accounting */
    }
  } catch {
    await killAndRemove([pids, mem]);
    return undefined;
  }
  return {
    mechanism: 'cgroup1',
    prefix: enterPrefix([join(pids, 'cgroup.procs'), join(mem, 'cgroup.procs')]),
    procs: [join(pids, 'cgroup.procs'), join(mem, 'cgroup.procs')],
    exceeded: () =>
      counterOf(join(mem, 'memory.oom_control'), 'oom_kill') > 0
        ? 'memory'
        : counterOf(join(pids, 'pids.events'), 'max') > 0
          ? 'pids'
          : undefined,
    remove: () => killAndRemove([pids, mem]),
  };
}

/**
 * Sets up the limits of one action: cgroup v2, else cgroup v1, else `prlimit` (specs/executor.md
 * §4.1). `EOS_LIMITS=prlimit` forces the last (tests of the fallback).
 * @param limits the action's limits
 * @returns the command prefix and the after-run checks
 */
export async function actionLimits(limits: ResourceLimits): Promise<ActionLimits> {
  const name = `eos-action-${process.pid}-${++counter}`;
  if (process.env.EOS_LIMITS !== 'prlimit') {
    const got = (await cgroup2(limits, name)) ?? (await cgroup1(limits, name));
    if (got) return got;
  }
  return {
    mechanism: 'prlimit',
    prefix: ['prlimit', `--nproc=${limits.maxPids}`, `--as=${limits.maxMemory}`, '--'],
    exceeded: () => undefined,
    remove: async () => undefined,
  };
}
