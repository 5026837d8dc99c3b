/**
 * Test fixtures for atoms: real git repositories made with the git CLI, a configuration directory
 * with real ed25519 keys and a trust policy.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  emptyTrustPolicy,
  generateKey,
  readKeyring,
  trustKey,
  writeTrustPolicy,
  type KeyringEntry,
} from '../../src/kernel/index.ts';

export const repoRoot = join(import.meta.dirname, '..', '..');

/** Runs git in `cwd` with a fixed identity and no user/system config. */
export function gitCli(cwd: string, args: string[], input?: string): string {
  return execFileSync('git', args, {
    cwd,
    input,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      HOME: cwd,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 'Test',
      GIT_AUTHOR_EMAIL: 'test@example.org',
      GIT_COMMITTER_NAME: 'Test',
      GIT_COMMITTER_EMAIL: 'test@example.org',
      GIT_AUTHOR_DATE: '2024-01-01T00:00:00Z',
      GIT_COMMITTER_DATE: '2024-01-01T00:00:00Z',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  }).trim();
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `eos-${prefix}-`));
}

/** Writes files (path → content; a `{link}` value makes a symlink; `{exec}` an executable). */
export function writeFiles(
  dir: string,
  files: Record<string, string | { link: string } | { exec: string }>,
): void {
  for (const [p, c] of Object.entries(files)) {
    const abs = join(dir, p);
    mkdirSync(dirname(abs), { recursive: true });
    if (typeof c === 'string') writeFileSync(abs, c);
    else if ('link' in c) symlinkSync(c.link, abs);
    else {
      writeFileSync(abs, c.exec);
      chmodSync(abs, 0o755);
    }
  }
}

/** A new git repository with an initial commit of `files`; returns its path. */
export function makeRepo(files: Record<string, string | { link: string } | { exec: string }>): string {
  const dir = tempDir('repo');
  gitCli(dir, ['init', '-q', '-b', 'main']);
  writeFiles(dir, files);
  gitCli(dir, ['add', '-A']);
  gitCli(dir, ['commit', '-q', '-m', 'initial']);
  return dir;
}

/** Commits everything in the work tree; returns the new commit id. */
export function commitAll(dir: string, message: string): string {
  gitCli(dir, ['add', '-A']);
  gitCli(dir, ['commit', '-q', '-m', message]);
  return gitCli(dir, ['rev-parse', 'HEAD']);
}

/** A manifest text. */
export function manifest(label: string, version: string, deps: Record<string, string> = {}): string {
  const d = Object.entries(deps)
    .map(([k, v]) => `${k} = "${v}"`)
    .join('\n');
  return `[atom]\nlabel = "${label}"\nversion = "${version}"\n\n[deps]\n${d}\n\n[build]\nrecipe = "std.make"\n`;
}

/** A configuration directory with keys; `trusted` keys are trusted for atoms. */
export async function makeConfig(
  names: string[],
  trusted: string[],
): Promise<{ config: string; keys: Record<string, KeyringEntry> }> {
  const config = tempDir('config');
  const keys: Record<string, KeyringEntry> = {};
  for (const n of names) keys[n] = await generateKey(config, n);
  let policy = emptyTrustPolicy();
  for (const n of trusted) policy = trustKey(policy, keys[n]!.id, ['atoms']);
  await writeTrustPolicy(config, policy, await readKeyring(config));
  return { config, keys };
}

/**
 * A git smart-HTTP server on 127.0.0.1 serving the repositories under `root` through git's own
 * `git http-backend` (CGI). Returns its base URL and a close function.
 */
export async function startGitHttpServer(root: string): Promise<{ url: string; close: () => Promise<void> }> {
  const { createServer } = await import('node:http');
  const { spawn } = await import('node:child_process');
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const child = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: decodeURIComponent(u.pathname),
        QUERY_STRING: u.search.slice(1),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_ADDR: '127.0.0.1',
        ...(req.headers['content-encoding']
          ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] }
          : {}),
      },
    });
    req.pipe(child.stdin);
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.on('close', () => {
      const all = Buffer.concat(out);
      const sepAt = all.indexOf('\r\n\r\n');
      const head = all.subarray(0, sepAt).toString('latin1');
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.split('\r\n')) {
        const i = line.indexOf(':');
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === 'status') status = Number(v.split(' ')[0]);
        else headers[k] = v;
      }
      res.writeHead(status, headers);
      res.end(all.subarray(sepAt + 4));
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
