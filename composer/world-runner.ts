/**
 * Worlds (I/O): the one world runner. It runs a process whose `/` is a composition: mounted from
 * its composefs image in a private mount namespace where mounting is permitted (`eos run`, the
 * build sandbox, a host's services), else a hard-link world under bubblewrap. The namespace
 * script and its argv are written only here ({@link composefsRootCommand}), with the mount options
 * and path check of `composefs/mount.ts`: a tmpfs, the EROFS image, a read-only overlay with the
 * store's object directory as a data-only lower layer, all inside new mount and PID namespaces so
 * that nothing outlives the process.
 *
 * @see specs/composition.md §13
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { constants } from 'node:os';
import { MountError } from '../src/kernel/index.ts';
import { seccompProgram } from './seccomp.ts';
import { erofsMountOptions, imageHasAcl, overlayMountOptions, type MountOptions } from './composefs/mount.ts';
/** Where a run's process sees the caller's working directory when asked (`--cwd`). */
export const WORLD_CWD_DIR = '/work';

/**
 * The script run in the new mount namespace (by the host's `/bin/sh`): it mounts a private tmpfs
 * at M, each EROFS image (the layers, highest first, then the world's image) at `M/meta<i>` and
 * the overlay on it (a small top layer of empty mount points, the images, and the object
 * directory as a data-only layer), then execs the command (which finds the view at `M/root`).
 * Arguments: M POINTS OVERLAY-OPTIONS SOURCE N, then N pairs IMAGE EROFS-OPTIONS, then COMMAND…
 * Every directory is made by one `mkdir` (in a subshell, so the command keeps the caller's working
 * directory): each program the script starts costs an exec on every sandbox start.
 */
const NAMESPACE_SCRIPT = `set -eu
M=$1; POINTS=$2; OVERLAY=$3; SOURCE=$4; N=$5; shift 5
mount -t tmpfs -o mode=0755 "$SOURCE" "$M"
(cd "$M"; set --; for p in $POINTS; do set -- "$@" "stub/$p"; done; i=0; while [ $i -lt $N ]; do set -- "$@" "meta$i"; i=$((i+1)); done; mkdir stub root "$@")
i=0; while [ $i -lt $N ]; do mount -t erofs -o "$2" "$1" "$M/meta$i"; shift 2; i=$((i+1)); done
mount -t overlay "$SOURCE" -o "$OVERLAY" "$M/root"
exec "$@"
`;

/** A composefs image to mount as a process's `/`. */
export interface ComposefsRoot extends MountOptions {
  /** The composefs (EROFS) image of the composition (with `layers`: the bottom one). */
  image: string;
  /**
   * Layer images (specs/composefs.md §2.9) stacked over `image`, highest first: each its own EROFS
   * mount, given to the overlay above `image`'s (a world's dependency outputs over its seed,
   * specs/executor.md §2.2).
   */
  layers?: readonly string[];
  /** The store's object directory (the overlay's data-only lower layer). */
  objectsDir: string;
}

/** Where and how {@link composefsRootCommand} mounts the view. */
export interface NamespaceMount {
  /** An existing empty host directory: the private tmpfs is mounted on it, inside the namespace. */
  mnt: string;
  /** Empty directories added over the image's top level (bind targets such as `proc`, `dev`). */
  mountPoints: readonly string[];
  /** The tmpfs's and overlay's source name (shown in the namespace's mountinfo). */
  source: string;
  /** The command to exec once the view is mounted, given the view's directory. */
  command: (view: string) => string[];
  /**
   * The new namespace's mount propagation (default `private`). A namespace that outlives one
   * command (the sandbox's shared worlds) takes `slave`: the host's later mounts reach it, its
   * own mounts never reach the host.
   */
  propagation?: 'private' | 'slave';
}

/**
 * The command line that mounts a composefs image in a new private mount namespace and execs a
 * command there: `setpriv --pdeathsig KILL unshare --mount --fork --kill-child=SIGKILL
 * --propagation private /bin/sh -c SCRIPT …`, so a killed parent takes the namespace down and every
 * mount vanishes with it. The EROFS options honour the image's ACL flag; the overlay's are
 * {@link overlayMountOptions} (so `verity=require` when `root.requireVerity`).
 * @returns the program and its arguments, for `spawn`
 * @throws MountError E23 when the image cannot be read, or a path cannot be an overlay option
 * @see specs/composition.md §13
 */
