/**
 * `eos run`, `eos mount`/`umount` with real kernel mounts (root) and the hard-link fallback: a
 * composition of the host's own dash, ls and the libraries `ldd` names, at their FHS paths.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Store, type Digest } from '../../src/kernel/index.ts';
import { CompositionStore, runComposition } from '../../composer/index.ts';
import { eos, repoRoot, tempDir } from './helpers.ts';

const isRoot = process.getuid?.() === 0;
const haveBwrap = spawnSync('bwrap', ['--version']).status === 0;
let ws: { store: string; config: string; cwd: string };
let root = '';

/** The files `ldd` names for a program, as [path in the world, real host file]. */
function closure(program: string): [string, string][] {
  const out = execFileSync('ldd', [program], { encoding: 'utf8' });
  const files: [string, string][] = [[program, realpathSync(program)]];
  for (const line of out.split('\n')) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m) files.push([m[1]!, realpathSync(m[1]!)]);
  }
  return files;
}

function mountedHere(text: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').includes(text);
}

beforeAll(() => {
  if (!haveBwrap) spawnSync(join(repoRoot, 'scripts', 'setup.sh'), { stdio: 'inherit' });
  const base = tempDir('eos-run-');
  ws = { store: join(base, 'store'), config: join(base, 'config'), cwd: base };
  const files = new Map<string, string>();
  for (const p of ['/usr/bin/dash', '/usr/bin/ls']) for (const [at, real] of closure(p)) files.set(at, real);
  const lines: string[] = [];
  let i = 0;
  for (const [at, real] of [...files].sort()) {
    lines.push(`[entries.f${i++}]`, `at = "${at}"`, `path = "${real}"`, '');
  }
  lines.push('[entries.sh]', 'at = "/usr/bin/sh"', 'symlink = "dash"', '');
  writeFileSync(join(base, 'world.toml'), lines.join('\n'));
  const r = eos(ws, ['compose', 'world.toml']);
  if (r.code !== 0) throw new Error(r.stderr);
  root = r.stdout.trim();
});

/** The top-level names a run should see: the composition's plus the mount points. */
function expectedTop(extra: string[] = []): string[] {
  return [...new Set(['dev', 'lib', 'lib64', 'proc', 'tmp', 'usr', ...extra])].sort();
}

describe.skipIf(!isRoot)('eos run with kernel mounts (needs root: runs as root here)', () => {
  it('runs sh -c "echo hi; ls /" and shows only the composition', () => {
    const r = eos(ws, ['run', root, '--', 'sh', '-c', 'echo hi; ls /; ls /usr/bin']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [hi, ...rest] = r.stdout.trim().split('\n');
    expect(hi).toBe('hi');
    expect(rest.slice(0, expectedTop().length)).toEqual(expectedTop());
    expect(rest.slice(expectedTop().length)).toEqual(['dash', 'ls', 'sh']);
    expect(mountedHere('eos-world')).toBe(false);
  });

  it("exits with the command's status and binds the cwd at /work only when asked", () => {
    expect(eos(ws, ['run', root, '--', 'sh', '-c', 'exit 7']).code).toBe(7);
    expect(eos(ws, ['run', root, '--', 'sh', '-c', '[ -e /work ]']).code).toBe(1);
    const r = eos(ws, ['run', root, '--cwd', '--', 'sh', '-c', 'pwd; echo made > here.txt']);
    expect(r.stdout).toBe('/work\n');
    expect(readFileSync(join(ws.cwd, 'here.txt'), 'utf8')).toBe('made\n');
  });

  it('leaves no mount and no loop device behind when eos is SIGKILLed', async () => {
    const image = join(ws.store, 'images', `${root.slice(7)}.cfs`);
    const child = spawn(
      process.execPath,
      [join(repoRoot, 'bin', 'eos.mjs'), 'run', root, '--', 'sh', '-c', 'echo up; read x'],
      {
        env: { ...process.env, EOS_STORE: ws.store, EOS_CONFIG_DIR: ws.config },
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    await new Promise<void>((res) => child.stdout.once('data', () => res()));
    const loops = () => execFileSync('losetup', ['-j', image], { encoding: 'utf8' }).trim();
    expect(loops()).not.toBe('');
    child.kill('SIGKILL');
    let left = 'x';
    for (let i = 0; i < 50 && left !== ''; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = loops();
    }
    expect(left).toBe('');
    expect(mountedHere('eos-world')).toBe(false);
    const sh = spawnSync('pgrep', ['-f', 'read x']);
    expect(sh.status).toBe(1); // no process left
  });

  it('eos mount shows the view at DIR with the same bytes; eos umount removes it', () => {
    const dir = join(ws.cwd, 'mnt');
    mkdirSync(dir);
    const m = eos(ws, ['mount', root, dir]);
    expect(m.stderr).toBe('');
    expect(m.code).toBe(0);
    try {
      expect(readdirSync(dir).sort()).toEqual(['lib', 'lib64', 'usr']);
      expect(readFileSync(join(dir, 'usr/bin/dash'))).toEqual(readFileSync('/usr/bin/dash'));
      expect(spawnSync('test', ['-x', join(dir, 'usr/bin/dash')]).status).toBe(0);
    } finally {
      const u = eos(ws, ['umount', dir]);
      expect(u.stderr).toBe('');
      expect(u.code).toBe(0);
    }
    expect(readdirSync(dir)).toEqual([]);
    expect(mountedHere(dir)).toBe(false);
    const image = join(ws.store, 'images', `${root.slice(7)}.cfs`);
    // The loop device is auto-cleared when the last reference goes, which the kernel may do a
    // moment after umount returns (seen under load on a fresh CI run). A mount namespace another
    // test file made while this mount existed (a sandbox, a shared world's holder, `unshare`) keeps
    // a copy of it, and so the loop device, until that process ends: that is not ours to release.
    // So poll, up to 20 s, until the device is gone or some namespace still mounts it; one that
    // stays attached while no namespace mounts it is a leak. (Checking once raced a holder that
    // ended between `losetup -j` and the /proc scan: attached, mounted nowhere, cleared a moment
    // later.)
    let attached = '';
    let heldElsewhere = false;
    for (let i = 0; i < 200; i++) {
      attached = execFileSync('losetup', ['-j', image], { encoding: 'utf8' }).trim();
      if (!attached) break;
      heldElsewhere = mountedInAnyNamespace(attached.split(':')[0]!);
      if (heldElsewhere) break;
      execFileSync('sleep', ['0.1']);
    }
    if (attached) expect(heldElsewhere, `${attached} is attached but mounted nowhere`).toBe(true);
    expect(eos(ws, ['umount', dir]).stderr).toMatch(/^eos: \[E23\] .*: no composition is mounted here/);
  });

  it('the image passes fsck.erofs', () => {
    const image = join(ws.store, 'images', `${root.slice(7)}.cfs`);
    const r = spawnSync('fsck.erofs', [image], { encoding: 'utf8' });
    expect(r.status).toBe(0);
  });
});

/** Whether any process's mount namespace still mounts block device `dev` (e.g. /dev/loop4). */
function mountedInAnyNamespace(dev: string): boolean {
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (
        readFileSync(`/proc/${p}/mountinfo`, 'utf8')
          .split('\n')
          .some((l) => l.includes(` ${dev} `))
      )
        return true;
    } catch {
      // gone
    }
  }
  return false;
}

describe('eos run through the hard-link fallback (EOS_NO_MOUNT=1)', () => {
  it('runs the same command in the same view and says so once', () => {
    const r = eos(ws, ['run', root, '--', 'sh', '-c', 'echo hi; ls /'], { EOS_NO_MOUNT: '1' });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['hi', ...expectedTop(['work'])]);
    const notes = r.stderr.trim().split('\n');
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(
      /^eos: mounting not permitted \(EOS_NO_MOUNT=1\); used a hard-link world at .*\/worlds\/[0-9a-f]{64}$/,
    );
    const world = notes[0]!.replace(/^.* at /, '');
    expect(existsSync(join(world, 'usr/bin/dash'))).toBe(true);
    expect(dirname(world)).toBe(join(realpathSync(ws.store), 'worlds'));
    expect(eos(ws, ['run', root, '--', 'sh', '-c', 'exit 9'], { EOS_NO_MOUNT: '1' }).code).toBe(9);
  });
});

