/**
 * The sandbox launcher (specs/executor.md §4.3): one small, long-lived shell per build that mounts
 * the build's composefs worlds in its own mount namespace and starts every sandbox from there, so
 * that this (large) process never forks for a sandbox. Each fork of this process copies the page
 * tables of a 150 MB heap and stalls its event loop until the child has exec'd, and the COW faults
 * that follow land on the event loop too; a fork of the launcher's shell costs a fraction of it.
 *
 * The launcher is `setpriv --pdeathsig KILL unshare --mount --pid --fork --kill-child=SIGKILL
 * --propagation slave nice -n D /bin/bash -c LAUNCHER_SCRIPT`: its shell is PID 1 of a new PID
 * namespace, so when this process dies (SIGKILL included) `unshare` dies by `pdeathsig`, the shell by
 * `--kill-child`, and every process it started with it: nothing outlives the build. Its mount
 * namespace has a private tmpfs at the launcher's directory (`$TMPDIR/eos-sandbox-mnt-<pid>-*` on
 * the host, where only an empty directory is ever seen); this process reaches that tmpfs through
 * `/proc/<launcher>/root`. Its `/proc` is its PID namespace's own (bubblewrap reads its children
 * there); the host's is bound at `host-proc/` of the tmpfs, for host PIDs and this process's
 * descriptors.
 *
 * Protocol: this process writes a shell script (a *job*) into the tmpfs and one line `ID FILE` on
 * the launcher's stdin. The launcher sources the file in a forked subshell (no exec) and, when it has
 * ended, writes `x ID STATUS` on its stdout (status 128+N for signal N, as the shell reports it). A
 * job that is a sandbox first writes `p ID PID`, its own host PID (read from the host's
 * `/proc/self/stat`, at `host-proc/`), then execs its command, so that PID is
 * the sandbox's. Report lines are shorter than `PIPE_BUF`, so concurrent jobs never interleave them.
 *
 * @see specs/executor.md §4.3
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import type { Socket } from 'node:net';
import { getPriority } from 'node:os';
import { join } from 'node:path';
import { SandboxError } from '../src/kernel/index.ts';

/**
 * The launcher's shell (bash: `read -r` of a whole line, `wait PID` of a background job, and, in
 * the jobs, `$BASHPID`). Argument: the tmpfs directory M. It mounts the tmpfs, reports
 * `ready PID` (its host PID), then runs jobs until its stdin ends, and exits once every job has.
 */
const LAUNCHER_SCRIPT = `set -u
M=$1
umask 022
exec 9>&1 >/dev/null
mount -t tmpfs -o mode=0755 eos-sandbox "$M" || exit 125
mkdir "$M/host-proc" "$M/jobs" || exit 125
mount --bind /proc "$M/host-proc" || exit 125
mount -t proc proc /proc || exit 125
exec 2>/dev/null
read -r me _ <"$M/host-proc/self/stat"
echo "ready $me" >&9
while IFS=' ' read -r id file; do
  ( ( . "$file" ) </dev/null & wait $!; echo "x $id $?" >&9 ) &
done
wait
`;

/** Shell text naming this process's descriptor `fd` as a job sees it (e.g. the jobserver FIFO, to reopen). */
export function hostFdPath(fd: number): string {
  return `"$M/host-proc/${process.pid}/fd/${fd}"`;
}

/** A job the launcher runs: its host PID once it has one (sandboxes only), and its exit status. */
export interface LaunchedJob {
  /** The job's host PID (resolves once the job has reported it; sandboxes only). */
  readonly pid: Promise<number>;
  /** The exit status as the shell reports it (128+N for signal N). */
  readonly status: Promise<number>;
}

interface Pending {
  pid: (n: number) => void;
  status: (n: number) => void;
  file: string;
}

/**
 * One launcher: started with {@link SandboxLauncher.start}, ended with {@link SandboxLauncher.close}
 * (or with this process). Never keeps this process alive.
 */
export class SandboxLauncher {
  /** The launcher shell's host PID (PID 1 of its PID namespace). */
  readonly pid: number;
  /** The tmpfs directory, as a path inside the launcher's mount namespace (also its host path). */
  readonly dir: string;
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, Pending>();
  #next = 0;
  #exited = false;
  #buf = '';

  private constructor(child: ChildProcess, pid: number, dir: string) {
    this.#child = child;
    this.pid = pid;
    this.dir = dir;
  }