export async function composefsRootCommand(
  root: ComposefsRoot,
  how: NamespaceMount,
): Promise<[string, string[]]> {
  const mnt = resolve(how.mnt);
  const images = imagesOf(root);
  const metas = images.map((_, i) => join(mnt, `meta${i}`));
  const overlay = overlayMountOptions([join(mnt, 'stub'), ...metas], resolve(root.objectsDir), root);
  const pairs: string[] = [];
  for (const image of images) pairs.push(image, erofsMountOptions(await imageHasAcl(image)));
  return [
    'setpriv',
    [
      '--pdeathsig',
      'KILL',
      'unshare',
      '--mount',
      '--fork',
      '--kill-child=SIGKILL',
      '--propagation',
      how.propagation ?? 'private',
      '/bin/sh',
      '-c',
      NAMESPACE_SCRIPT,
      how.source,
      mnt,
      how.mountPoints.join(' '),
      overlay,
      how.source,
      String(images.length),
      ...pairs,
      ...how.command(join(mnt, 'root')),
    ],
  ];
}

/** A composefs root's images, highest first: its layers, then its image (absolute paths). */
export function imagesOf(root: Pick<ComposefsRoot, 'image' | 'layers'>): string[] {
  return [...(root.layers ?? []), root.image].map((p) => resolve(p));
}

/** One argument, quoted for the shell (single quotes, a quote inside as `'\\''`; plain words as they are). */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * One mount(2) call, read-only (`MS_RDONLY`): an EROFS image (`source` the image file, mounted
 * file-backed, or over a loop device where the kernel cannot) or a composefs overlay (`source` its
 * name). `data` is the filesystem's option string without `ro` (and, for EROFS, without `loop`).
 */
export interface MountCall {
  fstype: 'erofs' | 'overlay';
  source: string;
  target: string;
  data: string;
}

/**
 * The shell line of a {@link MountCall} through util-linux `mount` (EROFS over a loop device, as
 * {@link composefsRootCommand} mounts it), exiting 1 when it fails.
 */
export function mountCallShell(c: MountCall): string {
  const o = c.fstype === 'erofs' ? ['ro', 'loop', c.data] : ['ro', c.data];
  const opts = shellQuote(o.filter(Boolean).join(','));
  return c.fstype === 'erofs'
    ? `mount -t erofs -o ${opts} ${shellQuote(c.source)} ${shellQuote(c.target)} || exit 1`
    : `mount -t overlay ${shellQuote(c.source)} -o ${opts} ${shellQuote(c.target)} || exit 1`;
}

/** The mount of a composefs view at a directory of a namespace that already exists (a launcher's). */
export interface ViewMount {
  /** Directories to make (empty) before mounting: `root`, `stub` and its points. */
  dirs: string[];
  /** The read-only overlay. */
  mount: MountCall;
  /** The view's directory (`DIR/root`, the overlay's target). */
  view: string;
}

/**
 * The EROFS mount of a composefs (or layer) image at `dir`, in a long-lived namespace that mounts
 * many views (the sandbox launcher, specs/executor.md §4.3): read-only, `noacl` unless the
 * image's header says HAS_ACL (the options of {@link composefsRootCommand}).
 * @throws MountError E23 when the image cannot be read
 */
export async function erofsImageMount(image: string, dir: string): Promise<MountCall> {
  const acl = await imageHasAcl(resolve(image));
  return { fstype: 'erofs', source: resolve(image), target: dir, data: acl ? '' : 'noacl' };
}

/**
 * The read-only overlay of a composefs view at `dir/root` over EROFS mounts made by
 * {@link erofsImageMount} (`metas`, highest first: a root's layers, then its image), with a top
 * layer of empty mount points and `root.objectsDir` as the data-only layer: the layers, options
 * and path checks of {@link composefsRootCommand}.
 * @throws MountError E23 when a path cannot be an overlay option
 * @see specs/composition.md §13
 */
