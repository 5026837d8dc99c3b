/**
 * Stack files and their units: located errors for bad stacks (pure parser and the real
 * `eos stack check` against a store), the deployment's canonical form and digest (the vector of
 * specs/stack.md §5.3), and the rendered units checked by the real `systemd-analyze verify`,
 * failing on its warnings as well as its exit status.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { StackError, digestBytes, encodeCanonical, type Digest } from '../../src/kernel/index.ts';
import {
  deploymentDigest,
  encodeDeployment,
  mountUnitName,
  parseSignedDeployment,
  parseStack,
  renderMountUnit,
  renderServiceUnit,
  startOrder,
  systemdEscapePath,
  validateDeployment,
  worldComposition,
  type Deployment,
} from '../../stacks/index.ts';
import { compositionRoot, makeComposition } from '../../composer/index.ts';
import { eos, lines, stackFile, workspace, worldToml, type Ws } from './helpers.ts';

const head =
  'version = 1\nname = "s"\nbackend = "process"\n[compositions]\nbase = "blake3:' + '0'.repeat(64) + '"\n';

function err(text: string): string {
  try {
    parseStack(text, 'bad.toml');
  } catch (e) {
    expect(e).toBeInstanceOf(StackError);
    return (e as StackError).message;
  }
  throw new Error('parsed');
}

describe('parseStack: located errors', () => {
  it('an unknown backend lists the supported ones', () => {
    expect(err('version = 1\nname = "s"\nbackend = "launchd"\n')).toBe(
      '[E33] bad.toml:3: backend: backend "launchd" is not supported (supported: systemd, process)',
    );
  });
  it('a service naming a missing composition', () => {
    expect(err(`${head}\n[[services]]\nname = "a"\ncomposition = "nope"\nexec = "/bin/a"\n`)).toBe(
      '[E33] bad.toml:9: services[0].composition: no composition named "nope" (declared: base)',
    );
  });
  it('a dependsOn cycle, and a dependsOn naming no service', () => {
    const svc = (n: string, d: string) =>
      `[[services]]\nname = "${n}"\ncomposition = "base"\nexec = "/bin/x"\ndependsOn = ["${d}"]\n`;
    expect(err(head + svc('a', 'b') + svc('b', 'a'))).toBe(
      '[E33] bad.toml:10: services[0].dependsOn: cycle a -> b -> a',
    );
    expect(err(head + svc('a', 'zz'))).toMatch(
      /^\[E33\] bad\.toml:10: services\[0\]\.dependsOn: "zz" is not an enabled service/,
    );
  });
  it('a relative or duplicate config path', () => {
    expect(err(`${head}[[files]]\npath = "etc/x.conf"\ncontent = ""\n`)).toBe(
      '[E33] bad.toml:7: files[0].path: "etc/x.conf" is not an absolute, normalized file path',
    );
    expect(err(`${head}[[files]]\npath = "/etc/../x"\ncontent = ""\n`)).toMatch(
      /not an absolute, normalized/,
    );
    expect(
      err(`${head}[[files]]\npath = "/x"\ncontent = ""\n[[files]]\npath = "/x"\ncontent = ""\n`),
    ).toMatch(/bad\.toml:10: files\[1\]\.path: \/x is declared twice/);
  });
  it('unknown fields, bad names, bad TOML, relative exec', () => {
    expect(err(`${head}colour = "red"\n`)).toMatch(/^\[E33\] bad\.toml:\d+: compositions\.colour: /);
    expect(err('version = 1\nname = "Bad Name"\nbackend = "process"\n')).toMatch(
      /bad\.toml:2: name: "Bad Name" does not match/,
    );
    expect(err('version = 1\nname = \n')).toMatch(/^\[E33\] bad\.toml:2: not valid TOML/);
    expect(err(`${head}[[services]]\nname = "a"\ncomposition = "base"\nexec = "bin/a"\n`)).toMatch(
      /bad\.toml:9: services\[0\]\.exec: "bin\/a" is not an absolute path/,
    );
  });
  it('start order puts dependencies first', () => {
    const s = parseStack(
      `${head}[[services]]\nname = "web"\ncomposition = "base"\nexec = "/x"\ndependsOn = ["db"]\n[[services]]\nname = "db"\ncomposition = "base"\nexec = "/x"\n`,
    );
    expect(startOrder(s.services).map((x) => x.name)).toEqual(['db', 'web']);
  });
});

describe('eos stack check against a store', () => {
  let ws: Ws;
  beforeAll(() => {
    ws = workspace('eos-stack-');
    worldToml(ws.dir, 'base', ['/usr/bin/sleep']);
  });
  it('an executable not in its composition is a located E33 (exit 1); a good stack prints its units', () => {
    const svc = (exec: string) =>
      `version = 1\nname = "s"\nbackend = "process"\n[compositions]\nbase = { file = "base.toml" }\n[[services]]\nname = "a"\ncomposition = "base"\nexec = "${exec}"\n`;
    const bad = eos(ws, ['stack', 'check', stackFile(ws, 'bad.stack.toml', svc('/usr/bin/curl'))]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      /\[E33\] .*bad\.stack\.toml:6: services\[0\]\.exec: \/usr\/bin\/curl is not in composition base \(blake3:/,
    );
    const notExec = eos(ws, ['stack', 'check', stackFile(ws, 'bad2.stack.toml', svc('/lib64'))]);
    expect(notExec.stderr).toMatch(/\/lib64 in composition base is not an executable file/);
    const missing = eos(ws, [
      'stack',
      'check',
      stackFile(
        ws,
        'bad3.stack.toml',
        svc('/usr/bin/sleep').replace('{ file = "base.toml" }', `"blake3:${'1'.repeat(64)}"`),
      ),
    ]);
    expect(missing.stderr).toMatch(
      /\[E33\] .*bad3\.stack\.toml:5: compositions\.base: composition blake3:1{64} is not in the store/,
    );
    const good = eos(ws, ['stack', 'check', stackFile(ws, 'good.stack.toml', svc('/usr/bin/sleep'))]);
    expect(good.code, good.stderr).toBe(0);
    expect(lines(good.stdout)[0]).toEqual(['ok', 's', 'process', '1 service(s)']);
    expect(
      lines(good.stdout)
        .filter((l) => l[0] === 'unit')
        .map((l) => l[1]),
    ).toContain('a.service');
  });
});

const D = (s: string): Digest => digestBytes(s);
/** The vector deployment of specs/stack.md §5.3. */
function vectorDeployment(): Deployment {
  return validateDeployment({
    version: 1,
    format: 'eos-deployment',
    stack: 'web',
    channel: 'prod',
    sequence: 7,
    createdAt: 1767225600,
    expiresAt: 1767830400,
    backend: 'systemd',
    hostRoot: '/var/lib/eos',
    compositions: { tls: D('eos stack vector: tls composition') },
    services: {
      tls: {
        composition: 'tls',
        world: D('eos stack vector: tls world'),
        exec: '/usr/bin/openssl',
        args: ['s_server', '-accept', '8443'],
        env: { LOG_LEVEL: 'info' },
        dependsOn: [],
        restart: 'on-failure',
        unit: 'tls.service',
      },
    },
    units: { 'tls.service': { digest: D('eos stack vector: unit'), size: 10 } },
    files: { '/etc/tls/cert.pem': { digest: D('eos stack vector: cert'), size: 4 } },
  });
}