  /**
   * Starts a launcher on the empty host directory `mnt` (its tmpfs is mounted there, in its own
   * namespace), at niceness `niceness`.
   * @throws SandboxError E21 when it cannot start or mount its tmpfs (its stderr in the message)
   */
  static async start(mnt: string, niceness: number): Promise<SandboxLauncher> {
    const delta = niceness - getPriority();
    const child = spawn(
      'setpriv',
      [
        '--pdeathsig',
        'KILL',
        'unshare',
        '--mount',
        '--pid',
        '--fork',
        '--kill-child=SIGKILL',
        '--propagation',
        'slave',
        ...(delta !== 0 ? ['nice', '-n', String(delta)] : []),
        '/bin/bash',
        '-c',
        LAUNCHER_SCRIPT,
        'eos-launcher',
        mnt,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, detached: true },
    );
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
    child.stdin!.on('error', () => undefined);
    const pid = await new Promise<number>((resolve, reject) => {
      let out = '';
      const fail = (why: string): void => reject(new SandboxError(`sandbox launcher: cannot start: ${why}`));
      child.once('error', (e) => fail(e.message));
      child.once('close', (code, sig) => fail(`${stderr.trim() || 'no output'} (exit ${code ?? sig})`));
      const onData = (b: Buffer): void => {
        out += b.toString();
        const m = /^ready (\d+)\n/.exec(out);
        if (!m) return;
        child.stdout!.removeListener('data', onData);
        child.removeAllListeners('close');
        child.removeAllListeners('error');
        resolve(Number(m[1]));
        if (out.length > m[0].length) child.stdout!.emit('data', Buffer.from(out.slice(m[0].length)));
      };
      child.stdout!.on('data', onData);
    });
    const l = new SandboxLauncher(child, pid, mnt);
    child.stdout!.on('data', (b: Buffer) => l.#read(b.toString()));
    child.once('exit', () => l.#gone());
    child.on('error', () => undefined);
    child.stderr!.destroy();
    (child.stdin as Socket).unref();
    (child.stdout as Socket).unref();
    child.unref();
    return l;
  }

  /** The host path of `p`, a path in the launcher's mount namespace (`/proc/<pid>/root/p`). */
  hostPath(p: string): string {
    return `/proc/${this.pid}/root${p}`;
  }

  /** Whether the launcher has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  /**
   * Runs `script` (shell source, run by bash in a subshell of the launcher, in its namespaces) and
   * reports its status. A sandbox's script starts with {@link SandboxLauncher.reportPid}.
   * @throws SandboxError E21 when the launcher has exited
   */
  run(script: (id: number) => string): LaunchedJob {
    if (this.#exited) throw new SandboxError('sandbox launcher: used after it exited');
    const id = this.#next++;
    const file = join(this.dir, 'jobs', `${id}.sh`);
    writeFileSync(this.hostPath(file), script(id));
    let pid!: (n: number) => void;
    let status!: (n: number) => void;
    const pidP = new Promise<number>((r) => (pid = r));
    const statusP = new Promise<number>((r) => (status = r));
    this.#pending.set(id, { pid, status, file });
    if (this.#pending.size === 1) {
      (this.#child.stdout as Socket).ref();
      this.#child.ref();
    }
    this.#child.stdin!.write(`${id} ${file}\n`);
    return { pid: pidP, status: statusP };
  }

  /** The shell line a sandbox job starts with: it reports its host PID, then closes the report pipe. */
  static reportPid(id: number): string {
    return `read -r me _ <"$M/host-proc/self/stat"; echo "p ${id} $me" >&9; exec 9>&-`;
  }

  #read(s: string): void {
    this.#buf += s;
    let nl: number;
    while ((nl = this.#buf.indexOf('\n')) >= 0) {
      const line = this.#buf.slice(0, nl);
      this.#buf = this.#buf.slice(nl + 1);
      const [kind, id, n] = line.split(' ');
      const p = this.#pending.get(Number(id));
      if (!p) continue;
      if (kind === 'p') p.pid(Number(n));
      else if (kind === 'x') {
        this.#pending.delete(Number(id));
        try {
          unlinkSync(this.hostPath(p.file));
        } catch {
          /* the launcher is gone */
        }
        p.pid(-1); // a job that never reported one
        p.status(Number(n));
        if (this.#pending.size === 0) this.#idle();
      }
    }
  }

  #idle(): void {
    (this.#child.stdout as Socket).unref();
    this.#child.unref();
  }

  #gone(): void {
    this.#exited = true;
    for (const p of this.#pending.values()) {
      p.pid(-1);
      p.status(255);
    }
    this.#pending.clear();
    try {
      rmdirSync(this.dir);
    } catch {
      /* busy or gone: sweepSandboxMounts removes it later */
    }
  }

  /** Reads a file of the launcher's namespace (e.g. a job's error output); '' when there is none. */
  readFile(p: string): string {
    try {
      return readFileSync(this.hostPath(p), 'utf8');
    } catch {
      return '';
    }
  }

  /** Removes a directory tree of the launcher's tmpfs (never throws). */
  remove(p: string): void {
    try {
      rmSync(this.hostPath(p), { recursive: true, force: true });
    } catch {
      /* the launcher is gone */
    }
  }

  /** Kills the launcher now (its PID namespace, with every job, goes with it). */
  kill(): void {
    try {
      this.#child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }

  /**
   * Ends the launcher: its stdin is closed, it exits once its running jobs have, and its
   * directory is removed.
   */
  async close(): Promise<void> {
    if (!this.#exited) {
      const gone = new Promise<void>((res) => this.#child.once('exit', () => res()));
      this.#child.ref();
      this.#child.stdin!.end();
      await gone;
    }
    await fs.rmdir(this.dir).catch(() => undefined);
  }
}
