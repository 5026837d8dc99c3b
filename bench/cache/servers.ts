/**
 * Real cache servers on loopback for the cache bench and tests (tests/cache/): Debian's nginx with WebDAV PUT
 * (configuration written here, into a temporary prefix), and BuildStream's bst-artifact-server
 * (REAPI v2 CAS + ReferenceStorage) run with Debian's /usr/bin/python3. Both on random ports;
 * `close()` ends the process started (by its pid) and removes its directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A free TCP port on 127.0.0.1 (bound and released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function waitForPort(
  port: number,
  child: ChildProcess,
  what: string,
  log: () => string,
): Promise<void> {
  const until = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited ${child.exitCode}: ${log()}`);
    const ok = await new Promise<boolean>((r) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => (c.destroy(), r(true)));
      c.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`${what} did not listen on ${port}: ${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((r) => {
    child.once('exit', () => r());
    child.kill('SIGTERM');
    setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 3000).unref();
  });
}

/** A running cache server. */
export interface CacheServer {
  /** The URL Eos opens (`http://127.0.0.1:P/eos` or `grpc://127.0.0.1:P`). */
  url: string;
  /** Where the server keeps the cache's files (nginx: the document root's `eos/`; bst: its repo). */
  dir: string;
  close(): Promise<void>;
}

/** Whether Debian's nginx and python3-buildstream are installed (scripts/setup.sh installs them). */
export const haveNginx = (): boolean => existsSync('/usr/sbin/nginx');
export const haveBst = (): boolean =>
  existsSync('/usr/lib/python3/dist-packages/buildstream/_artifactcache/casserver.py');

/** nginx serving a WebDAV-PUT document root on a random loopback port. */
export async function startNginx(): Promise<CacheServer> {
  const prefix = mkdtempSync(join(tmpdir(), 'eos-cache-nginx-'));
  const port = await freePort();
  const root = join(prefix, 'www');
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    [
      'user root;',
      'worker_processes 1;',
      'daemon off;',
      `pid ${prefix}/nginx.pid;`,
      `error_log ${prefix}/error.log warn;`,
      'events { worker_connections 256; }',
      'http {',
      '  access_log off;',
      `  client_body_temp_path ${prefix}/body;`,
      `  proxy_temp_path ${prefix}/proxy;`,
      `  fastcgi_temp_path ${prefix}/fastcgi;`,
      `  uwsgi_temp_path ${prefix}/uwsgi;`,
      `  scgi_temp_path ${prefix}/scgi;`,
      '  client_max_body_size 0;',
      '  server {',
      `    listen 127.0.0.1:${port};`,
      `    root ${root};`,
      '    location / {',
      '      dav_methods PUT;',
      '      create_full_put_path on;',
      '      dav_access user:rw group:r all:r;',
      '    }',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  mkdirSync(join(root, 'eos'), { recursive: true });
  let err = '';
  const child = spawn('/usr/sbin/nginx', ['-p', prefix, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  await waitForPort(port, child, 'nginx', () => err);
  return {
    url: `http://127.0.0.1:${port}/eos`,
    dir: join(root, 'eos'),
    close: async () => {
      await stop(child);
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}

/** BuildStream's bst-artifact-server (REAPI CAS, ByteStream, Capabilities, ReferenceStorage) with push enabled. */
export async function startBst(): Promise<CacheServer> {
  const repo = mkdtempSync(join(tmpdir(), 'eos-cache-bst-'));
  const port = await freePort();
  let err = '';
  const child = spawn(
    '/usr/bin/python3',
    [
      '-c',
      'import sys; from buildstream._artifactcache.casserver import server_main; ' +
        'sys.argv[0] = "bst-artifact-server"; server_main()',
      '--port',
      String(port),
      '--enable-push',
      repo,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  await waitForPort(port, child, 'bst-artifact-server', () => err);
  return {
    url: `grpc://127.0.0.1:${port}`,
    dir: repo,
    close: async () => {
      await stop(child);
      rmSync(repo, { recursive: true, force: true });
    },
  };
}
