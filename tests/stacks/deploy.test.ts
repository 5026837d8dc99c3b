/**
 * Deploying to a local host root with the real CLI: a first deploy pushes the compositions and
 * starts the services as real processes in their worlds; a re-deploy sends no blob and restarts
 * nothing; a changed config file pushes only its blobs and restarts only the service that sees it;
 * rollback is one rename; a replayed older deployment is refused; gc keeps every rollback target;
 * verify re-hashes everything.
 */
import { existsSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eos,
  eosOk,
  hostSnapshot,
  lines,
  pushed,
  stackFile,
  stopServices,
  waitForText,
  workspace,
  worldToml,
  type Ws,
} from './helpers.ts';

let ws: Ws;
const isRoot = process.getuid?.() === 0;

function stack(conf: string): string {
  return stackFile(
    ws,
    'web.stack.toml',
    `version = 1
name = "web"
channel = "prod"
backend = "process"

[compositions]
base = { file = "base.toml" }
idle = { file = "idle.toml" }

[[services]]
name = "web"
composition = "base"
exec = "/usr/bin/sh"
args = ["-c", "cat /etc/web/web.conf; echo \\"who=$WHO\\"; exec sleep 1000"]
env = { WHO = { fromEnv = "DEPLOY_WHO" }, MODE = "test" }

[[services]]
name = "idle"
composition = "idle"
exec = "/usr/bin/sleep"
args = ["1000"]
dependsOn = ["web"]
files = []

[[files]]
path = "/etc/web/web.conf"
content = "${conf}\\n"
`,
  );
}

const env = { DEPLOY_WHO: 'tester' };

beforeAll(() => {
  ws = workspace();
  worldToml(ws.dir, 'base', ['/usr/bin/dash', '/usr/bin/cat', '/usr/bin/sleep']);
  worldToml(ws.dir, 'idle', ['/usr/bin/sleep']);
});
afterAll(() => stopServices(ws.host));