describe('deployments', () => {
  it('the vector of specs/stack.md §5.3: canonical bytes and digest', () => {
    const d = vectorDeployment();
    const bytes = Buffer.from(encodeDeployment(d)).toString();
    expect(bytes.startsWith('{"backend":"systemd","channel":"prod","compositions":{"tls":"blake3:')).toBe(
      true,
    );
    expect(deploymentDigest(d)).toBe(digestBytes(bytes));
    expect(deploymentDigest(d)).toMatchInlineSnapshot(
      `"blake3:c94e6386c910f32623faf5d39f8669c26d42c94afb8a86b9c97dfcf31bce67d5"`,
    );
  });
  it('a malformed signed deployment is E34, never a crash', () => {
    for (let i = 0; i < 200; i++) {
      const junk = Buffer.from(Array.from({ length: 1 + (i % 40) }, (_, j) => (i * 31 + j * 7) % 256));
      expect(() => parseSignedDeployment(junk)).toThrow(/\[E34\]/);
    }
    const ok = encodeCanonical({ deployment: { ...vectorDeployment(), version: 2 }, signatures: [] });
    expect(() => parseSignedDeployment(ok)).toThrow(/\[E34\] .*unknown deployment version 2/);
  });
});

/** `systemd-analyze verify` on files in a directory: its exit status and every line of its stderr. */
function analyze(dir: string, files: string[]): { code: number; warnings: string[] } {
  const r = spawnSync('systemd-analyze', ['verify', ...files.map((f) => join(dir, f))], {
    encoding: 'utf8',
    cwd: dir,
  });
  return { code: r.status ?? 128, warnings: (r.stderr + r.stdout).split('\n').filter((l) => l.trim()) };
}