describe('runComposition (the entry the executor uses)', () => {
  for (const [mode, env] of [
    ['mount', {}],
    ['hardlink', { EOS_NO_MOUNT: '1' }],
  ] as const) {
    it.skipIf(mode === 'mount' && !isRoot)(
      `${mode}: extra bubblewrap arguments and the cwd reach the command`,
      async () => {
        const cs = new CompositionStore(new Store(ws.store));
        const dir = tempDir('eos-run-cwd-');
        const r = await runComposition(
          cs,
          root as Digest,
          { argv: ['sh', '-c', 'echo "$X" > out; exit 3'], cwd: dir, bwrapArgs: ['--setenv', 'X', mode] },
          { ...process.env, ...env },
        );
        expect(r).toMatchObject({ exitCode: 3, mode });
        expect(readFileSync(join(dir, 'out'), 'utf8')).toBe(`${mode}\n`);
      },
    );
  }
});

describe.skipIf(!isRoot)('eos run as a real non-root user (nobody)', () => {
  it('is refused mounting and falls back to the hard-link world, saying so once', () => {
    const store = join(ws.cwd, 'nobody-store');
    const made = eos({ ...ws, store }, ['compose', 'world.toml']);
    expect(made.stdout.trim()).toBe(root);
    execFileSync('chmod', ['0755', ws.cwd]);
    execFileSync('chown', ['-R', '65534:65534', store]);
    // nobody may not be able to reach the checkout (a clone under root's home or a 0700 mktemp
    // directory): expose it at a world-traversable path with a bind mount in a private mount
    // namespace, which disappears with the command (a SIGKILL included).
    const exposed = tempDir('eos-run-repo-');
    execFileSync('chmod', ['0755', exposed]);
    const r = spawnSync(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        'mount --bind "$1" "$2" && shift 2 && exec "$@"',
        'sh',
        repoRoot,
        exposed,
        'setpriv',
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        join(exposed, 'bin', 'eos.mjs'),
        'run',
        root,
        '--',
        'sh',
        '-c',
        'echo hi; ls /',
      ],
      {
        encoding: 'utf8',
        cwd: '/',
        env: { PATH: process.env.PATH, HOME: '/nonexistent', EOS_STORE: store, EOS_CONFIG_DIR: ws.config },
      },
    );
    expect(r.stderr).toMatch(
      /^eos: mounting not permitted \(not running as root\); used a hard-link world at .*\n$/,
    );
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['hi', ...expectedTop(['work'])]);
  });
});