export function overlayViewMount(
  root: Pick<ComposefsRoot, 'objectsDir' | 'requireVerity'>,
  metas: readonly string[],
  dir: string,
  mountPoints: readonly string[],
): ViewMount {
  const [stub, view] = ['stub', 'root'].map((d) => join(dir, d)) as [string, string];
  const overlay = overlayMountOptions([stub, ...metas], resolve(root.objectsDir), root);
  return {
    dirs: [view, stub, ...mountPoints.map((p) => join(stub, p))],
    mount: { fstype: 'overlay', source: 'eos-sandbox', target: view, data: overlay.replace(/^ro,/, '') },
    view,
  };
}

/** What a run returned. */
export interface RunResult {
  /** The command's exit status, or 128 + the signal number when a signal ended it. */
  exitCode: number;
}

/** Options of a run. */
export interface RunOptions {
  /** The command and its arguments (looked up in the world's `PATH`). */
  argv: string[];
  /** A host directory to bind read-write at `/work` and start in; absent: start in `/`. */
  cwd?: string;
  /** The environment (default: the caller's). */
  env?: NodeJS.ProcessEnv;
  /** How the child's stdio is connected (default `inherit`). */
  stdio?: 'inherit' | 'pipe';
  /**
   * More bubblewrap arguments, placed before the command (e.g. `--unshare-net`, `--bind OUT /out`
   * for a build). Bind targets must exist in the view or be created by bubblewrap on a tmpfs.
   */
  bwrapArgs?: string[];
  /** Mount the image with overlayfs `verity=require` (needs fs-verity on the objects' filesystem). */
  requireVerity?: boolean;
  /** Share the host's network namespace (`eos run --network`); default: a fresh, empty one. */
  network?: boolean;
}

/** The uid and gid a root caller's command runs as inside its user namespace (not root: no caps). */
export const WORLD_RUN_ID = 1000;

/**
 * The isolation arguments every sandboxed process gets (after the root bind): a new user namespace
 * (a root caller's command runs as {@link WORLD_RUN_ID}, anyone else as themselves), every
 * capability dropped, new IPC, UTS and (try) cgroup namespaces, a new session, death with its
 * parent, and the seccomp filter ({@link seccompProgram}) read from descriptor `seccompFd`
 * (bubblewrap sets `no_new_privs` when it installs it).
 * @param seccompFd the child's descriptor the filter's bytes are written to
 * @see specs/sandbox-seccomp.md §3
 */
export function isolationArgs(seccompFd: number): string[] {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const id = root ? String(WORLD_RUN_ID) : undefined;
  return [
    '--unshare-user',
    ...(id ? ['--uid', id, '--gid', id] : []),
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    '--cap-drop',
    'ALL',
    '--new-session',
    '--die-with-parent',
    '--seccomp',
    String(seccompFd),
  ];
}

/**
 * Spawns a bubblewrap command line whose arguments name `--seccomp seccompFd`: the child's
 * descriptor `seccompFd` is a pipe the filter's bytes are written to (then closed, so bubblewrap
 * reads to its end). The descriptors below it are `stdio` (e.g. `[log, log, log]`, jobserver fds).
 * @see specs/sandbox-seccomp.md §3
 */
export function spawnWithSeccomp(
  cmd: string,
  args: string[],
  stdio: Array<'inherit' | 'pipe' | 'ignore' | number>,
  options: { env?: NodeJS.ProcessEnv; detached?: boolean },
): ReturnType<typeof spawn> {
  const child = spawn(cmd, args, { ...options, stdio: [...stdio, 'pipe'] });
  const pipe = child.stdio[stdio.length] as NodeJS.WritableStream | null;
  pipe?.on('error', () => undefined); // a child that failed to start: its error is reported by 'error'
  pipe?.end(seccompProgram());
  return child;
}

/** Whether this process may mount (root, and `EOS_NO_MOUNT` is not `1`), and why not. */
export function mountingPermitted(env: NodeJS.ProcessEnv = process.env): { ok: boolean; reason: string } {
  if (env.EOS_NO_MOUNT === '1') return { ok: false, reason: 'EOS_NO_MOUNT=1' };
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    return { ok: false, reason: 'not running as root' };
  return { ok: true, reason: '' };
}

function waitChild(child: ReturnType<typeof spawn>, what: string): Promise<RunResult> {
  return new Promise((res, rej) => {
    child.on('error', (e) =>
      rej(new MountError(`${what}: cannot start: ${e.message}`, { data: { what }, cause: e })),
    );
    child.on('exit', (code, signal) => {
      if (code !== null) res({ exitCode: code });
      else res({ exitCode: 128 + ((signal && constants.signals[signal]) || 0) });
    });
  });
}

