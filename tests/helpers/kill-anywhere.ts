/**
 * Kill anywhere, with proof that the kills landed (issue 15 "Done when"): the driver shared by the
 * kill-anywhere tests of `eos store add`, `eos compose`, `eos key generate`, `eos store export`
 * and `eos build`.
 *
 * A kill is SIGSTOP, then a look at the disk while the command is frozen (the test's `probe`: the
 * temp files, staged objects or partial sets it sees), then SIGKILL: the process cannot run
 * between the look and the kill, so the probe sees exactly what the kill left behind, before any
 * later start cleans it. A kill whose probe saw half-done work "landed mid-write".
 *
 * Kill points come from a measured unkilled run (`calibrate`: its wall time and the number of
 * inotify events in the directories the command writes), never from hard-coded ms, so a slow or
 * loaded machine moves the points with the phases:
 * - `timed` kills stratified over [0, 1.5 × the unkilled run] (one per equal slice, at a random
 *   moment in it): start-up, the write phase and the end are all covered;
 * - then, while fewer than `minMid` kills landed mid-write (up to `cap` attempts in all), targeted
 *   kills stopped at the n-th filesystem event in the watched directories (n random in [1, the
 *   unkilled run's count]): they follow the write phase however slow it is.
 * The points are drawn from a seeded generator (`EOS_KILL_SEED`, printed) so a failure can be
 * replayed.
 */
import { spawn } from 'node:child_process';
import { watch, type FSWatcher } from 'node:fs';

/** One command to start and kill: node runs `args` (the eos executable first). */
export interface KillTarget {
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Directories whose events the targeted kills count (each must exist; missing ones are skipped). */
  watch: string[];
  /** What half-done work is on disk now (the command is stopped): empty when none. */
  probe: () => string[];
}

/** How one attempt went. */
export interface Attempt {
  how: 'timed' | 'event';
  /** The kill time (`<n>ms`) or the event (`event <n> in <dir>`). */
  at: string;
  /** `killed` when SIGKILL ended it, `done` when it exited first (with `code`). */
  outcome: 'killed' | 'done';
  code: number | null;
  stderr: string;
  /** The probe's findings at the kill (empty: nothing half-done was seen, or it was not killed). */
  evidence: string[];
}

/** The counts a kill-anywhere test prints and asserts on. */
export interface KillCounts {
  attempts: number;
  killed: number;
  done: number;
  timed: number;
  targeted: number;
  /** Kills whose probe saw half-done work. */
  midWrite: number;
  /** Attempts after which the test's check (store verifies, nothing half-written visible) held. */
  verified: number;
  /** What the first mid-write landings saw (one finding each, pids masked). */
  seen: string[];
}

/** A small seeded generator (LCG), uniform in [0, 1). */
export function seeded(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x / 2 ** 32;
  };
}

/** The seed of this run's kill points: `EOS_KILL_SEED` when set, else the clock (printed by callers). */
export function killSeed(): number {
  const s = process.env.EOS_KILL_SEED;
  return s && /^\d+$/.test(s) ? Number(s) : Date.now() % 2 ** 31;
}

function watchAll(dirs: string[], onEvent: (dir: number) => void): FSWatcher[] {
  const ws: FSWatcher[] = [];
  for (const [i, d] of dirs.entries())
    try {
      ws.push(watch(d, () => onEvent(i)));
    } catch {
      /* not made yet: nothing to count there */
    }
  return ws;
}

/** An unkilled run: its wall time (ms) and its events in each watched directory (in `watch` order). */
export interface Unkilled {
  ms: number;
  events: number[];
}

/**
 * Runs `t` once, unkilled, counting the events in each of its watched directories.
 * @returns its wall time in ms, the event counts and how it exited
 */
export function calibrate(t: KillTarget): Promise<Unkilled & { code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const events = t.watch.map(() => 0);
    const ws = watchAll(t.watch, (d) => events[d]!++);
    const t0 = Date.now();
    const child = spawn(process.execPath, t.args, {
      cwd: t.cwd,
      env: { ...process.env, ...t.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b) => (stderr += b));
    child.on('close', (code) => {
      const ms = Date.now() - t0;
      // Late events of the last renames arrive after the exit: let them in.
      setTimeout(() => {
        for (const w of ws) w.close();
        resolve({ ms, events, code, stderr });
      }, 50);
    });
  });
}

/**
 * Starts `t` and kills it (SIGSTOP, probe, SIGKILL) after `trigger`: `ms` milliseconds, or the
 * `events`-th event in its watched directory number `dir`. A command that exits first is `done`.
 */
