/**
 * NODE_EXTRA_CA_CERTS with the `eos` executable (specs/cli.md §1.9): its `#!` line keeps Node from
 * parsing the file at start, and Eos's TLS clients trust those certificates themselves. Checked
 * end to end: `eos cache push` run as a program (so the `#!` line applies) to a real HTTPS server
 * on loopback whose certificate is signed by a CA made here with openssl, named only in
 * NODE_EXTRA_CA_CERTS. With it the push succeeds and the server receives the objects; without it
 * the TLS handshake is refused (E58); child processes still see the variable as the user set it.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constructiveRebuilder, openActionCache } from '../../scheduler/index.ts';
import { Store, digestBytes } from '../../src/kernel/index.ts';
import { tempDir } from '../helpers/fs.ts';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'eos.cjs');
let dir: string;
let server: Server;
let url: string;
let store: Store;
const puts: string[] = [];

beforeAll(async () => {
  dir = tempDir('extra-ca');
  const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem'].concat([
      '-days',
      '2',
      '-subj',
      '/CN=eos test extra CA',
    ]),
  );
  ssl([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'srv.key',
    '-out',
    'srv.csr',
    '-subj',
    '/CN=127.0.0.1',
  ]);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  ssl(
    ['x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial'].concat([
      '-out',
      'srv.pem',
      '-days',
      '2',
      '-extfile',
      'ext.cnf',
    ]),
  );
  // A binary cache that has nothing and accepts every upload (specs/cache.md §2.1).
  server = createServer({
    key: readFileSync(join(dir, 'srv.key')),
    cert: readFileSync(join(dir, 'srv.pem')),
  });
  server.on('request', (req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'PUT') puts.push(req.url ?? '');
      res.statusCode = req.method === 'PUT' ? 201 : 404;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/cache/`;
  // One action-cache entry, its output a small tree.
  store = new Store(tempDir('extra-ca-store'));
  const src = join(dir, 'out');
  mkdirSync(join(src, 'bin'), { recursive: true });
  writeFileSync(join(src, 'bin', 'tool'), 'tool\n');
  const output = (await store.ingest(src)).digest;
  const log = await store.blobs.put(new TextEncoder().encode('log\n'));
  await constructiveRebuilder(openActionCache(store)).record({
    action: digestBytes(`extra-ca ${process.pid} ${Date.now()}`),
    output,
    world: digestBytes('world'),
    log,
    durationMs: 1,
    seedMode: 'host',
  });
}, 60_000);

afterAll(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
});

/**
 * `eos ARGS` run as a program (its `#!` line applies), with only this extra-CA setting; run
 * asynchronously, since the HTTPS server answering it is in this process.
 */
function eos(
  args: string[],
  extraCa: string | undefined,
): Promise<{ status: number; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  if (extraCa !== undefined) env.NODE_EXTRA_CA_CERTS = extraCa;
  return new Promise((resolve) => {
    execFile(
      bin,
      ['--store', store.root, ...args],
      { encoding: 'utf8', env, timeout: 60_000 },
      (e, stdout, stderr) =>
        resolve({ status: e ? (typeof e.code === 'number' ? e.code : 128) : 0, stdout, stderr }),
    );
  });
}

describe('NODE_EXTRA_CA_CERTS with the eos executable', () => {
  it('is trusted by the https cache client although Node did not load it at start', async () => {
    puts.length = 0;
    const r = await eos(['cache', 'push', url], join(dir, 'ca.pem'));
    expect(r.stderr).not.toMatch(/E58|certificate/);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^pushed\t/m);
    expect(puts.length).toBeGreaterThan(0);
  });

  it('is needed: without it the handshake is refused (E58) and nothing is uploaded', async () => {
    puts.length = 0;
    const r = await eos(['cache', 'push', url], undefined);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/E58/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(puts).toEqual([]);
  });

  it('is left out with a warning when it cannot be read, as Node does', async () => {
    const r = await eos(['cache', 'push', url], join(dir, 'no-such.pem'));
    expect(r.stderr).toMatch(/warning: ignoring extra certificates in .*no-such\.pem/);
    expect(r.status).not.toBe(0);
  });

  it('is back in the environment of what eos runs, as the user set it', () => {
    // bin/extra-ca.cjs (required first by bin/eos.cjs) behind the same #! line.
    const shebang = readFileSync(bin, 'utf8').split('\n')[0]!;
    expect(shebang).toMatch(/-u NODE_EXTRA_CA_CERTS EOS_NODE_EXTRA_CA_CERTS=\$\{NODE_EXTRA_CA_CERTS\} node$/); // no V8 flag (specs/cli.md §1.8)
    const probe = join(dir, 'env.mjs');
    const show = (v: string | undefined) => JSON.stringify(v ?? null);
    writeFileSync(
      probe,
      `${shebang}\nimport ${JSON.stringify(join(import.meta.dirname, '..', '..', 'bin', 'extra-ca.cjs'))};\n` +
        `const show = ${show.toString()};\n` +
        `console.log(show(process.env.NODE_EXTRA_CA_CERTS), show(process.env.EOS_NODE_EXTRA_CA_CERTS), show(globalThis[Symbol.for('eos.extraCaCertsNotLoaded')]));\n`,
      { mode: 0o755 },
    );
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_EXTRA_CA_CERTS: '/some where/ca.pem' };
    expect(spawnSync(probe, [], { encoding: 'utf8', env }).stdout).toBe(
      '"/some where/ca.pem" null "/some where/ca.pem"\n',
    );
    delete env.NODE_EXTRA_CA_CERTS;
    expect(spawnSync(probe, [], { encoding: 'utf8', env }).stdout).toBe('null null null\n');
  });
});