/**
 * Runs a command whose `/` is a mounted composefs image ({@link composefsRootCommand}, source
 * name `eos-world`, on `$TMPDIR/eos-world-mnt`); the command runs under bubblewrap (new PID
 * namespace, `/proc`, `/dev`, `/tmp`) with the overlay as `/`.
 * @param image the composefs image file
 * @param objectsDir the store's `objects/` directory (the data-only lower layer)
 * @throws MountError E23 when the namespace or a mount cannot be set up (the script's stderr is the
 *   child's, so the mount tool's own message is shown above)
 * @see specs/composition.md §13
 */
export async function runMounted(image: string, objectsDir: string, opts: RunOptions): Promise<RunResult> {
  const mnt = join(tmpdir(), 'eos-world-mnt');
  const [cmd, args] = await composefsRootCommand(
    { image, objectsDir, ...(opts.requireVerity ? { requireVerity: true } : {}) },
    {
      mnt,
      mountPoints: worldMountPoints(Boolean(opts.cwd)),
      source: 'eos-world',
      command: (view) => ['bwrap', '--bind', view, '/', ...sandboxArgs(opts)],
    },
  );
  mkdirSync(mnt, { recursive: true });
  const io = opts.stdio ?? 'inherit';
  const child = spawnWithSeccomp(cmd, args, [io, io, io], { env: opts.env ?? process.env });
  return waitChild(child, `run in ${image}`);
}

/** The child descriptor a run's seccomp filter is read from (after stdin, stdout, stderr). */
const RUN_SECCOMP_FD = 3;

/**
 * bubblewrap's arguments after the root bind: /proc, /dev, /tmp, the isolation (user namespace,
 * no capabilities, seccomp, a fresh network namespace unless `network`), the optional cwd, the command.
 */
function sandboxArgs(opts: RunOptions): string[] {
  const args = ['--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--unshare-pid'];
  args.push(...isolationArgs(RUN_SECCOMP_FD));
  if (!opts.network) args.push('--unshare-net');
  if (opts.cwd) args.push('--bind', resolve(opts.cwd), WORLD_CWD_DIR, '--chdir', WORLD_CWD_DIR);
  else args.push('--chdir', '/');
  return [...args, ...(opts.bwrapArgs ?? []), '--', ...opts.argv];
}

/**
 * Runs a command whose `/` is a materialized world directory (hard links into the store), with
 * bubblewrap: the world read-only at `/`, `/proc`, a minimal `/dev`, a tmpfs `/tmp`, new PID
 * namespace, killed with its parent. The world must hold empty `proc`, `dev`, `tmp` (and, with
 * `cwd`, `work`) directories (see {@link worldMountPoints}).
 * @throws MountError E23 when bubblewrap is not installed or cannot start
 * @see specs/composition.md §13
 */
export async function runMaterialized(world: string, opts: RunOptions): Promise<RunResult> {
  const io = opts.stdio ?? 'inherit';
  const child = spawnWithSeccomp(
    'bwrap',
    ['--ro-bind', resolve(world), '/', ...sandboxArgs(opts)],
    [io, io, io],
    {
      env: opts.env ?? process.env,
    },
  );
  return waitChild(child, `run in ${world}`).catch((e) => {
    throw new MountError(`bwrap: ${(e as Error).message}`, {
      hint: 'install bubblewrap with scripts/setup.sh',
      cause: e,
    });
  });
}

/** The mount points a world directory needs for {@link runMaterialized}. */
export function worldMountPoints(withCwd: boolean): string[] {
  return withCwd ? ['proc', 'dev', 'tmp', 'work'] : ['proc', 'dev', 'tmp'];
}

/**
 * Whether a composefs overlay (as mounted by `mountImage`, source name `composefs`) is mounted at
 * `dir` in this mount namespace, from `/proc/self/mountinfo`.
 */
export function isComposefsMount(dir: string): boolean {
  const target = resolve(dir);
  for (const l of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = l.split(' - ');
    if (!pre || !post) continue;
    const mountPoint = (pre.split(' ')[4] ?? '').replace(/\\040/g, ' ');
    const [fstype, source] = post.split(' ');
    if (mountPoint === target && fstype === 'overlay' && source === 'composefs') return true;
  }
  return false;
}