export function killOnce(
  t: KillTarget,
  trigger: { ms: number } | { events: number; dir: number },
): Promise<Attempt> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, t.args, {
      cwd: t.cwd,
      env: { ...process.env, ...t.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b) => (stderr += b));
    let exited = false;
    let evidence: string[] = [];
    let stopped = false;
    const stop = (): void => {
      if (stopped || exited) return;
      stopped = true;
      try {
        process.kill(child.pid!, 'SIGSTOP');
      } catch {
        return; // gone
      }
      evidence = t.probe();
      child.kill('SIGKILL');
    };
    let ws: FSWatcher[] = [];
    let timer: NodeJS.Timeout | undefined;
    if ('ms' in trigger) timer = setTimeout(stop, trigger.ms);
    else {
      let n = 0;
      ws = watchAll(t.watch, (d) => {
        if (d === trigger.dir && ++n >= trigger.events) stop();
      });
    }
    child.on('exit', () => (exited = true));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      for (const w of ws) w.close();
      const killed = signal === 'SIGKILL';
      resolve({
        how: 'ms' in trigger ? 'timed' : 'event',
        at:
          'ms' in trigger
            ? `${Math.round(trigger.ms)}ms`
            : `event ${trigger.events} in ${t.watch[trigger.dir]}`,
        outcome: killed ? 'killed' : 'done',
        code,
        stderr,
        evidence: killed ? evidence : [],
      });
    });
  });
}

/** Options of {@link killAnywhere}. */
export interface KillAnywhereOptions {
  /** The target of attempt `i` (a fresh name, file or nonce each time, so each kill hits new work). */
  target: (i: number) => KillTarget;
  /** The unkilled run's wall time (ms) and event count ({@link calibrate}). */
  unkilled: Unkilled;
  /** Timed kills, stratified over [0, 1.5 × unkilled.ms]. */
  timed: number;
  /**
   * Targeted kills always made after the timed ones: directory by directory in turn (those with
   * events), each at an event stratified over that directory's count in the unkilled run.
   */
  targeted: number;
  /** Kills that must land mid-write. */
  minMid: number;
  /** The most attempts in all. */
  cap: number;
  seed: number;
  /** The test's checks after attempt `i` (throws when they fail); runs before the next start. */
  check: (i: number, a: Attempt) => void | Promise<void>;
}

/**
 * Runs the kill attempts (see the module comment) and each one's check.
 * @returns the counts; the caller asserts `midWrite >= minMid` (reached unless `cap` ran out)
 */
export async function killAnywhere(o: KillAnywhereOptions): Promise<KillCounts> {
  const rand = seeded(o.seed);
  const c: KillCounts = {
    attempts: 0,
    killed: 0,
    done: 0,
    timed: 0,
    targeted: 0,
    midWrite: 0,
    verified: 0,
    seen: [],
  };
  const window = Math.max(1, o.unkilled.ms * 1.5);
  const dirs = o.unkilled.events.flatMap((n, d) => (n > 0 ? [d] : []));
  const planned = o.timed + (dirs.length ? o.targeted : 0);
  const rounds = Math.max(1, Math.ceil(o.targeted / Math.max(1, dirs.length)));
  for (let i = 0; i < o.cap && (i < planned || (c.midWrite < o.minMid && dirs.length)); i++) {
    let trigger: { ms: number } | { events: number; dir: number };
    if (i < o.timed) trigger = { ms: (window * (i + rand())) / o.timed };
    else {
      const j = i - o.timed;
      const dir = dirs[j % dirs.length]!;
      // Stratified over the directory's events while planned, then anywhere in them.
      const u = i < planned ? ((Math.floor(j / dirs.length) % rounds) + rand()) / rounds : rand();
      trigger = { events: 1 + Math.floor(u * o.unkilled.events[dir]!), dir };
    }
    const a = await killOnce(o.target(i), trigger);
    c.attempts++;
    if (a.how === 'timed') c.timed++;
    else c.targeted++;
    if (a.outcome === 'killed') c.killed++;
    else c.done++;
    if (a.evidence.length) {
      c.midWrite++;
      if (c.seen.length < 6)
        c.seen.push(
          `${a.at}: ${a.evidence
            .join(' ')
            .replace(/\d{3,}/g, 'N')
            .slice(0, 100)}`,
        );
    }
    await o.check(i, a);
    c.verified++;
  }
  return c;
}
