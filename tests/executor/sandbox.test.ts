/**
 * Sandbox tests: each runs a real build script in a host-seeded world under bubblewrap and checks
 * that the host stays invisible and untouched. Needs root (or unprivileged user namespaces) and bwrap.
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { getPriority, setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SandboxWorlds,
  runSandbox,
  worldImage,
  worldLayerImage,
  type SandboxSpec,
} from '../../executor/index.ts';
import type { Store } from '../../src/kernel/index.ts';
import { hostSeedWorld } from './helpers.ts';

const canRun = existsSync('/usr/bin/bwrap') && process.getuid?.() === 0;
let worldDir = '';
let worldRoot = '';
let store: Store;
let scratch = '';

beforeAll(async () => {
  if (!canRun) return;
  const w = await hostSeedWorld();
  worldDir = w.worldDir;
  worldRoot = w.world.root;
  store = w.store;
  scratch = mkdtempSync(join(tmpdir(), 'eos-sandbox-'));
});

/** Runs a shell script in a fresh /build and /output; returns the result, the log and the dirs. */
async function script(text: string, extra: Partial<SandboxSpec> = {}) {
  const d = mkdtempSync(join(scratch, 'run-'));
  const buildDir = join(d, 'build');
  const outputDir = join(d, 'output');
  mkdirSync(buildDir);
  mkdirSync(outputDir);
  writeFileSync(join(buildDir, 'build.sh'), text);
  if (existsSync(join(scratch, 'probe')))
    execFileSync('cp', [join(scratch, 'probe'), join(buildDir, 'probe')]);
  const logPath = join(d, 'log');
  const r = await runSandbox({
    worldDir,
    buildDir,
    outputDir,
    argv: ['/bin/sh', '/build/build.sh'],
    sourceDateEpoch: 1700000000,
    jobs: 2,
    timeoutMs: 20_000,
    logPath,
    ...extra,
  });
  return { r, log: readFileSync(logPath, 'utf8'), buildDir, outputDir };
}

function sandboxPids(marker: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)) out.push(pid);
    } catch {
      /* gone */
    }
  }
  return out;
}