describe('systemd units checked by systemd-analyze verify (exit status and warnings)', () => {
  const world = D('a world');
  const units = (root: string) => ({
    service: renderServiceUnit(root, {
      name: 'tls',
      stack: 'web',
      world,
      exec: '/usr/bin/openssl',
      args: ['s_server', '-cert', '/etc/tls/cert.pem', '-www', 'a b', '50%', '$HOME'],
      env: { LOG_LEVEL: 'info', QUOTED: 'a "b" c' },
      dependsOn: ['db'],
      restart: 'on-failure',
    }),
    mount: renderMountUnit(root, world),
  });

  for (const root of ['/var/lib/eos', '/tmp/eos-host.test/root']) {
    it(`renders units that verify cleanly (host root ${root})`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'eos-units-'));
      const u = units(root);
      writeFileSync(join(dir, 'tls.service'), u.service);
      writeFileSync(join(dir, 'db.service'), '[Unit]\nDescription=db\n[Service]\nExecStart=/bin/true\n');
      const mount = mountUnitName(root, world);
      writeFileSync(join(dir, mount), u.mount);
      expect(u.service).toContain(`RootDirectory=${root}/mnt/${world.slice(7)}`);
      expect(u.service).toContain(
        'ExecStart=/usr/bin/openssl s_server -cert /etc/tls/cert.pem -www "a b" "50%%" "$$HOME"',
      );
      expect(mount).toBe(`${systemdEscapePath(`${root}/mnt/${world.slice(7)}`)}.mount`);
      const r = analyze(dir, ['tls.service', mount]);
      expect(r.warnings).toEqual([]);
      expect(r.code).toBe(0);
    });
  }

  it('the check fails on a warning even when systemd-analyze exits 0 (negative control)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eos-units-'));
    writeFileSync(
      join(dir, 'bad.service'),
      units('/var/lib/eos').service.replace('Type=simple', 'Type=simple\nBogusKey=1'),
    );
    writeFileSync(join(dir, 'db.service'), '[Unit]\nDescription=db\n[Service]\nExecStart=/bin/true\n');
    const r = analyze(dir, ['bad.service']);
    expect(r.code).toBe(0);
    expect(r.warnings.join('\n')).toMatch(/Unknown key 'BogusKey'/);
  });

  it('systemd path escaping matches systemd-escape --path', () => {
    for (const p of ['/var/lib/eos/mnt/ab', '/tmp/eos-host.test/x', '/a b/ü', '/.hidden/x']) {
      const r = spawnSync('systemd-escape', ['--path', p], { encoding: 'utf8' });
      expect(systemdEscapePath(p)).toBe(r.stdout.trim());
    }
  });
});

describe('service worlds', () => {
  it('keep a swapped composition at version 2, with its satisfies entry, beside the config files', () => {
    const tree = digestBytes('new tree');
    const base = makeComposition({
      version: 2,
      entries: {
        openssl: {
          at: '/',
          node: { kind: 'tree', digest: tree },
          constraint: { kind: 'satisfies', pinned: digestBytes('old tree'), proof: digestBytes('proof') },
        },
      },
      precedence: ['openssl'],
    });
    const blob = digestBytes('cert');
    const world = worldComposition(base, [{ path: '/etc/tls/cert.pem', blob }]);
    expect(world.version).toBe(2);
    expect(world.entries['openssl']).toEqual(base.entries['openssl']);
    expect(world.entries['config.0']!.at).toBe('/etc/tls/cert.pem');
    expect(world.precedence).toEqual(['config.0', 'openssl']);
    expect(compositionRoot(world)).not.toBe(compositionRoot(base));
  });
});
