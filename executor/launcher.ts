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
 * A mount request ({@link SandboxLauncher.mount}) is a line `mID FILE` that the launcher passes to
 * its mount helper (a Perl process making the mount(2)/umount2(2) calls itself), which reports
 * `x ID STATUS` the same way.
 *
 * @see specs/executor.md §4.3
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import type { Socket } from 'node:net';
import { getPriority } from 'node:os';
import { join } from 'node:path';
import { SandboxError } from '../src/kernel/index.ts';
import { mountCallShell, shellQuote, type MountCall } from '../composer/index.ts';

/** One call of a {@link SandboxLauncher.mount} request: a read-only mount, or an unmount. */
export type LauncherMount = { op: 'mount'; call: MountCall } | { op: 'umount'; target: string };

/**
 * The launcher's shell (bash: `read -r` of a whole line, `wait PID` of a background job, and, in
 * the jobs, `$BASHPID`). Arguments: the tmpfs directory M, then (optional) the mount helper's
 * program and its two syscall numbers. It mounts the tmpfs, starts the mount helper, reports
 * `ready PID` (its host PID), then runs jobs until its stdin ends, and exits once every job has.
 * A line `mID FILE` goes to the mount helper (a builtin `echo`: no fork), any other to a job.
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
if [ $# -ge 4 ]; then exec 4> >(exec /usr/bin/perl -e "$2" "$3" "$4"); fi
read -r me _ <"$M/host-proc/self/stat"
echo "ready $me" >&9
while IFS=' ' read -r id file; do
  case $id in
    m*) echo "\${id#m} $file" >&4 ;;
    *) ( ( . "$file" ) </dev/null & wait $!; echo "x $id $?" >&9 ) & ;;
  esac
done
exec 4>&-
wait
`;

/**
 * The mount helper (Perl, from Debian's essential perl-base), run by the launcher in its
 * namespaces: it makes the mount(2) and umount2(2) calls of a request file itself, so a mount
 * costs no fork, no exec and no util-linux `mount` (which also parses the mount table and sets up
 * a loop device for every image). Arguments: the syscall numbers of mount and umount2 on this
 * machine. Reads `ID FILE` lines; FILE holds one call per line, fields separated by NUL:
 * `mount SOURCE TARGET FSTYPE DATA` (always `MS_RDONLY`) or `umount TARGET`. An EROFS image is
 * mounted file-backed; where the kernel cannot (ENOTBLK: no file-backed EROFS), by util-linux
 * `mount -o ro,loop`. At the first failure the mounts the request made are undone, the reason is
 * written to `FILE.err` and the status is 1. Reports `x ID STATUS` on descriptor 9.
 */
const MOUNT_HELPER = `use strict; use warnings;
my ($SYS_MOUNT, $SYS_UMOUNT) = @ARGV; @ARGV = ();
open(my $out, '>&=', 9) or exit 125;
sub mnt { my ($src, $tgt, $type, $data) = @_; my $f = 1; return syscall($SYS_MOUNT, $src, $tgt, $type, $f, $data) == 0; }
sub request {
  my ($file) = @_;
  open(my $in, '<', $file) or return "$file: $!";
  my @calls = <$in>; close $in;
  my @done;
  for my $c (@calls) {
    chomp $c;
    my ($op, @a) = split /\\0/, $c, -1;
    my $ok; my $why = '';
    if ($op eq 'mount') {
      $ok = mnt(@a);
      $why = "$!" unless $ok;
      if (!$ok && $a[2] eq 'erofs' && ($! + 0) == 15) {
        $ok = system('mount', '-t', 'erofs', '-o', join(',', grep { length } 'ro', 'loop', $a[3]), $a[0], $a[1]) == 0;
        $why = 'util-linux mount failed' unless $ok;
      }
      if ($ok) { push @done, $a[1]; next; }
      for my $t (reverse @done) { my $z = 0; syscall($SYS_UMOUNT, $t, $z); }
      return "mount -t $a[2] $a[0] $a[1]: $why";
    } elsif ($op eq 'umount') {
      my $z = 0;
      next if syscall($SYS_UMOUNT, $a[0], $z) == 0;
      return "umount $a[0]: $!";
    } else { return "unknown call $op"; }
  }
  return '';
}
while (my $line = <STDIN>) {
  chomp $line;
  my ($id, $file) = split / /, $line, 2;
  my $err = request($file);
  if ($err ne '') { if (open(my $e, '>', "$file.err")) { print $e "$err\\n"; close $e; } }
  syswrite($out, "x $id " . ($err eq '' ? 0 : 1) . "\\n");
}
`;

