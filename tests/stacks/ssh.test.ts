/**
 * Deploying over SSH to a real OpenSSH server (Debian's sshd on loopback, a high port, its own
 * sshd_config, a host key made here by ssh-keygen, the client's key authorized for root): with the
 * right known_hosts the deploy works and runs the same protocol as locally; with a wrong host key
 * or none, it refuses before sending anything (the server never runs `eos host serve`).
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eos,
  eosBin,
  hostSnapshot,
  lines,
  pushed,
  stackFile,
  startSshd,
  stopServices,
  workspace,
  worldToml,
  type Sshd,
  type Ws,
} from './helpers.ts';

let ws: Ws;
let sshd: Sshd;
let file = '';
const isRoot = process.getuid?.() === 0;

function target(): string {
  return `ssh://root@127.0.0.1:${sshd.port}${ws.host}`;
}
function sshArgs(knownHosts: string): string[] {
  return [
    '--target',
    target(),
    '--known-hosts',
    knownHosts,
    '--identity',
    sshd.identity,
    '--remote-eos',
    `${process.execPath} ${eosBin}`,
  ];
}

beforeAll(async () => {
  ws = workspace('eos-ssh-');
  worldToml(ws.dir, 'base', ['/usr/bin/dash', '/usr/bin/sleep']);
  file = stackFile(
    ws,
    'ssh.stack.toml',
    `version = 1
name = "remote"
backend = "process"
[compositions]
base = { file = "base.toml" }
[[services]]
name = "idle"
composition = "base"
exec = "/usr/bin/sh"
args = ["-c", "echo up over ssh; exec sleep 1000"]
`,
  );
  sshd = await startSshd(ws.dir);
});
afterAll(() => {
  stopServices(ws.host);
  sshd?.stop();
});

describe.skipIf(!isRoot)('eos deploy over SSH (real OpenSSH server on loopback)', () => {
  it('a wrong host key: refused by ssh before anything is sent (exit 3, E36)', () => {
    const before = hostSnapshot(ws.host);
    const r = eos(ws, ['deploy', file, '--key', 'ops', ...sshArgs(sshd.wrongKnownHosts)]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /\[E36\] ssh:\/\/root@127\.0\.0\.1:\d+.*: ssh: .*(REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed)/s,
    );
    expect(hostSnapshot(ws.host)).toBe(before);
    expect(readFileSync(sshd.log, 'utf8')).not.toMatch(/Accepted publickey/);
  });

  it('no known host key: refused (no accept-any mode)', () => {
    const before = hostSnapshot(ws.host);
    const r = eos(ws, ['deploy', file, '--key', 'ops', ...sshArgs(sshd.emptyKnownHosts)]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/\[E36\] .*ssh: .*Host key verification failed/s);
    expect(hostSnapshot(ws.host)).toBe(before);
    expect(readFileSync(sshd.log, 'utf8')).not.toMatch(/Accepted publickey/);
  });

  it('the right host key: deploys, re-deploys without blobs, lists generations and rolls back over ssh', () => {
    const r = eos(ws, ['deploy', file, '--key', 'ops', ...sshArgs(sshd.knownHosts)]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(sshd.log, 'utf8')).toMatch(/Accepted publickey for root/);
    expect(pushed(r.stdout).blobs).toBeGreaterThan(2);
    expect(lines(r.stdout).at(-1)).toEqual(['generation', '1', target()]);
    expect(readlinkSync(join(ws.host, 'current'))).toBe('generations/001.json');

    const again = eos(ws, ['deploy', file, '--key', 'ops', ...sshArgs(sshd.knownHosts)]);
    expect(again.code, again.stderr).toBe(0);
    expect(pushed(again.stdout)['blob-bytes']).toBe(0);
    expect(
      lines(again.stdout)
        .filter((l) => l[0] === 'unchanged')
        .map((l) => l[1]),
    ).toEqual(['idle']);

    const g = eos(ws, ['host', 'generations', ...sshArgs(sshd.knownHosts)]);
    expect(g.code, g.stderr).toBe(0);
    // (the two refused attempts above consumed sequence numbers 1 and 2: a signed number is never reused)
    expect(lines(g.stdout).map((l) => l.slice(0, 3).join(' '))).toEqual([
      '- 001 remote/stable#3',
      '* 002 remote/stable#4',
    ]);

    const rb = eos(ws, ['rollback', ...sshArgs(sshd.knownHosts)]);
    expect(rb.code, rb.stderr).toBe(0);
    expect(lines(rb.stdout)[0]).toEqual(['rollback', '2', '1', target()]);
    expect(readlinkSync(join(ws.host, 'current'))).toBe('generations/001.json');
  });
});