describe.skipIf(!canRun)('sandbox (needs root and bwrap)', () => {
  it('cannot read a host file outside the world', async () => {
    const secretDir = mkdtempSync(join(tmpdir(), 'eos-secret-'));
    const secret = join(secretDir, 'secret.txt');
    writeFileSync(secret, 'TOP-SECRET-4711\n');
    const { r, log } = await script(
      `cat ${secret}\necho "cat=$?"\ncat /etc/shadow; echo "shadow=$?"\nls /root /home\n`,
    );
    expect(r.exitCode).toBe(0);
    expect(log).not.toContain('TOP-SECRET-4711');
    expect(log).toMatch(/cat=1/);
    expect(log).toMatch(/shadow=1/);
  });

  it('cannot connect to a server on the host loopback', async () => {
    let connections = 0;
    const server: Server = createServer((s) => {
      connections++;
      s.end('HELLO-FROM-HOST\n');
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const port = (server.address() as { port: number }).port;
    // Sanity: the server is reachable from the host itself.
    const hello = await new Promise<string>((res, rej) => {
      const c = connect(port, '127.0.0.1');
      let got = '';
      c.on('data', (b) => (got += b.toString()));
      c.on('end', () => res(got));
      c.on('error', rej);
    });
    expect(hello).toContain('HELLO-FROM-HOST');
    const before = connections;
    const { log } = await script(
      `bash -c 'exec 3<>/dev/tcp/127.0.0.1/${port} && cat <&3'\necho "tcp=$?"\nbash -c 'exec 3<>/dev/tcp/10.0.0.1/80'\necho "ext=$?"\n`,
    );
    server.close();
    expect(log).not.toContain('HELLO-FROM-HOST');
    expect(log).toMatch(/tcp=1/);
    expect(log).toMatch(/ext=1/);
    expect(connections).toBe(before);
  });

  it('writes only to /build and $OUTPUT', async () => {
    const { r, log, buildDir, outputDir } = await script(
      [
        'for p in /usr/bin/evil /etc/evil /evil /var/evil /dev/shm-evil; do',
        '  if echo x > "$p" 2>/dev/null; then echo "wrote $p"; else echo "denied $p"; fi',
        'done',
        'echo ok > /tmp/scratch && echo "tmp=ok"',
        'echo built > /build/artifact',
        'echo out > "$OUTPUT/file"',
      ].join('\n'),
    );
    expect(r.exitCode).toBe(0);
    expect(log).not.toMatch(/^wrote \/(usr|etc|evil|var)/m);
    for (const p of ['/usr/bin/evil', '/etc/evil', '/evil', '/var/evil'])
      expect(log).toContain(`denied ${p}`);
    expect(log).toContain('tmp=ok');
    for (const p of ['usr/bin/evil', 'etc/evil', 'evil', 'var/evil'])
      expect(existsSync(join(worldDir, p))).toBe(false);
    expect(readFileSync(join(buildDir, 'artifact'), 'utf8')).toBe('built\n');
    expect(readFileSync(join(outputDir, 'file'), 'utf8')).toBe('out\n');
  });

  it('kills processes left running when the build exits', async () => {
    const marker = `98765${process.pid}`;
    const { r, outputDir } = await script(
      `sleep ${marker} &\necho $! > "$OUTPUT/pid"\n(setsid sleep ${marker} &)\nexit 0\n`,
    );
    expect(r.exitCode).toBe(0);
    expect(readFileSync(join(outputDir, 'pid'), 'utf8').trim()).toMatch(/^\d+$/);
    await new Promise((res) => setTimeout(res, 300));
    expect(sandboxPids(`sleep\0${marker}`)).toEqual([]);
  });

  it('kills the whole sandbox at its time limit', async () => {
    const marker = `87654${process.pid}`;
    const { r } = await script(`sleep ${marker} &\nsleep ${marker}\n`, { timeoutMs: 1500 });
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBeNull();
    expect(r.durationMs).toBeLessThan(10_000);
    await new Promise((res) => setTimeout(res, 300));
    expect(sandboxPids(`sleep\0${marker}`)).toEqual([]);
  });

  it('sees exactly the fixed environment', async () => {
    const { log } = await script('env | sort\n', { extraEnv: { PATH: '/evil', CONFIGURE_ARGS: '--x' } });
    const vars = log
      .trim()
      .split('\n')
      .map((l) => l.split('=')[0]);
    expect(vars).toEqual([
      'BUILD',
      'CONFIGURE_ARGS',
      'HOME',
      'LC_ALL',
      'MAKEFLAGS',
      'OUTPUT',
      'PATH',
      'PWD',
      'SOURCE',
      'SOURCE_DATE_EPOCH',
      'TZ',
    ]);
    expect(log).toContain('PATH=/usr/bin:/usr/sbin\n');
    expect(log).toContain('SOURCE_DATE_EPOCH=1700000000\n');
  });

  it('runs at niceness 10 whatever the caller has (a configure probe writes it into the output)', async () => {
    const caller = getPriority();
    try {
      for (const p of [0, 5, 19]) {
        setPriority(p);
        const { log } = await script('nice\n');
        expect(log.trim(), `caller at niceness ${p}`).toBe('10');
      }
    } finally {
      setPriority(caller);
    }
  });

  it('starts with umask 022 whatever the caller has, and gives the caller its umask back', async () => {
    const caller = process.umask(0o077);
    try {
      const { log, outputDir } = await script('umask\n: > "$OUTPUT/f"\nmkdir "$OUTPUT/d"\n');
      expect(log.trim()).toBe('0022');
      expect(statSync(join(outputDir, 'f')).mode & 0o777).toBe(0o644);
      expect(statSync(join(outputDir, 'd')).mode & 0o777).toBe(0o755);
      expect(process.umask(0o077)).toBe(0o077);
    } finally {
      process.umask(caller);
    }
  });
});

describe.skipIf(!canRun)('sandbox on a composefs-mounted world (needs root, erofs, overlayfs)', () => {
  it('sees the same bytes as the hard-link world and stays read-only', async () => {
    const image = await worldImage(store, worldRoot as never);
    const probe = [
      'cd /usr && find . \\( -type f -o -type l \\) | LC_ALL=C sort > /build/list',
      'find . -type f | LC_ALL=C sort | xargs cat | sha256sum',
      'wc -l < /build/list',
      'readlink /usr/bin/cc; readlink /bin',
      'if echo x > /usr/bin/evil 2>/dev/null; then echo wrote; else echo denied; fi',
      'echo out > "$OUTPUT/f"',
    ].join('\n');
    const a = await script(probe);
    const b = await script(probe, { composefs: { image, objectsDir: store.dir('objects') } });
    expect(a.r.exitCode).toBe(0);
    expect(b.r.exitCode).toBe(0);
    expect(b.log).toBe(a.log);
    expect(b.log).toMatch(/gcc-12\nusr\/bin\n.*Read-only file system\ndenied\n/);
    expect(Number(b.log.split('\n')[1])).toBeGreaterThan(4000);
    expect(readFileSync(join(b.outputDir, 'f'), 'utf8')).toBe('out\n');
  });
});

describe.skipIf(!canRun)('sandboxes sharing one mounted composefs world (SandboxWorlds)', () => {
  it('see the same bytes, read-only, each with its own /build and /tmp; nothing is left after close', async () => {
    const image = await worldImage(store, worldRoot as never);
    const composefs = { image, objectsDir: store.dir('objects') };
    const probe = [
      'cd /usr && find . -type f | LC_ALL=C sort | xargs cat | sha256sum',
      'if echo x > /usr/bin/evil 2>/dev/null; then echo wrote; else echo denied; fi',
      'if [ -e /tmp/mark ] || [ -e /build/mark ]; then echo "saw another sandbox"; fi',
      'echo x > /tmp/mark; echo x > /build/mark',
      'grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status',
      'echo out > "$OUTPUT/f"',
    ].join('\n');
    const alone = await script(probe);
    const worlds = new SandboxWorlds();
    const lease = await worlds.enter(composefs);
    const { view } = lease;
    const pid = lease.launcher.pid;
    const mnt = join(view, '..');
    const ourNs = readFileSync('/proc/self/mountinfo', 'utf8');
    // Two at once, then a third: all in the one world the launcher keeps mounted.
    const both = await Promise.all([
      script(probe, { composefs, worlds }),
      script(probe, { composefs, worlds }),
    ]);
    const third = await script(probe, { composefs, worlds });
    expect((await worlds.enter(composefs)).view).toBe(view);
    expect(worlds.stats()).toEqual({ mounted: 1, entered: 5 }); // mounted once, for all five
    for (const x of [...both, third]) {
      expect(x.r.exitCode).toBe(0);
      expect(x.log).toBe(alone.log);
      expect(readFileSync(join(x.outputDir, 'f'), 'utf8')).toBe('out\n');
    }
    expect(alone.log).toMatch(/Read-only file system\ndenied\n/);
    expect(alone.log).not.toContain('saw another sandbox');
    expect(alone.log).toMatch(/^Seccomp:\s+2$/m);
    // The world is mounted in the launcher's namespace only, never on the host.
    expect(readlinkSync(`/proc/${pid}/ns/mnt`)).not.toBe(readlinkSync('/proc/self/ns/mnt'));
    expect(readFileSync(`/proc/${pid}/mountinfo`, 'utf8')).toContain(`${view} `);
    expect(ourNs).not.toContain(mnt);
    await worlds.close();
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    // its mount directory goes once the holder's exit is seen
    for (let i = 0; i < 50 && existsSync(mnt); i++) await new Promise((r) => setTimeout(r, 20));
    expect(existsSync(mnt)).toBe(false);
    await expect(worlds.enter(composefs)).rejects.toThrow('[E21] shared sandbox worlds: used after close');
  });

  it('a world no sandbox is in is ended beyond maxIdle, and mounted again when needed', async () => {
    const image = await worldImage(store, worldRoot as never);
    const composefs = { image, objectsDir: store.dir('objects') };
    const worlds = new SandboxWorlds({ maxIdle: 0 });
    const first = await worlds.enter(composefs);
    const again = await worlds.enter(composefs); // in use: the same world
    expect(again.view).toBe(first.view);
    const mounted = (): boolean =>
      readFileSync(`/proc/${first.launcher.pid}/mountinfo`, 'utf8').includes(` ${first.view} `);
    expect(mounted()).toBe(true);
    again.release();
    await new Promise((r) => setTimeout(r, 100));
    expect(mounted()).toBe(true); // one sandbox still in it
    first.release();
    first.release(); // idempotent
    for (let i = 0; i < 250 && mounted(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(mounted()).toBe(false); // unmounted in the launcher's namespace, which lives on
    expect(existsSync(`/proc/${first.launcher.pid}`)).toBe(true);
    const x = await script('echo ok', { composefs, worlds });
    expect(x.r.exitCode).toBe(0);
    expect(worlds.stats()).toEqual({ mounted: 2, entered: 3 });
    await worlds.close();
    expect(existsSync(`/proc/${first.launcher.pid}`)).toBe(false);
  });

  it("a sandbox the launcher starts keeps the lone sandbox's contract: env, niceness, umask, exit status, time limit, cancellation", async () => {
    const image = await worldImage(store, worldRoot as never);
    const composefs = { image, objectsDir: store.dir('objects') };
    const worlds = new SandboxWorlds();
    const caller = process.umask(0o077);
    try {
      const probe = 'env | sort | cut -d= -f1 | tr "\\n" " "; echo; nice; umask; : > "$OUTPUT/f"; exit 7\n';
      const alone = await script(probe);
      const launched = await script(probe, { composefs, worlds });
      expect(launched.log).toBe(alone.log);
      expect(launched.log).toMatch(/\n10\n0022\n$/);
      expect(launched.r.exitCode).toBe(7);
      // A status above 128 that no kill from here caused is an exit status, as bwrap reports it.
      for (const x of [await script('exit 137\n'), await script('exit 137\n', { composefs, worlds })])
        expect([x.r.exitCode, x.r.signal]).toEqual([137, null]);
      expect(statSync(join(launched.outputDir, 'f')).mode & 0o777).toBe(0o644);
      // The time limit kills the whole sandbox.
      const marker = `76543${process.pid}`;
      const t = await script(`sleep ${marker} &\nsleep ${marker}\n`, { composefs, worlds, timeoutMs: 1500 });
      expect(t.r.timedOut).toBe(true);
      expect(t.r.exitCode).toBeNull();
      expect(t.r.signal).toBe('SIGKILL');
      await new Promise((res) => setTimeout(res, 300));
      expect(sandboxPids(`sleep\0${marker}`)).toEqual([]);
      // Cancellation: SIGTERM, then what is left is killed; the run rejects as cancelled.
      const ctl = new AbortController();
      const m2 = `65432${process.pid}`;
      setTimeout(() => ctl.abort(), 1000);
      await expect(
        script(`sleep ${m2} &\nsleep ${m2}\n`, { composefs, worlds, signal: ctl.signal }),
      ).rejects.toThrow(/cancel/);
      expect(sandboxPids(`sleep\0${m2}`)).toEqual([]);
      expect(worlds.stats()).toEqual({ mounted: 1, entered: 4 });
    } finally {
      process.umask(caller);
      await worlds.close();
    }
  });

  it('a world mounted ahead (prepare) is the one its sandbox then enters', async () => {
    const image = await worldImage(store, worldRoot as never);
    const composefs = { image, objectsDir: store.dir('objects') };
    const worlds = new SandboxWorlds();
    try {
      await worlds.prepare(composefs);
      expect(worlds.stats()).toEqual({ mounted: 1, entered: 0 });
      const x = await script('stat -c %d /', { composefs, worlds });
      expect(x.r.exitCode).toBe(0);
      expect(worlds.stats()).toEqual({ mounted: 1, entered: 1 });
    } finally {
      await worlds.close();
    }
  });

  it('mounts each image once per launcher (a layered world over its seed image), file-backed by the mount helper, over a loop device without it', async () => {
    const image = await worldImage(store, worldRoot as never);
    const objectsDir = store.dir('objects');
    const src = mkdtempSync(join(scratch, 'layer-'));
    mkdirSync(join(src, 'usr', 'share', 'extra'), { recursive: true });
    writeFileSync(join(src, 'usr', 'share', 'extra', 'x'), `layered ${process.pid}\n`);
    const layer = await worldLayerImage(store, (await store.ingest(src)).digest);
    const saved = process.env.EOS_NO_MOUNT_HELPER;
    for (const helper of [true, false]) {
      if (helper) delete process.env.EOS_NO_MOUNT_HELPER;
      else process.env.EOS_NO_MOUNT_HELPER = '1';
      const worlds = new SandboxWorlds();
      try {
        const a = await script('cat /usr/share/extra/x; test -x /bin/sh && echo sh', {
          composefs: { image, layers: [layer], objectsDir },
          worlds,
        });
        expect(a.log).toBe(`layered ${process.pid}\nsh\n`);
        const b = await script('test -e /usr/share/extra || echo plain', {
          composefs: { image, objectsDir },
          worlds,
        });
        expect(b.log).toBe('plain\n');
        expect(worlds.stats()).toEqual({ mounted: 2, entered: 2 });
        const lease = await worlds.enter({ image, objectsDir });
        const info = readFileSync(`/proc/${lease.launcher.pid}/mountinfo`, 'utf8');
        lease.release();
        const sources = info
          .split('\n')
          .filter((l) => l.includes(' - erofs '))
          .map((l) => l.split(' - ')[1]!.split(' ')[1]!);
        // The seed image once under both worlds, the layer image once.
        expect(sources).toHaveLength(2);
        if (helper) expect(sources.sort()).toEqual([image, layer].sort());
        else for (const s of sources) expect(s).toMatch(/^\/dev\/loop\d+$/);
      } finally {
        await worlds.close();
        if (saved === undefined) delete process.env.EOS_NO_MOUNT_HELPER;
        else process.env.EOS_NO_MOUNT_HELPER = saved;
      }
    }
  });

  it('a world that cannot be mounted fails with E21 naming the image, and leaves no mount directory', async () => {
    const worlds = new SandboxWorlds();
    const image = await worldImage(store, worldRoot as never);
    const objectsDir = join(scratch, 'no-such-objects'); // the overlay's data layer is missing
    const mine = () => readdirSync(tmpdir()).filter((n) => n.startsWith(`eos-sandbox-mnt-${process.pid}-`));
    await expect(script('true', { composefs: { image, objectsDir }, worlds })).rejects.toThrow(
      `[E21] composefs world ${image}: cannot mount a shared world`,
    );
    await worlds.close();
    for (let i = 0; i < 50 && mine().length; i++) await new Promise((r) => setTimeout(r, 20));
    expect(mine()).toEqual([]);
  });
});

describe.skipIf(!canRun)('sandbox privileges (specs/sandbox-seccomp.md)', () => {
  it('cannot mount tmpfs or proc, unmount /output, unshare, or open a host file by handle', async () => {
    const probe = join(scratch, 'probe');
    if (!existsSync(probe))
      execFileSync('gcc', [
        '-static',
        '-O1',
        '-o',
        probe,
        join(import.meta.dirname, '../fixtures/sandbox/probe.c'),
      ]);
    // A host file on the filesystem of the sandbox's log (its stdout): the classic handle escape.
    const secret = join(mkdtempSync(join(scratch, 'secret-')), 'secret.txt');
    writeFileSync(secret, 'BUILD-SECRET-2718\n');
    const handle = execFileSync(probe, ['handle', secret], { encoding: 'utf8' }).trim();
    const { r, log } = await script(
      [
        '/build/probe mount /tmp',
        '/build/probe mount /build',
        '/build/probe mount /tmp proc',
        '/build/probe umount /output',
        '/build/probe unshare',
        `/build/probe open 1 ${handle}`,
        'grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status',
        'echo ordinary > /output/ok',
      ].join('\n') + '\n',
    );
    expect(r.exitCode).toBe(0);
    expect(log).not.toContain('BUILD-SECRET-2718');
    expect(log.match(/^mount EPERM$/gm)).toHaveLength(3);
    expect(log).not.toMatch(/^mount ok$/m);
    expect(log).toMatch(/^umount EPERM$/m);
    expect(log).toMatch(/^unshare EPERM$/m);
    expect(log).toMatch(/^open EPERM$/m);
    expect(log).toMatch(/^CapEff:\s+000000000000001b$/m); // CHOWN DAC_OVERRIDE FOWNER FSETID
    expect(log).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(log).toMatch(/^Seccomp:\s+2$/m);
  });
});

afterAll(() => {
  if (scratch) execFileSync('rm', ['-rf', scratch]);
});