/** mount(2) and umount2(2) syscall numbers by `process.arch` (where the mount helper runs). */
const MOUNT_SYSCALLS: Partial<Record<string, [number, number]>> = { x64: [165, 166], arm64: [40, 39] };

/** The mount helper's arguments on this machine, or none (no Perl, or an unknown syscall table). */
function mountHelperArgs(): string[] {
  const nr = MOUNT_SYSCALLS[process.arch];
  if (!nr || process.env.EOS_NO_MOUNT_HELPER === '1' || !existsSync('/usr/bin/perl')) return [];
  return [MOUNT_HELPER, String(nr[0]), String(nr[1])];
}

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
  readonly #mountHelper: boolean;
  #next = 0;
  #exited = false;
  #buf = '';

  private constructor(child: ChildProcess, pid: number, dir: string, mountHelper: boolean) {
    this.#child = child;
    this.pid = pid;
    this.dir = dir;
    this.#mountHelper = mountHelper;
  }

  /**
   * Starts a launcher on the empty host directory `mnt` (its tmpfs is mounted there, in its own
   * namespace), at niceness `niceness`.
   * @throws SandboxError E21 when it cannot start or mount its tmpfs (its stderr in the message)
   */
  static async start(mnt: string, niceness: number): Promise<SandboxLauncher> {
    const delta = niceness - getPriority();
    const helper = mountHelperArgs();
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
        ...helper,
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
    const l = new SandboxLauncher(child, pid, mnt, helper.length > 0);
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
    let pid!: (n: number) => void;
    const pidP = new Promise<number>((r) => (pid = r));
    const statusP = this.#submit(id, file, script(id), '', pid);
    return { pid: pidP, status: statusP };
  }

  /** Writes request `id`'s file and line (`PREFIX+ID FILE`); resolves with its reported status. */
  #submit(
    id: number,
    file: string,
    text: string,
    prefix: string,
    pid?: (n: number) => void,
  ): Promise<number> {
    writeFileSync(this.hostPath(file), text);
    let status!: (n: number) => void;
    const statusP = new Promise<number>((r) => (status = r));
    this.#pending.set(id, { pid: pid ?? (() => undefined), status, file });
    if (this.#pending.size === 1) {
      (this.#child.stdout as Socket).ref();
      this.#child.ref();
    }
    this.#child.stdin!.write(`${prefix}${id} ${file}\n`);
    return statusP;
  }

  /**
   * Makes `calls` in the launcher's mount namespace, in order, by its mount helper (no fork; an
   * EROFS image file-backed) or, without one, by a job running util-linux `mount`/`umount`. A
   * failed call undoes the mounts this request made (helper) and rejects.
   * @throws SandboxError E21 naming the failed call and the kernel's (or mount's) reason, or when
   *   the launcher has exited
   */
  async mount(calls: readonly LauncherMount[]): Promise<void> {
    if (this.#exited) throw new SandboxError('sandbox launcher: used after it exited');
    for (const c of calls)
      for (const f of c.op === 'mount' ? [c.call.source, c.call.target, c.call.data] : [c.target])
        if (/[\0\n]/.test(f))
          throw new SandboxError(
            `sandbox launcher: cannot mount: ${JSON.stringify(f)} holds a NUL or a newline`,
          );
    const id = this.#next++;
    const file = join(this.dir, 'jobs', `${id}.m`);
    let status: number;
    if (this.#mountHelper) {
      const body = calls
        .map((c) =>
          c.op === 'mount'
            ? ['mount', c.call.source, c.call.target, c.call.fstype, c.call.data].join('\0')
            : ['umount', c.target].join('\0'),
        )
        .join('\n');
      status = await this.#submit(id, file, `${body}\n`, 'm');
    } else {
      const lines = calls.map((c) =>
        c.op === 'mount' ? mountCallShell(c.call) : `umount ${shellQuote(c.target)} || exit 1`,
      );
      status = await this.#submit(id, file, `exec 2>${shellQuote(`${file}.err`)}\n${lines.join('\n')}\n`, '');
    }
    const why = this.readFile(`${file}.err`).trim();
    if (why) this.remove(`${file}.err`);
    if (status !== 0) throw new SandboxError(`sandbox launcher: ${why || `mount request exited ${status}`}`);
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
