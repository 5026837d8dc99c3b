/**
 * bench/deploy: what a deploy pushes over SSH, against `rsync -a` of the same trees over the same
 * sshd (a real OpenSSH server on loopback, as in tests/stacks/ssh.test.ts), for a first deploy, a
 * re-deploy of the same stack and a deploy after a swap of one library (OpenSSL's two shared
 * objects, changed); then rollback time for closures of 10 MB and 1 GB.
 *
 * Usage: npx tsx bench/deploy/deploy-bench.ts   (root; needs openssh-server and rsync: run.sh)
 * Prints `push` and `rsync` lines (seconds, payload bytes, wire bytes), their ratios, and
 * `rollback` lines (ms of the flip and of the whole rollback without activation).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, openSync, writeSync, closeSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Store } from '../../src/kernel/index.ts';
import {
  Host,
  deploy,
  evaluateStack,
  openTransport,
  rollbackHost,
  signDeployment,
} from '../../stacks/index.ts';
import { eosBin, eosCommand, startSshd, workspace, type Ws } from '../../tests/stacks/helpers.ts';

const now = () => Math.floor(Date.now() / 1000);
let seq = 0;

function stack(ws: Ws, comps: Record<string, string>): string {
  const f = join(ws.dir, 'bench.stack.toml');
  const lines = ['version = 1', 'name = "bench"', 'backend = "process"', '[compositions]'];
  for (const [n, file] of Object.entries(comps)) lines.push(`${n} = { file = "${file}" }`);
  writeFileSync(f, lines.join('\n') + '\n');
  return f;
}

function compToml(ws: Ws, name: string, entries: Record<string, string>): string {
  const lines: string[] = [];
  for (const [n, path] of Object.entries(entries))
    lines.push(
      `[entries.${n}]`,
      `at = "/${n === 'python' ? 'usr/lib/python3.11' : `usr/lib/${n}`}"`,
      `path = "${path}"`,
      '',
    );
  writeFileSync(join(ws.dir, `${name}.toml`), lines.join('\n'));
  return `${name}.toml`;
}

async function push(ws: Ws, target: string, opts: { knownHosts?: string; identity?: string }, file: string) {
  const store = new Store(ws.store);
  const t = openTransport(target, { eosCommand, remoteEos: `${process.execPath} ${eosBin}`, ...opts });
  const { deployment } = await evaluateStack(store, file, {
    hostRoot: t.hostRoot,
    sequence: ++seq,
    nowSeconds: now(),
  });
  const signed = await signDeployment(ws.config, 'ops', deployment);
  const t0 = process.hrtime.bigint();
  const r = await deploy(t, store, signed);
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, ...r.pushed };
}

function rsync(src: string, dest: string, port: number, knownHosts: string, identity: string) {
  const ssh = `ssh -p ${port} -o StrictHostKeyChecking=yes -o BatchMode=yes -o UserKnownHostsFile=${knownHosts} -o GlobalKnownHostsFile=/dev/null -i ${identity}`;
  const t0 = process.hrtime.bigint();
  const out = execFileSync('rsync', ['-a', '--stats', '-e', ssh, `${src}/`, `root@127.0.0.1:${dest}/`], {
    encoding: 'utf8',
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const sent = Number(/Total bytes sent: ([\d,]+)/.exec(out)?.[1]?.replace(/,/g, '') ?? NaN);
  const literal = Number(/Literal data: ([\d,]+)/.exec(out)?.[1]?.replace(/,/g, '') ?? NaN);
  return { seconds, sent, literal };
}

const f3 = (x: number) => x.toFixed(3);

async function main(): Promise<void> {
  if (spawnSync('rsync', ['--version']).status !== 0)
    throw new Error('rsync is not installed: run bench/deploy/run.sh');
  const ws = workspace('eos-deploy-bench-');
  const sshd = await startSshd(ws.dir);
  try {
    // Trees: the Python 3.11 standard library (~54 MB) and an "ssl" directory with OpenSSL's two
    // shared objects; the swap replaces both with a patched copy (a few bytes changed each).
    const ssl1 = join(ws.dir, 'ssl-1');
    const ssl2 = join(ws.dir, 'ssl-2');
    mkdirSync(ssl1);
    for (const l of ['libssl.so.3', 'libcrypto.so.3'])
      cpSync(`/usr/lib/x86_64-linux-gnu/${l}`, join(ssl1, l), { dereference: true });
    cpSync(ssl1, ssl2, { recursive: true });
    for (const l of ['libssl.so.3', 'libcrypto.so.3']) {
      const b = readFileSync(join(ssl2, l));
      b.write('eos-swap', b.length - 64);
      writeFileSync(join(ssl2, l), b);
    }
    const before = stack(ws, { app: compToml(ws, 'app1', { python: '/usr/lib/python3.11', ssl: ssl1 }) });
    const hostRoot = join(ws.dir, 'remote-host');
    const target = `ssh://root@127.0.0.1:${sshd.port}${hostRoot}`;
    const sshOpts = { knownHosts: sshd.knownHosts, identity: sshd.identity };
    const trusted = { EOS_CONFIG_DIR: join(hostRoot, 'config') };
    const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      execFileSync(process.execPath, [eosBin, ...args], {
        env: { ...process.env, EOS_STORE: ws.store, EOS_CONFIG_DIR: ws.config, ...env },
      });
    run(['key', 'import', join(ws.dir, 'ops.pub')], trusted);
    run(['key', 'trust', 'ops', '--for', 'deploy'], trusted);

    const rows: [string, Awaited<ReturnType<typeof push>>, ReturnType<typeof rsync>][] = [];
    const peerDir = join(ws.dir, 'rsync-dest');
    const tree1 = join(ws.dir, 'tree-1');
    const tree2 = join(ws.dir, 'tree-2');
    for (const [t, ssl] of [
      [tree1, ssl1],
      [tree2, ssl2],
    ] as const) {
      mkdirSync(join(t, 'usr/lib'), { recursive: true });
      cpSync('/usr/lib/python3.11', join(t, 'usr/lib/python3.11'), {
        recursive: true,
        dereference: false,
        verbatimSymlinks: true,
      });
      cpSync(ssl, join(t, 'usr/lib/ssl'), { recursive: true });
    }
    const first = await push(ws, target, sshOpts, before);
    rows.push(['first', first, rsync(tree1, peerDir, sshd.port, sshd.knownHosts, sshd.identity)]);
    const again = await push(ws, target, sshOpts, before);
    rows.push(['re-deploy', again, rsync(tree1, peerDir, sshd.port, sshd.knownHosts, sshd.identity)]);
    const after = stack(ws, { app: compToml(ws, 'app2', { python: '/usr/lib/python3.11', ssl: ssl2 }) });
    const swapped = await push(ws, target, sshOpts, after);
    rows.push(['post-swap', swapped, rsync(tree2, peerDir, sshd.port, sshd.knownHosts, sshd.identity)]);
    console.log(
      'case\teos-seconds\teos-blob-bytes\teos-wire-bytes\teos-blobs\trsync-seconds\trsync-sent-bytes\trsync-literal-bytes\ttime-ratio(eos/rsync)\tbytes-ratio(eos/rsync)',
    );
    for (const [name, e, r] of rows)
      console.log(
        `push\t${name}\t${f3(e.seconds)}\t${e.blobBytes}\t${e.wireBytes}\t${e.blobs}\t${f3(r.seconds)}\t${r.sent}\t${r.literal}\t${f3(e.seconds / r.seconds)}\t${f3(e.wireBytes / r.sent)}`,
      );

    // Rollback time for closures of 10 MB and 1 GB: two generations each, flip back and forth.
    for (const [label, bytes] of [
      ['10MB', 10 << 20],
      ['1GB', 1 << 30],
    ] as const) {
      const dir = join(ws.dir, `closure-${label}`);
      mkdirSync(dir);
      const files = 64;
      for (let i = 0; i < files; i++) {
        const fd = openSync(join(dir, `f${i}`), 'w');
        const chunk = randomBytes(1 << 20);
        for (let w = 0; w < bytes / files; w += chunk.length)
          writeSync(fd, chunk, 0, Math.min(chunk.length, bytes / files - w));
        closeSync(fd);
      }
      const local = join(ws.dir, `host-${label}`);
      run(['key', 'import', join(ws.dir, 'ops.pub')], { EOS_CONFIG_DIR: join(local, 'config') });
      run(['key', 'trust', 'ops', '--for', 'deploy'], { EOS_CONFIG_DIR: join(local, 'config') });
      writeFileSync(join(dir, '..', `c-${label}.toml`), `[entries.data]\nat = "/data"\npath = "${dir}"\n`);
      const sf = stack(ws, { data: `c-${label}.toml` });
      await push(ws, `local:${local}`, {}, sf);
      await push(ws, `local:${local}`, {}, sf);
      const host = new Host(local);
      const flips: number[] = [];
      const totals: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t0 = process.hrtime.bigint();
        const r = await rollbackHost(host, i % 2 === 0 ? 1 : 2, eosCommand, { activate: false });
        totals.push(Number(process.hrtime.bigint() - t0) / 1e6);
        flips.push(r.flipMs);
      }
      const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
      console.log(
        `rollback\t${label}\tflip-ms-median=${f3(med(flips))}\tflip-ms-max=${f3(Math.max(...flips))}\twhole-ms-median=${f3(med(totals))}\twhole-ms-max=${f3(Math.max(...totals))}`,
      );
    }
  } finally {
    sshd.stop();
  }
}

await main();