describe.skipIf(!isRoot)('eos deploy to a local host root (real processes in mounted worlds)', () => {
  it('first deploy: pushes the compositions, writes generation 1, flips current, starts both services', async () => {
    const out = eosOk(
      ws,
      ['deploy', stack('greeting = one'), '--key', 'ops', '--target', `local:${ws.host}`],
      env,
    );
    const ls = lines(out);
    expect(ls[0]![0]).toBe('deployment');
    expect(ls[0]![2]).toBe('web/prod #1');
    const p = pushed(out);
    expect(p.compositions).toBe(3); // base+config world, base, idle
    expect(p['blob-bytes']).toBeGreaterThan(100_000);
    expect(ls.filter((l) => l[0] === 'start').map((l) => l[1])).toEqual(['web', 'idle']);
    expect(ls.at(-1)).toEqual(['generation', '1', `local:${ws.host}`]);
    expect(readlinkSync(join(ws.host, 'current'))).toBe('generations/001.json');
    const log = await waitForText(join(ws.host, 'logs', 'web.log'), 'who=tester');
    expect(log).toContain('greeting = one');
    expect(log).toContain('who=tester');
  });

  it('re-deploy of the same stack sends no blob and restarts nothing', () => {
    const out = eosOk(
      ws,
      ['deploy', stack('greeting = one'), '--key', 'ops', '--target', `local:${ws.host}`],
      env,
    );
    const p = pushed(out);
    expect(p.blobs).toBe(0);
    expect(p['blob-bytes']).toBe(0);
    expect(p.compositions).toBe(0);
    expect(
      lines(out)
        .filter((l) => l[0] === 'unchanged')
        .map((l) => l[1]),
    ).toEqual(['web', 'idle']);
    expect(lines(out).at(-1)![1]).toBe('2');
  });

  it('a changed config file pushes only its blobs and restarts only the service that sees it', async () => {
    const out = eosOk(
      ws,
      ['deploy', stack('greeting = two'), '--key', 'ops', '--target', `local:${ws.host}`],
      env,
    );
    const p = pushed(out);
    // the config file, the web service's unit and mount unit, and its new world composition
    expect(p.blobs).toBe(3);
    expect(p.compositions).toBe(1);
    expect(p['blob-bytes']).toBeLessThan(10_000);
    const ls = lines(out);
    expect(ls.filter((l) => l[0] === 'restart').map((l) => l[1])).toEqual(['web']);
    expect(ls.filter((l) => l[0] === 'unchanged').map((l) => l[1])).toEqual(['idle']);
    expect(await waitForText(join(ws.host, 'logs', 'web.log'), 'greeting = two')).toContain('greeting = two');
  });

  it('--dry-run reports what would restart and changes nothing', () => {
    const before = hostSnapshot(ws.host);
    const out = eosOk(
      ws,
      ['deploy', stack('greeting = three'), '--key', 'ops', '--dry-run', '--target', `local:${ws.host}`],
      env,
    );
    expect(
      lines(out)
        .filter((l) => l[0] === 'restart')
        .map((l) => l[1]),
    ).toEqual(['web']);
    expect(lines(out).at(-1)![0]).toBe('would-be-generation');
    expect(hostSnapshot(ws.host)).toBe(before);
  });

  it('rollback flips current back in one rename and restarts the changed service', async () => {
    const r = eos(ws, ['host', 'rollback', '--root', ws.host]);
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r.stdout)[0]).toEqual(['rollback', '3', '2', ws.host]);
    expect(
      lines(r.stdout)
        .filter((l) => l[0] === 'restart')
        .map((l) => l[1]),
    ).toEqual(['web']);
    expect(r.stderr).toMatch(/flipped current to generation 2 in [\d.]+ ms \(one rename\)/);
    expect(readlinkSync(join(ws.host, 'current'))).toBe('generations/002.json');
    const log = await waitForText(
      join(ws.host, 'logs', 'web.log'),
      /greeting = two\n(.*\n)*greeting = one\nwho=tester/,
    );
    expect(log).toMatch(/greeting = two\n(.*\n)*greeting = one\nwho=tester/);
    const g = eosOk(ws, ['host', 'generations', '--root', ws.host]);
    expect(lines(g).map((l) => l.slice(0, 2).join(' '))).toEqual(['- 001', '* 002', '- 003']);
  });

  it('a replay of an older signed deployment is refused and nothing changes', () => {
    const before = hostSnapshot(ws.host);
    const r = eos(ws, [
      'deploy',
      '--signed',
      join(ws.config, 'deployments', 'web.prod.1.json'),
      '--target',
      `local:${ws.host}`,
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /\[E35\] .*web\/prod #1: sequence 1 is not above 3, the highest accepted for channel prod/,
    );
    expect(hostSnapshot(ws.host)).toBe(before);
  });

  it('eos rollback --to N through the transport', () => {
    const r = eos(ws, ['rollback', '--to', '3', '--target', `local:${ws.host}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(readlinkSync(join(ws.host, 'current'))).toBe('generations/003.json');
    expect(eos(ws, ['rollback', '--to', '9', '--target', `local:${ws.host}`]).stderr).toMatch(
      /\[E37\] .*no generation 9/,
    );
  });

  it('gc --keep 1 keeps the current and pinned generations and what they reach; verify passes', () => {
    eosOk(ws, ['host', 'pin', '1', '--root', ws.host]);
    const r = eosOk(ws, ['host', 'gc', '--keep', '1', '--grace', '0', '--root', ws.host]);
    expect(lines(r)[0]).toEqual(['kept', '1,3']);
    expect(lines(r)[1]).toEqual(['removed-generations', '2']);
    const v = eos(ws, ['host', 'verify', '--root', ws.host]);
    expect(v.code, v.stdout).toBe(0);
    expect(lines(v.stdout)[0]![0]).toBe('ok');
    // generation 1 (pinned) can still be rolled back to
    expect(eos(ws, ['host', 'rollback', '--to', '1', '--root', ws.host, '--no-activate']).code).toBe(0);
    expect(eos(ws, ['host', 'rollback', '--to', '3', '--root', ws.host]).code).toBe(0);
  });

  it('verify finds a damaged object (exit 3)', () => {
    const g = JSON.parse(readFileSync(join(ws.host, 'generations', '003.json'), 'utf8')) as {
      deployment: { files: Record<string, { digest: string }> };
    };
    const d = g.deployment.files['/etc/web/web.conf']!.digest.slice(7);
    const p = join(ws.host, 'store', 'objects', d.slice(0, 2), d.slice(2));
    const saved = readFileSync(p);
    rmSync(p);
    writeFileSync(p, 'tampered\n');
    const v = eos(ws, ['host', 'verify', '--root', ws.host]);
    expect(v.code).toBe(3);
    expect(v.stdout).toMatch(/FAIL\thost\tgeneration \d+: blob blake3:[0-9a-f]{64} hashes to/);
    rmSync(p);
    writeFileSync(p, saved, { mode: 0o444 });
    expect(eos(ws, ['host', 'verify', '--root', ws.host]).code).toBe(0);
    expect(existsSync(join(ws.host, 'pending.json'))).toBe(false);
  });
});
